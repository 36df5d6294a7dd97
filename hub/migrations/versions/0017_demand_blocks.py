"""demand blocks: each store × SKU's daily net demand packed 64 days to a row (the nightly
forecast reads a store's two years in one query), the day each store is packed through, and the
store × SKU × days that arrived late for a packed day; an index of stock_daily_demand by
(store, day)

Revision ID: 0017_demand_blocks
Revises: 0016_analytics_daily
Create Date: 2026-11-28 15:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_demand_blocks"
down_revision = "0016_analytics_daily"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the days after a store's `through`: a range of (store, day), not the whole store's rows
    op.create_index("ix_stock_daily_demand_store_day", "stock_daily_demand", ["store_id", "day"])
    op.create_table(
        "forecast_demand_blocks",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("net", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(net) = 512", name=op.f("ck_forecast_demand_blocks_whole")),
        sa.PrimaryKeyConstraint("store_id", "sku", "block", name=op.f("pk_forecast_demand_blocks")),
    )
    op.create_table(
        "forecast_demand_packed",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_forecast_demand_packed")),
    )
    op.create_table(
        "forecast_demand_late",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "sku", "day", name=op.f("pk_forecast_demand_late")),
    )


def downgrade() -> None:
    op.drop_table("forecast_demand_late")
    op.drop_table("forecast_demand_packed")
    op.drop_table("forecast_demand_blocks")
    op.drop_index("ix_stock_daily_demand_store_day", table_name="stock_daily_demand")
