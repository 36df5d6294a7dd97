"""What a sale and a refund do to loyalty, inside ingest's transaction, after the sales books.

sale.completed: consume its coupons (under the lane's hold when it claimed them; a coupon
granted offline by store policy is reconciled here: the first booked wins, a later one is a
`coupon_offline_conflict` issue), spend the points it was paid with (its reservation, or
the points tender), earn points, add to the tier window, evaluate the tier.
sale.refunded: take back the points the sale earned and give back the points it was paid
with, both in proportion to the refund (exactly the rest on the refund that completes it),
linked to the sale; release its coupons when the sale is fully refunded; re-evaluate the tier.

Batches are handled in bulk (one look-up per kind of row, accounts locked once, in order).
Nothing here rejects an event: the sale is booked whatever loyalty finds, and what loyalty
cannot honour is a `loyalty_issues` row (hub/loyalty/service.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.coupons import holds
from hub.coupons import service as coupons
from hub.coupons.models import CouponEvent
from hub.db import bulk_insert, utcnow
from hub.loyalty.earning import Rules
from hub.loyalty.models import LedgerEntry, PointsReservation
from hub.loyalty.service import Ledger, PointsError, issue
from hub.members.models import Member
from hub.sales.models import Refund, Sale
from hub.tiers import service as tiers
from protocols import coupons as coupon_rules
from protocols.envelope import Envelope


@dataclass
class _Owner:
    id: str  # the profile the points live on now
    birth_month: int | None  # the birthday itself is sealed (hub/members)


def _owners(s: Session, named: set[str]) -> dict[str, _Owner]:
    if not named:
        return {}
    rows = s.execute(
        select(Member.id, Member.merged_into, Member.birth_month).where(Member.id.in_(named))
    ).all()
    survivors = {r.merged_into for r in rows if r.merged_into}
    bdays = {r.id: r.birth_month for r in rows}
    if survivors:
        bdays.update(
            s.execute(select(Member.id, Member.birth_month).where(Member.id.in_(survivors))).all()
        )
    return {r.id: _Owner(r.merged_into or r.id, bdays.get(r.merged_into or r.id)) for r in rows}


def _canon(code: str) -> str:
    try:
        return coupon_rules.normalize(code)
    except coupon_rules.CodeError:
        return code  # redeem reports it


def _points_tender(body: dict[str, Any]) -> int:
    return sum(int(p["amount_fen"]) for p in body["payments"] if p["tender"] == "points")


def sales_completed(s: Session, envs: list[Envelope]) -> None:
    todo = [
        e
        for e in envs
        if e.body.get("member_id") or e.body.get("coupons") or e.body.get("points_reservation")
    ]
    if not todo:
        return
    now = utcnow()
    named = {e.body["member_id"] for e in todo if e.body.get("member_id")}
    owners = _owners(s, named)
    for e in todo:
        m = e.body.get("member_id")
        if m and m not in owners:
            issue(s, "unknown_member", f"sale {e.id} names member {m}, unknown here", m, e.id)
    led = Ledger(s, now)
    led.lock({o.id for o in owners.values()})  # every account first, in id order
    held = [e.body["points_reservation"] for e in todo if e.body.get("points_reservation")]
    led.prefetch([e.id for e in todo] + held)  # after the locks: nothing can post meanwhile
    if held:
        led.preload(held, {m: o.id for m, o in owners.items()})

    def owner_of(e: Envelope) -> _Owner | None:
        m = e.body.get("member_id")
        return owners.get(m) if m else None

    coupon_events: list[dict[str, Any]] = []
    for e in todo:  # coupons: each once, atomically
        o = owner_of(e)
        claimed = {_canon(c): h for c, h in (e.body.get("coupon_holds") or {}).items()}
        offline = {_canon(c) for c in e.body.get("coupons_offline") or []}
        for code in e.body.get("coupons") or []:
            hold = claimed.get(_canon(code))
            r = coupons.redeem(
                s,
                code,
                sale_id=e.id,
                store_id=e.store,
                member_id=o.id if o else None,
                at=e.occurred_at,
                events=coupon_events,
                hold_id=hold,
                now=now,
            )
            if r.ok and hold:
                holds.settle(s, hold, e.id, now)
            elif not r.ok:
                kind = "coupon_offline_conflict" if r.code in offline else "coupon_conflict"
                issue(
                    s,
                    kind,
                    f"coupon {code} on sale {e.id}: {r.reason}",
                    o.id if o else None,
                    e.id,
                )
    bulk_insert(s, CouponEvent.__table__, coupon_events)
    rules = Rules.load(s, led.settings)
    tier_now = tiers.current(s, {o.id for o in owners.values()})
    late = _refunds_booked(s, [e.id for e in todo if owner_of(e)])
    spend: list[tuple[str, date, int, int]] = []
    overtaken: list[str] = []
    with led.deferred():  # one bulk write of the batch's entries, lots and accounts
        for e in todo:  # points paid with
            _spend_for_sale(s, led, e, owner_of(e))
        for e in todo:
            o = owner_of(e)
            if o is None or led.posted(e.id, o.id, "earn"):
                continue
            t = tier_now.get(o.id)
            earn = rules.for_sale(
                e.body, e.store, e.occurred_at, t.points_multiplier_pct if t else 100, o.birth_month
            )
            if earn.points > 0:
                led.credit(
                    o.id,
                    "earn",
                    earn.points,
                    source_type="sale",
                    source_id=e.id,
                    occurred_at=e.occurred_at,
                    sale_id=e.id,
                    store_id=e.store,
                    detail=earn.detail,
                )
            day = date.fromisoformat(e.body["business_day"])
            spend.append((o.id, day, int(e.body["total_fen"]), earn.points))
            if e.id in late:
                overtaken.append(e.id)
    for sale_id in overtaken:  # its refunds overtook it (another store's, in flight)
        spend += _apply_refunds(s, led, sale_id, late[sale_id], now)
    tiers.record_spend(s, spend)
    tiers.evaluate(s, {o.id for o in owners.values()}, "sale", now)


def _spend_for_sale(s: Session, led: Ledger, e: Envelope, o: _Owner | None) -> None:
    rid = e.body.get("points_reservation")
    if rid:
        try:
            led.commit(rid, sale_id=e.id, store_id=e.store)
            return
        except PointsError as err:
            issue(
                s,
                "reservation_problem",
                f"sale {e.id}, reservation {rid}: {err}",
                o.id if o else None,
                e.id,
            )
    fen = _points_tender(e.body)
    if fen and o is not None and not rid:
        # paid with points but held nothing (an older lane): deduct now, never below zero
        value = led.settings.point_value_milli_fen
        if value > 0:
            pts = -(-fen * 1000 // value)
            led.debit(
                o.id,
                "spend",
                pts,
                source_type="sale",
                source_id=e.id,
                partial=True,
                occurred_at=e.occurred_at,
                sale_id=e.id,
                store_id=e.store,
                detail={"tender_fen": fen, "without_reservation": True},
            )


def _refunds_booked(s: Session, sale_ids: list[str]) -> dict[str, list[Refund]]:
    out: dict[str, list[Refund]] = defaultdict(list)
    if sale_ids:
        for r in s.scalars(
            select(Refund)
            .where(Refund.sale_id.in_(sale_ids))
            .order_by(Refund.occurred_at, Refund.id)
        ):
            out[r.sale_id].append(r)
    return out


def sales_refunded(s: Session, envs: list[Envelope]) -> None:
    now = utcnow()
    by_sale: dict[str, list[Refund]] = defaultdict(list)
    refunds = {
        r.id: r for r in s.scalars(select(Refund).where(Refund.id.in_([e.id for e in envs])))
    }
    for e in envs:
        if e.id in refunds:
            by_sale[e.body["sale_id"]].append(refunds[e.id])
    if not by_sale:
        return
    led = Ledger(s, now)
    # every account these refunds touch, locked up front in id order (no deadlocks)
    sale_ids = list(by_sale)
    members = set(
        s.scalars(
            select(LedgerEntry.member_id).where(
                LedgerEntry.source_id.in_(sale_ids), LedgerEntry.kind == "earn"
            )
        )
    )
    members |= {m for m in s.scalars(select(Sale.member_id).where(Sale.id.in_(sale_ids))) if m}
    led.lock({o.id for o in _owners(s, members).values()})
    led.prefetch([e.id for e in envs])
    spend: list[tuple[str, date, int, int]] = []
    for sale_id, rs in by_sale.items():
        spend += _apply_refunds(s, led, sale_id, rs, now)
    tiers.record_spend(s, spend)
    tiers.evaluate(s, {m for m, *_ in spend}, "refund", now)


def _apply_refunds(
    s: Session, led: Ledger, sale_id: str, refunds: list[Refund], now: datetime
) -> list[tuple[str, date, int, int]]:
    """Reverse, in order, what `refunds` of one sale take back; returns tier-window rows."""
    sale = s.get(Sale, sale_id)
    if sale is None:
        return []  # not here yet: the sale's own handler applies these when it arrives
    total_refunded = s.execute(
        select(func.coalesce(func.sum(Refund.total_fen), 0)).where(Refund.sale_id == sale_id)
    ).scalar_one()
    refunded = int(total_refunded) - sum(r.total_fen for r in refunds)  # before these
    earn = s.scalars(
        select(LedgerEntry).where(LedgerEntry.source_id == sale_id, LedgerEntry.kind == "earn")
    ).first()
    member = earn.member_id if earn else sale.member_id
    owner = None
    if member:
        row = s.execute(select(Member.id, Member.merged_into).where(Member.id == member)).first()
        owner = (row.merged_into or row.id) if row else None
    past = _reversed_so_far(s, sale_id)
    spent = _spent_on(s, sale_id)
    if owner:
        led.lock([owner])
    rows: list[tuple[str, date, int, int]] = []
    for r in refunds:
        refunded += r.total_fen
        full = refunded >= sale.total_fen
        if owner is None:
            continue
        took_back = 0
        if earn is not None and not led.posted(r.id, owner, "reverse_earn"):
            want = _share(earn.points, r.total_fen, sale.total_fen, past["earn"], full)
            if want > 0:
                led.debit(
                    owner,
                    "reverse_earn",
                    want,
                    source_type="refund",
                    source_id=r.id,
                    partial=True,
                    prefer_entry=earn.id,
                    occurred_at=r.occurred_at,
                    sale_id=sale_id,
                    store_id=r.store_id,
                    detail={"refund_fen": r.total_fen, "sale_fen": sale.total_fen},
                )
                past["earn"] += want
                took_back = want
        if spent and not led.posted(r.id, owner, "refund_spend"):
            back = _share(spent, r.total_fen, sale.total_fen, past["spend"], full)
            if back > 0:
                led.credit(
                    owner,
                    "refund_spend",
                    back,
                    source_type="refund",
                    source_id=r.id,
                    occurred_at=r.occurred_at,
                    sale_id=sale_id,
                    store_id=r.store_id,
                    detail={"refund_fen": r.total_fen, "sale_fen": sale.total_fen},
                )
                past["spend"] += back
        rows.append((owner, sale.business_day, -r.total_fen, -took_back))
    if refunded >= sale.total_fen:
        coupons.release_for_sale(s, sale_id, now)
    return rows


def _share(points: int, refund_fen: int, sale_fen: int, done: int, full: bool) -> int:
    """This refund's part of `points`: proportional, half up; the rest on the last refund."""
    left = points - done
    if full or sale_fen <= 0:
        return max(left, 0)
    return max(min((2 * points * refund_fen + sale_fen) // (2 * sale_fen), left), 0)


def _reversed_so_far(s: Session, sale_id: str) -> dict[str, int]:
    """Points already taken back (including what became debt) and already given back."""
    out = {"earn": 0, "spend": 0}
    for kind, pts, debt in s.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.points), func.sum(LedgerEntry.debt_change))
        .where(
            # a reversal's source is its refund: found through the refunds of this sale
            LedgerEntry.source_id.in_(select(Refund.id).where(Refund.sale_id == sale_id)),
            LedgerEntry.kind.in_(["reverse_earn", "refund_spend"]),
        )
        .group_by(LedgerEntry.kind)
    ):
        if kind == "reverse_earn":
            out["earn"] = -int(pts) + int(debt)
        else:
            out["spend"] = int(pts)
    return out


def _spent_on(s: Session, sale_id: str) -> int:
    """Points the sale was paid with: its committed reservations and direct spends."""
    held = s.execute(
        select(func.coalesce(func.sum(PointsReservation.points), 0)).where(
            PointsReservation.sale_id == sale_id, PointsReservation.status == "committed"
        )
    ).scalar_one()
    direct = s.execute(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.source_id == sale_id, LedgerEntry.kind == "spend"
        )
    ).scalar_one()
    return int(held) - int(direct)
