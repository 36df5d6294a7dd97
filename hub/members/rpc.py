"""Members' methods for the lanes' online calls (hub/rpc.py): look a member up at the till,
register one there."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.loyalty.models import PointsAccount
from hub.loyalty.service import settings
from hub.members import push
from hub.members.models import Member
from hub.members.service import MemberNotFound, Members, Registration
from hub.rpc import Caller, Method
from hub.tiers import service as tiers


def methods(members: Members) -> dict[str, Method]:
    def lookup(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
        if p.member_id:
            m = members.get(s, p.member_id)
        else:
            m = members.find(s, phone=p.phone, card_no=p.card_no)
        if m is None:
            raise MemberNotFound("no such member")
        return summary(s, members, m)

    def register(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
        reg = Registration(
            name=p.name,
            phone=p.phone,
            birthday=p.birthday,
            marketing_consent=p.marketing_consent,
            channel="lane",
            origin_store=caller.store,
        )
        got = members.register(s, reg)
        return {**summary(s, members, got.member), "created": got.created}

    def store_key(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
        return push.cache_key(members, caller.store)  # the caller's own store's, never another

    return {"member.lookup": lookup, "member.register": register, "members.cache_key": store_key}


def summary(s: Session, members: Members, m: Member) -> dict[str, Any]:
    """What a lane needs about a member at the till — masked, never the full phone."""
    tier = tiers.current(s, [m.id]).get(m.id)
    acct = s.get(PointsAccount, m.id)
    balance, held = (acct.balance, acct.held) if acct else (0, 0)
    view = members.view(m)
    return {
        "member_id": m.id,
        "name": view["name"],
        "phone": view["phone"],
        "card_no": m.card_no,
        "card_valid": view["card"]["valid"],
        "tier": tier.code if tier else None,
        "tier_name": tier.name if tier else None,
        "discount_pct": tier.discount_pct if tier else 100,
        "points": balance,
        "points_available": balance - held,
        "point_value_milli_fen": settings(s).point_value_milli_fen,
    }
