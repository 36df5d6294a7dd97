"""pairing: gateways' pairing requests and the certificates the hub's CA issued (revocation)

Revision ID: 0011_pairing
Revises: 0010_audit
Create Date: 2026-11-28 13:30:00
"""

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0011_pairing"
down_revision = "0010_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pairing_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("csr", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved')", name=op.f("ck_pairing_requests_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing_requests")),
        sa.UniqueConstraint("code", name=op.f("uq_pairing_requests_code")),
    )
    op.create_table(
        "gateway_certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("issued_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("not_after", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_gateway_certificates")),
    )
    op.create_index(
        "ix_gateway_certificates_gateway",
        "gateway_certificates",
        ["store_id", "gateway_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_gateway_certificates_gateway", table_name="gateway_certificates")
    op.drop_table("gateway_certificates")
    op.drop_table("pairing_requests")
