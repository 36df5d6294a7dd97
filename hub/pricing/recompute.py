"""Every booked sale is priced again with the lane's engine (protocols/pricing), from the
promotions snapshot version the lane priced with (or the hub's current promotions when the
sale names none), the member terms and policy the sale carries (`pricing`) and the hub's own
coupon terms. A line or total the engine does not reproduce is a price difference: a row in
`price_differences` (GET /api/pricing/differences) and a log line. It never blocks booking:
the recompute runs in a savepoint, and whatever goes wrong in it becomes a difference with
the reason, except a database that is down (the pass is retried as a whole)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from hub.catalog import service as catalog
from hub.catalog.models import ConfigSnapshot
from hub.coupons import service as coupon_service
from hub.coupons.service import CouponError
from hub.db import utcnow
from hub.ingest.handlers import handles
from hub.pricing.models import PriceDifference
from protocols import pricing
from protocols.coupons import Terms
from protocols.envelope import Envelope

log = logging.getLogger(__name__)
_EVERY = datetime(2000, 1, 1, tzinfo=UTC)  # the engine picks by the sale's time, not the query
Promos = list[pricing.Promotion]


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


def reprice(s: Session, env: Envelope, seen: dict[Any, Promos]) -> pricing.Priced:
    """The sale as the engine prices it at the hub."""
    b = env.body
    how = b.get("pricing") or {}
    items = [
        pricing.Item(
            sku=ln["sku"],
            qty_milli=ln["qty_milli"],
            unit_price_fen=ln["unit_price_fen"],
            cost_fen=ln.get("cost_fen"),
            category=ln.get("category"),
            weighed=ln.get("weighed", False),
        )
        for ln in b["lines"]
    ]
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


def compare(env: Envelope, priced: pricing.Priced) -> tuple[str, list[dict[str, Any]]] | None:
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


def _row(env: Envelope, reason: str, expected: int | None, lines: list) -> dict[str, Any]:
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


@handles("sale.completed")
def recompute_sales(s: Session, envs: list[Envelope]) -> None:
    recompute(s, envs)


def recompute(s: Session, envs: list[Envelope]) -> int:
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
