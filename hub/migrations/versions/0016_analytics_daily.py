"""analytics: the daily job's runs recorded (so a hub start is not a run); member_rfm keeps
the last purchase day instead of the recency (which changed every row every day)

Revision ID: 0016_analytics_daily
Revises: 0015_member_seals
Create Date: 2026-11-28 15:45:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0016_analytics_daily"
down_revision = "0015_member_seals"
branch_labels = None
depends_on = None

_KINDS = "'rfm', 'heat', 'intimacy', 'facts', 'segments', 'ltv'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("analytics_runs") as batch:
        batch.drop_constraint(op.f("ck_analytics_runs_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_analytics_runs_kind_known"), f"kind IN ({kinds})")


def _rfm_as_of() -> str | None:
    """The day the current RFM scores were computed for (the newest run's as_of)."""
    params = (
        op.get_bind()
        .execute(sa.text("SELECT params FROM analytics_runs WHERE kind = 'rfm' ORDER BY id DESC"))
        .scalar()
    )
    if isinstance(params, str):
        params = json.loads(params)
    return (params or {}).get("as_of")


def _fill(column: str, pg: str, sqlite: str) -> None:
    as_of = _rfm_as_of()
    if as_of is not None:
        sql = pg if op.get_bind().dialect.name == "postgresql" else sqlite
        op.get_bind().execute(sa.text(f"UPDATE member_rfm SET {column} = {sql}"), {"d": as_of})
    op.execute(f"DELETE FROM member_rfm WHERE {column} IS NULL")  # rebuilt by the daily job


def upgrade() -> None:
    _kinds(_KINDS + ", 'daily'")
    with op.batch_alter_table("member_rfm") as batch:
        batch.add_column(sa.Column("last_purchase", sa.Date(), nullable=True))
    _fill(
        "last_purchase",
        "CAST(:d AS DATE) - recency_days",
        "date(:d, '-' || recency_days || ' days')",
    )
    with op.batch_alter_table("member_rfm") as batch:
        batch.alter_column("last_purchase", existing_type=sa.Date(), nullable=False)
        batch.drop_column("recency_days")


def downgrade() -> None:
    with op.batch_alter_table("member_rfm") as batch:
        batch.add_column(sa.Column("recency_days", sa.Integer(), nullable=True))
    _fill(
        "recency_days",
        "CAST(:d AS DATE) - last_purchase",
        "CAST(julianday(:d) - julianday(last_purchase) AS INTEGER)",
    )
    with op.batch_alter_table("member_rfm") as batch:
        batch.alter_column("recency_days", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("last_purchase")
    op.execute("DELETE FROM analytics_runs WHERE kind = 'daily'")
    _kinds(_KINDS)
