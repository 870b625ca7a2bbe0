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

# A class room's own training set (aigc.classroom.send_drawings): what each person drew on the
# Your data page, one 28x28 PNG a row, replaced whole when that person sends again.
room_drawings = sa.Table(
    "room_drawings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("room", sa.String(CODE_CHARS), sa.ForeignKey("rooms.code"), nullable=False),
    sa.Column("follower_id", sa.String(FOLLOWER_ID_CHARS), nullable=False),
    sa.Column("class_name", sa.Text, nullable=False),
    sa.Column("png", sa.LargeBinary, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Index("room_drawings_room_follower", "room", "follower_id"),
    sqlite_autoincrement=True,
)

# Reviews (aigc.review): blind side-by-side comparisons of 2-4 models. A review's plan (its
# entries and items) is written once when it opens and never changes; votes only add rows.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("code", sa.String(CODE_CHARS), primary_key=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("owner_sha256", sa.String(64), nullable=False),  # never the secret itself
    sa.Column("order_key", sa.String(64), nullable=False),  # hex; keys each reviewer's order
    sa.Column("show", sa.String(16), nullable=False),  # "samples" or "interpolations"
    sa.Column("per_reviewer", sa.Integer, nullable=False),  # items each reviewer is asked
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
)

review_entries = sa.Table(
    "review_entries",
    metadata,
    sa.Column("review", sa.String(CODE_CHARS), sa.ForeignKey("reviews.code"), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),  # 0-3, in the owner's order
    sa.Column("label", sa.Text, nullable=False),  # what the owner calls it
    sa.Column("kind", sa.String(16), nullable=False),  # "gan" or "vae"
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("shipped", sa.Text),  # a shipped model's name, or
    sa.Column("sha256", sa.String(64)),  # the digest of a session's or an upload's weights file
)

review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("review", sa.String(CODE_CHARS), sa.ForeignKey("reviews.code"), primary_key=True),
    sa.Column("item", sa.Integer, primary_key=True),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("end_seed", sa.BigInteger),  # an interpolation's other end; None for a sample
    sa.Column("label", sa.Integer),  # the class asked for; None: the model's own draw
    sa.Column("entry_a", sa.Integer, nullable=False),  # the two entries' slots, a < b
    sa.Column("entry_b", sa.Integer, nullable=False),
)

review_reviewers = sa.Table(
    "review_reviewers",
    metadata,
    sa.Column("review", sa.String(CODE_CHARS), sa.ForeignKey("reviews.code"), primary_key=True),
    sa.Column("reviewer", sa.String(FOLLOWER_ID_CHARS), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("joined", UTCDateTime, nullable=False),
)

# One vote per reviewer and item: the primary key is the unique constraint that refuses a
# second one, on every server at once.
review_votes = sa.Table(
    "review_votes",
    metadata,
    sa.Column("review", sa.String(CODE_CHARS), primary_key=True),
    sa.Column("item", sa.Integer, primary_key=True),
    sa.Column("reviewer", sa.String(FOLLOWER_ID_CHARS), primary_key=True),
    sa.Column("left_slot", sa.Integer, nullable=False),  # the slot of the entry shown on the left
    sa.Column("choice", sa.String(8), nullable=False),  # "left", "right" or "same"
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["review", "reviewer"], ["review_reviewers.review", "review_reviewers.reviewer"]
    ),
    sa.ForeignKeyConstraint(["review", "item"], ["review_items.review", "review_items.item"]),
)

# The pictures a review shows (aigc.review_pictures): each entry's picture of each stimulus,
# made once by the owner's server when the review opens.
review_pictures = sa.Table(
    "review_pictures",
    metadata,
    sa.Column("review", sa.String(CODE_CHARS), sa.ForeignKey("reviews.code"), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("stimulus", sa.Integer, primary_key=True),  # its place in the review's stimuli
    sa.Column("picture", sa.LargeBinary, nullable=False),  # a PNG, or a GIF for a walk
)
