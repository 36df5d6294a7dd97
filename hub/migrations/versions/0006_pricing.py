"""pricing: typed promotions (exclusive groups), item costs, price checks and differences

Existing promotions were free JSON: each is checked against the pricing engine's types; one
the engine cannot evaluate is switched off (kept, for someone to retype through the API).

Revision ID: 0006_pricing
Revises: 0005_ingest_conflicts
Create Date: 2026-11-28 12:30:00
"""

import logging

import sqlalchemy as sa
from alembic import op

import hub.db
from protocols.pricing import rules

revision = "0006_pricing"
down_revision = "0005_ingest_conflicts"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    with op.batch_alter_table("promotions") as b:
        b.add_column(sa.Column("exclusive_group", sa.String(length=200), nullable=True))
    with op.batch_alter_table("catalog_items") as b:
        b.add_column(sa.Column("cost_fen", sa.BigInteger(), nullable=True))
        b.create_check_constraint(
            op.f("ck_catalog_items_cost_not_negative"), "cost_fen IS NULL OR cost_fen >= 0"
        )
    op.create_table(
        "price_differences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("receipt_no", sa.String(length=200), nullable=False),
        sa.Column("promotions_version", sa.Integer(), nullable=True),
        sa.Column("booked_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_total_fen", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("found_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "booked_total_fen >= 0", name=op.f("ck_price_differences_booked_not_negative")
        ),
        sa.CheckConstraint(
            "expected_total_fen IS NULL OR expected_total_fen >= 0",
            name=op.f("ck_price_differences_expected_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_differences")),
        sa.UniqueConstraint("sale_id", name=op.f("uq_price_differences_sale_id")),
    )
    op.create_index(
        op.f("ix_price_differences_store_id"), "price_differences", ["store_id"], unique=False
    )
    op.create_table(
        "price_checks",
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("queued_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sale_id", name=op.f("pk_price_checks")),
    )
    op.create_index(op.f("ix_price_checks_queued_at"), "price_checks", ["queued_at"], unique=False)
    promotions = sa.table(
        "promotions",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("rule", sa.JSON),
        sa.column("active", sa.Boolean),
    )
    conn = op.get_bind()
    for pid, kind, rule in conn.execute(
        sa.select(promotions.c.id, promotions.c.kind, promotions.c.rule)
    ):
        try:
            typed = rules.rule_fields(rules.check_rule(kind, rule))
        except rules.RuleError as err:
            log.warning(
                "promotion %s switched off: the pricing engine cannot evaluate it: %s", pid, err
            )
            conn.execute(sa.update(promotions).where(promotions.c.id == pid).values(active=False))
            continue
        conn.execute(sa.update(promotions).where(promotions.c.id == pid).values(rule=typed))


def downgrade() -> None:
    op.drop_index(op.f("ix_price_checks_queued_at"), table_name="price_checks")
    op.drop_table("price_checks")
    op.drop_index(op.f("ix_price_differences_store_id"), table_name="price_differences")
    op.drop_table("price_differences")
    with op.batch_alter_table("catalog_items") as b:
        b.drop_constraint(op.f("ck_catalog_items_cost_not_negative"), type_="check")
        b.drop_column("cost_fen")
    with op.batch_alter_table("promotions") as b:
        b.drop_column("exclusive_group")
