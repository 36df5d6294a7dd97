"""refunds within what was sold: per-line refunded amounts, unmatched refunds, online claims,
refused refunds kept as issues

Revision ID: 0003_refunds
Revises: 0002
"""

import logging

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0003_refunds"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.0003_refunds")


def upgrade() -> None:
    with op.batch_alter_table("sale_lines") as b:
        b.add_column(
            sa.Column("refunded_qty_milli", sa.BigInteger(), nullable=False, server_default="0")
        )
        b.add_column(sa.Column("refunded_fen", sa.BigInteger(), nullable=False, server_default="0"))
        b.create_check_constraint(
            "ck_sale_lines_refunded_qty_sold",
            "refunded_qty_milli >= 0 AND refunded_qty_milli <= qty_milli",
        )
        b.create_check_constraint(
            "ck_sale_lines_refunded_fen_sold", "refunded_fen >= 0 AND refunded_fen <= total_fen"
        )
    with op.batch_alter_table("refunds") as b:
        b.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="booked")
        )
        b.add_column(sa.Column("claim_id", sa.String(length=36), nullable=True))
        b.create_check_constraint("ck_refunds_status_known", "status IN ('booked', 'unmatched')")
    # refunds booked before their sale arrived were never counted: they wait to be matched
    op.execute(
        "UPDATE refunds SET status = 'unmatched' "
        "WHERE NOT EXISTS (SELECT 1 FROM sales WHERE sales.id = refunds.sale_id)"
    )
    over = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM sales WHERE refunded_fen > total_fen"))
        .scalar_one()
    )
    if over:
        # history this check would refuse; left for someone to settle, not rewritten here
        log.warning("%s sales refunded beyond their total: sales check not added", over)
    elif op.get_bind().dialect.name == "sqlite":
        # a CHECK needs the table rebuilt, which the sale lines' foreign keys forbid: a trigger
        op.execute(
            "CREATE TRIGGER ck_sales_refunded_within_total "
            "BEFORE UPDATE OF refunded_fen ON sales "
            "WHEN NEW.refunded_fen < 0 OR NEW.refunded_fen > NEW.total_fen "
            "BEGIN SELECT RAISE(ABORT, 'refunded_fen beyond the sale total'); END"
        )
    else:
        op.create_check_constraint(
            "ck_sales_refunded_within_total",
            "sales",
            "refunded_fen >= 0 AND refunded_fen <= total_fen",
        )
    op.create_table(
        "refund_claims",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("shares", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("total_fen >= 0", name=op.f("ck_refund_claims_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_refund_claims_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_claims")),
    )
    op.create_index(op.f("ix_refund_claims_sale_id"), "refund_claims", ["sale_id"])
    op.create_table(
        "refund_issues",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sale_id", sa.String(length=200), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=False),
        sa.Column("cashier", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("payments", sa.JSON(), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("found_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_issues")),
    )
    op.create_index(op.f("ix_refund_issues_sale_id"), "refund_issues", ["sale_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refund_issues_sale_id"), table_name="refund_issues")
    op.drop_table("refund_issues")
    op.drop_index(op.f("ix_refund_claims_sale_id"), table_name="refund_claims")
    op.drop_table("refund_claims")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ck_sales_refunded_within_total")
    else:
        op.execute("ALTER TABLE sales DROP CONSTRAINT IF EXISTS ck_sales_refunded_within_total")
    with op.batch_alter_table("refunds") as b:
        b.drop_constraint("ck_refunds_status_known", type_="check")
        b.drop_column("claim_id")
        b.drop_column("status")
    with op.batch_alter_table("sale_lines") as b:
        b.drop_constraint("ck_sale_lines_refunded_fen_sold", type_="check")
        b.drop_constraint("ck_sale_lines_refunded_qty_sold", type_="check")
        b.drop_column("refunded_fen")
        b.drop_column("refunded_qty_milli")
