"""The member 360° view: profile, card, tier, points, coupons and purchases across every store
and channel — over the member's own id and every profile merged into it, so a merge never
hides history. Reads only; a handful of indexed queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.coupons.models import Coupon, CouponTemplate
from hub.coupons.service import describe
from hub.db import utcnow
from hub.loyalty.models import LedgerEntry, MallOrder, PointsAccount, PointsLot
from hub.loyalty.service import settings
from hub.members.models import MemberMerge
from hub.members.service import Members
from hub.sales.models import Sale
from hub.tiers import service as tiers
from hub.tiers.models import MemberTier, Tier


def view360(members: Members, s: Session, member_id: str, recent: int = 10) -> dict[str, Any]:
    m = members.get(s, member_id)
    ids = members.aliases(s, m.id)
    now = utcnow()
    cfg = settings(s)
    return {
        "member": members.view(m),
        "merged_from": list(
            s.scalars(select(MemberMerge.absorbed_id).where(MemberMerge.survivor_id == m.id))
        ),
        "tier": _tier(s, m.id),
        "points": _points(s, m.id, ids, recent, cfg.point_value_milli_fen, now),
        "coupons": _coupons(s, m.id, now),
        "purchases": _purchases(s, ids, recent),
        "mall_orders": [
            {
                "id": o.id,
                "item_id": o.item_id,
                "points": o.points,
                "status": o.status,
                "at": o.created_at,
            }
            for o in s.scalars(
                select(MallOrder)
                .where(MallOrder.member_id.in_(ids))
                .order_by(MallOrder.created_at.desc())
                .limit(recent)
            )
        ],
    }


def _tier(s: Session, member_id: str) -> dict[str, Any] | None:
    row = s.execute(
        select(MemberTier, Tier)
        .join(Tier, Tier.code == MemberTier.tier_code)
        .where(MemberTier.member_id == member_id)
    ).first()
    if row is None:
        return None
    mt, t = row
    spend, pts = tiers.window(s, [member_id], tiers.today(s))[member_id]
    nxt = s.scalars(select(Tier).where(Tier.rank > t.rank).order_by(Tier.rank).limit(1)).first()
    return {
        "code": t.code,
        "name": t.name,
        "discount_pct": t.discount_pct,
        "points_multiplier_pct": t.points_multiplier_pct,
        "since": mt.since,
        "grace_until": mt.grace_until,
        "window": {"days": tiers.WINDOW_DAYS, "spend_fen": spend, "points": pts},
        "next": (
            {
                "code": nxt.code,
                "name": nxt.name,
                "spend_needed_fen": max(nxt.spend_threshold_fen - spend, 0),
            }
            if nxt
            else None
        ),
    }


def _points(
    s: Session, member_id: str, ids: list[str], recent: int, value_milli: int, now: Any
) -> dict[str, Any]:
    acct = s.get(PointsAccount, member_id)
    balance, held, debt = (acct.balance, acct.held, acct.debt) if acct else (0, 0, 0)
    soon = s.execute(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member_id,
            PointsLot.remaining > 0,
            PointsLot.expires_at <= now + timedelta(days=30),
        )
    ).scalar_one()
    return {
        "balance": balance,
        "held": held,
        "available": balance - held,
        "debt": debt,
        "value_fen": balance * value_milli // 1000,
        "expiring_30d": int(soon),
        "recent": [
            {
                "id": e.id,
                "member_id": e.member_id,
                "kind": e.kind,
                "points": e.points,
                "balance_after": e.balance_after,
                "store": e.store_id,
                "sale_id": e.sale_id,
                "at": e.occurred_at,
            }
            for e in s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.member_id.in_(ids))
                .order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc())
                .limit(recent)
            )
        ],
    }


def _coupons(s: Session, member_id: str, now: Any) -> dict[str, Any]:
    rows = s.execute(
        select(Coupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(Coupon.member_id == member_id)
        .order_by(Coupon.valid_until)
    ).all()
    usable = [c for c, _ in rows if c.status == "issued" and c.valid_from <= now < c.valid_until]
    return {
        "usable": [describe(c, t) for c, t in rows if c in usable],
        "used": sum(1 for c, _ in rows if c.status == "redeemed"),
        "expired": sum(1 for c, _ in rows if c.status == "issued" and c.valid_until <= now),
        "total": len(rows),
    }


def _purchases(s: Session, ids: list[str], recent: int) -> dict[str, Any]:
    by_store = [
        {
            "store": store,
            "sales": int(n),
            "spend_fen": int(total),
            "refunded_fen": int(refunded),
            "last_at": last,
        }
        for store, n, total, refunded, last in s.execute(
            select(
                Sale.store_id,
                func.count(),
                func.sum(Sale.total_fen),
                func.sum(Sale.refunded_fen),
                func.max(Sale.occurred_at),
            )
            .where(Sale.member_id.in_(ids))
            .group_by(Sale.store_id)
            .order_by(Sale.store_id)
        )
    ]
    mall = s.execute(
        select(func.count(), func.coalesce(func.sum(MallOrder.points), 0)).where(
            MallOrder.member_id.in_(ids), MallOrder.status != "cancelled"
        )
    ).one()
    return {
        "sales": sum(x["sales"] for x in by_store),
        "spend_fen": sum(x["spend_fen"] for x in by_store),
        "refunded_fen": sum(x["refunded_fen"] for x in by_store),
        "by_store": by_store,
        "by_channel": {
            "store": {
                "orders": sum(x["sales"] for x in by_store),
                "spend_fen": sum(x["spend_fen"] for x in by_store),
            },
            "points_mall": {"orders": int(mall[0]), "points": int(mall[1])},
        },
        "recent": [
            {
                "id": x.id,
                "store": x.store_id,
                "lane": x.lane,
                "receipt_no": x.receipt_no,
                "occurred_at": x.occurred_at,
                "total_fen": x.total_fen,
                "refunded_fen": x.refunded_fen,
                "member_id": x.member_id,
                "coupons": x.coupons,
            }
            for x in s.scalars(
                select(Sale)
                .where(Sale.member_id.in_(ids))
                .order_by(Sale.occurred_at.desc())
                .limit(recent)
            )
        ],
    }
