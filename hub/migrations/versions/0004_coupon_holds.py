"""coupon holds: a lane claims a coupon (hold on the coupon's row, with a timeout) before it
grants it; the sale that used it commits the hold

Revision ID: 0004_coupon_holds
Revises: 0003_refunds
Create Date: 2026-11-28 09:01:30.582122
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0004_coupon_holds"
down_revision = "0003_refunds"
branch_labels = None
depends_on = None

_LIVE = sa.text("status = 'held'")


def upgrade() -> None:
    op.create_table(
        "coupon_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=True),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("discount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "(status = 'committed') = (sale_id IS NOT NULL)",
            name=op.f("ck_coupon_holds_committed_sale"),
        ),
        sa.CheckConstraint(
            "status IN ('held', 'committed', 'released', 'expired')",
            name=op.f("ck_coupon_holds_status_known"),
        ),
        sa.CheckConstraint("discount_fen >= 0", name=op.f("ck_coupon_holds_discount_not_negative")),
        sa.ForeignKeyConstraint(
            ["code"], ["coupons.code"], name=op.f("fk_coupon_holds_code_coupons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_holds")),
    )
    # at most one live hold per coupon
    op.create_index(
        "uq_coupon_holds_one_live",
        "coupon_holds",
        ["code"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("held_until", hub.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint(
            "hold_has_timeout", "(hold_id IS NULL) = (held_until IS NULL)"
        )
        batch_op.create_check_constraint(
            "only_unused_is_held", "hold_id IS NULL OR status = 'issued'"
        )


def downgrade() -> None:
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_coupons_only_unused_is_held"), type_="check")
        batch_op.drop_constraint(op.f("ck_coupons_hold_has_timeout"), type_="check")
        batch_op.drop_column("held_until")
        batch_op.drop_column("hold_id")
    op.drop_index("uq_coupon_holds_one_live", table_name="coupon_holds")
    op.drop_table("coupon_holds")
