"""Ratings people give generated images, kept in the store (:mod:`aigc.store`: a SQLite file
by default, PostgreSQL where ``$AIGC_DB_URL`` names one).

Every Streamlit session runs its script in its own thread, so ratings arrive concurrently: each
call is one short transaction on a pooled connection, and the store makes concurrent writers
wait their turn rather than fail.

Text is stored exactly as given (no escaping): whoever displays it must show it as plain
text, as ``st.dataframe`` does. Only the CSV export defuses spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from aigc import store
from aigc.store import StoreUnavailable  # noqa: F401  (what a page catches around add_rating)

MAX_COMMENT_CHARS = 2000
MAX_NAME_CHARS = 200  # page, model and dataset names
MAX_LATENT_DIMS = 4096
MAX_LINK_CHARS = 4000
MAX_ROOM_CHARS = store.tables.CODE_CHARS
SCALES = {"stars": (1, 2, 3, 4, 5), "thumbs": (-1, 1)}


@dataclass(frozen=True)
class Rating:
    id: int
    time: str  # ISO 8601, UTC
    page: str
    model: str
    dataset: str
    label: int | None  # the class the image was generated for, if any
    seed: int | None
    latent: str | None  # JSON list of floats
    scale: str  # "stars" (1-5) or "thumbs" (-1/+1)
    rating: int
    comment: str
    link: str  # reopens the rated image; '' for ratings stored before links were
    room: str | None = None  # the class room it was given in, if any


@dataclass(frozen=True)
class ModelSummary:
    model: str
    dataset: str
    scale: str
    count: int
    mean: float


COLUMNS = tuple(f.name for f in fields(Rating))
_COLUMNS = [store.ratings.c[name] for name in COLUMNS]
_TEXT_COLUMNS = {"page", "model", "dataset", "comment", "link", "room"}


def _read(query: sa.Select, path: Path | None = None) -> list[tuple]:
    """Rows of a query; none, and no file created, if nobody has rated anything yet."""
    u = store.url(path)
    if not store.exists(u):
        return []
    with store.transaction(u, write=False) as con:
        return [tuple(row) for row in con.execute(query)]


def add_rating(
    *,
    page: str,
    model: str,
    dataset: str,
    rating: int,
    scale: str = "stars",
    label: int | None = None,
    seed: int | None = None,
    latent: Iterable[float] | None = None,
    comment: str = "",
    link: str = "",
    room: str | None = None,
    path: Path | None = None,
) -> int:
    """Store one rating and return its id.

    Args:
        rating: 1-5 for ``scale="stars"``, -1 or +1 for ``scale="thumbs"``.
        latent: the latent vector the image came from (stored as JSON), if there is one.
        comment: free text up to MAX_COMMENT_CHARS, stored as given.
        link: the page link that reopens the rated image, up to MAX_LINK_CHARS.
        room: the code of the class room it was rated in, if any.
        path: a SQLite file to use instead of the store (:func:`aigc.store.url`).

    Raises:
        ValueError: a value out of range, or text over its length cap.
        StoreUnavailable: the database cannot be reached now.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if rating not in SCALES[scale]:
        raise ValueError(f"a {scale} rating must be one of {SCALES[scale]}, got {rating!r}")
    for name, text in (("page", page), ("model", model), ("dataset", dataset)):
        if not isinstance(text, str) or not 0 < len(text) <= MAX_NAME_CHARS:
            raise ValueError(f"{name} must be text of 1 to {MAX_NAME_CHARS} characters")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"comment must be text of at most {MAX_COMMENT_CHARS} characters")
    if not isinstance(link, str) or len(link) > MAX_LINK_CHARS:
        raise ValueError(f"link must be text of at most {MAX_LINK_CHARS} characters")
    if room is not None and (not isinstance(room, str) or not 0 < len(room) <= MAX_ROOM_CHARS):
        raise ValueError(f"room must be a code of 1 to {MAX_ROOM_CHARS} characters")
    row = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "page": page,
        "model": model,
        "dataset": dataset,
        "label": None if label is None else int(label),
        "seed": None if seed is None else int(seed),
        "latent": _latent_json(latent),
        "scale": scale,
        "rating": int(rating),
        "comment": comment,
        "link": link,
        "room": room,
    }
    with store.transaction(store.url(path)) as con:
        return int(con.execute(sa.insert(store.ratings).values(row)).inserted_primary_key[0])


def _latent_json(latent: Iterable[float] | None) -> str | None:
    if latent is None:
        return None
    values = [float(v) for v in latent]
    if len(values) > MAX_LATENT_DIMS:
        raise ValueError(f"latent has {len(values)} values; the limit is {MAX_LATENT_DIMS}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("latent holds NaN or Inf")
    return json.dumps(values)


def list_ratings(limit: int = 1000, *, path: Path | None = None) -> list[Rating]:
    """The newest `limit` ratings, newest first."""
    query = sa.select(*_COLUMNS).order_by(store.ratings.c.id.desc()).limit(int(limit))
    return [Rating(*row) for row in _read(query, path)]


def summary(*, path: Path | None = None) -> list[ModelSummary]:
    """Count and mean rating per (model, dataset, scale), most rated first."""
    r = store.ratings.c
    count = sa.func.count()
    query = (
        sa.select(r.model, r.dataset, r.scale, count, sa.func.avg(r.rating))
        .group_by(r.model, r.dataset, r.scale)
        .order_by(count.desc(), r.model)
    )
    return [ModelSummary(m, d, s, n, float(mean)) for m, d, s, n, mean in _read(query, path)]


def to_csv(*, path: Path | None = None) -> str:
    """Every rating as CSV (oldest first), with a header row.

    Text that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) gets
    a leading apostrophe, the OWASP advice against CSV injection; the database keeps the text
    as given.
    """
    rows = _read(sa.select(*_COLUMNS).order_by(store.ratings.c.id), path)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            defuse(value) if name in _TEXT_COLUMNS and value else value
            for name, value in zip(COLUMNS, row, strict=True)
        )
    return out.getvalue()


def csv_file(*, path: Path | None = None) -> bytes:
    """:func:`to_csv` as a file a spreadsheet opens as UTF-8: Excel reads a CSV without a
    byte-order mark in the computer's own code page, which garbles Chinese comments."""
    return to_csv(path=path).encode("utf-8-sig")


def defuse(text: str) -> str:
    """`text` with a leading apostrophe if a spreadsheet would run it as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
