"""The roles an account can hold. Pure names: the policy (hub/auth/policy.py) says what each
may do, the database CHECK keeps anything else out."""

from __future__ import annotations

HQ_ADMIN = "hq_admin"
HQ_MARKETING = "hq_marketing"
HQ_ANALYST = "hq_analyst"
STORE_MANAGER = "store_manager"
TECHNICIAN = "technician"

ROLES: tuple[str, ...] = (HQ_ADMIN, HQ_MARKETING, HQ_ANALYST, STORE_MANAGER, TECHNICIAN)
