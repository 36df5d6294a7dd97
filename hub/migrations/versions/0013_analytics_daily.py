"""analytics: the daily job's runs recorded (so a hub start is not a run), scores staged

Revision ID: 0013_analytics_daily
Revises: 0012_replenishment
Create Date: 2026-11-28 15:45:00
"""

from alembic import op

revision = "0013_analytics_daily"
down_revision = "0012_replenishment"
branch_labels = None
depends_on = None

_KINDS = "'rfm', 'heat', 'intimacy', 'facts', 'segments', 'ltv'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("analytics_runs") as batch:
        batch.drop_constraint(op.f("ck_analytics_runs_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_analytics_runs_kind_known"), f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(_KINDS + ", 'daily'")


def downgrade() -> None:
    op.execute("DELETE FROM analytics_runs WHERE kind = 'daily'")
    _kinds(_KINDS)
