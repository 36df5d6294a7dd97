from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field, field_validator
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.deps import Actor, session
from hub.inputs import INT32, In, Points, RowId, When, errors
from hub.loyalty import mall
from hub.loyalty.books import check_books, liability
from hub.loyalty.models import (
    EarningRule,
    LedgerEntry,
    LoyaltyIssue,
    MallItem,
    PointsAccount,
    PointsReservation,
)
from hub.loyalty.service import (
    Ledger,
    NotFound,
    resolve,
    settings,
)
from hub.members.models import Member
from protocols.envelope import new_id

router = APIRouter(tags=["loyalty"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


_In = In
Id = Annotated[str, Field(min_length=1, max_length=64)]
Count = Annotated[int, Field(ge=0, le=INT32[1])]


def _owner(db: Session, member_id: str) -> str:
    owner = resolve(db, [member_id]).get(member_id)
    if owner is None:
        raise NotFound(f"no member {member_id}")
    return owner


# --- a member's points ---------------------------------------------------------------------
@router.get("/members/{member_id}/points")
def balance(member_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = _owner(db, member_id)
        a = db.get(PointsAccount, owner)
        bal, held, debt = (a.balance, a.held, a.debt) if a else (0, 0, 0)
        return {
            "member_id": owner,
            "balance": bal,
            "held": held,
            "available": bal - held,
            "debt": debt,
            "value_fen": bal * settings(db).point_value_milli_fen // 1000,
        }


@router.get("/members/{member_id}/points/ledger")
def ledger(
    member_id: str,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """The member's ledger, newest first, including every profile merged into it."""
    with db.begin():
        owner = _owner(db, member_id)
        ids = [owner, *db.scalars(select(Member.id).where(Member.merged_into == owner))]
        q = select(LedgerEntry).where(LedgerEntry.member_id.in_(ids))
        if before:
            cur = db.get(LedgerEntry, before)
            if cur is None:
                raise HTTPException(422, "unknown cursor")
            q = q.where(
                or_(
                    LedgerEntry.posted_at < cur.posted_at,
                    and_(LedgerEntry.posted_at == cur.posted_at, LedgerEntry.id < cur.id),
                )
            )
        rows = list(
            db.scalars(q.order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc()).limit(limit))
        )
        return {
            "member_id": owner,
            "entries": [_entry(e) for e in rows],
            "next_cursor": rows[-1].id if len(rows) == limit else None,
        }


def _entry(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "member_id": e.member_id,
        "kind": e.kind,
        "points": e.points,
        "debt_change": e.debt_change,
        "balance_after": e.balance_after,
        "source_type": e.source_type,
        "source_id": e.source_id,
        "sale_id": e.sale_id,
        "store": e.store_id,
        "occurred_at": e.occurred_at,
        "posted_at": e.posted_at,
        "detail": e.detail,
    }


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
        owner = _owner(db, member_id)
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


def _reservation(r: PointsReservation) -> dict[str, Any]:
    return {
        "reservation_id": r.id,
        "member_id": r.member_id,
        "points": r.points,
        "value_fen": r.value_fen,
        "status": r.status,
        "store": r.store_id,
        "lane": r.lane,
        "expires_at": r.expires_at,
        "settled_at": r.settled_at,
        "sale_id": r.sale_id,
    }


@router.post("/points/reservations", status_code=201)
def reserve(body: ReserveIn, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = _owner(db, body.member_id)
        r = Ledger(db).reserve(
            body.reservation_id or new_id(),
            owner,
            body.points,
            store_id=body.store,
            ttl_s=body.ttl_s,
        )
        return _reservation(r)


@router.post("/points/reservations/{rid}/commit")
def commit(rid: str, body: SettleIn, db: Db) -> dict[str, Any]:
    with db.begin():
        return _reservation(Ledger(db).commit(rid, sale_id=body.sale_id))


@router.post("/points/reservations/{rid}/release")
def release(rid: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return _reservation(Ledger(db).release(rid))


@router.get("/points/reservations/{rid}")
def get_reservation(rid: str, db: Db) -> dict[str, Any]:
    with db.begin():
        r = db.get(PointsReservation, rid)
        if r is None:
            raise NotFound(f"no points reservation {rid}")
        return _reservation(r)


# --- reports, books, issues, jobs ----------------------------------------------------------
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
        q = select(LoyaltyIssue).order_by(LoyaltyIssue.id.desc()).limit(limit)
        if kind:
            q = q.where(LoyaltyIssue.kind == kind)
        return {
            "issues": [
                {
                    "id": i.id,
                    "at": i.at,
                    "kind": i.kind,
                    "member_id": i.member_id,
                    "source_id": i.source_id,
                    "detail": i.detail,
                }
                for i in db.scalars(q)
            ]
        }


@router.post("/loyalty/jobs/{name}/run")
def run_job(name: str, request: Request) -> dict[str, Any]:
    """Run a scheduled job now: reservations, expiry, tiers, snapshots."""
    try:
        return {"job": name, "result": request.app.state.jobs.run(name)}
    except KeyError as err:
        raise HTTPException(404, str(err)) from None


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


_SETTINGS = (
    "base_rate_milli",
    "birthday_multiplier_pct",
    "point_value_milli_fen",
    "points_valid_days",
    "reservation_ttl_s",
    "card_valid_days",
    "timezone",
)


@router.get("/points/settings")
def get_settings(db: Db) -> dict[str, Any]:
    with db.begin():
        cfg = settings(db)
        return {k: getattr(cfg, k) for k in _SETTINGS}


@router.patch("/points/settings")
def put_settings(body: SettingsIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        cfg = settings(db)
        before = {k: getattr(cfg, k) for k in _SETTINGS}
        for k, v in body.model_dump(exclude_none=True).items():
            setattr(cfg, k, v)
        after = {k: getattr(cfg, k) for k in _SETTINGS}
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


def _rule(r: EarningRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "store_id": r.store_id,
        "category": r.category,
        "rate_milli": r.rate_milli,
        "priority": r.priority,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "active": r.active,
    }


@router.get("/points/rules")
def rules(db: Db) -> dict[str, Any]:
    with db.begin():
        return {
            "rules": [_rule(r) for r in db.scalars(select(EarningRule).order_by(EarningRule.id))]
        }


@router.post("/points/rules", status_code=201)
def add_rule(body: RuleIn, db: Db, who: Actor) -> dict[str, Any]:
    for ts in (body.valid_from, body.valid_until):
        if ts is not None and ts.tzinfo is None:
            raise HTTPException(422, "valid_from/valid_until need a UTC offset")
    with db.begin():
        r = EarningRule(**body.model_dump())
        db.add(r)
        db.flush()
        audit.record(db, who, "points.rule", str(r.id), None, _rule(r))
        return _rule(r)


@router.put("/points/rules/{rule_id}")
def put_rule(rule_id: RowId, body: RuleIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        r = db.get(EarningRule, rule_id)
        if r is None:
            raise NotFound(f"no earning rule {rule_id}")
        before = _rule(r)
        for k, v in body.model_dump().items():
            setattr(r, k, v)
        audit.record(db, who, "points.rule", str(rule_id), before, _rule(r))
        return _rule(r)


# --- points mall ---------------------------------------------------------------------------
class ItemIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["goods", "service", "perk"]
    partner: Annotated[str, Field(max_length=200)] | None = None
    points_price: Annotated[Points, Field(gt=0)]
    stock: Annotated[Points, Field(ge=0)] | None = None
    per_member_limit: Annotated[Count, Field(gt=0)] | None = None
    coupon_template_id: Annotated[Count, Field(gt=0)] | None = None
    active: bool = True


class OrderIn(_In):
    item_id: Annotated[Count, Field(gt=0)]
    member_id: Id
    order_id: Annotated[str, Field(min_length=8, max_length=64)] | None = None
    channel: Literal["api", "mini_program", "lane"] = "api"


@router.get("/mall/items")
def items(db: Db) -> dict[str, Any]:
    with db.begin():
        return {
            "items": [
                mall.describe_item(i) for i in db.scalars(select(MallItem).order_by(MallItem.id))
            ]
        }


@router.post("/mall/items", status_code=201)
def add_item(body: ItemIn, db: Db) -> dict[str, Any]:
    with db.begin():
        i = MallItem(**body.model_dump())
        db.add(i)
        db.flush()
        return mall.describe_item(i)


@router.put("/mall/items/{item_id}")
def put_item(item_id: RowId, body: ItemIn, db: Db) -> dict[str, Any]:
    with db.begin():
        i = db.get(MallItem, item_id, with_for_update=True)
        if i is None:
            raise NotFound(f"no mall item {item_id}")
        for k, v in body.model_dump().items():
            setattr(i, k, v)
        return mall.describe_item(i)


@router.post("/mall/orders", status_code=201)
def order(body: OrderIn, db: Db) -> dict[str, Any]:
    with db.begin():
        o = mall.place(db, body.order_id or new_id(), body.item_id, body.member_id, body.channel)
        return mall.describe_order(o)


@router.post("/mall/orders/{order_id}/cancel")
def cancel(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_order(mall.cancel(db, order_id))


@router.post("/mall/orders/{order_id}/fulfil")
def fulfil(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_order(mall.fulfil(db, order_id))
