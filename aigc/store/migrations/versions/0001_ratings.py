"""Ratings, as the first releases kept them (before the store, aigc.feedback_store wrote this
table itself with sqlite3).

A file from then has the table but no alembic_version: the table is kept with its rows, the
columns it lacks are added, and Alembic stamps the file at this revision when it returns.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Columns added by releases before the store, with their definitions: a file made before them
# gains them here (SQLite's ALTER TABLE ADD COLUMN keeps every row).
ADDED = {"link": lambda: sa.Column("link", sa.Text, nullable=False, server_default="")}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("ratings"):
        op.create_table(
            "ratings",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("time", sa.Text, nullable=False),
            sa.Column("page", sa.Text, nullable=False),
            sa.Column("model", sa.Text, nullable=False),
            sa.Column("dataset", sa.Text, nullable=False),
            sa.Column("label", sa.Integer),
            sa.Column("seed", sa.BigInteger),
            sa.Column("latent", sa.Text),
            sa.Column("scale", sa.Text, nullable=False),
            sa.Column("rating", sa.Integer, nullable=False),
            sa.Column("comment", sa.Text, nullable=False),
            *(column() for column in ADDED.values()),
            sqlite_autoincrement=True,
        )
        return
    have = {column["name"] for column in inspector.get_columns("ratings")}
    for name, column in ADDED.items():
        if name not in have:
            op.add_column("ratings", column())


def downgrade() -> None:
    op.drop_table("ratings")
