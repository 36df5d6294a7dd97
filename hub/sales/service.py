"""Books sales, refunds and shift closes from the stores' events, in bulk: a batch of a few
hundred sales is a handful of multi-row INSERTs, not an object graph."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.db import bulk_insert
from hub.sales import refunds
from hub.sales.models import Sale, SaleLine, SalePayment, ShiftClose
from protocols.envelope import Envelope


def book_sales(session: Session, envs: list[Envelope]) -> None:
    sales: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for env in envs:
        b = env.body
        sales.append(
            {
                "id": env.id,
                "store_id": env.store,
                "gateway_id": env.gateway,
                "seq": env.seq,
                "lane": b["lane"],
                "cashier": b["cashier"],
                "receipt_no": b["receipt_no"],
                "business_day": date.fromisoformat(b["business_day"]),
                "occurred_at": env.occurred_at,
                "total_fen": b["total_fen"],
                "change_fen": b["change_fen"],
                "discount_fen": sum(d["amount_fen"] for d in b["discounts"]),
                "member_id": b["member_id"],
                "coupons": b["coupons"],
                "refunded_fen": 0,
            }
        )
        lines.extend(
            {
                "sale_id": env.id,
                "n": n,
                "sku": ln["sku"],
                "name": ln["name"],
                "category": ln["category"],
                "qty_milli": ln["qty_milli"],
                "unit_price_fen": ln["unit_price_fen"],
                "discount_fen": ln["discount_fen"],
                "total_fen": ln["total_fen"],
                "weighed": ln["weighed"],
            }
            for n, ln in enumerate(b["lines"], 1)
        )
        payments.extend(
            {
                "sale_id": env.id,
                "n": n,
                "tender": p["tender"],
                "amount_fen": p["amount_fen"],
                "ref": p["ref"],
            }
            for n, p in enumerate(b["payments"], 1)
        )
    bulk_insert(session, Sale.__table__, sales)
    bulk_insert(session, SaleLine.__table__, lines)
    bulk_insert(session, SalePayment.__table__, payments)
    # refunds that overtook their sale (another store's, while this gateway was away)
    refunds.match_waiting(session, [env.id for env in envs])


def book_refunds(session: Session, envs: list[Envelope]) -> None:
    refunds.book(session, envs)


def book_shift_closes(session: Session, envs: list[Envelope]) -> None:
    session.execute(
        insert(ShiftClose.__table__),
        [
            {
                "id": env.id,
                "store_id": env.store,
                "gateway_id": env.gateway,
                "shift_id": env.body["shift_id"],
                "lane": env.body["lane"],
                "cashier": env.body["cashier"],
                "opened_at": datetime.fromisoformat(env.body["opened_at"]),
                "closed_at": datetime.fromisoformat(env.body["closed_at"]),
                "sales_count": env.body["sales_count"],
                "sales_fen": env.body["sales_fen"],
                "refunds_fen": env.body["refunds_fen"],
                "tenders": env.body["tenders"],
            }
            for env in envs
        ],
    )
