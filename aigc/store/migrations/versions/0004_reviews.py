"""Reviews: blind side-by-side comparisons of two to four models, their plan of items, their
reviewers and votes (aigc.review).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CODE = sa.String(16)
REVIEWER = sa.String(64)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("owner_sha256", sa.String(64), nullable=False),
        sa.Column("order_key", sa.String(64), nullable=False),
        sa.Column("show", sa.String(16), nullable=False),
        sa.Column("per_reviewer", sa.Integer, nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "review_entries",
        sa.Column("review", CODE, sa.ForeignKey("reviews.code"), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("shipped", sa.Text),
        sa.Column("sha256", sa.String(64)),
    )
    op.create_table(
        "review_items",
        sa.Column("review", CODE, sa.ForeignKey("reviews.code"), primary_key=True),
        sa.Column("item", sa.Integer, primary_key=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("end_seed", sa.BigInteger),
        sa.Column("label", sa.Integer),
        sa.Column("entry_a", sa.Integer, nullable=False),
        sa.Column("entry_b", sa.Integer, nullable=False),
    )
    op.create_table(
        "review_reviewers",
        sa.Column("review", CODE, sa.ForeignKey("reviews.code"), primary_key=True),
        sa.Column("reviewer", REVIEWER, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("joined", TIME, nullable=False),
    )
    op.create_table(
        "review_votes",
        sa.Column("review", CODE, primary_key=True),
        sa.Column("item", sa.Integer, primary_key=True),
        sa.Column("reviewer", REVIEWER, primary_key=True),
        sa.Column("left_slot", sa.Integer, nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("time", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["review", "reviewer"], ["review_reviewers.review", "review_reviewers.reviewer"]
        ),
        sa.ForeignKeyConstraint(["review", "item"], ["review_items.review", "review_items.item"]),
    )


def downgrade() -> None:
    op.drop_table("review_votes")
    op.drop_table("review_reviewers")
    op.drop_table("review_items")
    op.drop_table("review_entries")
    op.drop_table("reviews")
