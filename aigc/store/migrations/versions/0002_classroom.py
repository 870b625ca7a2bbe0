"""Class rooms: rooms with the teacher's current view, their followers and gallery; a rating
can name the room it was given in.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CODE = sa.String(16)
FOLLOWER_ID = sa.String(64)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("ratings", sa.Column("room", CODE))
    op.create_table(
        "rooms",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("teacher_sha256", sa.String(64), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("expires", TIME, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("view_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("view_page", sa.Text, nullable=False, server_default=""),
        sa.Column("view_query", sa.Text, nullable=False, server_default="{}"),
        sa.Column("view_run_id", sa.Text),
        sa.Column("view_updated", TIME),
    )
    op.create_table(
        "followers",
        sa.Column("room", CODE, sa.ForeignKey("rooms.code"), primary_key=True),
        sa.Column("follower_id", FOLLOWER_ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("following", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("last_seen", TIME, nullable=False),
    )
    op.create_table(
        "gallery",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("room", CODE, sa.ForeignKey("rooms.code"), nullable=False),
        sa.Column("follower_id", FOLLOWER_ID, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("png", sa.LargeBinary, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("gallery_room_follower", "gallery", ["room", "follower_id"])


def downgrade() -> None:
    op.drop_table("gallery")
    op.drop_table("followers")
    op.drop_table("rooms")
    op.drop_column("ratings", "room")
