"""What stock looks like, for people and for the planning that comes next (forecast,
replenishment): the position per store × SKU — on hand, reserved, available, on order (open
POs), in transit (transfers coming in), moving-average cost — and the daily demand series."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.purchasing.models import PoLine, PurchaseOrder, StockCost
from hub.stock.models import DailyDemand, StockBalance, StockMove, Transfer, TransferLine

OPEN_PO = ("sent", "partly_received")


def positions(s: Session, store: str, skus: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per SKU the store has a balance, an open PO or a transfer coming in for."""
    pos: dict[str, dict[str, int]] = defaultdict(dict)

    def only(q: Any, col: Any) -> Any:
        return q.where(col.in_(skus)) if skus else q

    for sku, oh, res in s.execute(
        only(
            select(StockBalance.sku, StockBalance.on_hand_milli, StockBalance.reserved_milli).where(
                StockBalance.store_id == store
            ),
            StockBalance.sku,
        )
    ):
        pos[sku].update(on_hand_milli=oh, reserved_milli=res)
    for sku, q in s.execute(
        only(
            select(PoLine.sku, func.sum(PoLine.ordered_milli - PoLine.received_milli))
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.po_id)
            .where(
                PurchaseOrder.store_id == store,
                PurchaseOrder.state.in_(OPEN_PO),
                PoLine.received_milli < PoLine.ordered_milli,
            )
            .group_by(PoLine.sku),
            PoLine.sku,
        )
    ):
        pos[sku]["on_order_milli"] = int(q)
    for sku, q in s.execute(
        only(
            select(TransferLine.sku, func.sum(TransferLine.qty_milli))
            .join(Transfer, Transfer.id == TransferLine.transfer_id)
            .where(Transfer.to_store == store, Transfer.state == "in_transit")
            .group_by(TransferLine.sku),
            TransferLine.sku,
        )
    ):
        pos[sku]["in_transit_milli"] = int(q)
    costs = dict(
        s.execute(
            only(
                select(StockCost.sku, StockCost.avg_cost_fen).where(StockCost.store_id == store),
                StockCost.sku,
            )
        ).all()
    )
    out = []
    for sku in sorted(pos):
        p = pos[sku]
        oh, res = p.get("on_hand_milli", 0), p.get("reserved_milli", 0)
        out.append(
            {
                "sku": sku,
                "on_hand_milli": oh,
                "reserved_milli": res,
                "available_milli": oh - res,
                "on_order_milli": p.get("on_order_milli", 0),
                "in_transit_milli": p.get("in_transit_milli", 0),
                "avg_cost_fen": costs.get(sku),
            }
        )
    return out


def daily_demand(
    s: Session, store: str | None, since: date, until: date, sku: str | None = None
) -> list[dict[str, Any]]:
    """Net units sold per store × SKU × store-local business day, oldest first; days with no
    sale have no row (the forecast fills them with zero)."""
    q = select(DailyDemand).where(DailyDemand.day >= since, DailyDemand.day <= until)
    if store:
        q = q.where(DailyDemand.store_id == store)
    if sku:
        q = q.where(DailyDemand.sku == sku)
    return [
        {
            "store_id": d.store_id,
            "sku": d.sku,
            "day": d.day.isoformat(),
            "sold_milli": d.sold_milli,
            "refunded_milli": d.refunded_milli,
            "net_milli": d.sold_milli - d.refunded_milli,
        }
        for d in s.scalars(q.order_by(DailyDemand.store_id, DailyDemand.sku, DailyDemand.day))
    ]


def moves(s: Session, store: str, sku: str, limit: int = 200) -> list[dict[str, Any]]:
    q = (
        select(StockMove)
        .where(StockMove.store_id == store, StockMove.sku == sku)
        .order_by(StockMove.at.desc(), StockMove.move_id.desc(), StockMove.n.desc())
        .limit(limit)
    )
    return [
        {
            "kind": m.kind,
            "qty_milli": m.qty_milli,
            "move_id": m.move_id,
            "ref": m.ref,
            "at": m.at.isoformat(),
        }
        for m in s.scalars(q)
    ]
