"""The pictures a review shows, made once when it opens (aigc.review_pictures).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_pictures",
        sa.Column("review", sa.String(16), sa.ForeignKey("reviews.code"), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("stimulus", sa.Integer, primary_key=True),
        sa.Column("picture", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_pictures")
