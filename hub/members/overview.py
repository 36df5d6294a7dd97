"""The member 360° view: profile, card, tier, points, coupons and purchases across every store
and channel — over the member's own id and every profile merged into it, so a merge never
hides history.

Reads only, and on the hot path of the service desk and the mini-program: six small
indexed queries, built once at import (SQLAlchemy caches their compiled form), no ORM objects."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from hub.analytics import jobs as analytics
from hub.coupons.models import Coupon, CouponTemplate
from hub.db import utcnow
from hub.loyalty.models import LedgerEntry, LoyaltySettings, PointsAccount, PointsLot
from hub.mall.models import MallOrder
from hub.members import identity
from hub.members.models import Member
from hub.members.service import MemberNotFound, Members
from hub.members.vault import VaultError
from hub.sales.models import Sale
from hub.tiers.models import MemberTier, Tier, TierSpendDay
from hub.tiers.service import WINDOW_DAYS

M, MT, T, A = (x.__table__ for x in (Member, MemberTier, Tier, PointsAccount))
CFG, LOT, LED, CPN, TPL = (
    x.__table__ for x in (LoyaltySettings, PointsLot, LedgerEntry, Coupon, CouponTemplate)
)
SALE, MALL, DAY = (x.__table__ for x in (Sale, MallOrder, TierSpendDay))
_IDS = bindparam("ids", expanding=True)


def _next_tier(col: Any) -> Any:
    return select(col).where(T.c.rank > MT_T.c.rank).order_by(T.c.rank).limit(1).scalar_subquery()


MT_T = T.alias("current_tier")
_PROFILE = (
    select(
        *(
            M.c[n]
            for n in (
                "id",
                "name",
                "name_sealed",
                "phone_sealed",
                "id_no_sealed",
                "birthday",
                "birthday_sealed",
                "marketing_consent",
                "consent_at",
                "tags",
                "tags_sealed",
                "channel",
                "origin_store",
                "card_no",
                "card_valid_until",
                "status",
                "merged_into",
                "created_at",
            )
        ),
        MT_T.c.code.label("t_code"),
        MT_T.c.name.label("t_name"),
        MT_T.c.discount_pct,
        MT_T.c.points_multiplier_pct,
        MT.c.since.label("t_since"),
        MT.c.grace_until,
        A.c.balance,
        A.c.held,
        A.c.debt,
        CFG.c.point_value_milli_fen,
        # what else the view needs of this member, in the same round trip
        select(func.count())
        .where(M.alias("m2").c.merged_into == M.c.id)
        .scalar_subquery()
        .label("merged_count"),
        select(func.coalesce(func.sum(LOT.c.remaining), 0))
        .where(
            LOT.c.member_id == M.c.id,
            LOT.c.remaining > 0,
            LOT.c.expires_at <= bindparam("until"),
        )
        .scalar_subquery()
        .label("expiring"),
        select(func.coalesce(func.sum(DAY.c.spend_fen), 0))
        .where(
            DAY.c.member_id == M.c.id,
            DAY.c.day >= bindparam("start"),
            DAY.c.day <= bindparam("on"),
        )
        .scalar_subquery()
        .label("w_spend"),
        select(func.coalesce(func.sum(DAY.c.points), 0))
        .where(
            DAY.c.member_id == M.c.id,
            DAY.c.day >= bindparam("start"),
            DAY.c.day <= bindparam("on"),
        )
        .scalar_subquery()
        .label("w_points"),
        _next_tier(T.c.code).label("n_code"),
        _next_tier(T.c.name).label("n_name"),
        _next_tier(T.c.spend_threshold_fen).label("n_spend"),
    )
    .select_from(
        M.outerjoin(MT, MT.c.member_id == M.c.id)
        .outerjoin(MT_T, MT_T.c.code == MT.c.tier_code)
        .outerjoin(A, A.c.member_id == M.c.id)
        .outerjoin(CFG, CFG.c.id == 1)
    )
    .where(M.c.id == bindparam("id"))
)
_ALIASES = select(M.c.id).where(M.c.merged_into == bindparam("id")).order_by(M.c.created_at)
_TIMEZONE = select(CFG.c.timezone).where(CFG.c.id == 1)
_LEDGER = (
    select(
        LED.c.id,
        LED.c.member_id,
        LED.c.kind,
        LED.c.points,
        LED.c.balance_after,
        LED.c.store_id,
        LED.c.sale_id,
        LED.c.occurred_at,
    )
    .where(LED.c.member_id.in_(_IDS))
    .order_by(LED.c.posted_at.desc(), LED.c.id.desc())
    .limit(bindparam("n"))
)
_COUPONS = (
    select(
        CPN.c.code,
        CPN.c.status,
        CPN.c.valid_from,
        CPN.c.valid_until,
        CPN.c.template_id,
        TPL.c.name,
        TPL.c.kind,
    )
    .join(TPL, TPL.c.id == CPN.c.template_id)
    .where(CPN.c.member_id == bindparam("id"))
    .order_by(CPN.c.valid_until)
)
_BY_STORE = (
    select(
        SALE.c.store_id,
        func.count(),
        func.sum(SALE.c.total_fen),
        func.sum(SALE.c.refunded_fen),
        func.max(SALE.c.occurred_at),
    )
    .where(SALE.c.member_id.in_(_IDS))
    .group_by(SALE.c.store_id)
    .order_by(SALE.c.store_id)
)
_RECENT_SALES = (
    select(
        SALE.c.id,
        SALE.c.store_id,
        SALE.c.lane,
        SALE.c.receipt_no,
        SALE.c.occurred_at,
        SALE.c.total_fen,
        SALE.c.refunded_fen,
        SALE.c.member_id,
    )
    .where(SALE.c.member_id.in_(_IDS))
    .order_by(SALE.c.occurred_at.desc())
    .limit(bindparam("n"))
)
_MALL = (
    select(MALL.c.id, MALL.c.item_id, MALL.c.points, MALL.c.status, MALL.c.created_at)
    .where(MALL.c.member_id.in_(_IDS))
    .order_by(MALL.c.created_at.desc())
)


def today(db: Session | Connection) -> date:
    """The programme's local date (loyalty_settings.timezone)."""
    s = db.connection() if isinstance(db, Session) else db
    tz = s.execute(_TIMEZONE).scalar() or "Asia/Shanghai"
    return utcnow().astimezone(ZoneInfo(tz)).date()


def view360(
    members: Members,
    db: Session | Connection,
    member_id: str,
    recent: int = 10,
    on: date | None = None,
) -> dict[str, Any]:
    """`on`: the programme's local date, when the caller knows it (saves a query)."""
    s = db.connection() if isinstance(db, Session) else db  # Core: no ORM work per query
    now = utcnow()
    on = on or today(s)
    params = {
        "until": now + timedelta(days=30),
        "start": on - timedelta(days=WINDOW_DAYS - 1),
        "on": on,
    }
    row = s.execute(_PROFILE, {"id": member_id, **params}).mappings().first()
    if row is not None and row["merged_into"]:
        row = s.execute(_PROFILE, {"id": row["merged_into"], **params}).mappings().first()
    if row is None:
        raise MemberNotFound(f"no member {member_id}")
    mid = row["id"]
    merged = list(s.execute(_ALIASES, {"id": mid}).scalars()) if row["merged_count"] else []
    ids = [mid, *merged]
    value = row["point_value_milli_fen"] or 0
    mall = s.execute(_MALL, {"ids": ids}).all()
    return {
        "member": _profile(members, row, now),
        "merged_from": merged,
        "tier": _tier(row),
        "points": _points(s, row, ids, recent, value),
        "coupons": _coupons(s, mid, now),
        "purchases": _purchases(s, ids, recent, mall),
        "mall_orders": [
            {"id": r[0], "item_id": r[1], "points": r[2], "status": r[3], "at": r[4]}
            for r in mall[:recent]
        ],
        "analytics": analytics.for_360(s, mid),  # heat, predicted value (issue 16)
    }


def _profile(members: Members, r: Any, now: datetime) -> dict[str, Any]:
    phone = id_no = None
    name, birthday, tags = r["name"], r["birthday"], r["tags"]  # in clear before 0008 / 0013
    try:
        if r["name_sealed"]:
            name = members.vault.open("name", r["id"], r["name_sealed"])
        if r["phone_sealed"]:
            phone = identity.mask_phone(members.vault.open("phone", r["id"], r["phone_sealed"]))
        if r["id_no_sealed"]:
            id_no = identity.mask_id(members.vault.open("id_no", r["id"], r["id_no_sealed"]))
        if r["birthday_sealed"]:
            birthday = members.open_birthday(r["id"], r["birthday_sealed"])
        if r["tags_sealed"]:
            tags = members.open_tags(r["id"], r["tags_sealed"])
    except VaultError:  # the wrong member key: the rest of the view still helps
        pass
    return {
        "id": r["id"],
        "name": name,
        "phone": phone,
        "id_number": id_no,
        "birthday": birthday,
        "marketing_consent": r["marketing_consent"],
        "consent_at": r["consent_at"],
        "tags": tags,
        "channel": r["channel"],
        "origin_store": r["origin_store"],
        "card": {
            "no": r["card_no"],
            "valid_until": r["card_valid_until"],
            "valid": r["card_valid_until"] > now,
        },
        "status": r["status"],
        "created_at": r["created_at"],
    }


def _tier(r: Any) -> dict[str, Any] | None:
    if r["t_code"] is None:
        return None
    spend = max(int(r["w_spend"]), 0)
    return {
        "code": r["t_code"],
        "name": r["t_name"],
        "discount_pct": r["discount_pct"],
        "points_multiplier_pct": r["points_multiplier_pct"],
        "since": r["t_since"],
        "grace_until": r["grace_until"],
        "window": {"days": WINDOW_DAYS, "spend_fen": spend, "points": int(r["w_points"])},
        "next": (
            {
                "code": r["n_code"],
                "name": r["n_name"],
                "spend_needed_fen": max(int(r["n_spend"]) - spend, 0),
            }
            if r["n_code"] is not None
            else None
        ),
    }


def _points(s: Connection, r: Any, ids: list[str], recent: int, value_milli: int) -> dict:
    balance, held, debt = r["balance"] or 0, r["held"] or 0, r["debt"] or 0
    return {
        "balance": balance,
        "held": held,
        "available": balance - held,
        "debt": debt,
        "value_fen": balance * value_milli // 1000,
        "expiring_30d": int(r["expiring"]),
        "recent": [
            {
                "id": e[0],
                "member_id": e[1],
                "kind": e[2],
                "points": e[3],
                "balance_after": e[4],
                "store": e[5],
                "sale_id": e[6],
                "at": e[7],
            }
            for e in s.execute(_LEDGER, {"ids": ids, "n": recent})
        ],
    }


def _coupons(s: Connection, member_id: str, now: datetime) -> dict[str, Any]:
    rows = s.execute(_COUPONS, {"id": member_id}).all()
    usable = [c for c in rows if c[1] == "issued" and c[2] <= now < c[3]]
    return {
        "usable": [
            {
                "code": c[0],
                "template_id": c[4],
                "name": c[5],
                "kind": c[6],
                "valid_from": c[2],
                "valid_until": c[3],
            }
            for c in usable
        ],
        "used": sum(1 for c in rows if c[1] == "redeemed"),
        "expired": sum(1 for c in rows if c[1] == "issued" and c[3] <= now),
        "total": len(rows),
    }


def _purchases(s: Connection, ids: list[str], recent: int, mall: list[Any]) -> dict[str, Any]:
    by_store = [
        {
            "store": store,
            "sales": int(n),
            "spend_fen": int(total),
            "refunded_fen": int(refunded),
            "last_at": last,
        }
        for store, n, total, refunded, last in s.execute(_BY_STORE, {"ids": ids})
    ]
    kept = [m for m in mall if m[3] != "cancelled"]
    sales = sum(x["sales"] for x in by_store)
    spend = sum(x["spend_fen"] for x in by_store)
    return {
        "sales": sales,
        "spend_fen": spend,
        "refunded_fen": sum(x["refunded_fen"] for x in by_store),
        "by_store": by_store,
        "by_channel": {
            "store": {"orders": sales, "spend_fen": spend},
            "points_mall": {"orders": len(kept), "points": sum(int(m[2]) for m in kept)},
        },
        "recent": [
            {
                "id": x[0],
                "store": x[1],
                "lane": x[2],
                "receipt_no": x[3],
                "occurred_at": x[4],
                "total_fen": x[5],
                "refunded_fen": x[6],
                "member_id": x[7],
            }
            for x in s.execute(_RECENT_SALES, {"ids": ids, "n": recent})
        ],
    }
