"""The verdict of a review: Bradley–Terry on examples checkable by hand, agreement, the plain
words, and intervals that cover the truth of a simulated review."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.verdict import Outcome, agreement, bradley_terry, verdict, win_matrices


def votes(reviewer: str, a: int, b: int, a_wins: int, b_wins: int, same: int = 0) -> list[Outcome]:
    winners = [a] * a_wins + [b] * b_wins + [None] * same
    return [Outcome(reviewer, item, a, b, w) for item, w in enumerate(winners)]


def test_bradley_terry_on_examples_checkable_by_hand():
    # Two models, 3 wins to 1: P(A beats B) = s_A / (s_A + s_B) = 3/4.
    assert bradley_terry(np.array([[0, 3], [1, 0.0]])) == pytest.approx([0.75, 0.25])
    # A "same" is half a win each: 2 wins and 2 ties read as 3 to 1.
    two_ties = win_matrices(votes("r", 0, 1, 2, 0, same=2), 2, [0] * 4)[0]
    assert bradley_terry(two_ties) == pytest.approx([0.75, 0.25])
    # Odds consistent with strengths 4 : 2 : 1 (A-B 2:1, B-C 2:1, A-C 4:1) are fitted exactly.
    wins = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0.0]])
    assert bradley_terry(wins) == pytest.approx(np.array([4, 2, 1]) / 7, abs=1e-8)


def test_bradley_terry_strengths_meet_the_likelihood_equations():
    """At the maximum, each model's expected wins equal its observed wins (Hunter 2004)."""
    rng = np.random.default_rng(3)
    wins = rng.integers(1, 9, size=(4, 4)).astype(float)
    np.fill_diagonal(wins, 0)
    s = bradley_terry(wins)
    n = wins + wins.T
    expected = (n * s[:, None] / (s[:, None] + s[None, :])).sum(1)
    assert expected == pytest.approx(wins.sum(1), rel=1e-7)
    assert s.sum() == pytest.approx(1.0)


def test_a_model_never_compared_has_no_strength():
    wins = np.zeros((3, 3))
    wins[0, 1], wins[1, 0] = 2, 1
    s = bradley_terry(wins)
    assert s[:2] == pytest.approx([2 / 3, 1 / 3]) and np.isnan(s[2])


def test_two_models_in_plain_words():
    """'B is preferred in 64% of pairs (95% CI ...)', and whether that is a clear difference."""
    clear = [o for r in range(12) for o in votes(f"r{r}", 0, 1, 3 + r % 3, 7 - r % 3)]
    v = verdict(clear, ["shipped", "morning"], resamples=500)
    (pair,) = v.pairs
    assert pair.b_preferred.value == pytest.approx(0.6, abs=0.01)
    assert pair.b_preferred.low > 0.5 and pair.clear
    words = pair.describe(v.labels)
    assert words.startswith("morning is preferred to shipped in 60% of pairs (95% CI ")
    assert words.endswith("that is a clear difference")

    close = [o for r in range(12) for o in votes(f"r{r}", 0, 1, 4 + r % 3, 6 - r % 3)]
    even = verdict(close, ["shipped", "morning"], resamples=500).pairs[0]
    assert even.b_preferred.low < 0.5 < even.b_preferred.high and not even.clear
    assert "not a clear difference" in even.describe(["shipped", "morning"])
    # The loser's side reads the same way round: A preferred in 60%.
    flipped = [Outcome(o.reviewer, o.item, o.a, o.b, None if o.winner is None else 1 - o.winner)
               for o in clear]  # fmt: skip
    assert "shipped is preferred to morning in 60% of pairs" in verdict(
        flipped, ["shipped", "morning"], resamples=200
    ).pairs[0].describe(["shipped", "morning"])


def test_one_reviewer_gives_no_interval_and_no_clear_difference():
    v = verdict(votes("alone", 0, 1, 0, 20), ["A", "B"])
    (pair,) = v.pairs
    assert pair.b_preferred.value == 1.0
    assert (pair.b_preferred.low, pair.b_preferred.high) == (None, None)
    assert not pair.clear
    assert v.votes_per_reviewer == {"alone": 20}


def test_the_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    outcomes = [Outcome(f"r{i % 9}", i, 0, 1, int(rng.integers(2))) for i in range(200)]
    first = verdict(outcomes, ["A", "B"], seed=5).pairs[0].b_preferred
    assert verdict(outcomes, ["A", "B"], seed=5).pairs[0].b_preferred == first
    assert verdict(outcomes, ["A", "B"], seed=6).pairs[0].b_preferred != first


def test_agreement_is_fleiss_kappa():
    agree = [Outcome(r, item, 0, 1, 0 if item % 2 else 1) for r in "abc" for item in range(6)]
    a = agreement(agree)
    assert (a.items, a.observed, a.kappa) == (6, 1.0, pytest.approx(1.0))
    # Fleiss (1971) by hand: 2 items, 3 reviewers; item 0 all "first", item 1 split 2 "first" and
    # 1 "same". P_0 = 1, P_1 = (4 + 1 - 3) / 6 = 1/3, P-bar = 2/3; p = (5/6, 0, 1/6),
    # P_e = 26/36; kappa = (2/3 - 26/36) / (1 - 26/36) = -0.2.
    split = [Outcome(r, 0, 0, 1, 0) for r in "abc"]
    split += [Outcome("a", 1, 0, 1, 0), Outcome("b", 1, 0, 1, 0), Outcome("c", 1, 0, 1, None)]
    split += [Outcome("a", 2, 0, 1, 1)]  # voted by one reviewer only: not counted
    s = agreement(split)
    assert s.items == 2
    assert s.observed == pytest.approx(2 / 3) and s.kappa == pytest.approx(-0.2)
    assert agreement(split[-1:]) == agreement([])


def simulated_review(rng: np.random.Generator, reviewers: int, per_reviewer: int, mean: float):
    """Votes of A (0) against B (1): 10% "same"; otherwise B wins with a probability of each
    reviewer's own, drawn around `mean` (people differ), so B's true share is 0.05 + 0.9 mean."""
    taste = rng.beta(10 * mean, 10 * (1 - mean), size=reviewers)
    out = []
    for r in range(reviewers):
        u = rng.random(per_reviewer)
        b_wins = rng.random(per_reviewer) < taste[r]
        for item in range(per_reviewer):
            winner = None if u[item] < 0.1 else int(b_wins[item])
            out.append(Outcome(f"r{r}", item, 0, 1, winner))
    return out


def test_the_interval_covers_the_truth_of_a_simulated_review():
    """200 seeded reviews of 20 reviewers x 30 pairs where B is preferred in 59% of pairs:
    the 95% interval covers 59% in at least 90% of them. Resampling single votes instead of
    reviewers, as a check that the simulation's reviewers do differ, covers it far less often."""
    truth = 0.05 + 0.9 * 0.6
    covered = naive_covered = 0
    repeats = 200
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        outcomes = simulated_review(rng, reviewers=20, per_reviewer=30, mean=0.6)
        b = verdict(outcomes, ["A", "B"], resamples=1000, seed=seed).pairs[0].b_preferred
        covered += b.low <= truth <= b.high
        scores = np.array([0.5 if o.winner is None else o.winner for o in outcomes])
        naive = rng.choice(scores, size=(1000, len(scores))).mean(1)
        low, high = np.percentile(naive, [2.5, 97.5])
        naive_covered += low <= truth <= high
    assert covered / repeats >= 0.90
    assert naive_covered / repeats < 0.85
