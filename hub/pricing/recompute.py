"""Every booked sale is priced again with the lane's engine (protocols/pricing), from the
promotions snapshot version the lane priced with (or the hub's current promotions when the
sale names none), the member terms and policy the sale carries (`pricing`) and the hub's own
coupon terms. A line or total the engine does not reproduce is a price difference: a row in
`price_differences` (GET /api/pricing/differences) and a log line.

It never blocks booking, not even for a moment: ingest only queues the sale (`price_checks`,
one bulk insert in the sale's own transaction, so no booked sale escapes its check, even
across a crash), and the pricing job (`run`, every 2 s in the hub's scheduler) claims queued
checks by deleting them — in the transaction that records their outcome, so two hubs never
check one sale twice and a failed run leaves them queued. Whatever goes wrong pricing one
sale becomes a difference with the reason ("could not recompute: …")."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from hub.catalog import service as catalog
from hub.catalog.models import ConfigSnapshot
from hub.coupons import service as coupon_service
from hub.coupons.service import CouponError
from hub.db import Database, bulk_insert, utcnow
from hub.pricing.models import PriceCheck, PriceDifference
from protocols import pricing
from protocols.coupons import Terms
from protocols.envelope import Envelope

log = logging.getLogger(__name__)
_EVERY = datetime(2000, 1, 1, tzinfo=UTC)  # the engine picks by the sale's time, not the query
Promos = list[pricing.Promotion]


@dataclass(frozen=True)
class Booked:
    """A booked sale as its check needs it: the event's id, origin, time and body."""

    id: str
    store: str
    gateway: str
    occurred_at: datetime
    body: dict[str, Any]


class Unpriceable(Exception):
    """The sale cannot be recomputed (its promotions snapshot is unknown here, …)."""


def _transient(err: BaseException) -> bool:
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(err, OperationalError | InterfaceError)


def promotions(s: Session, store: str, version: int | None, seen: dict[Any, Promos]) -> Promos:
    """The engine's promotions: snapshot `version` of the store, or the current ones."""
    key = (store, version)
    if key not in seen:
        if version is None:
            data = catalog.data(s, store, "promotions", _EVERY)
        else:
            row = s.get(ConfigSnapshot, (store, "promotions", version))
            if row is None:
                raise Unpriceable(f"promotions snapshot v{version} of {store} is unknown here")
            data = json.loads(row.payload)["data"]
        seen[key] = pricing.promotions_from_snapshot(data)
    return seen[key]


def _coupons(s: Session, codes: list[str]) -> list[Terms]:
    out = []
    for code in codes:
        try:
            c, t = coupon_service.load(s, code)
        except CouponError as err:
            raise Unpriceable(f"coupon {code}: {err}") from None
        out.append(coupon_service.terms(c, t))
    return out


def reprice(s: Session, env: Booked, seen: dict[Any, Promos]) -> pricing.Priced:
    """The sale as the engine prices it at the hub."""
    b = env.body
    how = b.get("pricing") or {}
    items = [pricing.Item.of_line(ln) for ln in b["lines"]]
    at = datetime.fromisoformat(how["at"]) if how.get("at") else env.occurred_at
    member = None
    if how.get("tier") or how.get("member_prices") or how.get("tier_discount_pct", 100) < 100:
        member = pricing.Member(
            tier=how.get("tier"),
            discount_pct=how.get("tier_discount_pct", 100),
            prices=how.get("member_prices") or {},
        )
    return pricing.price(
        items,
        promotions(s, env.store, how.get("promotions_version"), seen),
        at=at,
        member=member,
        coupons_presented=_coupons(s, b.get("coupons") or []),
        store=env.store,
        policy=pricing.Policy(min_margin_bp=how.get("min_margin_bp", 0)),
        override=how.get("override", False),
    )


def compare(env: Booked, priced: pricing.Priced) -> tuple[str, list[dict[str, Any]]] | None:
    """What differs between the booked sale and the engine's pricing of it (None: nothing)."""
    b = env.body
    lines = [
        {"line": n, "sku": ln["sku"], "booked_fen": ln["total_fen"], "expected_fen": p.total_fen}
        for n, (ln, p) in enumerate(zip(b["lines"], priced.lines, strict=True), 1)
        if ln["total_fen"] != p.total_fen
    ]
    why = []
    if lines:
        why.append(f"{len(lines)} line(s) differ")
    if b["total_fen"] != priced.total_fen:
        why.append(f"total {b['total_fen']} fen, the engine {priced.total_fen} fen")
    listed = (b.get("pricing") or {}).get("savings")
    if listed:  # the receipt's savings, if the lane listed them
        mine = sorted((x.kind, x.ref, x.saved_fen) for x in priced.savings)
        theirs = sorted((x["kind"], x["ref"], x["saved_fen"]) for x in listed)
        if mine != theirs:
            why.append("the savings listed differ")
    return ("; ".join(why), lines) if why else None


def _row(env: Booked, reason: str, expected: int | None, lines: list) -> dict[str, Any]:
    b = env.body
    return {
        "sale_id": env.id,
        "store_id": env.store,
        "gateway_id": env.gateway,
        "receipt_no": b["receipt_no"],
        "promotions_version": (b.get("pricing") or {}).get("promotions_version"),
        "booked_total_fen": b["total_fen"],
        "expected_total_fen": expected,
        "reason": reason,
        "lines": lines,
        "found_at": utcnow(),
    }


def queue_sales(s: Session, envs: list[Envelope]) -> None:
    """In ingest's transaction: queue each booked sale for its price check."""
    now = utcnow()
    bulk_insert(
        s,
        PriceCheck.__table__,
        [
            {
                "sale_id": e.id,
                "store_id": e.store,
                "gateway_id": e.gateway,
                "occurred_at": e.occurred_at,
                "body": json.dumps(e.body, ensure_ascii=False),
                "queued_at": now,
            }
            for e in envs
        ],
    )


def run(db: Database, per_transaction: int = 500) -> dict[str, int]:
    """The pricing job: check every queued sale (oldest first, in chunks); the claim is the
    DELETE in the transaction that records the outcome."""
    checked = found = 0
    while True:
        with db.transaction() as s:
            oldest = (
                select(PriceCheck.sale_id)
                .order_by(PriceCheck.queued_at, PriceCheck.sale_id)
                .limit(per_transaction)
            )
            claimed = s.execute(
                delete(PriceCheck)
                .where(PriceCheck.sale_id.in_(oldest.scalar_subquery()))
                .returning(
                    PriceCheck.sale_id,
                    PriceCheck.store_id,
                    PriceCheck.gateway_id,
                    PriceCheck.occurred_at,
                    PriceCheck.body,
                )
            ).all()
            sales = sorted(
                (Booked(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in claimed),
                key=lambda b: (b.occurred_at, b.id),
            )
            found += recompute(s, sales)
        checked += len(sales)
        if len(sales) < per_transaction:
            return {"checked": checked, "differences": found}


def recompute(s: Session, envs: list[Booked]) -> int:
    """Recompute the sales, record and log the differences; returns how many were found."""
    seen: dict[Any, Promos] = {}
    rows = []
    for env in envs:
        try:
            with s.begin_nested():
                priced = reprice(s, env, seen)
            found = compare(env, priced)
            row = _row(env, found[0], priced.total_fen, found[1]) if found else None
        except Exception as err:  # never blocks booking; a database down is the pass's
            if _transient(err):
                raise
            why = str(err) if isinstance(err, Unpriceable | ValueError) else repr(err)
            row = _row(env, f"could not recompute: {why}", None, [])
        if row:
            rows.append(row)
            log.warning(
                "price difference on sale %s (store %s, receipt %s): booked %s fen, engine %s: %s",
                env.id,
                env.store,
                row["receipt_no"],
                row["booked_total_fen"],
                row["expected_total_fen"],
                row["reason"],
            )
    if rows:
        s.execute(insert(PriceDifference.__table__), rows)
    return len(rows)
