"""replenishment_runs: the nightly run per store and store-local business day (its key keeps a
day from running twice)

Revision ID: 0014_replenishment_runs
Revises: 0013_member_push
Create Date: 2026-11-28 15:30:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0014_replenishment_runs"
down_revision = "0013_member_push"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replenishment_runs",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", hub.db.UtcDateTime(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", name=op.f("pk_replenishment_runs")),
    )


def downgrade() -> None:
    op.drop_table("replenishment_runs")
