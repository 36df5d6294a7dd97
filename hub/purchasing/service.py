"""Purchasing: suppliers and their items, purchase orders along their lifecycle, receiving
goods against them (API or the store's `stock.received` event), the moving-average cost.

A PO moves only along `PO_NEXT`, by one conditional UPDATE on the state it leaves: of two
people sending and cancelling the same PO at once, exactly one wins, the other gets a 409.
Receiving locks the PO row first (FOR UPDATE; SQLite serialises writers anyway).

Moving-average cost, per store × SKU, in fen per unit (piece or kg):
    new = (old × on_hand + cost × received) / (on_hand + received), rounded half up to the fen,
where on_hand is the balance before the receipt, taken as 0 when negative (goods sold before
they were booked in carry no cost of their own). With no average yet, or nothing on hand, the
receipt's cost is the average."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.db import bulk_insert
from hub.purchasing.models import (
    PO_NEXT,
    Discrepancy,
    GoodsReceipt,
    PoLine,
    PurchaseOrder,
    StockCost,
    Supplier,
    SupplierItem,
)
from hub.stock import ledger
from hub.stock.ledger import Move, StockError, StockInvalid, StockNotFound
from hub.stores.models import Store

log = logging.getLogger(__name__)


def save_supplier(
    s: Session,
    supplier_id: str,
    name: str,
    lead_time_days: int,
    min_order_fen: int,
    items: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """Create or replace a supplier and its item list."""
    sup = s.get(Supplier, supplier_id)
    if sup is None:
        sup = Supplier(id=supplier_id, created_at=now)
        s.add(sup)
    sup.name, sup.lead_time_days, sup.min_order_fen = name, lead_time_days, min_order_fen
    s.flush()
    skus = [i["sku"] for i in items]
    if len(set(skus)) != len(skus):
        raise StockInvalid("an item is listed twice")
    s.execute(SupplierItem.__table__.delete().where(SupplierItem.supplier_id == supplier_id))
    if items:
        s.execute(insert(SupplierItem), [{"supplier_id": supplier_id, **i} for i in items])
    return supplier_view(s, supplier_id)


def supplier_view(s: Session, supplier_id: str) -> dict[str, Any]:
    sup = s.get(Supplier, supplier_id)
    if sup is None:
        raise StockNotFound(f"no supplier {supplier_id}")
    items = s.scalars(
        select(SupplierItem)
        .where(SupplierItem.supplier_id == supplier_id)
        .order_by(SupplierItem.sku)
    )
    return {
        "id": sup.id,
        "name": sup.name,
        "lead_time_days": sup.lead_time_days,
        "min_order_fen": sup.min_order_fen,
        "items": [
            {
                "sku": i.sku,
                "cost_fen": i.cost_fen,
                "pack_milli": i.pack_milli,
                "min_order_milli": i.min_order_milli,
            }
            for i in items
        ],
    }


def create_po(
    s: Session,
    supplier_id: str,
    store_id: str,
    lines: list[dict[str, Any]],
    now: datetime,
    po_id: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """A draft PO. Each line is a SKU the supplier sells, in whole packs, at least its
    minimum; the cost is the supplier's unless the line names one. Set-based (the nightly
    run drafts hundreds of lines a store): one SELECT of the supplier's terms, the PO and its
    lines inserted without ORM objects, the view built from what was written."""
    if s.get(Store, store_id) is None:
        raise StockInvalid(f"no store {store_id}")
    if s.get(Supplier, supplier_id) is None:
        raise StockInvalid(f"no supplier {supplier_id}")
    items = {
        sku: (pack, minimum, cost)
        for sku, pack, minimum, cost in s.execute(
            select(
                SupplierItem.sku,
                SupplierItem.pack_milli,
                SupplierItem.min_order_milli,
                SupplierItem.cost_fen,
            ).where(SupplierItem.supplier_id == supplier_id)
        )
    }
    rows = []
    for ln in lines:
        item = items.get(ln["sku"])
        if item is None:
            raise StockInvalid(f"{supplier_id} does not sell {ln['sku']}")
        pack, minimum, supplier_cost = item
        qty = ln["qty_milli"]
        if qty % pack:
            raise StockInvalid(f"{ln['sku']}: {qty} is not whole packs of {pack}")
        if qty < minimum:
            raise StockInvalid(f"{ln['sku']}: {qty} is below the minimum {minimum}")
        cost = ln.get("cost_fen")
        rows.append(
            {
                "sku": ln["sku"],
                "ordered_milli": qty,
                "cost_fen": supplier_cost if cost is None else cost,
            }
        )
    if len({r["sku"] for r in rows}) != len(rows):
        raise StockInvalid("a SKU is listed twice")
    po = {
        "id": po_id or str(uuid.uuid4()),
        "supplier_id": supplier_id,
        "store_id": store_id,
        "state": "draft",
        "created_at": now,
        "sent_at": None,
        "closed_at": None,
    }
    s.execute(insert(PurchaseOrder.__table__).values(**po, note=note))
    bulk_insert(s, PoLine.__table__, rows, same={"po_id": po["id"], "received_milli": 0})
    lines_out = [{**r, "received_milli": 0} for r in sorted(rows, key=lambda r: r["sku"])]
    return _view(po, lines_out, [])


def _value(lines: Iterable[tuple[int, int]]) -> int:
    """(ordered milli, cost fen per unit) per line → the PO's value, half up to the fen a line."""
    return sum((ordered * cost + 500) // 1000 for ordered, cost in lines)


def po_value_fen(s: Session, po_id: str) -> int:
    """What a PO is worth at its agreed costs (half up to the fen per line)."""
    return _value(
        s.execute(select(PoLine.ordered_milli, PoLine.cost_fen).where(PoLine.po_id == po_id)).all()
    )


def move_po(s: Session, po_id: str, to: str, now: datetime) -> dict[str, Any]:
    """Send or cancel a PO (receiving moves it through `receive`)."""
    if to not in ("sent", "cancelled"):
        raise StockInvalid(f"a PO is not moved to {to!r} by hand")
    po = s.get(PurchaseOrder, po_id)
    if po is None:
        raise StockNotFound(f"no purchase order {po_id}")
    if to == "sent":
        sup = s.get(Supplier, po.supplier_id)
        value = po_value_fen(s, po_id)
        if sup is not None and value < sup.min_order_fen:
            raise StockError(f"{value} fen is below {sup.id}'s minimum order {sup.min_order_fen}")
    _transition(s, po_id, to, now)
    return po_view(s, po_id)


def _transition(s: Session, po_id: str, to: str, now: datetime) -> None:
    sources = [k for k, nxt in PO_NEXT.items() if to in nxt]
    values: dict[str, Any] = {"state": to}
    if to == "sent":
        values["sent_at"] = now
    if to in ("received", "cancelled"):
        values["closed_at"] = now
    got = s.execute(
        update(PurchaseOrder)
        .where(PurchaseOrder.id == po_id, PurchaseOrder.state.in_(sources))
        .values(**values)
    )
    if got.rowcount != 1:
        state = s.scalar(select(PurchaseOrder.state).where(PurchaseOrder.id == po_id))
        raise StockError(f"purchase order {po_id} is {state}: it cannot become {to}")


def close_short(s: Session, po_id: str, now: datetime) -> dict[str, Any]:
    """Close a partly received PO: the rest is not coming; what is missing is `short`."""
    po = _lock_po(s, po_id)
    if po.state != "partly_received":
        raise StockError(
            f"purchase order {po_id} is {po.state}: only a partly received one closes short"
        )
    for ln in s.scalars(select(PoLine).where(PoLine.po_id == po_id)):
        if ln.received_milli < ln.ordered_milli:
            _discrepancy(s, None, po, ln.sku, "short", ln.ordered_milli - ln.received_milli, now)
    _transition(s, po_id, "received", now)
    return po_view(s, po_id)


def _lock_po(s: Session, po_id: str) -> PurchaseOrder:
    po = s.scalars(select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update()).first()
    if po is None:
        raise StockNotFound(f"no purchase order {po_id}")
    return po


def _discrepancy(
    s: Session,
    receipt: str | None,
    po: PurchaseOrder | None,
    sku: str,
    kind: str,
    qty: int,
    at: datetime,
    store: str | None = None,
) -> None:
    log.info("receiving discrepancy %s %s %s (PO %s)", kind, sku, qty, po.id if po else None)
    s.add(
        Discrepancy(
            receipt_id=receipt,
            po_id=po.id if po else None,
            store_id=po.store_id if po else store,
            sku=sku,
            kind=kind,
            qty_milli=qty,
            at=at,
        )
    )


def receive(
    s: Session,
    receipt_id: str,
    store: str,
    lines: list[dict[str, Any]],
    *,
    received_by: str,
    at: datetime,
    po_id: str | None = None,
    note: str = "",
    event_id: str | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Take a delivery into stock. `strict` (the API) refuses a PO that is not this store's
    or not open; from the store's event (`strict=False`) the goods are on the shelf whatever
    the books say, so they are booked and every line counts as not ordered instead."""
    have = s.get(GoodsReceipt, receipt_id)
    if have is not None:
        if have.store_id != store or have.po_id != po_id:
            raise StockError(f"receipt {receipt_id} is already booked for something else")
        return receipt_view(s, receipt_id)  # a retry
    po: PurchaseOrder | None = None
    if po_id is not None:
        po = s.scalars(
            select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update()
        ).first()
        why = None
        if po is None:
            why = f"no purchase order {po_id}"
        elif po.store_id != store:
            why = f"purchase order {po_id} is for store {po.store_id}"
        elif po.state not in ("sent", "partly_received"):
            why = f"purchase order {po_id} is {po.state}"
        if why:
            if strict:
                raise (StockNotFound if po is None else StockError)(why)
            log.warning(
                "goods received at %s against %s: %s; booked as not ordered", store, po_id, why
            )
            po = None
    s.add(
        GoodsReceipt(
            id=receipt_id,
            po_id=po.id if po else None,
            store_id=store,
            received_by=received_by,
            received_at=at,
            lines=lines,
            note=note,
        )
    )
    s.flush()
    po_lines = {}
    if po is not None:
        po_lines = {ln.sku: ln for ln in s.scalars(select(PoLine).where(PoLine.po_id == po.id))}
    before = ledger.balances(s, [(store, ln["sku"]) for ln in lines])
    moves = []
    for n, ln in enumerate(lines, 1):
        sku, qty, damaged = ln["sku"], ln["qty_milli"], ln.get("damaged_milli", 0)
        pl = po_lines.get(sku)
        if damaged:
            _discrepancy(s, receipt_id, po, sku, "damaged", damaged, at, store)
        if pl is None:
            if qty:
                _discrepancy(s, receipt_id, po, sku, "not_ordered", qty, at, store)
        else:
            over = min(qty, pl.received_milli + qty - pl.ordered_milli)
            if over > 0:
                _discrepancy(s, receipt_id, po, sku, "over", over, at, store)
            pl.received_milli += qty
        if qty:
            cost = ln.get("unit_cost_fen")
            if cost is None and pl is not None:
                cost = pl.cost_fen
            if cost is not None:
                b = before.get((store, sku))
                _average(s, store, sku, cost, qty, b.on_hand_milli if b else 0, at)
            moves.append(Move(store, sku, "received", qty, event_id, n, receipt_id))
    s.flush()
    ledger.post(s, moves, at)
    if po is not None:
        done = all(pl.received_milli >= pl.ordered_milli for pl in po_lines.values())
        _transition(s, po.id, "received" if done else "partly_received", at)
    return receipt_view(s, receipt_id)


def _average(
    s: Session, store: str, sku: str, cost: int, qty: int, on_hand: int, at: datetime
) -> None:
    row = s.get(StockCost, (store, sku), with_for_update=True)
    held = max(on_hand, 0)
    if row is None or held == 0:
        avg = cost
    else:
        num, den = row.avg_cost_fen * held + cost * qty, held + qty
        avg = (2 * num + den) // (2 * den)  # half up
    if row is None:
        s.add(StockCost(store_id=store, sku=sku, avg_cost_fen=avg, updated_at=at))
    else:
        row.avg_cost_fen, row.updated_at = avg, at


def po_view(s: Session, po_id: str) -> dict[str, Any]:
    po = s.get(PurchaseOrder, po_id)
    if po is None:
        raise StockNotFound(f"no purchase order {po_id}")
    lines = s.execute(
        select(PoLine.sku, PoLine.ordered_milli, PoLine.received_milli, PoLine.cost_fen)
        .where(PoLine.po_id == po_id)
        .order_by(PoLine.sku)
    )
    return _view(
        {c: getattr(po, c) for c in _PO_FIELDS},
        [dict(r._mapping) for r in lines],
        discrepancies(s, po_id=po_id),
    )


_PO_FIELDS = ("id", "supplier_id", "store_id", "state", "created_at", "sent_at", "closed_at")


def _view(
    po: dict[str, Any], lines: list[dict[str, Any]], found: list[dict[str, Any]]
) -> dict[str, Any]:
    """A PO as the API shows it: its fields (times in UTC), value and lines (by SKU)."""

    def iso(at: datetime | None) -> str | None:
        return at.astimezone(UTC).isoformat() if at else None

    return {
        "id": po["id"],
        "supplier_id": po["supplier_id"],
        "store_id": po["store_id"],
        "state": po["state"],
        "created_at": iso(po["created_at"]),
        "sent_at": iso(po["sent_at"]),
        "closed_at": iso(po["closed_at"]),
        "value_fen": _value((ln["ordered_milli"], ln["cost_fen"]) for ln in lines),
        "lines": [
            {k: ln[k] for k in ("sku", "ordered_milli", "received_milli", "cost_fen")}
            for ln in lines
        ],
        "discrepancies": found,
    }


def discrepancies(
    s: Session, *, po_id: str | None = None, receipt_id: str | None = None
) -> list[dict[str, Any]]:
    q = select(Discrepancy).order_by(Discrepancy.id)
    if po_id is not None:
        q = q.where(Discrepancy.po_id == po_id)
    if receipt_id is not None:
        q = q.where(Discrepancy.receipt_id == receipt_id)
    return [
        {"receipt_id": d.receipt_id, "sku": d.sku, "kind": d.kind, "qty_milli": d.qty_milli}
        for d in s.scalars(q)
    ]


def receipt_view(s: Session, receipt_id: str) -> dict[str, Any]:
    r = s.get(GoodsReceipt, receipt_id)
    if r is None:
        raise StockNotFound(f"no receipt {receipt_id}")
    return {
        "id": r.id,
        "po_id": r.po_id,
        "store_id": r.store_id,
        "received_by": r.received_by,
        "received_at": r.received_at.isoformat(),
        "lines": r.lines,
        "discrepancies": discrepancies(s, receipt_id=r.id),
    }


def avg_cost(s: Session, store: str, sku: str) -> int | None:
    row = s.get(StockCost, (store, sku))
    return row.avg_cost_fen if row else None
