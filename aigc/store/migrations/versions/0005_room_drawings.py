"""A class room's own training set: what each person drew on the Your data page.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_drawings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("room", sa.String(16), sa.ForeignKey("rooms.code"), nullable=False),
        sa.Column("follower_id", sa.String(64), nullable=False),
        sa.Column("class_name", sa.Text, nullable=False),
        sa.Column("png", sa.LargeBinary, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("room_drawings_room_follower", "room_drawings", ["room", "follower_id"])


def downgrade() -> None:
    op.drop_index("room_drawings_room_follower", "room_drawings")
    op.drop_table("room_drawings")
