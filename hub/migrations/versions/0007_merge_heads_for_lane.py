"""Join the two 0006 heads (accounts, pricing) that meet on the lane branch, so the hub
migrates there. No schema change; the lead re-chains the numbers at merge and may drop this.

Revision ID: 0007_merge_heads_for_lane
"""

from __future__ import annotations

revision = "0007_merge_heads_for_lane"
down_revision = ("0006_accounts", "0006_pricing")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
