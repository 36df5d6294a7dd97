"""Refunds never give back more than was sold, per line and per sale, whatever the order of
arrival and however many stores refund (docs/architecture.md, "Refunds").

- A refund of a known sale is checked against the sale's lines and total, less what is booked
  and what other lanes hold by claim; it is booked (per line and on the sale) or refused.
- A refund of a sale not here yet is held `unmatched` and checked when the sale arrives
  (`match_waiting`, from book_sales), oldest first.
- A refused refund is moved to refund_issues with its reason: the money left a till.
- Lanes claim online before paying out (`claim`): the claim counts against the sale until the
  refund carrying its id is booked, it is released, or it expires.

The sale row is locked (FOR UPDATE) by every path that reads what is left, so two passes or
two claims cannot both pass the check. A refund that finds no sale takes a SHARE lock on
sales (PostgreSQL) before deciding it is unmatched: that waits for the passes inserting sales
to commit, so a sale and its refund in two concurrent passes always meet. SQLite serialises
writers anyway (BEGIN IMMEDIATE)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.sales.models import Refund, RefundClaim, RefundIssue, Sale, SaleLine
from protocols.envelope import Envelope
from protocols.refunds import NoSuchLine, Refundable, Refusal, SoldLine, is_sale_id

log = logging.getLogger(__name__)

CLAIM_TTL_S = 3600  # a lane commits right after its claim; this covers a crash in between


class RefundError(Exception):
    """An online claim the hub refuses: it asks for more than is left, or its id is taken."""


class SaleNotHere(RefundError):
    """The sale is not at the hub (yet)."""


class RefundInvalid(RefundError):
    """The claim names no sale id, or a line or SKU the sale does not have."""


def _lock_sale(s: Session, sale_id: str) -> Any:
    return s.execute(
        select(Sale.id, Sale.total_fen, Sale.refunded_fen)
        .where(Sale.id == sale_id)
        .with_for_update()
    ).first()


def _refundable(s: Session, sale: Any, now: datetime, but_claim: str | None) -> Refundable:
    """The sale as booked, less the live claims other than `but_claim` (the sale row locked)."""
    lines = s.execute(
        select(
            SaleLine.n,
            SaleLine.sku,
            SaleLine.qty_milli,
            SaleLine.total_fen,
            SaleLine.refunded_qty_milli,
            SaleLine.refunded_fen,
        ).where(SaleLine.sale_id == sale.id)
    ).all()
    r = Refundable((SoldLine(*x) for x in lines), sale.total_fen, sale.refunded_fen)
    s.execute(
        delete(RefundClaim).where(RefundClaim.sale_id == sale.id, RefundClaim.expires_at < now)
    )
    for cid, shares in s.execute(
        select(RefundClaim.id, RefundClaim.shares).where(RefundClaim.sale_id == sale.id)
    ):
        if cid != but_claim:
            r.hold(shares)
    return r


def _count(s: Session, sale_id: str, shares: Sequence[tuple[int, int, int]]) -> None:
    """Book a refund's shares on its sale lines and the sale (the checks back this up)."""
    for n, qty, fen in shares:
        s.execute(
            update(SaleLine)
            .where(SaleLine.sale_id == sale_id, SaleLine.n == n)
            .values(
                refunded_qty_milli=SaleLine.refunded_qty_milli + qty,
                refunded_fen=SaleLine.refunded_fen + fen,
            )
        )
    s.execute(
        update(Sale)
        .where(Sale.id == sale_id)
        .values(refunded_fen=Sale.refunded_fen + sum(f for _, _, f in shares))
    )


def _issue(s: Session, row: dict[str, Any], reason: str) -> None:
    log.warning(
        "refund %s of sale %s from %s/%s refused: %s",
        row["id"],
        row["sale_id"],
        row["store_id"],
        row["gateway_id"],
        reason,
    )
    s.execute(insert(RefundIssue).values(**row, reason=reason[:500], found_at=utcnow()))


def _row(env: Envelope) -> dict[str, Any]:
    b = env.body
    return {
        "id": env.id,
        "sale_id": b["sale_id"],
        "store_id": env.store,
        "gateway_id": env.gateway,
        "lane": b["lane"],
        "cashier": b["cashier"],
        "occurred_at": env.occurred_at,
        "total_fen": b["total_fen"],
        "lines": b["lines"],
        "payments": b["payments"],
        "claim_id": b.get("claim_id"),
    }


def book(s: Session, envs: Iterable[Envelope]) -> None:
    """The sale.refunded handler's work: book, hold unmatched, or refuse each refund."""
    now = utcnow()
    for env in envs:
        row = _row(env)
        if not is_sale_id(row["sale_id"]):
            _issue(s, {**row, "sale_id": row["sale_id"][:200]}, "sale_id is not a sale id")
            continue
        sale = _lock_sale(s, row["sale_id"])
        if sale is None and s.get_bind().dialect.name == "postgresql":
            # wait for passes inserting sales right now: one may carry this refund's sale
            s.execute(text("LOCK TABLE sales IN SHARE MODE"))
            sale = _lock_sale(s, row["sale_id"])
        if sale is None:
            log.info("refund %s waits for its sale %s (not here yet)", env.id, row["sale_id"])
            s.execute(insert(Refund).values(**row, reason=env.body["reason"], status="unmatched"))
            continue
        try:
            shares = _refundable(s, sale, now, row["claim_id"]).take(row["lines"])
        except Refusal as err:
            _issue(s, row, err.reason)
            continue
        _count(s, sale.id, shares)
        if row["claim_id"]:  # spent (only a claim on this very sale)
            s.execute(
                delete(RefundClaim).where(
                    RefundClaim.id == row["claim_id"], RefundClaim.sale_id == sale.id
                )
            )
        s.execute(insert(Refund).values(**row, reason=env.body["reason"], status="booked"))


def match_waiting(s: Session, sale_ids: list[str]) -> None:
    """Sales just booked: check and book the refunds that arrived before them, oldest first;
    those that do not fit become issues."""
    if not sale_ids:
        return
    waiting = list(
        s.scalars(
            select(Refund)
            .where(Refund.sale_id.in_(sale_ids), Refund.status == "unmatched")
            .order_by(Refund.occurred_at, Refund.id)
            .with_for_update()
        )
    )
    now = utcnow()
    for r in waiting:
        sale = _lock_sale(s, r.sale_id)
        try:
            shares = _refundable(s, sale, now, None).take(r.lines)
        except Refusal as err:
            row = {
                c: getattr(r, c)
                for c in (
                    "id",
                    "sale_id",
                    "store_id",
                    "gateway_id",
                    "lane",
                    "cashier",
                    "occurred_at",
                    "total_fen",
                    "lines",
                    "payments",
                    "claim_id",
                )
            }
            s.execute(delete(Refund).where(Refund.id == r.id))
            _issue(s, row, f"on matching its sale: {err.reason}")
            continue
        _count(s, r.sale_id, shares)
        s.execute(update(Refund).where(Refund.id == r.id).values(status="booked"))
        log.info("refund %s matched its sale %s on arrival", r.id, r.sale_id)


# --- online claims (RPC refund.claim / refund.release) ---------------------------------------
def claim(
    s: Session,
    claim_id: str,
    sale_id: str,
    lines: list[dict[str, Any]],
    *,
    store: str,
    gateway: str,
    lane: str | None,
    ttl_s: int | None = None,
) -> dict[str, Any]:
    now = utcnow()
    if not is_sale_id(sale_id):
        raise RefundInvalid(f"{sale_id!r} is not a sale id")
    sale = _lock_sale(s, sale_id)
    if sale is None:
        raise SaleNotHere(f"sale {sale_id} is not at the hub (yet)")
    have = s.get(RefundClaim, claim_id)
    if have is not None:  # a retry: the same hold
        if have.sale_id != sale_id:
            raise RefundError(f"claim {claim_id} is for another sale")
        left = _refundable(s, sale, now, None)
        return _claimed(have, left)
    left = _refundable(s, sale, now, None)
    try:
        shares = left.take(lines)
    except NoSuchLine as err:
        raise RefundInvalid(err.reason) from None
    except Refusal as err:
        raise RefundError(err.reason) from None
    c = RefundClaim(
        id=claim_id,
        sale_id=sale_id,
        store_id=store,
        gateway_id=gateway,
        lane=lane,
        total_fen=sum(f for _, _, f in shares),
        shares=[list(x) for x in shares],
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s or CLAIM_TTL_S),
    )
    s.add(c)
    s.flush()
    return _claimed(c, left)


def _claimed(c: RefundClaim, left: Refundable) -> dict[str, Any]:
    return {
        "claim_id": c.id,
        "sale_id": c.sale_id,
        "total_fen": c.total_fen,
        "expires_at": c.expires_at.isoformat(),
        "left_after": left.left(),
    }


def release(s: Session, claim_id: str) -> dict[str, Any]:
    c = s.get(RefundClaim, claim_id)
    if c is None:
        return {"claim_id": claim_id, "released": False}
    _lock_sale(s, c.sale_id)
    s.execute(delete(RefundClaim).where(RefundClaim.id == claim_id))
    return {"claim_id": claim_id, "released": True}
