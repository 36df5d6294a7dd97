"""replenishment: the demand forecast's rows, replenishment settings, reorder alerts

Also joins the two heads of this branch (stock's 0006_stock and pricing's 0007_pricing).

Revision ID: 0012_replenishment
Revises: 0011_pairing
Create Date: 2026-11-28 13:20:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0012_replenishment"
down_revision = "0011_pairing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_forecasts",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mean_milli", sa.BigInteger(), nullable=False),
        sa.Column("low_milli", sa.BigInteger(), nullable=False),
        sa.Column("high_milli", sa.BigInteger(), nullable=False),
        sa.Column("sigma_milli", sa.BigInteger(), nullable=False),
        sa.Column("made_at", hub.db.UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "low_milli <= mean_milli AND mean_milli <= high_milli",
            name=op.f("ck_demand_forecasts_ordered"),
        ),
        sa.CheckConstraint(
            "low_milli >= 0 AND sigma_milli >= 0", name=op.f("ck_demand_forecasts_not_negative")
        ),
        sa.PrimaryKeyConstraint("store_id", "sku", "day", name=op.f("pk_demand_forecasts")),
    )
    op.create_table(
        "replenishment_settings",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("service_level_pm", sa.Integer(), nullable=False),
        sa.Column("fixed_safety_milli", sa.BigInteger(), nullable=True),
        sa.Column("review_days", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "service_level_pm > 0 AND service_level_pm < 1000",
            name=op.f("ck_replenishment_settings_service_level_range"),
        ),
        sa.CheckConstraint(
            "fixed_safety_milli IS NULL OR fixed_safety_milli >= 0",
            name=op.f("ck_replenishment_settings_fixed_not_negative"),
        ),
        sa.CheckConstraint(
            "review_days >= 1 AND review_days <= 90",
            name=op.f("ck_replenishment_settings_review_range"),
        ),
        sa.PrimaryKeyConstraint("store_id", "sku", name=op.f("pk_replenishment_settings")),
    )
    op.create_table(
        "reorder_alerts",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("available_milli", sa.BigInteger(), nullable=False),
        sa.Column("reorder_point_milli", sa.BigInteger(), nullable=False),
        sa.Column("raised_at", hub.db.UtcDateTime(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "sku", name=op.f("pk_reorder_alerts")),
    )


def downgrade() -> None:
    op.drop_table("reorder_alerts")
    op.drop_table("replenishment_settings")
    op.drop_table("demand_forecasts")
