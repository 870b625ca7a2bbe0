"""The store's tables as the code queries them. The migrations (`migrations/versions/`) build
the same schema step by step, spelled out again rather than imported from here, because a
migration must keep building what it built when it was written, whatever this file becomes;
tests/test_store.py checks that the two agree on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

CODE_CHARS = 16  # room codes are 8 characters; room for a longer alphabet later
FOLLOWER_ID_CHARS = 64


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend: PostgreSQL keeps the zone (timestamptz); SQLite
    has no zone, so UTC is written without one and put back on read."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

ratings = sa.Table(
    "ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Text, nullable=False),  # ISO 8601 text, as the first release wrote it
    sa.Column("page", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("label", sa.Integer),
    sa.Column("seed", sa.BigInteger),
    sa.Column("latent", sa.Text),
    sa.Column("scale", sa.Text, nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("link", sa.Text, nullable=False, server_default=""),
    sa.Column("room", sa.String(CODE_CHARS)),  # no foreign key: a rating outlives its room
    sqlite_autoincrement=True,  # ids are never reused, as before
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("code", sa.String(CODE_CHARS), primary_key=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("teacher_sha256", sa.String(64), nullable=False),  # never the token itself
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("expires", UTCDateTime, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    # The teacher's current view; version 0 means nothing published yet.
    sa.Column("view_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("view_page", sa.Text, nullable=False, server_default=""),
    sa.Column("view_query", sa.Text, nullable=False, server_default="{}"),  # JSON object
    sa.Column("view_run_id", sa.Text),
    sa.Column("view_updated", UTCDateTime),
)

followers = sa.Table(
    "followers",
    metadata,
    sa.Column("room", sa.String(CODE_CHARS), sa.ForeignKey("rooms.code"), primary_key=True),
    sa.Column("follower_id", sa.String(FOLLOWER_ID_CHARS), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("following", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("last_seen", UTCDateTime, nullable=False),
)

gallery = sa.Table(
    "gallery",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("room", sa.String(CODE_CHARS), sa.ForeignKey("rooms.code"), nullable=False),
    sa.Column("follower_id", sa.String(FOLLOWER_ID_CHARS), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("png", sa.LargeBinary, nullable=False),
    sa.Column("link", sa.Text, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Index("gallery_room_follower", "room", "follower_id"),
    sqlite_autoincrement=True,
)

# The teacher's live run as her server last saw it, for followers on other servers: one row
# per room, replaced as the run goes (aigc.run_share says what the record holds).
room_runs = sa.Table(
    "room_runs",
    metadata,
    sa.Column("room", sa.String(CODE_CHARS), sa.ForeignKey("rooms.code"), primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("record", sa.LargeBinary, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)
