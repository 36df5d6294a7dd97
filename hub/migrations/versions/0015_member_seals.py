"""members: birthday and tags sealed like phone and name; the birth month kept in clear
(issue 15)

The migration has no member key: it adds the columns and fills `birth_month` from the clear
birthday; the hub seals the clear birthdays and tags (and empties those columns) at its next
start (hub/members/service.py::seal_clear_fields), as it does for names since 0008.

Revision ID: 0015_member_seals
Revises: 0014_replenishment_runs
Create Date: 2026-11-28 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_member_seals"
down_revision = "0014_replenishment_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("birth_month", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("tags_sealed", sa.LargeBinary(), nullable=True))
        batch_op.create_check_constraint(
            "ck_members_birth_month_range", "birth_month BETWEEN 1 AND 12"
        )
    month = (
        "CAST(strftime('%m', birthday) AS INTEGER)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(EXTRACT(MONTH FROM birthday) AS INTEGER)"
    )
    op.execute(f"UPDATE members SET birth_month = {month} WHERE birthday IS NOT NULL")


def downgrade() -> None:
    # the sealed values cannot be opened without the key: a downgrade loses them
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("ck_members_birth_month_range", type_="check")
        batch_op.drop_column("tags_sealed")
        batch_op.drop_column("birth_month")
        batch_op.drop_column("birthday_sealed")
