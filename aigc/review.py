"""Reviews: blind side-by-side comparisons of two to four models that end in a verdict.

A product person opens a review (:func:`open_review`) with the models to compare (*entries*:
a shipped model, or the weights digest of one trained in a session or uploaded; never the
weights) and what to show (*stimuli*: seeds, each with a class or none, or pairs of seeds to
interpolate between). Every stimulus shown by every pair of entries is an *item*. Reviewers
open the review's code, :func:`join` (a random reviewer id, a name optional), and are shown
one item at a time (:func:`next_item`) with the two models' images side by side, models
hidden; they vote left, right or same (:func:`vote`). Only the owner secret, shown once when
the review opens, reads the running :func:`results`; a reviewer sees them once finished.

Everything lives in the store (:mod:`aigc.store`), so every server sharing one
``$AIGC_DB_URL`` serves the same review; when the store cannot be reached, calls raise
:class:`aigc.store.StoreUnavailable`.

How items are scheduled, and why. Each reviewer is asked every item (or the first
`per_reviewer` of their order), in an order of their own: round after round, one item of each
pair of entries, the pairs in a fresh random order each round and each pair's items shuffled.
So any prefix a reviewer stops at compares every pair about equally often (no pair is left
for last, when people tire), each reviewer compares every pair (their taste weighs on all
models alike), items overlap between reviewers (so agreement can be measured), and which
model is on the left is a coin flip per reviewer and item (people favour one side). Order
and sides come from HMAC-SHA256 under the review's own secret key: the same on every server
and after a restart, so the side a vote is recorded with is the side the page showed,
computed rather than taken from the page, and unknowable to a reviewer.

A second vote on an item is refused (``already_voted``), not counted over the first: the
page moves on after a vote, so a second one comes from a double click, a resubmitted rerun or
a second tab, and replacing would let the last of those clicks win silently; the first is the
one the reviewer made looking at the pair. The primary key (review, item, reviewer) refuses
it on every server at once.

Reviewers appear in results and exports as "#1", "#2" ... in the order they joined (with the
name they gave), never by their id, which lets whoever holds it vote as them.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import combinations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from aigc import store, verdict
from aigc.classroom import CODE_ALPHABET, CODE_LENGTH, normal_code
from aigc.data import CLASS_NAMES, DATASETS
from aigc.errors import InputError
from aigc.feedback_store import defuse
from aigc.limits import Failures

log = logging.getLogger(__name__)

KINDS = ("gan", "vae")
SHOWS = ("samples", "interpolations")
CHOICES = ("left", "right", "same")
MIN_ENTRIES, MAX_ENTRIES = 2, 4
MAX_STIMULI = 200
MAX_ITEMS = 600  # 6 pairs of 4 models x 100 stimuli
MAX_SEED = 2**31 - 1  # aigc.render.MAX_SEED (that module imports torch; tests check they agree)
MAX_TITLE_CHARS = 100
MAX_LABEL_CHARS = 200
MAX_NAME_CHARS = 200
MAX_COMMENT_CHARS = 2000
MAX_SECRET_CHARS = 200
MAX_REVIEWERS = 200  # as a room's followers: 200 x 600 pairs x 2000-character comments at worst
MAX_OPEN_REVIEWS = 200
UNKNOWN_CODES_PER_MINUTE = 30  # as the class rooms' (aigc.classroom says why)
OWNER_FAILURES_PER_MINUTE = 10
_REVIEWER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHIPPED_NAME = re.compile(r"[a-z0-9_]{1,64}")


class ReviewError(InputError):
    """A review request that cannot be done; `code` names the page's explanation
    (``errors.<code>``): review_unknown, review_closed, not_owner, review_rate_limited,
    reviewer_unknown, item_unknown, choice_unknown, already_voted, ..."""

    default_code = "review_error"


@dataclass(frozen=True)
class Entry:
    """A model in a review, as the pages reopen it: a shipped model by name, or a session's
    or upload's by the sha256 of its weights file, with the label its owner gave it."""

    label: str
    kind: str  # "gan" or "vae"
    dataset: str
    shipped: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Stimulus:
    """What both models of a pair draw: a seed (and, for an interpolation, the seed it walks
    to), with a class for a class-conditional model, or None for the model's own draw."""

    seed: int
    label: int | None = None
    end_seed: int | None = None


@dataclass(frozen=True)
class Item:
    item: int
    stimulus: Stimulus
    a: int  # the two entries' slots, a < b
    b: int


@dataclass(frozen=True)
class Review:
    code: str
    title: str
    show: str  # "samples" or "interpolations"
    entries: tuple[Entry, ...]
    items: tuple[Item, ...]
    per_reviewer: int  # items each reviewer is asked
    created: datetime
    closed: bool


@dataclass(frozen=True)
class Opened:
    review: Review
    owner_secret: str  # shown once, stored only as its sha256


@dataclass(frozen=True)
class Pair:
    """An item as one reviewer is shown it: `left` and `right` are the entries' slots."""

    item: Item
    left: int
    right: int
    number: int  # 1-based position in this reviewer's list
    total: int


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def remaining(self) -> int:
        return self.total - self.done

    @property
    def finished(self) -> bool:
        return self.done >= self.total


@dataclass(frozen=True)
class Comment:
    item: Item  # what was shown, so the page can show the two images beside the words
    reviewer: str  # "#3"
    name: str
    left: int
    choice: str
    text: str
    time: datetime


@dataclass(frozen=True)
class Results:
    review: Review
    verdict: verdict.Verdict
    names: dict[str, str]  # "#3" -> the name that reviewer gave ('' if none)
    comments: tuple[Comment, ...]


def samples(seeds: Sequence[int], classes: Sequence[int] = ()) -> tuple[Stimulus, ...]:
    """One stimulus per seed; the classes, if any, taken in turn (``range(10)``: every class)."""
    return tuple(
        Stimulus(int(s), int(classes[j % len(classes)]) if classes else None)
        for j, s in enumerate(seeds)
    )


def interpolations(
    seed_pairs: Sequence[tuple[int, int]], classes: Sequence[int] = ()
) -> tuple[Stimulus, ...]:
    """One stimulus per (from, to) pair of seeds; classes taken in turn as in :func:`samples`."""
    return tuple(
        Stimulus(int(s), int(classes[j % len(classes)]) if classes else None, int(e))
        for j, (s, e) in enumerate(seed_pairs)
    )


# Guessing review codes and forging owner secrets, per process, as for the class rooms.
_unknown_codes = Failures(UNKNOWN_CODES_PER_MINUTE)
_owner_failures = Failures(OWNER_FAILURES_PER_MINUTE)


def reset_limits() -> None:
    """Forget the brute-force counts and the cached plans (tests; a process starts with none)."""
    _unknown_codes.clear()
    _owner_failures.clear()
    _plans.clear()


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _text_ok(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _check_entries(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    entries = tuple(entries)
    if not MIN_ENTRIES <= len(entries) <= MAX_ENTRIES or not all(
        isinstance(e, Entry) for e in entries
    ):
        raise ReviewError(
            f"a review compares {MIN_ENTRIES} to {MAX_ENTRIES} models, not {len(entries)}",
            "review_entries",
            low=MIN_ENTRIES,
            high=MAX_ENTRIES,
        )
    for e in entries:
        label_ok = _text_ok(e.label, MAX_LABEL_CHARS) and e.label.strip()
        shipped = isinstance(e.shipped, str) and _SHIPPED_NAME.fullmatch(e.shipped)
        digest = isinstance(e.sha256, str) and _SHA256.fullmatch(e.sha256)
        if (
            not label_ok
            or e.kind not in KINDS
            or e.dataset not in DATASETS
            or bool(shipped) == bool(digest)
        ):
            raise ReviewError(
                f"model {str(e.label)[:40]!r} needs a label of 1 to {MAX_LABEL_CHARS} "
                f"characters, a kind ({', '.join(KINDS)}), a dataset ({', '.join(DATASETS)}) "
                "and either a shipped name or a sha256 digest",
                "entry_invalid",
            )
    if len({e.dataset for e in entries}) > 1:
        raise ReviewError("the models of a review draw the same dataset", "entries_datasets")
    if len({e.label for e in entries}) < len(entries) or len(
        {(e.shipped, e.sha256) for e in entries}
    ) < len(entries):
        raise ReviewError(
            "each model is in a review once, under a label of its own", "entries_same"
        )
    return entries


def _check_stimuli(stimuli: Sequence[Stimulus], show: str, dataset: str) -> tuple[Stimulus, ...]:
    if show not in SHOWS:
        raise ReviewError(f"a review shows one of {', '.join(SHOWS)}, not {show!r}", "plan_invalid")
    stimuli = tuple(stimuli)
    if not 0 < len(stimuli) <= MAX_STIMULI:
        raise ReviewError(
            f"a review shows 1 to {MAX_STIMULI} seeds, not {len(stimuli)}",
            "plan_size",
            limit=MAX_STIMULI,
        )
    classes = len(CLASS_NAMES[dataset])

    def seed_ok(s: object) -> bool:
        return isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED

    for s in stimuli:
        ok = isinstance(s, Stimulus) and seed_ok(s.seed)
        ok = ok and (s.label is None or (seed_ok(s.label) and s.label < classes))
        ok = ok and ((s.end_seed is None) == (show == "samples") and seed_ok(s.end_seed or 0))
        if not ok:
            raise ReviewError(
                f"{s!r} is not a seed in 0..{MAX_SEED} with a class in 0..{classes - 1} or none"
                + (" and a seed to walk to" if show == "interpolations" else ""),
                "plan_invalid",
            )
    return stimuli


def open_review(
    title: str,
    entries: Sequence[Entry],
    stimuli: Sequence[Stimulus],
    *,
    show: str = "samples",
    per_reviewer: int | None = None,
) -> Opened:
    """Open a review; its owner secret is in the result and nowhere else.

    Args:
        title: what reviewers see on top, up to MAX_TITLE_CHARS, stored as given.
        entries: the 2-4 models to compare, all of one dataset.
        stimuli: what every pair of them draws (:func:`samples`, :func:`interpolations`).
        show: "samples", or "interpolations" (each stimulus then has an end seed).
        per_reviewer: items each reviewer is asked; default all of them.

    Raises:
        ReviewError: a value out of range (the code says which), or reviews_full.
        StoreUnavailable: the database cannot be reached now.
    """
    if not _text_ok(title, MAX_TITLE_CHARS):
        raise ReviewError(
            f"a title has at most {MAX_TITLE_CHARS} characters",
            "review_title_too_long",
            limit=MAX_TITLE_CHARS,
        )
    entries = _check_entries(entries)
    stimuli = _check_stimuli(stimuli, show, entries[0].dataset)
    pairs = list(combinations(range(len(entries)), 2))
    items = tuple(
        Item(i, stimulus, a, b)
        for i, (stimulus, (a, b)) in enumerate((s, p) for s in stimuli for p in pairs)
    )
    if len(items) > MAX_ITEMS:
        raise ReviewError(
            f"{len(items)} pairs to show; a review has at most {MAX_ITEMS}",
            "plan_size",
            limit=MAX_ITEMS,
        )
    total = len(items) if per_reviewer is None else per_reviewer
    if not isinstance(total, int) or not 0 < total <= len(items):
        raise ReviewError(
            f"each reviewer is asked 1 to {len(items)} pairs, not {per_reviewer!r}",
            "plan_size",
            limit=len(items),
        )
    secret = secrets.token_hex(
        24
    )  # hex: never a leading '-' that a command line takes for an option
    for _ in range(5):  # a code already taken: draw again
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        created = _now()
        try:
            with store.transaction() as con:
                r = store.reviews.c
                n = con.execute(sa.select(sa.func.count()).where(sa.not_(r.closed))).scalar_one()
                if n >= MAX_OPEN_REVIEWS:
                    raise ReviewError(f"{n} reviews are open already", "reviews_full", n=n)
                _insert(con, code, title, secret, show, total, created, entries, items)
        except sa.exc.IntegrityError:
            continue
        return Opened(Review(code, title, show, entries, items, total, created, False), secret)
    raise RuntimeError("no free review code after 5 draws")


def _insert(
    con: Connection,
    code: str,
    title: str,
    secret: str,
    show: str,
    per_reviewer: int,
    created: datetime,
    entries: tuple[Entry, ...],
    items: tuple[Item, ...],
) -> None:
    con.execute(
        sa.insert(store.reviews).values(
            code=code,
            title=title,
            owner_sha256=_hash(secret),
            order_key=secrets.token_hex(32),
            show=show,
            per_reviewer=per_reviewer,
            created=created,
        )
    )
    con.execute(
        sa.insert(store.review_entries),
        [
            {"review": code, "slot": slot, "label": e.label, "kind": e.kind}
            | {"dataset": e.dataset, "shipped": e.shipped, "sha256": e.sha256}
            for slot, e in enumerate(entries)
        ],
    )
    con.execute(
        sa.insert(store.review_items),
        [
            {"review": code, "item": it.item, "seed": it.stimulus.seed}
            | {"end_seed": it.stimulus.end_seed, "label": it.stimulus.label}
            | {"entry_a": it.a, "entry_b": it.b}
            for it in items
        ],
    )


@dataclass(frozen=True)
class _Plan:
    """A review as opened: everything but `closed`, which is read afresh on each call."""

    review: Review
    key: bytes
    owner_sha256: str

    def _mac(self, *parts: object) -> bytes:
        return hmac.new(self.key, "|".join(map(str, parts)).encode(), hashlib.sha256).digest()

    def order(self, reviewer: str) -> list[Item]:
        """The items `reviewer` is asked, in their order (the module docstring says why)."""
        by_pair: dict[tuple[int, int], list[Item]] = {}
        for it in self.review.items:
            by_pair.setdefault((it.a, it.b), []).append(it)
        for items in by_pair.values():
            items.sort(key=lambda it: self._mac("order", reviewer, it.item))
        rounds = max(len(items) for items in by_pair.values())
        ordered = []
        for t in range(rounds):
            pairs = sorted(by_pair, key=lambda p: self._mac("round", reviewer, t, *p))
            ordered += [by_pair[p][t] for p in pairs if t < len(by_pair[p])]
        return ordered[: self.review.per_reviewer]

    def left(self, reviewer: str, item: Item) -> int:
        """The slot shown on the left to `reviewer` for `item`: a coin flip of their own."""
        return item.a if self._mac("side", reviewer, item.item)[0] & 1 else item.b


class _Plans:
    """Each review's plan as this process read it: it never changes once the review opened,
    so a reviewer's next pair costs one small query, not three. Bounded; a cache of the
    store, keyed by the store's URL too."""

    def __init__(self, max_keys: int = 256) -> None:
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, str], _Plan] = {}
        self.max_keys = max_keys

    def get(self, key: tuple[str, str]) -> _Plan | None:
        with self._lock:
            return self._plans.get(key)

    def keep(self, key: tuple[str, str], plan: _Plan) -> None:
        with self._lock:
            if len(self._plans) >= self.max_keys:
                self._plans.clear()
            self._plans[key] = plan

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()


_plans = _Plans()


def _review_row(con: Connection, code: object, lock: bool = False) -> Row:
    """The review with `code`, open or not, counting misses against guessing."""
    if _unknown_codes.over("*"):
        raise ReviewError(
            "too many unknown review codes were tried; wait a minute", "review_rate_limited"
        )
    normal = normal_code(code)
    row = None
    if normal:
        query = sa.select(store.reviews).where(store.reviews.c.code == normal)
        row = con.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        if normal is not None and _unknown_codes.add("*") == _unknown_codes.limit:
            log.warning(
                "%d unknown review codes in a minute: refusing lookups", _unknown_codes.limit
            )
        raise ReviewError(f"no review has the code {str(code)[:20]!r}", "review_unknown")
    return row


def _plan(con: Connection, row: Row) -> _Plan:
    key = (store.url(), row.code)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    e, i = store.review_entries.c, store.review_items.c
    entries = tuple(
        Entry(r.label, r.kind, r.dataset, r.shipped, r.sha256)
        for r in con.execute(
            sa.select(store.review_entries).where(e.review == row.code).order_by(e.slot)
        )
    )
    items = tuple(
        Item(r.item, Stimulus(r.seed, r.label, r.end_seed), r.entry_a, r.entry_b)
        for r in con.execute(
            sa.select(store.review_items).where(i.review == row.code).order_by(i.item)
        )
    )
    review = Review(
        row.code, row.title, row.show, entries, items, row.per_reviewer, row.created, False
    )
    plan = _Plan(review, bytes.fromhex(row.order_key), row.owner_sha256)
    _plans.keep(key, plan)
    return plan


def _open_plan(con: Connection, code: object, lock: bool = False) -> _Plan:
    row = _review_row(con, code, lock)
    if row.closed:
        raise ReviewError(f"review {row.code} is closed", "review_closed")
    return _plan(con, row)


def _as_owner(con: Connection, code: object, secret: object) -> tuple[_Plan, bool]:
    """(the plan, whether the review is closed) if `secret` is its owner's; a wrong code and a
    wrong secret read alike."""
    normal = normal_code(code)
    row = None
    if normal:
        row = con.execute(
            sa.select(store.reviews).where(store.reviews.c.code == normal)
        ).one_or_none()
    ok = (
        row is not None
        and isinstance(secret, str)
        and 0 < len(secret) <= MAX_SECRET_CHARS
        and hmac.compare_digest(_hash(secret), row.owner_sha256)
    )
    if ok:
        return _plan(con, row), bool(row.closed)
    failures = _owner_failures.add(normal or "?")
    if failures > _owner_failures.limit:
        if failures == _owner_failures.limit + 1:
            log.warning("review %s: %d wrong owner secrets in a minute", normal, failures)
        raise ReviewError("too many wrong owner links for this review", "review_rate_limited")
    raise ReviewError("not the owner secret of this review", "not_owner")


def _with_closed(plan: _Plan, closed: bool) -> Review:
    r = plan.review
    return Review(r.code, r.title, r.show, r.entries, r.items, r.per_reviewer, r.created, closed)


def get_review(code: str) -> Review:
    """The open review with `code` (spaces, dashes and case as typed are fine). It names the
    models: the reviewer's page must not show their labels.

    Raises:
        ReviewError: review_unknown, review_closed, review_rate_limited.
        StoreUnavailable: the database cannot be reached now.
    """
    with store.transaction(write=False) as con:
        return _open_plan(con, code).review


def is_owner(code: str, secret: str) -> bool:
    """Whether `secret` is the owner secret of review `code` (compared as sha256 digests in
    constant time); False for anything malformed or rate-limited."""
    try:
        with store.transaction(write=False) as con:
            _as_owner(con, code, secret)
    except ReviewError:
        return False
    return True


def close_review(code: str, owner_secret: str) -> None:
    """Stop taking votes for good; the results stay readable by the owner."""
    with store.transaction() as con:
        plan, _ = _as_owner(con, code, owner_secret)
        r = store.reviews.c
        con.execute(sa.update(store.reviews).where(r.code == plan.review.code).values(closed=True))


def review_link(base_url: str, code: str) -> str:
    """The link reviewers open; it never holds the owner secret."""
    return f"{base_url.rstrip('/')}/review?review={urllib.parse.quote(code, safe='')}"


def owner_link(base_url: str, code: str, secret: str) -> str:
    """The link that opens the review's results: keep it to yourself."""
    return f"{review_link(base_url, code)}&owner={urllib.parse.quote(secret, safe='')}"


def _check_reviewer(con: Connection, plan: _Plan, reviewer: object) -> str:
    if isinstance(reviewer, str) and _REVIEWER_ID.fullmatch(reviewer):
        t = store.review_reviewers.c
        query = sa.select(t.reviewer).where(t.review == plan.review.code, t.reviewer == reviewer)
        if con.execute(query).first() is not None:
            return reviewer
    raise ReviewError("this reviewer has not joined this review", "reviewer_unknown")


def _voted(con: Connection, plan: _Plan, reviewer: str) -> set[int]:
    v = store.review_votes.c
    query = sa.select(v.item).where(v.review == plan.review.code, v.reviewer == reviewer)
    return set(con.execute(query).scalars())


def join(code: str, name: str = "") -> str:
    """Join review `code` as a new reviewer; return the reviewer id, the page session's own
    (it votes as this reviewer: keep it in the session, not in a link).

    Args:
        name: optional, up to MAX_NAME_CHARS, stored as given; the owner sees it.
    """
    if not _text_ok(name, MAX_NAME_CHARS):
        raise ReviewError(
            f"a name has at most {MAX_NAME_CHARS} characters", "name_too_long", limit=MAX_NAME_CHARS
        )
    reviewer = secrets.token_urlsafe(16)
    with store.transaction() as con:
        plan = _open_plan(con, code, lock=True)  # PostgreSQL: joins to one review take turns
        t = store.review_reviewers.c
        n = con.execute(sa.select(sa.func.count()).where(t.review == plan.review.code)).scalar_one()
        if n >= MAX_REVIEWERS:
            raise ReviewError(f"review {plan.review.code} has {n} reviewers", "review_full", n=n)
        con.execute(
            sa.insert(store.review_reviewers).values(
                review=plan.review.code, reviewer=reviewer, name=name, joined=_now()
            )
        )
    return reviewer


def next_item(code: str, reviewer: str) -> Pair | None:
    """The next pair `reviewer` has not voted on, sides as they are to be shown; None when
    they have voted on all of theirs.

    Raises:
        ReviewError: review_unknown, review_closed, reviewer_unknown, review_rate_limited.
        StoreUnavailable: the database cannot be reached now.
    """
    with store.transaction(write=False) as con:
        plan = _open_plan(con, code)
        reviewer = _check_reviewer(con, plan, reviewer)
        voted = _voted(con, plan, reviewer)
    order = plan.order(reviewer)
    for number, it in enumerate(order, 1):
        if it.item not in voted:
            left = plan.left(reviewer, it)
            right = it.b if left == it.a else it.a
            return Pair(it, left, right, number, len(order))
    return None


def progress(code: str, reviewer: str) -> Progress:
    """How many of their pairs `reviewer` has voted on, of how many."""
    with store.transaction(write=False) as con:
        plan = _open_plan(con, code)
        reviewer = _check_reviewer(con, plan, reviewer)
        done = len(_voted(con, plan, reviewer))
    return Progress(done, plan.review.per_reviewer)


def vote(code: str, reviewer: str, item: int, choice: str, comment: str = "") -> Progress:
    """Record `reviewer`'s vote on `item`: the image on the "left", on the "right", or the
    "same"; return their progress. The side each model was on is the one :func:`next_item`
    gave, worked out again here rather than taken from the page.

    Args:
        comment: optional, up to MAX_COMMENT_CHARS, stored as given.

    Raises:
        ReviewError: review_unknown, review_closed, reviewer_unknown, item_unknown (not one
            of this reviewer's), choice_unknown, comment_too_long, already_voted.
        StoreUnavailable: the database cannot be reached now.
    """
    if choice not in CHOICES:
        raise ReviewError(
            f"a vote is one of {', '.join(CHOICES)}, not {choice!r}", "choice_unknown"
        )
    if not _text_ok(comment, MAX_COMMENT_CHARS):
        raise ReviewError(
            f"a comment has at most {MAX_COMMENT_CHARS} characters",
            "comment_too_long",
            limit=MAX_COMMENT_CHARS,
        )
    try:
        with store.transaction() as con:
            plan = _open_plan(con, code)
            reviewer = _check_reviewer(con, plan, reviewer)
            mine = {it.item: it for it in plan.order(reviewer)}
            if isinstance(item, bool) or not isinstance(item, int) or item not in mine:
                raise ReviewError(
                    f"item {item!r} is not one this reviewer is asked", "item_unknown"
                )
            con.execute(
                sa.insert(store.review_votes).values(
                    review=plan.review.code,
                    item=item,
                    reviewer=reviewer,
                    left_slot=plan.left(reviewer, mine[item]),
                    choice=choice,
                    comment=comment,
                    time=_now(),
                )
            )
            done = len(_voted(con, plan, reviewer))
    except sa.exc.IntegrityError as e:
        raise ReviewError(f"this reviewer has voted on item {item} already", "already_voted") from e
    return Progress(done, plan.review.per_reviewer)


@dataclass(frozen=True)
class _Vote:
    reviewer: str  # "#3"
    name: str
    item: Item
    left: int
    choice: str
    comment: str
    time: datetime

    @property
    def winner(self) -> int | None:
        right = self.item.b if self.left == self.item.a else self.item.a
        return {"left": self.left, "right": right, "same": None}[self.choice]


def _votes(con: Connection, plan: _Plan) -> list[_Vote]:
    code = plan.review.code
    t, v = store.review_reviewers.c, store.review_votes.c
    joined = con.execute(
        sa.select(t.reviewer, t.name).where(t.review == code).order_by(t.joined, t.reviewer)
    ).all()
    alias = {r: (f"#{n}", name) for n, (r, name) in enumerate(joined, 1)}
    rows = con.execute(
        sa.select(v.reviewer, v.item, v.left_slot, v.choice, v.comment, v.time)
        .where(v.review == code)
        .order_by(v.time, v.reviewer, v.item)
    )
    items = plan.review.items
    return [_Vote(*alias[r], items[i], left, c, text, when) for r, i, left, c, text, when in rows]


def _results(plan: _Plan, closed: bool, votes: list[_Vote], resamples: int, seed: int) -> Results:
    review = _with_closed(plan, closed)
    by_reviewer = sorted(votes, key=lambda v: int(v.reviewer[1:]))  # "#2" before "#10"
    outcomes = [
        verdict.Outcome(v.reviewer, v.item.item, v.item.a, v.item.b, v.winner) for v in by_reviewer
    ]
    labels = [e.label for e in review.entries]
    return Results(
        review,
        verdict.verdict(outcomes, labels, resamples=resamples, seed=seed),
        {v.reviewer: v.name for v in by_reviewer},
        tuple(
            Comment(v.item, v.reviewer, v.name, v.left, v.choice, v.comment, v.time)
            for v in votes
            if v.comment
        ),
    )


def results(
    code: str, owner_secret: str, *, resamples: int = verdict.RESAMPLES, seed: int = 0
) -> Results:
    """The verdict so far, for the review's owner (also once closed).

    Raises:
        ReviewError: not_owner (a wrong code reads alike), review_rate_limited.
        StoreUnavailable: the database cannot be reached now.
    """
    with store.transaction(write=False) as con:
        plan, closed = _as_owner(con, code, owner_secret)
        votes = _votes(con, plan)
    return _results(plan, closed, votes, resamples, seed)


def results_for_reviewer(code: str, reviewer: str, *, seed: int = 0) -> Results:
    """The verdict so far, for a reviewer who has voted on all of their pairs.

    Raises:
        ReviewError: not_finished, and what :func:`progress` raises.
    """
    with store.transaction(write=False) as con:
        plan = _open_plan(con, code)
        reviewer = _check_reviewer(con, plan, reviewer)
        left = plan.review.per_reviewer - len(_voted(con, plan, reviewer))
        if left > 0:
            raise ReviewError(f"{left} pairs to vote on first", "review_not_finished", n=left)
        votes = _votes(con, plan)
    return _results(plan, False, votes, verdict.RESAMPLES, seed)


EXPORT_COLUMNS = (
    "reviewer",
    "name",
    "item",
    "seed",
    "end_seed",
    "class",
    "left_model",
    "right_model",
    "choice",
    "preferred_model",
    "comment",
    "time",
)
_TEXT_COLUMNS = {"name", "left_model", "right_model", "preferred_model", "comment"}


def _vote_rows(plan: _Plan, votes: list[_Vote]) -> list[dict]:
    labels = [e.label for e in plan.review.entries]
    rows = []
    for v in votes:
        right = v.item.b if v.left == v.item.a else v.item.a
        s = v.item.stimulus
        rows.append(
            {
                "reviewer": v.reviewer,
                "name": v.name,
                "item": v.item.item,
                "seed": s.seed,
                "end_seed": s.end_seed,
                "class": s.label,
                "left_model": labels[v.left],
                "right_model": labels[right],
                "choice": v.choice,
                "preferred_model": "" if v.winner is None else labels[v.winner],
                "comment": v.comment,
                "time": v.time.isoformat(timespec="seconds"),
            }
        )
    return rows


def _owned_votes(code: str, owner_secret: str) -> tuple[_Plan, bool, list[_Vote]]:
    with store.transaction(write=False) as con:
        plan, closed = _as_owner(con, code, owner_secret)
        return plan, closed, _votes(con, plan)


def export_csv(code: str, owner_secret: str) -> str:
    """Every vote as CSV, oldest first, with a header row; text a spreadsheet would run as a
    formula gets a leading apostrophe (as the ratings' export does)."""
    plan, _, votes = _owned_votes(code, owner_secret)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in _vote_rows(plan, votes):
        writer.writerow(
            defuse(row[c]) if c in _TEXT_COLUMNS and row[c] else row[c] for c in EXPORT_COLUMNS
        )
    return out.getvalue()


def export_json(code: str, owner_secret: str, *, seed: int = 0) -> str:
    """The review, its verdict and every vote as one JSON document."""
    plan, closed, votes = _owned_votes(code, owner_secret)
    review = _with_closed(plan, closed)
    document = {
        "review": {
            "code": review.code,
            "title": review.title,
            "show": review.show,
            "created": review.created.isoformat(timespec="seconds"),
            "closed": review.closed,
            "per_reviewer": review.per_reviewer,
            "items": len(review.items),
            "models": [asdict(e) for e in review.entries],
        },
        "verdict": _results(plan, closed, votes, verdict.RESAMPLES, seed).verdict.as_dict(),
        "votes": _vote_rows(plan, votes),
    }
    return json.dumps(document, ensure_ascii=False, indent=1)
