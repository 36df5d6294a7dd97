"""What the points ledger's API shows: a member's balance and ledger pages, reservations,
loyalty issues, earning rules and settings, as the JSON the routes answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.loyalty.models import (
    EarningRule,
    LedgerEntry,
    LoyaltyIssue,
    LoyaltySettings,
    PointsAccount,
    PointsReservation,
)
from hub.loyalty.service import NotFound, settings
from hub.members.models import Member

SETTINGS = (
    "base_rate_milli",
    "birthday_multiplier_pct",
    "point_value_milli_fen",
    "points_valid_days",
    "reservation_ttl_s",
    "card_valid_days",
    "timezone",
)


class UnknownCursor(ValueError):
    """A ledger page's cursor that names no entry."""


def balance(s: Session, owner: str) -> dict[str, Any]:
    a = s.get(PointsAccount, owner)
    bal, held, debt = (a.balance, a.held, a.debt) if a else (0, 0, 0)
    return {
        "member_id": owner,
        "balance": bal,
        "held": held,
        "available": bal - held,
        "debt": debt,
        "value_fen": bal * settings(s).point_value_milli_fen // 1000,
    }


def ledger_page(s: Session, owner: str, limit: int, before: str | None) -> dict[str, Any]:
    """The member's ledger, newest first, including every profile merged into it."""
    ids = [owner, *s.scalars(select(Member.id).where(Member.merged_into == owner))]
    q = select(LedgerEntry).where(LedgerEntry.member_id.in_(ids))
    if before:
        cur = s.get(LedgerEntry, before)
        if cur is None:
            raise UnknownCursor("unknown cursor")
        q = q.where(
            or_(
                LedgerEntry.posted_at < cur.posted_at,
                and_(LedgerEntry.posted_at == cur.posted_at, LedgerEntry.id < cur.id),
            )
        )
    rows = list(
        s.scalars(q.order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc()).limit(limit))
    )
    return {
        "member_id": owner,
        "entries": [entry(e) for e in rows],
        "next_cursor": rows[-1].id if len(rows) == limit else None,
    }


def entry(e: LedgerEntry) -> dict[str, Any]:
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


def reservation(r: PointsReservation) -> dict[str, Any]:
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


def reservation_by_id(s: Session, rid: str) -> dict[str, Any]:
    r = s.get(PointsReservation, rid)
    if r is None:
        raise NotFound(f"no points reservation {rid}")
    return reservation(r)


def issues(s: Session, kind: str | None, limit: int) -> list[dict[str, Any]]:
    q = select(LoyaltyIssue).order_by(LoyaltyIssue.id.desc()).limit(limit)
    if kind:
        q = q.where(LoyaltyIssue.kind == kind)
    return [
        {
            "id": i.id,
            "at": i.at,
            "kind": i.kind,
            "member_id": i.member_id,
            "source_id": i.source_id,
            "detail": i.detail,
        }
        for i in s.scalars(q)
    ]


def settings_of(cfg: LoyaltySettings) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in SETTINGS}


def rule(r: EarningRule) -> dict[str, Any]:
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


def rules(s: Session) -> list[dict[str, Any]]:
    return [rule(r) for r in s.scalars(select(EarningRule).order_by(EarningRule.id))]
