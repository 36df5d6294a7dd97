"""ingest: seq conflicts (an event claiming a seq another event id holds)

Revision ID: 0005_ingest_conflicts
Revises: 0004_coupon_holds
Create Date: 2026-11-28 09:30:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0005_ingest_conflicts"
down_revision = "0004_coupon_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("occupant", sa.String(length=16), nullable=False),
        sa.Column("occupant_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("detected_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "occupant IN ('applied', 'rejected', 'unknown')",
            name=op.f("ck_ingest_conflicts_occupant_known"),
        ),
        sa.CheckConstraint(
            "outcome IN ('applied', 'rejected')", name=op.f("ck_ingest_conflicts_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_conflicts")),
        sa.UniqueConstraint(
            "store_id",
            "gateway_id",
            "key",
            name=op.f("uq_ingest_conflicts_store_id_gateway_id_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ingest_conflicts")
