"""Reviews on SQLite and PostgreSQL: a review from opening to its verdict, each reviewer's
order and sides, one vote per pair, 30 reviewers voting at once, forged codes, secrets,
items and choices, and the store going away."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections import Counter
from itertools import combinations

import pytest
import sqlalchemy as sa

from aigc import review, store
from aigc.review import Entry, ReviewError
from aigc.ui import i18n
from tests.test_server import fresh_python

SHIPPED = Entry("shipped GAN", "gan", "mnist", shipped="gan_mnist")
MORNING = Entry("this morning's GAN", "gan", "mnist", sha256="ab" * 32)
VAE = Entry("VAE", "vae", "mnist", shipped="vae_mnist")
UPLOAD = Entry("uploaded", "vae", "mnist", sha256="cd" * 32)


@pytest.fixture(autouse=True)
def _fresh_limits():
    review.reset_limits()
    yield
    review.reset_limits()


def code_of(call) -> str:
    with pytest.raises(ReviewError) as caught:
        call()
    assert f"errors.{caught.value.code}" in i18n.catalogue("zh")
    return caught.value.code


def opened(entries=(SHIPPED, MORNING), seeds=range(6), **kw) -> review.Opened:
    return review.open_review("Which GAN?", entries, review.samples(seeds, range(10)), **kw)


def vote_all(code: str, reviewer: str, prefer: int | None) -> int:
    """Vote every pair of `reviewer`'s for entry `prefer` (None: "same"); return the count."""
    n = 0
    while (pair := review.next_item(code, reviewer)) is not None:
        choice = "same" if prefer is None else "left" if pair.left == prefer else "right"
        if prefer not in (None, pair.left, pair.right):
            choice = "same"
        review.vote(code, reviewer, pair.item.item, choice)
        n += 1
    return n


def test_a_review_from_opening_to_its_verdict(store_url):
    o = opened()
    code, secret = o.review.code, o.owner_secret
    assert len(o.review.items) == 6 and {(i.a, i.b) for i in o.review.items} == {(0, 1)}
    assert [i.stimulus.label for i in o.review.items] == list(range(6))
    assert review.get_review(code.lower()).entries == (SHIPPED, MORNING)
    assert secret not in review.review_link("http://h:8501", code)
    assert review.is_owner(code, secret) and not review.is_owner(code, secret + "x")

    ann, bob = review.join(code, "Ann"), review.join(code)
    assert review.progress(code, ann) == review.Progress(0, 6)
    first = review.next_item(code, ann)
    assert (first.number, first.total) == (1, 6)
    assert review.next_item(code, ann) == first  # nothing moves until she votes
    progress = review.vote(code, ann, first.item.item, "right", '=HYPERLINK("x")')
    assert (progress.done, progress.remaining, progress.finished) == (1, 5, False)
    assert review.next_item(code, ann).number == 2
    assert code_of(lambda: review.results_for_reviewer(code, ann)) == "review_not_finished"
    vote_all(code, ann, prefer=1)
    assert review.next_item(code, ann) is None and review.progress(code, ann).finished
    vote_all(code, bob, prefer=1)

    res = review.results(code, secret, resamples=200)
    assert res.verdict.votes == 12 and res.verdict.votes_per_reviewer == {"#1": 6, "#2": 6}
    assert res.names == {"#1": "Ann", "#2": ""}
    (pair,) = res.verdict.pairs
    assert pair.b_preferred.value == pytest.approx(11 / 12 if first.right == 0 else 1.0)
    (comment,) = res.comments
    assert comment.item == first.item and comment.text == '=HYPERLINK("x")'
    assert (comment.reviewer, comment.name, comment.choice) == ("#1", "Ann", "right")
    assert review.results_for_reviewer(code, ann).verdict.votes == 12

    rows = list(csv.DictReader(io.StringIO(review.export_csv(code, secret))))
    assert len(rows) == 12 and rows[0]["comment"] == '\'=HYPERLINK("x")'  # defused
    assert rows[0]["reviewer"] == "#1" and ann not in review.export_csv(code, secret)
    assert {r["preferred_model"] for r in rows[1:]} == {MORNING.label}
    document = json.loads(review.export_json(code, secret))
    assert document["review"]["models"][1]["sha256"] == MORNING.sha256
    assert document["verdict"]["pairs"][0]["b"] == MORNING.label
    assert document["votes"][0]["comment"] == '=HYPERLINK("x")'  # JSON keeps it as given

    review.close_review(code, secret)
    assert code_of(lambda: review.vote(code, bob, 0, "left")) == "review_closed"
    assert code_of(lambda: review.join(code)) == "review_closed"
    assert review.results(code, secret, resamples=50).review.closed


def test_each_reviewer_gets_every_pair_in_an_order_and_sides_of_their_own(store_url):
    o = opened(entries=(SHIPPED, MORNING, VAE, UPLOAD), seeds=range(5))
    code = o.review.code
    assert len(o.review.items) == 6 * 5
    lefts, orders = Counter(), set()
    for _ in range(8):
        reviewer = review.join(code)
        seen = []
        while (pair := review.next_item(code, reviewer)) is not None:
            assert {pair.left, pair.right} == {pair.item.a, pair.item.b}
            seen.append(pair.item)
            lefts[pair.left == pair.item.a] += 1
            review.vote(code, reviewer, pair.item.item, "left")
        assert sorted(i.item for i in seen) == list(range(30))
        # Any prefix compares every pair of models about equally often: round by round.
        for stop in range(6, 31, 6):
            assert set(Counter((i.a, i.b) for i in seen[:stop]).values()) == {stop // 6}
        orders.add(tuple(i.item for i in seen))
    assert len(orders) == 8
    assert 80 <= lefts[True] <= 160  # 240 coin flips
    # The side recorded is the side shown, computed by the store's key on any server.
    store.dispose()
    review.reset_limits()
    res = review.results(code, o.owner_secret, resamples=50)
    assert all(c == "left" for c in [v["choice"] for v in json.loads(
        review.export_json(code, o.owner_secret))["votes"]])  # fmt: skip
    standings = {s.entry: s.votes for s in res.verdict.standings}
    assert standings == {0: 8 * 15, 1: 8 * 15, 2: 8 * 15, 3: 8 * 15}


def test_a_reviewer_asked_fewer_pairs_gets_a_balanced_share(store_url):
    o = opened(entries=(SHIPPED, MORNING, VAE), seeds=range(10), per_reviewer=7)
    reviewer = review.join(o.review.code)
    assert vote_all(o.review.code, reviewer, prefer=0) == 7
    pairs = Counter((c["left_model"], c["right_model"]) for c in csv.DictReader(
        io.StringIO(review.export_csv(o.review.code, o.owner_secret))))  # fmt: skip
    assert sum(pairs.values()) == 7
    unordered = Counter(frozenset(p) for p in pairs.elements())
    assert sorted(unordered.values()) == [2, 2, 3]


def test_a_second_vote_on_a_pair_is_refused_and_the_first_kept(store_url, at_once):
    o = opened()
    code = o.review.code
    reviewer = review.join(code)
    pair = review.next_item(code, reviewer)
    review.vote(code, reviewer, pair.item.item, "left", "first")
    assert code_of(lambda: review.vote(code, reviewer, pair.item.item, "right")) == (
        "already_voted"
    )
    # Two tabs clicking at once: one vote lands, the other is told.
    second = review.next_item(code, reviewer)
    errors = at_once(2, lambda i: review.vote(code, reviewer, second.item.item, CHOICES[i]))
    assert [e.code for e in errors] == ["already_voted"]
    rows = list(csv.DictReader(io.StringIO(review.export_csv(code, o.owner_secret))))
    assert len(rows) == 2 and rows[0]["choice"] == "left" and rows[0]["comment"] == "first"
    assert review.progress(code, reviewer).done == 2


CHOICES = ("left", "right", "same")


def test_thirty_reviewers_voting_at_once_lose_no_vote(store_url, at_once):
    o = opened(entries=(SHIPPED, MORNING, VAE), seeds=range(4))
    code = o.review.code
    reviewers = [review.join(code, f"reviewer {i}") for i in range(30)]
    cast = Counter()

    def reviewer_votes(i: int) -> None:
        cast[i] = vote_all(code, reviewers[i], prefer=i % 3)

    assert at_once(30, reviewer_votes) == []
    assert sum(cast.values()) == 30 * 12
    res = review.results(code, o.owner_secret, resamples=50)
    assert res.verdict.votes == 30 * 12
    assert res.verdict.votes_per_reviewer == {f"#{i}": 12 for i in range(1, 31)}
    assert list(res.verdict.votes_per_reviewer)[:3] == ["#1", "#2", "#3"]  # in joining order
    assert res.names["#10"] == "reviewer 9"
    with store.transaction(write=False) as con:
        stored = con.execute(sa.select(sa.func.count()).select_from(store.review_votes))
        assert stored.scalar_one() == 30 * 12


def test_forged_codes_secrets_reviewers_items_and_choices_are_refused(store_url):
    o, other = opened(), opened()
    code, secret = o.review.code, o.owner_secret
    reviewer = review.join(code)
    stranger = review.join(other.review.code)
    unknown = "".join(secrets.choice(review.CODE_ALPHABET) for _ in range(8))
    for bad_code in (unknown, "", None, "x" * 10_000, "' OR 1=1 --", 42):
        assert code_of(lambda c=bad_code: review.get_review(c)) == "review_unknown"
        assert code_of(lambda c=bad_code: review.join(c)) == "review_unknown"
    for bad_secret in (other.owner_secret, "", None, secret[:-1], "x" * 100_000):
        assert code_of(lambda s=bad_secret: review.results(code, s)) == "not_owner"
    assert code_of(lambda: review.results(unknown, secret)) == "not_owner"  # reads alike
    assert code_of(lambda: review.export_csv(code, other.owner_secret)) == "not_owner"
    assert code_of(lambda: review.close_review(code, reviewer)) == "not_owner"
    for bad_reviewer in (stranger, "", None, "a" * 65, "../x", secret):
        assert code_of(lambda r=bad_reviewer: review.next_item(code, r)) == "reviewer_unknown"
        assert code_of(lambda r=bad_reviewer: review.vote(code, r, 0, "left")) == (
            "reviewer_unknown"
        )
    for bad_item in (-1, 6, 10**30, "0", 0.0, True, None):
        assert code_of(lambda i=bad_item: review.vote(code, reviewer, i, "left")) == (
            "item_unknown"
        )
    for bad_choice in ("LEFT", "", None, "both", ["left"]):
        assert code_of(lambda c=bad_choice: review.vote(code, reviewer, 0, c)) == ("choice_unknown")
    assert code_of(lambda: review.vote(code, reviewer, 0, "left", "x" * 2001)) == (
        "comment_too_long"
    )
    assert code_of(lambda: review.join(code, "x" * 201)) == "name_too_long"
    assert code_of(lambda: review.join(code, None)) == "name_too_long"
    review.vote(code, reviewer, 0, "same", "<script>alert(1)</script>" + "é" * 1975)
    assert review.results(code, secret, resamples=10).comments[0].text.startswith("<script>")
    assert review.progress(code, reviewer).done == 1  # nothing else landed


def test_guessed_codes_and_owner_secrets_hit_the_rate_limit(store_url):
    o = opened()
    code = o.review.code
    for _ in range(review.UNKNOWN_CODES_PER_MINUTE):
        assert code_of(lambda: review.get_review(review.normal_code("ABCDEFGH"))) in (
            "review_unknown",
        )
    assert code_of(lambda: review.get_review(code)) == "review_rate_limited"  # known ones too
    review.reset_limits()
    for _ in range(review.OWNER_FAILURES_PER_MINUTE):
        assert code_of(lambda: review.results(code, "guess")) == "not_owner"
    assert code_of(lambda: review.results(code, "guess")) == "review_rate_limited"
    assert review.results(code, o.owner_secret, resamples=10).verdict.votes == 0


@pytest.mark.parametrize(
    "entries, stimuli, kw, expected",
    [
        ((SHIPPED,), review.samples([1]), {}, "review_entries"),
        ((SHIPPED, MORNING, VAE, UPLOAD, SHIPPED), review.samples([1]), {}, "review_entries"),
        ((SHIPPED, Entry("f", "gan", "fashion", shipped="gan_fashion")), review.samples([1]),
         {}, "entries_datasets"),
        ((SHIPPED, Entry("x", "gan", "mnist", shipped="gan_mnist")), review.samples([1]), {},
         "entries_same"),
        ((SHIPPED, Entry(SHIPPED.label, "vae", "mnist", shipped="vae_mnist")),
         review.samples([1]), {}, "entries_same"),
        ((SHIPPED, Entry("x", "classifier", "mnist", shipped="classifier_mnist")),
         review.samples([1]), {}, "entry_invalid"),
        ((SHIPPED, Entry("x", "gan", "mnist", sha256="AB" * 32)), review.samples([1]), {},
         "entry_invalid"),
        ((SHIPPED, Entry("x", "gan", "mnist", shipped="gan_mnist", sha256="ab" * 32)),
         review.samples([1]), {}, "entry_invalid"),
        ((SHIPPED, Entry(" ", "gan", "mnist", sha256="ab" * 32)), review.samples([1]), {},
         "entry_invalid"),
        ((SHIPPED, MORNING), (), {}, "plan_size"),
        ((SHIPPED, MORNING), review.samples(range(201)), {}, "plan_size"),
        ((SHIPPED, MORNING, VAE, UPLOAD), review.samples(range(101)), {}, "plan_size"),
        ((SHIPPED, MORNING), review.samples([1, 2]), {"per_reviewer": 3}, "plan_size"),
        ((SHIPPED, MORNING), review.samples([1, 2]), {"per_reviewer": 0}, "plan_size"),
        ((SHIPPED, MORNING), review.samples([-1]), {}, "plan_invalid"),
        ((SHIPPED, MORNING), review.samples([2**31]), {}, "plan_invalid"),
        ((SHIPPED, MORNING), review.samples([1], [10]), {}, "plan_invalid"),
        ((SHIPPED, MORNING), review.samples([1]), {"show": "interpolations"}, "plan_invalid"),
        ((SHIPPED, MORNING), review.interpolations([(1, 2)]), {}, "plan_invalid"),
        ((SHIPPED, MORNING), review.samples([1]), {"show": "videos"}, "plan_invalid"),
    ],
)  # fmt: skip
def test_a_review_that_cannot_be_shown_is_not_opened(store_url, entries, stimuli, kw, expected):
    assert code_of(lambda: review.open_review("t", entries, stimuli, **kw)) == expected
    with store.transaction(write=False) as con:
        assert con.execute(sa.select(sa.func.count()).select_from(store.reviews)).scalar() == 0


@pytest.mark.parametrize("title", ["x" * 101, None, b"bytes"])
def test_a_title_is_text_of_at_most_100_characters(store_url, title):
    stimuli = review.samples([1])
    assert code_of(lambda: review.open_review(title, (SHIPPED, MORNING), stimuli)) == (
        "review_title_too_long"
    )


def test_interpolations_keep_both_seeds(store_url):
    o = review.open_review(
        "walks", (SHIPPED, VAE), review.interpolations([(3, 9), (4, 1)]), show="interpolations"
    )
    reviewer = review.join(o.review.code)
    pair = review.next_item(o.review.code, reviewer)
    assert (pair.item.stimulus.seed, pair.item.stimulus.end_seed) in {(3, 9), (4, 1)}
    assert pair.item.stimulus.label is None
    review.vote(o.review.code, reviewer, pair.item.item, "same")
    (row,) = csv.DictReader(io.StringIO(review.export_csv(o.review.code, o.owner_secret)))
    assert (row["end_seed"], row["class"], row["preferred_model"]) in {("9", "", ""), ("1", "", "")}


def test_every_pair_of_models_is_an_item(store_url):
    o = opened(entries=(SHIPPED, MORNING, VAE), seeds=[7])
    assert [(i.a, i.b) for i in o.review.items] == list(combinations(range(3), 2))


def test_an_unreachable_store_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "no such folder" / "f.sqlite3"))
    for call in (lambda: opened(), lambda: review.get_review("ABCDEFGH")):
        with pytest.raises(store.StoreUnavailable) as caught:
            call()
        assert caught.value.code == "store_unavailable"


@pytest.mark.postgres
def test_the_database_going_away_mid_review_is_said_and_survived(postgres, monkeypatch):
    monkeypatch.setenv("AIGC_DB_URL", postgres.new_database())
    o = opened()
    code = o.review.code
    reviewer = review.join(code, "Ann")
    first = review.next_item(code, reviewer)
    postgres.stop()
    try:
        for call in (
            lambda: review.next_item(code, reviewer),
            lambda: review.vote(code, reviewer, first.item.item, "left"),
            lambda: review.results(code, o.owner_secret),
            lambda: review.join(code),
        ):
            with pytest.raises(store.StoreUnavailable):
                call()
    finally:
        postgres.start()
    review.vote(code, reviewer, first.item.item, "left")
    assert review.next_item(code, reviewer).number == 2
    assert review.results(code, o.owner_secret, resamples=10).verdict.votes == 1
    store.dispose()


def test_the_review_core_needs_no_torch():
    """The reviewer's page imports it; pages never import torch."""
    assert fresh_python("import sys, aigc.review; print('torch' in sys.modules)") == "False"
    from aigc import render

    assert review.MAX_SEED == render.MAX_SEED


def test_a_review_nobody_has_voted_on_exports_valid_json(store_url):
    o = opened()

    def no_nan(text: str) -> None:
        raise AssertionError(f"{text} is not JSON")

    document = json.loads(review.export_json(o.review.code, o.owner_secret), parse_constant=no_nan)
    assert document["verdict"]["votes"] == 0 and document["votes"] == []
    assert review.export_csv(o.review.code, o.owner_secret).count("\n") == 1  # the header


def test_a_script_cannot_fill_the_store_with_reviews_or_reviewers(store_url, monkeypatch):
    monkeypatch.setattr(review, "MAX_OPEN_REVIEWS", 2)
    monkeypatch.setattr(review, "MAX_REVIEWERS", 3)
    first, second = opened(), opened()
    assert code_of(opened) == "reviews_full"
    review.close_review(second.review.code, second.owner_secret)
    opened()  # a closed review frees its place
    code = first.review.code
    for _ in range(3):
        review.join(code)
    assert code_of(lambda: review.join(code)) == "review_full"
