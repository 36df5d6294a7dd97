"""A booked sale as one reads it back: for GET /api/sales/{id} (hub/sales/router.py) and for a
lane returning a sale another store of the chain sold (RPC `sale.lookup`, hub/sales/rpc.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty.models import LedgerEntry
from hub.sales.models import Refund, Sale, SaleLine, SalePayment
from hub.sales.refunds import RefundInvalid, SaleNotHere
from protocols.money import fen_to_yuan
from protocols.refunds import is_sale_id


def summary(s: Sale) -> dict[str, Any]:
    """A sale's own row, as the sales lists show it."""
    return {
        "id": s.id,
        "store": s.store_id,
        "gateway": s.gateway_id,
        "seq": s.seq,
        "lane": s.lane,
        "cashier": s.cashier,
        "receipt_no": s.receipt_no,
        "business_day": s.business_day,
        "occurred_at": s.occurred_at,
        "total_fen": s.total_fen,
        "total": fen_to_yuan(s.total_fen),
        "discount_fen": s.discount_fen,
        "change_fen": s.change_fen,
        "refunded_fen": s.refunded_fen,
        "member_id": s.member_id,
        "coupons": s.coupons,
    }


def sale(s: Session, sale_id: str) -> dict[str, Any] | None:
    """The sale with its lines, payments and the refunds booked against it (at any store)."""
    row = s.get(Sale, sale_id)
    if row is None:
        return None
    lines = s.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(SaleLine.n))
    pays = s.scalars(
        select(SalePayment).where(SalePayment.sale_id == sale_id).order_by(SalePayment.n)
    )
    refunds = s.scalars(
        select(Refund)
        .where(Refund.sale_id == sale_id, Refund.status == "booked")
        .order_by(Refund.occurred_at, Refund.id)
    )
    return {
        **summary(row),
        "lines": [
            {
                "n": x.n,
                "sku": x.sku,
                "name": x.name,
                "category": x.category,
                "qty_milli": x.qty_milli,
                "unit_price_fen": x.unit_price_fen,
                "discount_fen": x.discount_fen,
                "total_fen": x.total_fen,
                "weighed": x.weighed,
                "refunded_qty_milli": x.refunded_qty_milli,
                "refunded_fen": x.refunded_fen,
            }
            for x in lines
        ],
        "payments": [{"tender": p.tender, "amount_fen": p.amount_fen, "ref": p.ref} for p in pays],
        "refunds": [
            {
                "id": r.id,
                "store": r.store_id,
                "total_fen": r.total_fen,
                "occurred_at": r.occurred_at,
                "reason": r.reason,
                "lines": r.lines,
                "payments": r.payments,  # per tender: what a later return may still give back
            }
            for r in refunds
        ],
    }


def for_return(s: Session, sale_id: str) -> dict[str, Any]:
    """What a lane's returns screen needs of a sale it did not sell: the sale as above, the
    points it earned its member (the ledger's, which refunds reverse in proportion), and what
    is left to return. SaleNotHere (404) or RefundInvalid (422, not a sale id)."""
    sale_id = sale_id.strip().lower()  # as typed from a receipt
    if not is_sale_id(sale_id):
        raise RefundInvalid(f"{sale_id[:40]!r} is not a sale id (the UUID on the receipt)")
    found = sale(s, sale_id)
    if found is None:
        raise SaleNotHere(f"sale {sale_id} is not at the hub (yet)")
    earned = s.scalars(
        select(LedgerEntry.points).where(
            LedgerEntry.source_id == sale_id, LedgerEntry.kind == "earn"
        )
    ).first()
    found["points_earned"] = earned or 0
    found["fen_left"] = found["total_fen"] - found["refunded_fen"]
    return found
