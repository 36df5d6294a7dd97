from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.deps import Actor, session
from hub.inputs import INT32, Fen, In, Points, errors
from hub.members.service import survivor
from hub.tiers import service as tiers
from hub.tiers.models import Tier, TierChange

router = APIRouter(tags=["tiers"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


class TierIn(In):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    rank: Annotated[int, Field(ge=0, le=INT32[1])]
    discount_pct: Annotated[int, Field(ge=1, le=100)] = 100
    spend_threshold_fen: Fen = 0
    points_threshold: Annotated[Points, Field(ge=0)] | None = None
    points_multiplier_pct: Annotated[int, Field(ge=0, le=1000)] = 100
    birthday_gift_template_id: Annotated[int, Field(ge=1, le=INT32[1])] | None = None
    downgrade_mode: Literal["never", "automatic", "grace"] = "automatic"
    grace_days: Annotated[int, Field(ge=0, le=3650)] = 0


class SetTierIn(In):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    reason: Annotated[str, Field(max_length=32)] = "manual"


def _tier(t: Tier) -> dict[str, Any]:
    return {
        "code": t.code,
        "name": t.name,
        "rank": t.rank,
        "discount_pct": t.discount_pct,
        "spend_threshold_fen": t.spend_threshold_fen,
        "points_threshold": t.points_threshold,
        "points_multiplier_pct": t.points_multiplier_pct,
        "birthday_gift_template_id": t.birthday_gift_template_id,
        "downgrade_mode": t.downgrade_mode,
        "grace_days": t.grace_days,
    }


def _change(c: TierChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "member_id": c.member_id,
        "from": c.from_code,
        "to": c.to_code,
        "reason": c.reason,
        "spend_fen": c.spend_fen,
        "points": c.points,
        "at": c.at,
    }


@router.get("/tiers")
def ladder(db: Db) -> dict[str, Any]:
    with db.begin():
        return {"tiers": [_tier(t) for t in tiers.ladder(db)]}


@router.put("/tiers/{code}")
def put_tier(
    code: Annotated[str, Path(min_length=1, max_length=32)], body: TierIn, db: Db, who: Actor
) -> dict[str, Any]:
    """Create or change a level. The lowest rank is where new members start."""
    with db.begin():
        t = db.get(Tier, code)
        before = _tier(t) if t else None
        if t is None:
            t = Tier(code=code, **body.model_dump())
            db.add(t)
        else:
            for k, v in body.model_dump().items():
                setattr(t, k, v)
        db.flush()
        audit.record(db, who, "tier.define", code, before, _tier(t))
        return _tier(t)


@router.get("/tiers/changes")
def changes(
    db: Db,
    after: Annotated[int, Query(ge=0, le=INT32[1], description="the last change id seen")] = 0,
    member_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The tier event stream, oldest first from `after` (for marketing and reports)."""
    with db.begin():
        q = select(TierChange).where(TierChange.id > after).order_by(TierChange.id).limit(limit)
        if member_id:
            q = q.where(TierChange.member_id == member_id)
        rows = [_change(c) for c in db.scalars(q)]
        return {"changes": rows, "next_after": rows[-1]["id"] if rows else after}


@router.get("/members/{member_id}/tier")
def member_tier(member_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = survivor(db, member_id)
        t = tiers.current(db, [owner]).get(owner)
        spend, pts = tiers.window(db, [owner], tiers.today(db))[owner]
        return {
            "member_id": owner,
            "tier": _tier(t) if t else None,
            "window": {"days": tiers.WINDOW_DAYS, "spend_fen": spend, "points": pts},
        }


@router.put("/members/{member_id}/tier")
def set_member_tier(member_id: str, body: SetTierIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        owner = survivor(db, member_id)
        ch = tiers.set_tier(db, owner, body.code, body.reason)
        if ch:
            audit.record(db, who, "tier.set", owner, None, _change(ch))
        return {"member_id": owner, "change": _change(ch) if ch else None}


@router.post("/members/{member_id}/tier/evaluate")
def evaluate(member_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = survivor(db, member_id)
        return {"changes": [_change(c) for c in tiers.evaluate(db, [owner], "manual")]}
