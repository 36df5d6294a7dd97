"""analytics: RFM, heat (weekly) and churn warnings, intimacy, member facts, segments with
membership history, LTV fits and per-member predictions (issue 16)

Revision ID: 0009_analytics
Revises: 0008_stock
Create Date: 2026-11-28 12:15:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0009_analytics"
down_revision = "0008_stock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('rfm', 'heat', 'intimacy', 'facts', 'segments', 'ltv')",
            name=op.f("ck_analytics_runs_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_runs")),
    )
    op.create_index(
        op.f("ix_analytics_runs_kind_id"), "analytics_runs", ["kind", "id"], unique=False
    )

    op.create_table(
        "ltv_fits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("bgnbd", sa.JSON(), nullable=False),
        sa.Column("gamma_gamma", sa.JSON(), nullable=True),
        sa.Column("holdout", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ltv_fits")),
    )
    op.create_index(op.f("ix_ltv_fits_scope_id"), "ltv_fits", ["scope", "id"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "churn_warnings",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("heat", sa.Integer(), nullable=False),
        sa.Column("heats", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("member_id", "week", name=op.f("pk_churn_warnings")),
    )
    op.create_index(op.f("ix_churn_warnings_week"), "churn_warnings", ["week"], unique=False)

    op.create_table(
        "member_facts",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("spend_365d_fen", sa.BigInteger(), nullable=False),
        sa.Column("visits_365d", sa.Integer(), nullable=False),
        sa.Column("spend_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("visits_total", sa.Integer(), nullable=False),
        sa.Column("first_purchase", sa.Date(), nullable=True),
        sa.Column("last_purchase", sa.Date(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_facts")),
    )
    op.create_table(
        "member_heat",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("heat", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("online", sa.Integer(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("coupons", sa.Integer(), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("heat BETWEEN 0 AND 100", name=op.f("ck_member_heat_heat_in_range")),
        sa.PrimaryKeyConstraint("member_id", "week", name=op.f("pk_member_heat")),
    )
    op.create_index(op.f("ix_member_heat_week"), "member_heat", ["week", "heat"], unique=False)

    op.create_table(
        "member_interactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind IN ('online', 'review')", name=op.f("ck_member_interactions_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_interactions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_interactions")),
        sa.UniqueConstraint("key", name=op.f("uq_member_interactions_key")),
    )
    op.create_index(
        op.f("ix_member_interactions_member_at"),
        "member_interactions",
        ["member_id", "at"],
        unique=False,
    )

    op.create_table(
        "member_intimacy",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("spend_fen", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score BETWEEN 0 AND 100", name=op.f("ck_member_intimacy_score_in_range")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_intimacy")),
    )
    op.create_table(
        "member_ltv",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("fit_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("t_x", sa.Float(), nullable=False),
        sa.Column("age", sa.Float(), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=False),
        sa.Column("expected_purchases", sa.Float(), nullable=False),
        sa.Column("expected_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("first_purchase", sa.Date(), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_ltv")),
    )
    op.create_table(
        "member_rfm",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary_fen", sa.BigInteger(), nullable=False),
        sa.Column("r", sa.Integer(), nullable=False),
        sa.Column("f", sa.Integer(), nullable=False),
        sa.Column("m", sa.Integer(), nullable=False),
        sa.Column("cell", sa.String(length=16), nullable=False),
        sa.Column("computed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "r BETWEEN 1 AND 5 AND f BETWEEN 1 AND 5 AND m BETWEEN 1 AND 5",
            name=op.f("ck_member_rfm_scores"),
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_rfm")),
    )
    op.create_index(op.f("ix_member_rfm_cell"), "member_rfm", ["cell"], unique=False)

    op.create_table(
        "segment_memberships",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("entered_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("left_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "left_at IS NULL OR left_at >= entered_at",
            name=op.f("ck_segment_memberships_left_after_entered"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_memberships_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_memberships")),
    )
    op.create_index(
        op.f("ix_segment_memberships_entered"),
        "segment_memberships",
        ["segment_id", "entered_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_segment_memberships_member"), "segment_memberships", ["member_id"], unique=False
    )
    op.create_index(
        op.f("uq_segment_memberships_open"),
        "segment_memberships",
        ["segment_id", "member_id"],
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("segment_memberships")
    op.drop_table("member_rfm")
    op.drop_table("member_ltv")
    op.drop_table("member_intimacy")
    op.drop_table("member_interactions")
    op.drop_table("member_heat")
    op.drop_table("member_facts")
    op.drop_table("churn_warnings")
    op.drop_table("segments")
    op.drop_table("ltv_fits")
    op.drop_table("analytics_runs")
