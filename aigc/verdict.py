"""The verdict of a blind side-by-side review: which model people prefer, and how sure that is.

Pure numpy over plain outcomes (who compared which two models on which item, and who won), so
the review's store, the bench and the tests all feed it the same way.

- Strengths: Bradley–Terry, P(i beats j) = s_i / (s_i + s_j), fitted by the MM iteration of
  Hunter (2004), "MM algorithms for generalized Bradley–Terry models", Ann. Statist. 32(1),
  eq. (3) (Zermelo's 1929 iteration). A "same" counts as half a win for each side.
- Intervals: 95% percentile bootstrap over *reviewers* (a resample draws reviewers with
  replacement and keeps all of each one's votes), because one person's votes are correlated:
  someone who dislikes blurry digits votes against the blurry model on every item, and
  resampling single votes would treat those votes as independent and give intervals too
  narrow. The generator is seeded, so the same votes give the same verdict.
- Agreement: Fleiss' kappa (Fleiss 1971, "Measuring nominal scale agreement among many
  raters", Psychol. Bull. 76(5)) over the items at least two reviewers voted on, with the
  three outcomes "first model better", "second better", "same".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
MM_TOL = 1e-10
MM_MAX_ITER = 10_000


@dataclass(frozen=True)
class Outcome:
    """One vote in model terms: entries `a` and `b` (indices into the review's models) were
    compared on `item`; `winner` is a, b, or None for "same"."""

    reviewer: str
    item: int
    a: int
    b: int
    winner: int | None


@dataclass(frozen=True)
class Interval:
    value: float  # from all votes
    low: float | None  # None with fewer than two reviewers: one person's spread says nothing
    high: float | None

    def excludes(self, x: float) -> bool:
        return self.low is not None and (self.low > x or self.high < x)


@dataclass(frozen=True)
class Standing:
    entry: int
    votes: int  # comparisons it took part in
    win_rate: Interval  # share of its comparisons it won, a "same" as half
    strength: Interval  # Bradley–Terry strength, as a share of all models' (they sum to 1)


@dataclass(frozen=True)
class Pairwise:
    a: int
    b: int
    votes: int
    b_preferred: Interval  # share of a-vs-b votes preferring b, a "same" as half

    @property
    def clear(self) -> bool:
        """Whether the 95% interval excludes an even split."""
        return self.b_preferred.excludes(0.5)

    def leading(self) -> tuple[int, int, Interval]:
        """(preferred, other, share of votes preferring it): the pair as its words say it."""
        share, low, high = self.b_preferred.value, self.b_preferred.low, self.b_preferred.high
        if share >= 0.5:
            return self.b, self.a, self.b_preferred
        flipped = (None, None) if low is None else (1 - high, 1 - low)
        return self.a, self.b, Interval(1 - share, *flipped)

    def describe(self, labels: Sequence[str]) -> str:
        """The plain-words line, in English (the page says it from its catalogue)."""
        preferred, other, interval = self.leading()
        share, low, high = interval.value, interval.low, interval.high
        ci = "no interval: fewer than two reviewers" if low is None else (
            f"95% CI {low * 100:.0f}–{high:.0%}"
        )  # fmt: skip
        verdict = "a clear difference" if self.clear else "not a clear difference"
        return (
            f"{labels[preferred]} is preferred to {labels[other]} in {share:.0%} of pairs "
            f"({ci}); that is {verdict}"
        )


@dataclass(frozen=True)
class Agreement:
    items: int  # items voted on by at least two reviewers
    observed: float | None  # mean share of reviewer pairs that agree on an item (Fleiss' P-bar)
    kappa: float | None  # Fleiss' kappa; None when it is undefined


@dataclass(frozen=True)
class Verdict:
    labels: tuple[str, ...]
    votes: int
    reviewers: int
    standings: tuple[Standing, ...]  # in entry order
    pairs: tuple[Pairwise, ...]  # every compared pair (a < b)
    votes_per_reviewer: dict[str, int]  # in the order reviewers first appear in the votes
    agreement: Agreement
    resamples: int
    seed: int

    def as_dict(self) -> dict:
        """The verdict as plain JSON-able values."""

        def interval(i: Interval) -> dict:
            value = None if np.isnan(i.value) else i.value  # a model no one has seen yet
            return {"value": value, "low": i.low, "high": i.high}

        return {
            "models": list(self.labels),
            "votes": self.votes,
            "reviewers": self.reviewers,
            "standings": [
                {
                    "model": self.labels[s.entry],
                    "votes": s.votes,
                    "win_rate": interval(s.win_rate),
                    "strength": interval(s.strength),
                }
                for s in self.standings
            ],
            "pairs": [
                {
                    "a": self.labels[p.a],
                    "b": self.labels[p.b],
                    "votes": p.votes,
                    "b_preferred": interval(p.b_preferred),
                    "clear_difference": p.clear,
                    "says": p.describe(self.labels),
                }
                for p in self.pairs
            ],
            "votes_per_reviewer": self.votes_per_reviewer,
            "agreement": {
                "items": self.agreement.items,
                "observed": self.agreement.observed,
                "fleiss_kappa": self.agreement.kappa,
            },
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "level": LEVEL},
        }


def win_matrices(outcomes: Sequence[Outcome], k: int, groups: Sequence[int]) -> np.ndarray:
    """(G, k, k): [g, i, j] = how often i beat j in the votes of group g (`groups[n]` is vote
    n's), a "same" adding 1/2 to both [g, i, j] and [g, j, i]."""
    w = np.zeros((max(groups, default=-1) + 1, k, k))
    g = np.asarray(groups, dtype=int)
    a = np.array([o.a for o in outcomes], dtype=int)
    b = np.array([o.b for o in outcomes], dtype=int)
    tie = np.array([o.winner is None for o in outcomes], dtype=bool)
    winner = np.array([o.a if o.winner is None else o.winner for o in outcomes], dtype=int)
    loser = np.where(winner == a, b, a)
    np.add.at(w, (g[~tie], winner[~tie], loser[~tie]), 1.0)
    np.add.at(w, (g[tie], a[tie], b[tie]), 0.5)
    np.add.at(w, (g[tie], b[tie], a[tie]), 0.5)
    return w


def _shares(x: np.ndarray) -> np.ndarray:
    total = x.sum(-1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0)


def bradley_terry(wins: np.ndarray) -> np.ndarray:
    """Bradley–Terry strengths from win matrices (..., k, k), as shares summing to 1 over the
    last axis; NaN for a model with no comparisons (in some bootstrap resample)."""
    wins = np.asarray(wins, dtype=float)
    n = wins + np.swapaxes(wins, -1, -2)  # comparisons of i and j
    w = wins.sum(-1)  # W_i: wins of i
    compared = n.sum(-1) > 0
    s = _shares(np.where(compared, 1.0, 0.0))
    for _ in range(MM_MAX_ITER):
        pair = s[..., :, None] + s[..., None, :]
        denom = np.divide(n, pair, out=np.zeros_like(n), where=pair > 0).sum(-1)
        # Hunter (2004) eq. (3): s_i <- W_i / sum_{j != i} N_ij / (s_i + s_j)
        new = np.divide(w, denom, out=np.zeros_like(w), where=denom > 0)
        new = _shares(new)
        done = np.max(np.abs(new - s)) < MM_TOL
        s = new
        if done:
            break
    return np.where(compared, s, np.nan)


def agreement(outcomes: Sequence[Outcome]) -> Agreement:
    """Fleiss' kappa over the items with at least two votes, each vote one of three outcomes
    (lower-numbered model better, the other better, same)."""
    by_item: dict[int, Counter] = {}
    for o in outcomes:
        category = "same" if o.winner is None else ("low" if o.winner == min(o.a, o.b) else "high")
        by_item.setdefault(o.item, Counter())[category] += 1
    counts = np.array(
        [[c["low"], c["high"], c["same"]] for c in by_item.values() if c.total() >= 2], float
    ).reshape(-1, 3)
    if not len(counts):
        return Agreement(0, None, None)
    m = counts.sum(1)
    # Fleiss (1971): P_i = (sum_j n_ij^2 - m_i) / (m_i (m_i - 1)), P_e = sum_j p_j^2, with the
    # raters per item allowed to vary (p_j pooled over all votes).
    p_i = ((counts**2).sum(1) - m) / (m * (m - 1))
    observed = float(p_i.mean())
    p_e = float(((counts.sum(0) / m.sum()) ** 2).sum())
    kappa = None if p_e >= 1.0 else (observed - p_e) / (1.0 - p_e)
    return Agreement(len(counts), observed, kappa)


def _interval(value: float, resampled: np.ndarray, enough: bool) -> Interval:
    if not enough or np.all(np.isnan(resampled)):
        return Interval(float(value), None, None)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.nanpercentile(resampled, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high))


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def verdict(
    outcomes: Sequence[Outcome],
    labels: Sequence[str],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Verdict:
    """Strengths, win rates and pairwise preferences with bootstrap intervals over reviewers.

    Args:
        outcomes: the votes; entries are indices into `labels`.
        labels: the models' names, in entry order.
        resamples: bootstrap resamples of the reviewers.
        seed: the bootstrap generator's seed.
    """
    k = len(labels)
    reviewers = sorted({o.reviewer for o in outcomes})
    index = {r: i for i, r in enumerate(reviewers)}
    per_reviewer = win_matrices(outcomes, k, [index[o.reviewer] for o in outcomes])  # (R, k, k)
    wins = per_reviewer.sum(0) if reviewers else np.zeros((k, k))
    enough = len(reviewers) >= 2
    if enough:
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(
            len(reviewers), np.full(len(reviewers), 1 / len(reviewers)), resamples
        )
        boot = np.einsum("br,rij->bij", draws, per_reviewer)  # (B, k, k)
    else:
        boot = wins[None]

    def compared(w: np.ndarray) -> np.ndarray:
        return w + np.swapaxes(w, -1, -2)

    rate = _share(wins.sum(-1), compared(wins).sum(-1))
    boot_rate = _share(boot.sum(-1), compared(boot).sum(-1))
    strength, boot_strength = bradley_terry(wins), bradley_terry(boot)
    n = compared(wins)
    standings = tuple(
        Standing(
            i,
            int(n[i].sum()),
            _interval(rate[i], boot_rate[:, i], enough),
            _interval(strength[i], boot_strength[:, i], enough),
        )
        for i in range(k)
    )
    pairs = tuple(
        Pairwise(
            a,
            b,
            int(n[a, b]),
            _interval(wins[b, a] / n[a, b], _share(boot[:, b, a], compared(boot)[:, a, b]), enough),
        )
        for a in range(k)
        for b in range(a + 1, k)
        if n[a, b] > 0
    )
    return Verdict(
        labels=tuple(labels),
        votes=len(outcomes),
        reviewers=len(reviewers),
        standings=standings,
        pairs=pairs,
        votes_per_reviewer=dict(Counter(o.reviewer for o in outcomes)),
        agreement=agreement(outcomes),
        resamples=resamples,
        seed=seed,
    )
