"""stock: ledger, balances, alerts, transfers, stocktakes, daily demand; purchasing;
pickup holds; back-in-stock subscriptions and the notification outbox (issue 14)

Revision ID: 0006_stock
Revises: 0005_ingest_conflicts
Create Date: 2026-11-28 12:10:49.592796
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0006_stock"
down_revision = "0005_ingest_conflicts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("requested", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("not_before", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'wechat', 'push')", name=op.f("ck_notifications_channel_known")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'skipped')", name=op.f("ck_notifications_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_due", ["state", "not_before"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_member_id"), ["member_id"], unique=False)

    op.create_table(
        "pickup_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(state = 'held') = (closed_at IS NULL)", name=op.f("ck_pickup_orders_closed_at")
        ),
        sa.CheckConstraint(
            "state IN ('held', 'picked_up', 'released', 'expired')",
            name=op.f("ck_pickup_orders_state_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pickup_orders")),
    )
    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.create_index("ix_pickup_orders_due", ["state", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pickup_orders_store_id"), ["store_id"], unique=False)

    op.create_table(
        "restock_subscriptions",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('sms', 'wechat', 'push')",
            name=op.f("ck_restock_subscriptions_channel_known"),
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "store_id", "sku", name=op.f("pk_restock_subscriptions")
        ),
    )
    op.create_table(
        "restocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restocks")),
    )
    op.create_table(
        "stock_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("on_hand_milli", sa.BigInteger(), nullable=False),
        sa.Column("reserved_milli", sa.BigInteger(), nullable=False),
        sa.Column("raised_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('negative', 'overreserved')", name=op.f("ck_stock_alerts_kind_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_alerts")),
    )
    with op.batch_alter_table("stock_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_alerts_store_id"), ["store_id"], unique=False)
        batch_op.create_index(
            "uq_stock_alerts_open",
            ["store_id", "sku", "kind"],
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )

    op.create_table(
        "stock_balances",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("on_hand_milli", sa.BigInteger(), nullable=False),
        sa.Column("reserved_milli", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reserved_milli >= 0", name=op.f("ck_stock_balances_reserved_not_negative")
        ),
        sa.PrimaryKeyConstraint("store_id", "sku", name=op.f("pk_stock_balances")),
    )
    op.create_table(
        "stock_costs",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("avg_cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("avg_cost_fen >= 0", name=op.f("ck_stock_costs_cost_not_negative")),
        sa.PrimaryKeyConstraint("store_id", "sku", name=op.f("pk_stock_costs")),
    )
    op.create_table(
        "stock_daily_demand",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sold_milli", sa.BigInteger(), nullable=False),
        sa.Column("refunded_milli", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "sku", "day", name=op.f("pk_stock_daily_demand")),
    )
    op.create_table(
        "stock_moves",
        sa.Column("move_id", sa.String(length=36), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sale', 'refund', 'received', 'transfer_out', 'transfer_in', 'stocktake', "
            "'damage', 'loss', 'pickup')",
            name=op.f("ck_stock_moves_kind_known"),
        ),
        sa.PrimaryKeyConstraint("move_id", "n", name=op.f("pk_stock_moves")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stock_transfer_lines",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("received_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty_milli > 0", name=op.f("ck_stock_transfer_lines_qty_positive")),
        sa.CheckConstraint(
            "received_milli >= 0", name=op.f("ck_stock_transfer_lines_received_not_negative")
        ),
        sa.PrimaryKeyConstraint("transfer_id", "sku", name=op.f("pk_stock_transfer_lines")),
    )
    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("from_store", sa.String(length=64), nullable=False),
        sa.Column("to_store", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sent_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(state = 'received') = (received_at IS NOT NULL)",
            name=op.f("ck_stock_transfers_received_at"),
        ),
        sa.CheckConstraint(
            "state IN ('in_transit', 'received')", name=op.f("ck_stock_transfers_state_known")
        ),
        sa.CheckConstraint("from_store <> to_store", name=op.f("ck_stock_transfers_two_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfers")),
    )
    with op.batch_alter_table("stock_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_transfers_to_store"), ["to_store"], unique=False)

    op.create_table(
        "stocktake_lines",
        sa.Column("count_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("expected_milli", sa.BigInteger(), nullable=False),
        sa.Column("counted_milli", sa.BigInteger(), nullable=False),
        sa.Column("variance_milli", sa.BigInteger(), nullable=False),
        sa.Column("counted_by", sa.String(length=200), nullable=False),
        sa.Column("counted_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "counted_milli >= 0", name=op.f("ck_stocktake_lines_counted_not_negative")
        ),
        sa.PrimaryKeyConstraint("count_id", "sku", name=op.f("pk_stocktake_lines")),
    )
    with op.batch_alter_table("stocktake_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stocktake_lines_store_id"), ["store_id"], unique=False)

    op.create_table(
        "suppliers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("min_order_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_suppliers_lead_time_not_negative")),
        sa.CheckConstraint("min_order_fen >= 0", name=op.f("ck_suppliers_min_order_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
    )
    op.create_table(
        "pickup_lines",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty_milli > 0", name=op.f("ck_pickup_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["pickup_orders.id"], name=op.f("fk_pickup_lines_order_id_pickup_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "sku", name=op.f("pk_pickup_lines")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "(state = 'draft') = (sent_at IS NULL) OR state = 'cancelled'",
            name=op.f("ck_purchase_orders_draft_unsent"),
        ),
        sa.CheckConstraint(
            "(state IN ('received', 'cancelled')) = (closed_at IS NOT NULL)",
            name=op.f("ck_purchase_orders_closed_at"),
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'cancelled') OR sent_at IS NOT NULL",
            name=op.f("ck_purchase_orders_sent_before_receiving"),
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'sent', 'partly_received', 'received', 'cancelled')",
            name=op.f("ck_purchase_orders_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_orders_store_id"), ["store_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "supplier_items",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("pack_milli", sa.BigInteger(), nullable=False),
        sa.Column("min_order_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("cost_fen >= 0", name=op.f("ck_supplier_items_cost_not_negative")),
        sa.CheckConstraint(
            "min_order_milli >= 0", name=op.f("ck_supplier_items_min_order_not_negative")
        ),
        sa.CheckConstraint("pack_milli > 0", name=op.f("ck_supplier_items_pack_positive")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_items_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("supplier_id", "sku", name=op.f("pk_supplier_items")),
    )
    op.create_table(
        "goods_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("po_id", sa.String(length=36), nullable=True),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["po_id"], ["purchase_orders.id"], name=op.f("fk_goods_receipts_po_id_purchase_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goods_receipts")),
    )
    with op.batch_alter_table("goods_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goods_receipts_po_id"), ["po_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_goods_receipts_store_id"), ["store_id"], unique=False)

    op.create_table(
        "po_lines",
        sa.Column("po_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("ordered_milli", sa.BigInteger(), nullable=False),
        sa.Column("received_milli", sa.BigInteger(), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("cost_fen >= 0", name=op.f("ck_po_lines_cost_not_negative")),
        sa.CheckConstraint("ordered_milli > 0", name=op.f("ck_po_lines_ordered_positive")),
        sa.CheckConstraint("received_milli >= 0", name=op.f("ck_po_lines_received_not_negative")),
        sa.ForeignKeyConstraint(
            ["po_id"], ["purchase_orders.id"], name=op.f("fk_po_lines_po_id_purchase_orders")
        ),
        sa.PrimaryKeyConstraint("po_id", "sku", name=op.f("pk_po_lines")),
    )
    op.create_table(
        "receipt_discrepancies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receipt_id", sa.String(length=36), nullable=True),
        sa.Column("po_id", sa.String(length=36), nullable=True),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("qty_milli", sa.BigInteger(), nullable=False),
        sa.Column("at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('short', 'over', 'damaged', 'not_ordered')",
            name=op.f("ck_receipt_discrepancies_kind_known"),
        ),
        sa.CheckConstraint("qty_milli > 0", name=op.f("ck_receipt_discrepancies_qty_positive")),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["goods_receipts.id"],
            name=op.f("fk_receipt_discrepancies_receipt_id_goods_receipts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_discrepancies")),
    )
    with op.batch_alter_table("receipt_discrepancies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_discrepancies_po_id"), ["po_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_receipt_discrepancies_receipt_id"), ["receipt_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("receipt_discrepancies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_discrepancies_receipt_id"))
        batch_op.drop_index(batch_op.f("ix_receipt_discrepancies_po_id"))

    op.drop_table("receipt_discrepancies")
    op.drop_table("po_lines")
    with op.batch_alter_table("goods_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goods_receipts_store_id"))
        batch_op.drop_index(batch_op.f("ix_goods_receipts_po_id"))

    op.drop_table("goods_receipts")
    op.drop_table("supplier_items")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_store_id"))

    op.drop_table("purchase_orders")
    op.drop_table("pickup_lines")
    op.drop_table("suppliers")
    with op.batch_alter_table("stocktake_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stocktake_lines_store_id"))

    op.drop_table("stocktake_lines")
    with op.batch_alter_table("stock_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_transfers_to_store"))

    op.drop_table("stock_transfers")
    op.drop_table("stock_transfer_lines")
    op.drop_table("stock_moves")
    op.drop_table("stock_daily_demand")
    op.drop_table("stock_costs")
    op.drop_table("stock_balances")
    with op.batch_alter_table("stock_alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_stock_alerts_open",
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_stock_alerts_store_id"))

    op.drop_table("stock_alerts")
    op.drop_table("restocks")
    op.drop_table("restock_subscriptions")
    with op.batch_alter_table("pickup_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pickup_orders_store_id"))
        batch_op.drop_index("ix_pickup_orders_due")

    op.drop_table("pickup_orders")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_member_id"))
        batch_op.drop_index("ix_notifications_due")

    op.drop_table("notifications")
