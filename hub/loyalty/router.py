"""The points ledger's API: a member's balance and ledger, adjustments, reservations for API
channels (lanes reserve over RPC), the books and liability, loyalty issues, settings and
earning rules."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.deps import Actor, session
from hub.inputs import In, Points, RowId, When, errors
from hub.loyalty import earning, views
from hub.loyalty.books import check_books, liability
from hub.loyalty.models import EarningRule
from hub.loyalty.service import Ledger, settings
from hub.members.service import survivor
from transport.ids import new_id

router = APIRouter(tags=["loyalty"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


_In = In
Id = Annotated[str, Field(min_length=1, max_length=64)]


# --- a member's points ---------------------------------------------------------------------
@router.get("/members/{member_id}/points")
def balance(member_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return views.balance(db, survivor(db, member_id))


@router.get("/members/{member_id}/points/ledger")
def ledger(
    member_id: str,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """The member's ledger, newest first, including every profile merged into it."""
    with db.begin():
        return views.ledger_page(db, survivor(db, member_id), limit, before)


class AdjustIn(_In):
    points: Points
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    key: Annotated[str, Field(min_length=1, max_length=64)]  # makes a retried request harmless


@router.post("/members/{member_id}/points/adjust")
def adjust(member_id: str, body: AdjustIn, db: Db, who: Actor) -> dict[str, Any]:
    """A goodwill credit or a correction; a debit never takes more than is available."""
    if body.points == 0:
        raise HTTPException(422, "points must not be zero")
    with db.begin():
        owner = survivor(db, member_id)
        led = Ledger(db)
        led.lock([owner])
        kw: dict[str, Any] = {
            "source_type": "manual",
            "source_id": f"adjust:{body.key}",
            "detail": {"reason": body.reason},
        }
        if body.points > 0:
            posted = led.credit(owner, "adjust_in", body.points, **kw)
        else:
            p = led.debit(owner, "adjust_out", -body.points, **kw)
            posted = p.entry if p else None
        balance = led.account(owner).balance
        if posted is not None:  # a retried request posts nothing and is not audited twice
            change = {"points": body.points, "reason": body.reason, "key": body.key}
            audit.record(db, who, "points.adjust", owner, None, {**change, "balance": balance})
        return {"posted": posted is not None, "balance": balance}


# --- reservations (mini-program and other API channels; lanes use MQTT RPC) ----------------
class ReserveIn(_In):
    member_id: Id
    points: Annotated[Points, Field(gt=0)]
    reservation_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None
    ttl_s: Annotated[int, Field(gt=0, le=3600)] | None = None
    store: Id | None = None


class SettleIn(_In):
    sale_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None


@router.post("/points/reservations", status_code=201)
def reserve(body: ReserveIn, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = survivor(db, body.member_id)
        r = Ledger(db).reserve(
            body.reservation_id or new_id(),
            owner,
            body.points,
            store_id=body.store,
            ttl_s=body.ttl_s,
        )
        return views.reservation(r)


@router.post("/points/reservations/{rid}/commit")
def commit(rid: str, body: SettleIn, db: Db) -> dict[str, Any]:
    with db.begin():
        return views.reservation(Ledger(db).commit(rid, sale_id=body.sale_id))


@router.post("/points/reservations/{rid}/release")
def release(rid: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return views.reservation(Ledger(db).release(rid))


@router.get("/points/reservations/{rid}")
def get_reservation(rid: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return views.reservation_by_id(db, rid)


# --- reports, books, issues -------------------------------------------------------------
@router.get("/points/liability")
def points_liability(db: Db) -> dict[str, Any]:
    """Outstanding points and their value (by month of expiry), held points, debt."""
    with db.begin():
        return liability(db)


@router.get("/points/books")
def books(db: Db) -> dict[str, Any]:
    """Does every projection agree with the ledger? (balance, lots, debt, holds, allocations)"""
    with db.begin():
        problems = check_books(db)
        return {"balanced": not problems, "problems": problems[:100]}


@router.get("/loyalty/issues")
def issues(
    db: Db,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with db.begin():
        return {"issues": views.issues(db, kind, limit)}


# --- settings and earning rules ------------------------------------------------------------
class SettingsIn(_In):
    base_rate_milli: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    birthday_multiplier_pct: Annotated[int, Field(ge=100, le=1000)] | None = None
    point_value_milli_fen: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    points_valid_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    reservation_ttl_s: Annotated[int, Field(gt=0, le=3600)] | None = None
    card_valid_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(f"unknown IANA time zone {v!r}") from err
        return v


@router.get("/points/settings")
def get_settings(db: Db) -> dict[str, Any]:
    with db.begin():
        cfg = settings(db)
        return views.settings_of(cfg)


@router.patch("/points/settings")
def put_settings(body: SettingsIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        cfg = settings(db)
        before = views.settings_of(cfg)
        for k, v in body.model_dump(exclude_none=True).items():
            setattr(cfg, k, v)
        after = views.settings_of(cfg)
        audit.record(db, who, "points.settings", "settings", before, after)
        return after


class RuleIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    store_id: Id | None = None
    category: Annotated[str, Field(max_length=200)] | None = None
    rate_milli: Annotated[int, Field(ge=0, le=1_000_000)]
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] = 0
    valid_from: When | None = None
    valid_until: When | None = None
    active: bool = True


@router.get("/points/rules")
def rules(db: Db) -> dict[str, Any]:
    with db.begin():
        return {"rules": views.rules(db)}


@router.post("/points/rules", status_code=201)
def add_rule(body: RuleIn, db: Db, who: Actor) -> dict[str, Any]:
    for ts in (body.valid_from, body.valid_until):
        if ts is not None and ts.tzinfo is None:
            raise HTTPException(422, "valid_from/valid_until need a UTC offset")
    with db.begin():
        r = views.rule(earning.add_rule(db, body.model_dump()))
        audit.record(db, who, "points.rule", str(r["id"]), None, r)
        return r


@router.put("/points/rules/{rule_id}")
def put_rule(rule_id: RowId, body: RuleIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        old = db.get(EarningRule, rule_id)
        before = views.rule(old) if old is not None else None
        r = views.rule(earning.change_rule(db, rule_id, body.model_dump()))
        audit.record(db, who, "points.rule", str(rule_id), before, r)
        return r
