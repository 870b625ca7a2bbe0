"""The one store for what every session and every server must see alike: ratings, class rooms,
their followers and gallery, reviews and their votes. SQLAlchemy Core over SQLite (the
default, one file, nothing to install) or PostgreSQL (a school's server), chosen by
``$AIGC_DB_URL``.

Every call takes a short transaction from a pooled engine (one per URL per process), so the
Streamlit sessions' threads never share a connection. On first use in a process the schema is
brought to the newest Alembic revision shipped in ``migrations/``; processes starting at once
take turns (SQLite's write lock, PostgreSQL's advisory lock), so each migration runs once.

SQLite as before: WAL mode so readers never wait for a writer, a 30 s busy timeout so a writer
waits its turn instead of failing, and writes take the write lock up front (``BEGIN
IMMEDIATE``), because a WAL transaction that upgrades from reading to writing fails at once.

PostgreSQL: ``pool_pre_ping`` tests a pooled connection before use, so a server restarted
mid-lesson is reconnected on the next call. While the store cannot be reached, calls raise
:class:`StoreUnavailable` (code ``store_unavailable``), which a page says in plain words.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aigc.errors import InputError
from aigc.store.tables import (
    followers,
    gallery,
    metadata,
    ratings,
    review_entries,
    review_items,
    review_pictures,
    review_reviewers,
    review_votes,
    reviews,
    room_drawings,
    room_runs,
    rooms,
)

__all__ = [
    "StoreUnavailable",
    "dispose",
    "engine",
    "exists",
    "followers",
    "gallery",
    "metadata",
    "ratings",
    "review_entries",
    "review_items",
    "review_pictures",
    "review_reviewers",
    "review_votes",
    "reviews",
    "room_drawings",
    "room_runs",
    "rooms",
    "transaction",
    "upsert",
    "url",
]

DEFAULT_PATH = "feedback.sqlite3"  # where the ratings have always lived
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 5  # a PostgreSQL server that does not answer fails the call, not the page
MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key serialising first-use migrations across processes ("aigc" in hex).
_MIGRATION_LOCK_KEY = 0x61696763

_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


class StoreUnavailable(InputError):
    """The database cannot be reached or used right now (server stopped, disk full, locked
    for longer than the busy timeout). The same call works again once it is back."""

    default_code = "store_unavailable"


def url(path: str | Path | None = None) -> str:
    """The store's URL: a SQLite file `path` if given, else ``$AIGC_DB_URL``, else the SQLite
    file ``$AIGC_FEEDBACK_DB`` or ``feedback.sqlite3`` in the working directory.

    ``postgresql://`` URLs use psycopg 3 (``postgresql+psycopg://``).
    """
    if path is None:
        given = os.environ.get("AIGC_DB_URL")
        if given:
            return _with_driver(given)
        path = os.environ.get("AIGC_FEEDBACK_DB") or DEFAULT_PATH
    # Absolute, so that one file is one engine whatever the working directory is later.
    return sa.URL.create("sqlite", database=str(Path(path).resolve())).render_as_string()


def _with_driver(given: str) -> str:
    u = sa.make_url(given)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_file(u: str) -> Path | None:
    parsed = sa.make_url(u)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def exists(u: str) -> bool:
    """False only for a SQLite file not created yet: reading it needs no file made."""
    file = _sqlite_file(u)
    return file is None or file.exists()


def engine(u: str) -> Engine:
    """The pooled engine for URL `u`, made once per process."""
    with _lock:
        if u not in _engines:
            _engines[u] = _make_engine(u)
        return _engines[u]


def _make_engine(u: str) -> Engine:
    if sa.make_url(u).get_backend_name() != "sqlite":
        return sa.create_engine(
            u, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    eng = sa.create_engine(u, pool_pre_ping=True, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(eng, "connect")
    def _on_connect(dbapi_con, _record) -> None:
        dbapi_con.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        dbapi_con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_con.execute("PRAGMA foreign_keys = ON")
        _use_wal(dbapi_con)

    @sa.event.listens_for(eng, "begin")
    def _on_begin(con: Connection) -> None:
        write = con.get_execution_options().get("aigc_write", True)
        con.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return eng


def _use_wal(dbapi_con) -> None:
    """Put the file in WAL mode (it stays so), unless another process already has.

    Why not just the pragma: switching needs the file to itself, and SQLite answers "database
    is locked" at once, without waiting out busy_timeout, when another process is switching or
    writing at that moment (seen with 6 processes rating at once). Reading the mode takes no
    lock, so the switch is tried only on a new file, and retried for up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while dbapi_con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            dbapi_con.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def transaction(u: str | None = None, *, write: bool = True) -> Iterator[Connection]:
    """A connection inside one transaction, committed when the block ends without an error.

    Args:
        u: the store's URL; default :func:`url`.
        write: take SQLite's write lock up front; reads pass False so they never wait.

    Raises:
        StoreUnavailable: the database cannot be reached or used now.
    """
    u = u or url()
    with _unavailable(u):
        eng = _ready(u)
        with eng.connect() as con:
            con.execution_options(aigc_write=write)
            with con.begin():
                yield con


@contextmanager
def _unavailable(u: str) -> Iterator[None]:
    """Errors of a database that is down, full or locked, as StoreUnavailable; an error in a
    query itself (a bug) stays what it is."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as e:
        where = sa.make_url(u).render_as_string(hide_password=True)
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise StoreUnavailable(f"the store {where} cannot be used now: {reason}") from e


def _ready(u: str) -> Engine:
    """The engine, with the schema migrated to the newest revision once per process."""
    eng = engine(u)
    if u not in _migrated:
        with _lock:
            if u not in _migrated:
                _upgrade(eng)
                _migrated.add(u)
    return eng


def _upgrade(eng: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with eng.connect() as con:
        con.execution_options(aigc_write=True)  # SQLite: BEGIN IMMEDIATE, one migrator at a time
        with con.begin():
            if con.dialect.name == "postgresql":
                con.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = con  # migrations/env.py runs on this transaction
            command.upgrade(config, "head")


def dispose(u: str | None = None) -> None:
    """Close the pooled connections of `u` (default: every URL) and forget its engine: the next
    call connects and checks the schema afresh, as a new process would."""
    with _lock:
        for key in [u] if u is not None else list(_engines):
            eng = _engines.pop(key, None)
            _migrated.discard(key)
            if eng is not None:
                eng.dispose()


def upsert(con: Connection, table: sa.Table, row: dict, keys: Sequence[str]) -> None:
    """Insert `row`, or update the row with the same `keys` (INSERT ... ON CONFLICT, which both
    backends have): no window between a failed UPDATE and an INSERT for another writer."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[con.dialect.name]
    stmt = insert(table).values(**row)
    changed = {name: stmt.excluded[name] for name in row if name not in keys}
    con.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changed))
