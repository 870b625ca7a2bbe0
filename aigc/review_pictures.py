"""The pictures a review shows: every entry's picture of every stimulus, made once by the
owner's server when the review opens (`render.stimulus_picture`), and kept in the store with
the review.

Why not render them where each reviewer is: a review compares models trained or uploaded in
the owner's session, whose weights live only there; and a review is blind, so what reaches a
reviewer's browser must be the picture and nothing of the model. Made once, the pixels are
the same for every reviewer on every server, and a vote is on exactly what was shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from torch import nn

from aigc import render, review, store
from aigc.prior import FittedPrior
from aigc.review import Item, Review, ReviewError, Stimulus

MAX_PICTURE_BYTES = 512 * 1024  # a 28-px sample's PNG is ~1 kB, a walk's GIF ~40 kB
MAX_REVIEW_BYTES = 48 * 2**20
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


def _pairs(r: Review) -> int:
    n = len(r.entries)
    return n * (n - 1) // 2


def stimuli(r: Review) -> list[Stimulus]:
    """The review's stimuli in order: its items are every pair of entries for each of them."""
    return [r.items[i].stimulus for i in range(0, len(r.items), _pairs(r))]


def stimulus_index(r: Review, item: Item) -> int:
    """Where `item`'s stimulus is in :func:`stimuli`."""
    return item.item // _pairs(r)


def put(code: str, owner_secret: str, pictures: Mapping[tuple[int, int], bytes]) -> None:
    """Store the pictures of review `code`, {(entry slot, stimulus index): PNG or GIF}, one for
    every entry and stimulus; only its owner may, and only all at once.

    Raises:
        ReviewError: not_owner, review_unknown, pictures_incomplete, picture_invalid.
        StoreUnavailable: the database cannot be reached now.
    """
    if not review.is_owner(code, owner_secret):
        raise ReviewError("only the review's owner stores its pictures", "not_owner")
    r = review.get_review(code)
    wanted = {(slot, i) for slot in range(len(r.entries)) for i in range(len(stimuli(r)))}
    if set(pictures) != wanted:
        raise ReviewError("a review's pictures come all at once", "pictures_incomplete")
    if any(len(p) > MAX_PICTURE_BYTES or not p.startswith(_MAGIC) for p in pictures.values()):
        raise ReviewError("a review's picture is a small PNG or GIF", "picture_invalid")
    if sum(len(p) for p in pictures.values()) > MAX_REVIEW_BYTES:
        raise ReviewError("the review's pictures are too large together", "picture_invalid")
    with store.transaction() as con:
        t = store.review_pictures.c
        con.execute(sa.delete(store.review_pictures).where(t.review == r.code))
        con.execute(
            sa.insert(store.review_pictures),
            [
                {"review": r.code, "slot": slot, "stimulus": i, "picture": bytes(p)}
                for (slot, i), p in pictures.items()
            ],
        )


def make(
    code: str,
    owner_secret: str,
    models: Sequence[nn.Module],
    fitted: Sequence[FittedPrior | None] | None = None,
) -> None:
    """Render and store review `code`'s pictures: `models[slot]` is its entry's model (a VAE
    drawing from `fitted[slot]`, its fitted prior, where given, as Explore does)."""
    r = review.get_review(code)
    priors = list(fitted) if fitted is not None else [None] * len(models)
    put(
        code,
        owner_secret,
        {
            (slot, i): render.stimulus_picture(model, s.seed, s.label, s.end_seed, prior)
            for slot, (model, prior) in enumerate(zip(models, priors, strict=True))
            for i, s in enumerate(stimuli(r))
        },
    )


def get_many(code: str, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored pictures of an open review, {(entry slot, stimulus index): bytes}, in one
    read of the review and one query (a pair, or every comment's pair, at once); a key with
    no picture (yet) is left out."""
    wanted = set(wanted)
    r = review.get_review(code)
    t = store.review_pictures.c
    keys = sa.tuple_(t.slot, t.stimulus)
    with store.transaction(write=False) as con:
        rows = (
            con.execute(
                sa.select(t.slot, t.stimulus, t.picture).where(t.review == r.code, keys.in_(wanted))
            )
            if wanted
            else []
        )
        return {(slot, i): bytes(p) for slot, i, p in rows}


def get(code: str, slot: int, index: int) -> bytes | None:
    """One stored picture of an open review; None if there is none (yet)."""
    return get_many(code, [(slot, index)]).get((slot, index))
