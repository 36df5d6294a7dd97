"""Purchasing API: suppliers and their items, purchase orders (create, send, cancel, close
short), goods receipts against a PO or without one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.deps import session
from hub.inputs import Fen, In, errors
from hub.purchasing import service as purchasing
from hub.stock.inputs import Count, Note, Person, Qty, Sku, StoreId, Uuid

router = APIRouter(tags=["purchasing"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]
SupplierId = Annotated[str, Field(min_length=1, max_length=64)]


class SupplierItemIn(In):
    sku: Sku
    cost_fen: Fen
    pack_milli: Qty = 1000
    min_order_milli: Count = 0


class SupplierIn(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    lead_time_days: Annotated[int, Field(ge=0, le=365)]
    min_order_fen: Fen = 0
    items: Annotated[list[SupplierItemIn], Field(max_length=10_000)] = Field(default_factory=list)


@router.put("/suppliers/{supplier_id}")
def put_supplier(supplier_id: SupplierId, body: SupplierIn, db: Db) -> dict[str, Any]:
    with db.begin():
        items = [i.model_dump() for i in body.items]
        return purchasing.save_supplier(
            db, supplier_id, body.name, body.lead_time_days, body.min_order_fen, items, utcnow()
        )


@router.get("/suppliers/{supplier_id}")
def get_supplier(supplier_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return purchasing.supplier_view(db, supplier_id)


class PoLineIn(In):
    sku: Sku
    qty_milli: Qty
    cost_fen: Fen | None = None  # the supplier's when absent


class PoIn(In):
    id: Uuid | None = None
    supplier_id: SupplierId
    store_id: StoreId
    lines: Annotated[list[PoLineIn], Field(min_length=1, max_length=500)]
    note: Note = ""


@router.post("/purchase-orders", status_code=201)
def create_po(body: PoIn, db: Db) -> dict[str, Any]:
    """A draft: lines in whole packs, at least each item's minimum."""
    with db.begin():
        lines = [x.model_dump() for x in body.lines]
        return purchasing.create_po(
            db, body.supplier_id, body.store_id, lines, utcnow(), body.id, body.note
        )


@router.get("/purchase-orders/{po_id}")
def get_po(po_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return purchasing.po_view(db, po_id)


@router.post("/purchase-orders/{po_id}/send")
def send_po(po_id: str, db: Db) -> dict[str, Any]:
    """draft → sent (at least the supplier's minimum order value)."""
    with db.begin():
        return purchasing.move_po(db, po_id, "sent", utcnow())


@router.post("/purchase-orders/{po_id}/cancel")
def cancel_po(po_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return purchasing.move_po(db, po_id, "cancelled", utcnow())


@router.post("/purchase-orders/{po_id}/close")
def close_po(po_id: str, db: Db) -> dict[str, Any]:
    """A partly received PO closed: what is missing is recorded as short."""
    with db.begin():
        return purchasing.close_short(db, po_id, utcnow())


class ReceiptLineIn(In):
    sku: Sku
    qty_milli: Count
    damaged_milli: Count = 0
    unit_cost_fen: Fen | None = None


class ReceiptIn(In):
    receipt_id: Uuid | None = None  # the same id again returns the first receipt
    store_id: StoreId
    po_id: Uuid | None = None
    received_by: Person
    lines: Annotated[list[ReceiptLineIn], Field(min_length=1, max_length=500)]
    note: Note = ""


@router.post("/receipts", status_code=201)
def receive(body: ReceiptIn, db: Db) -> dict[str, Any]:
    """Goods taken in: stock moves, the PO advances, discrepancies are recorded."""
    lines = [x.model_dump() for x in body.lines]
    if len({x["sku"] for x in lines}) != len(lines):
        raise HTTPException(422, "a SKU is listed twice")
    with db.begin():
        return purchasing.receive(
            db,
            body.receipt_id or str(uuid.uuid4()),
            body.store_id,
            lines,
            received_by=body.received_by,
            at=utcnow(),
            po_id=body.po_id,
            note=body.note,
        )


@router.get("/receipts/{receipt_id}")
def get_receipt(receipt_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return purchasing.receipt_view(db, receipt_id)
