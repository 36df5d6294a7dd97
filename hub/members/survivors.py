"""Which profile a member id lives on now: itself, or the survivor it was merged into. Every
context that takes a member id from outside (points, coupons, tiers, the mall, lanes' calls)
asks this first."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.members.models import Member


def resolve(s: Session, member_ids: Iterable[str]) -> dict[str, str]:
    """Each known member id → the id of the profile it lives on now (itself, or the survivor
    it was merged into). Unknown ids are left out."""
    ids = set(member_ids)
    if not ids:
        return {}
    rows = s.execute(select(Member.id, Member.merged_into).where(Member.id.in_(ids))).all()
    return {r.id: r.merged_into or r.id for r in rows}
