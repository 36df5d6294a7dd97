"""Interactions besides buying that feed the heat and intimacy scores: online ones
(mini-program visits, shares, games) and reviews, as their channel reports them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.analytics.models import MemberInteraction
from hub.members.models import Member


class InteractionError(LookupError):
    """The interaction names no member (404)."""


def record(
    s: Session, member_id: str, kind: str, at: datetime, source: str | None, key: str | None
) -> tuple[MemberInteraction, bool]:
    """Store one interaction on the member's surviving profile; a `key` seen before returns
    the first report (created False) instead of counting it twice."""
    if key is not None:
        seen = s.scalar(select(MemberInteraction).where(MemberInteraction.key == key))
        if seen is not None:
            return seen, False
    member = s.get(Member, member_id)
    if member is None:
        raise InteractionError(f"no member {member_id!r}")
    row = MemberInteraction(
        member_id=member.merged_into or member.id, kind=kind, at=at, source=source, key=key
    )
    with s.begin_nested():  # two reports with one key at once: the unique key decides
        s.add(row)
    return row, True
