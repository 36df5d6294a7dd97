"""The books kept over the points ledger: reservations that timed out, points that expired,
the liability report and the audit that every running total matches the ledger. Scheduled
jobs and HQ reports; the ledger's own moves stay in service.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.loyalty.models import (
    LedgerEntry,
    PointsAccount,
    PointsAllocation,
    PointsLot,
    PointsReservation,
)
from hub.loyalty.service import Ledger, settings


def release_expired_reservations(s: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    ids = s.scalars(
        select(PointsReservation.id)
        .where(PointsReservation.status == "held", PointsReservation.expires_at <= now)
        .limit(1000)
    ).all()
    led = Ledger(s, now)
    for rid in ids:
        led.release(rid, "expired")
    return len(ids)


def expire_points(s: Session, now: datetime | None = None, members: int = 200) -> int:
    """Expire whole lots past their date, for up to `members` members per call. A lot is left
    for the next run while a lane holds points it would need."""
    now = now or utcnow()
    lots = PointsLot.__table__
    member_ids = s.scalars(
        select(lots.c.member_id)
        .where(lots.c.expires_at <= now, lots.c.remaining > 0)
        .group_by(lots.c.member_id)
        .order_by(lots.c.member_id)
        .limit(members)
    ).all()
    if not member_ids:
        return 0
    led = Ledger(s, now)
    led.lock(member_ids)
    expired = 0
    due = s.execute(
        select(lots.c.id, lots.c.member_id, lots.c.remaining, lots.c.expires_at)
        .where(lots.c.member_id.in_(member_ids), lots.c.expires_at <= now, lots.c.remaining > 0)
        .order_by(lots.c.member_id, lots.c.expires_at, lots.c.id)
    ).all()
    for lot_id, member_id, remaining, expires_at in due:
        if remaining > led.available(member_id):
            continue
        posted = led.debit(
            member_id,
            "expire",
            int(remaining),
            source_type="lot",
            source_id=f"lot:{lot_id}",
            only_lot=lot_id,
            occurred_at=expires_at,
            detail={"lot": lot_id, "expired_at": expires_at.isoformat()},
        )
        if posted:
            expired += int(remaining)
    return expired


def liability(s: Session, now: datetime | None = None) -> dict[str, Any]:
    """Outstanding points and what they are worth, by month of expiry, with totals by kind."""
    now = now or utcnow()
    cfg = settings(s)
    bal, held, debt, members = s.execute(
        select(
            func.coalesce(func.sum(PointsAccount.balance), 0),
            func.coalesce(func.sum(PointsAccount.held), 0),
            func.coalesce(func.sum(PointsAccount.debt), 0),
            func.count().filter(PointsAccount.balance > 0),
        )
    ).one()
    dialect = s.get_bind().dialect.name
    month = (
        func.strftime("%Y-%m", PointsLot.expires_at)
        if dialect == "sqlite"
        else func.to_char(func.timezone("UTC", PointsLot.expires_at), "YYYY-MM")
    )
    by_month = [
        {"month": m, "points": int(p), "value_fen": int(p) * cfg.point_value_milli_fen // 1000}
        for m, p in s.execute(
            select(month.label("m"), func.sum(PointsLot.remaining))
            .where(PointsLot.remaining > 0)
            .group_by("m")
            .order_by("m")
        )
    ]
    soon = s.execute(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.remaining > 0, PointsLot.expires_at <= now + timedelta(days=30)
        )
    ).scalar_one()
    kinds = {
        k: int(p)
        for k, p in s.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.points)).group_by(LedgerEntry.kind)
        )
    }
    return {
        "at": now,
        "outstanding_points": int(bal),
        "outstanding_value_fen": int(bal) * cfg.point_value_milli_fen // 1000,
        "point_value_milli_fen": cfg.point_value_milli_fen,
        "held_points": int(held),
        "debt_points": int(debt),
        "members_with_points": int(members),
        "expiring_30d_points": int(soon),
        "by_expiry_month": by_month,
        "totals_by_kind": kinds,
    }


def check_books(s: Session) -> list[str]:
    """Every way the projections could disagree with the ledger, as readable problems (an
    empty list means the books balance). Used by the tests and the ops endpoint."""
    problems: list[str] = []
    ledger = dict(
        s.execute(
            select(LedgerEntry.member_id, func.sum(LedgerEntry.points)).group_by(
                LedgerEntry.member_id
            )
        ).all()
    )
    debts = dict(
        s.execute(
            select(LedgerEntry.member_id, func.sum(LedgerEntry.debt_change)).group_by(
                LedgerEntry.member_id
            )
        ).all()
    )
    lots = dict(
        s.execute(
            select(PointsLot.member_id, func.sum(PointsLot.remaining)).group_by(PointsLot.member_id)
        ).all()
    )
    held = dict(
        s.execute(
            select(PointsReservation.member_id, func.sum(PointsReservation.points))
            .where(PointsReservation.status == "held")
            .group_by(PointsReservation.member_id)
        ).all()
    )
    for a in s.scalars(select(PointsAccount)):
        m = a.member_id
        if a.balance != int(ledger.get(m) or 0):
            problems.append(f"{m}: balance {a.balance} != ledger {ledger.get(m)}")
        if a.balance != int(lots.get(m) or 0):
            problems.append(f"{m}: balance {a.balance} != lots {lots.get(m)}")
        if a.debt != int(debts.get(m) or 0):
            problems.append(f"{m}: debt {a.debt} != ledger debt {debts.get(m)}")
        if a.held != int(held.get(m) or 0):
            problems.append(f"{m}: held {a.held} != reservations {held.get(m)}")
    alloc = dict(
        s.execute(
            select(PointsAllocation.debit_id, func.sum(PointsAllocation.points)).group_by(
                PointsAllocation.debit_id
            )
        ).all()
    )
    for e in s.scalars(select(LedgerEntry).where(LedgerEntry.points < 0)):
        if int(alloc.get(e.id) or 0) != -e.points:
            problems.append(f"debit {e.id}: {-e.points} points, allocations {alloc.get(e.id)}")
    return problems
