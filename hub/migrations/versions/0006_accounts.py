"""accounts: users, their stores, sessions and refresh tokens; API keys get scopes

Revision ID: 0006_accounts
Revises: 0005_ingest_conflicts
Create Date: 2026-11-28 12:30:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0006_accounts"
down_revision = "0005_ingest_conflicts"
branch_labels = None
depends_on = None

ROLES = "role IN ('hq_admin', 'hq_marketing', 'hq_analyst', 'store_manager', 'technician')"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_users_role_known")),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failures_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "user_stores",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_stores_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_user_stores_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("user_id", "store_id", name=op.f("pk_user_stores")),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('console', 'refresh')", name=op.f("ck_auth_sessions_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_auth_sessions_token_sha256")),
    )
    op.create_index(op.f("ix_auth_sessions_user_id"), "auth_sessions", ["user_id"])
    op.create_index(op.f("ix_auth_sessions_family"), "auth_sessions", ["family"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scopes", sa.String(length=1000), server_default="*", nullable=False)
        )
        batch.add_column(sa.Column("hint", sa.String(length=12), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("hint")
        batch.drop_column("scopes")
    op.drop_index(op.f("ix_auth_sessions_family"), table_name="auth_sessions")
    op.drop_index(op.f("ix_auth_sessions_user_id"), table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_table("user_stores")
    op.drop_table("users")
