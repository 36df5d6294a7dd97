"""member push: each store's recent members as last pushed to its gateways, and the store's
push version (hub/members/push.py, issue 12)

Revision ID: 0013_member_push
Revises: 0012_replenishment
Create Date: 2026-11-28 15:50:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0013_member_push"
down_revision = "0012_replenishment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_push_entries",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("updated_at", hub.db.UtcDateTime(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_member_push_entries_version_positive")),
        sa.CheckConstraint(
            "reason IN ('recent', 'left', 'erased')",
            name=op.f("ck_member_push_entries_reason_known"),
        ),
        sa.CheckConstraint(
            "(payload IS NULL) = (reason <> 'recent')",
            name=op.f("ck_member_push_entries_removal_has_no_payload"),
        ),
        sa.PrimaryKeyConstraint("store_id", "member_id", name=op.f("pk_member_push_entries")),
    )
    op.create_index(
        "ix_member_push_entries_store_version",
        "member_push_entries",
        ["store_id", "version"],
        unique=False,
    )
    op.create_table(
        "member_push_state",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("published_since", sa.Integer(), nullable=False),
        sa.Column("published_at", hub.db.UtcDateTime(), nullable=True),
        sa.CheckConstraint("version >= 0", name=op.f("ck_member_push_state_version_not_negative")),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_member_push_state")),
    )


def downgrade() -> None:
    op.drop_table("member_push_state")
    op.drop_index("ix_member_push_entries_store_version", table_name="member_push_entries")
    op.drop_table("member_push_entries")
