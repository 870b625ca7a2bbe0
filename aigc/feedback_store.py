"""Ratings people give generated images, kept in a local SQLite file.

Every Streamlit session runs its script in its own thread, so ratings arrive concurrently:
each call opens its own short-lived connection (sqlite3 connections must not be shared
between threads), the file is in WAL mode so the Feedback page can read while someone
writes, and ``busy_timeout`` makes a writer wait its turn instead of failing with "database
is locked". Writes take the write lock up front (``BEGIN IMMEDIATE``), because a transaction
that would upgrade from reading to writing under WAL fails at once rather than waiting.

Text is stored exactly as given (no escaping): whoever displays it must show it as plain
text, as ``st.dataframe`` does. Only the CSV export defuses spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PATH = "feedback.sqlite3"
MAX_COMMENT_CHARS = 2000
MAX_NAME_CHARS = 200  # page, model and dataset names
MAX_LATENT_DIMS = 4096
MAX_LINK_CHARS = 4000
BUSY_TIMEOUT_MS = 30_000
SCALES = {"stars": (1, 2, 3, 4, 5), "thumbs": (-1, 1)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    page TEXT NOT NULL,
    model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    label INTEGER,
    seed INTEGER,
    latent TEXT,
    scale TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT ''
)
"""
# Columns added since the first release, with their definitions: files made before them gain
# them on first open (SQLite's ALTER TABLE ADD COLUMN keeps every row).
_ADDED_COLUMNS = {"link": "TEXT NOT NULL DEFAULT ''"}
# Schema set-up changes the journal mode, which needs the database to itself: do it once per
# file per process rather than racing on every connection.
_ready: set[Path] = set()
_ready_lock = threading.Lock()


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


@dataclass(frozen=True)
class ModelSummary:
    model: str
    dataset: str
    scale: str
    count: int
    mean: float


COLUMNS = tuple(f.name for f in fields(Rating))
_TEXT_COLUMNS = {"page", "model", "dataset", "comment", "link"}


def db_path() -> Path:
    """$AIGC_FEEDBACK_DB, else feedback.sqlite3 in the working directory."""
    return Path(os.environ.get("AIGC_FEEDBACK_DB") or DEFAULT_PATH)


@contextmanager
def _connect(path: Path | None) -> Iterator[sqlite3.Connection]:
    path = _resolve(path)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        key = path.resolve()
        with _ready_lock:
            if key not in _ready:
                _use_wal(con)
                con.execute(_SCHEMA)
                _add_columns(con)
                _ready.add(key)
        yield con
    finally:
        con.close()


def _use_wal(con: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), unless another process already has.

    Why not just the pragma: switching needs the file to itself, and SQLite answers "database
    is locked" at once, without waiting out busy_timeout, when another process is switching or
    writing at that moment (seen with 6 processes rating at once). Reading the mode takes no
    lock, so the switch is tried only on a new file, and retried for up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            con.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _add_columns(con: sqlite3.Connection) -> None:
    have = {row[1] for row in con.execute("PRAGMA table_info(ratings)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in have:
            con.execute(f"ALTER TABLE ratings ADD COLUMN {name} {definition}")


def _resolve(path: Path | None) -> Path:
    return Path(path) if path is not None else db_path()


def _read(sql: str, params: tuple = (), path: Path | None = None) -> list[tuple]:
    """Rows of a query; none, and no file created, if nobody has rated anything yet."""
    if not _resolve(path).exists():
        return []
    with _connect(path) as con:
        return con.execute(sql, params).fetchall()


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
    path: Path | None = None,
) -> int:
    """Store one rating and return its id.

    Args:
        rating: 1-5 for ``scale="stars"``, -1 or +1 for ``scale="thumbs"``.
        latent: the latent vector the image came from (stored as JSON), if there is one.
        comment: free text up to MAX_COMMENT_CHARS, stored as given.
        link: the page link that reopens the rated image, up to MAX_LINK_CHARS.
        path: the database file; default :func:`db_path`.

    Raises:
        ValueError: a value out of range, or text over its length cap.
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
    row = (
        datetime.now(UTC).isoformat(timespec="seconds"),
        page,
        model,
        dataset,
        None if label is None else int(label),
        None if seed is None else int(seed),
        _latent_json(latent),
        scale,
        int(rating),
        comment,
        link,
    )
    with _connect(path) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            cur = con.execute(
                "INSERT INTO ratings (time, page, model, dataset, label, seed, latent, scale,"
                " rating, comment, link) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)


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
    rows = _read(
        f"SELECT {', '.join(COLUMNS)} FROM ratings ORDER BY id DESC LIMIT ?", (int(limit),), path
    )
    return [Rating(*row) for row in rows]


def summary(*, path: Path | None = None) -> list[ModelSummary]:
    """Count and mean rating per (model, dataset, scale), most rated first."""
    rows = _read(
        "SELECT model, dataset, scale, COUNT(*), AVG(rating) FROM ratings"
        " GROUP BY model, dataset, scale ORDER BY COUNT(*) DESC, model",
        path=path,
    )
    return [ModelSummary(m, d, s, n, float(mean)) for m, d, s, n, mean in rows]


def to_csv(*, path: Path | None = None) -> str:
    """Every rating as CSV (oldest first), with a header row.

    Text that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) gets
    a leading apostrophe, the OWASP advice against CSV injection; the database keeps the text
    as given.
    """
    rows = _read(f"SELECT {', '.join(COLUMNS)} FROM ratings ORDER BY id", path=path)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            _defuse(value) if name in _TEXT_COLUMNS else value
            for name, value in zip(COLUMNS, row, strict=True)
        )
    return out.getvalue()


def csv_file(*, path: Path | None = None) -> bytes:
    """:func:`to_csv` as a file a spreadsheet opens as UTF-8: Excel reads a CSV without a
    byte-order mark in the computer's own code page, which garbles Chinese comments."""
    return to_csv(path=path).encode("utf-8-sig")


def _defuse(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
