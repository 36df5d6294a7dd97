"""Stock API: positions per store, a SKU's moves, alerts, the ledger check, stocktakes and
their variance, write-offs, transfers, the daily demand, back-in-stock subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.deps import session
from hub.inputs import Day, In, errors
from hub.members.models import Member
from hub.stock import ledger, reads, restock, service
from hub.stock.inputs import (
    Count,
    Person,
    Qty,
    QtyLine,
    Sku,
    SkuPath,
    StoreId,
    StorePath,
    Uuid,
    one_per_sku,
)

router = APIRouter(prefix="/stock", tags=["stock"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


@router.get("/stores/{store}")
def positions(
    store: StorePath,
    db: Db,
    sku: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """On hand, reserved, available, on order and in transit per SKU (milli-units): every
    SKU the store has, or the one named."""
    with db.begin():
        return {"store_id": store, "levels": reads.positions(db, store, [sku] if sku else None)}


@router.get("/stores/{store}/skus/{sku}/moves")
def moves(
    store: StorePath, sku: SkuPath, db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    with db.begin():
        return {"store_id": store, "sku": sku, "moves": reads.moves(db, store, sku, limit)}


@router.get("/alerts")
def alerts(db: Db, store: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """Open alerts: negative on hand, more reserved than on hand."""
    with db.begin():
        return {"alerts": ledger.open_alerts(db, store)}


@router.get("/check")
def check(db: Db, store: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """Balances against the ledger (sum of moves): `ok` with no mismatches."""
    with db.begin():
        bad = ledger.verify(db, store)
    return {"ok": not bad, "mismatches": bad}


class CountLine(In):
    sku: Sku
    counted_milli: Count


class StocktakeIn(In):
    count_id: Uuid | None = None
    counted_by: Person
    lines: Annotated[list[CountLine], Field(min_length=1, max_length=500)]

    @field_validator("lines")
    @classmethod
    def _once(cls, v: list[CountLine]) -> list[CountLine]:
        if len({x.sku for x in v}) != len(v):
            raise ValueError("a SKU is listed twice")
        return v


@router.post("/stores/{store}/stocktakes", status_code=201)
def stocktake(store: StorePath, body: StocktakeIn, db: Db) -> dict[str, Any]:
    """Counted quantities become on hand; the answer is the variance report."""
    cid = body.count_id or str(uuid.uuid4())
    with db.begin():
        service.require_store(db, store)
        lines = [x.model_dump() for x in body.lines]
        report = service.stocktake(db, cid, store, lines, counted_by=body.counted_by, at=utcnow())
    return {"count_id": cid, "lines": report}


@router.get("/stocktakes/{count_id}")
def variance(count_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        report = service.variance(db, count_id)
    if not report:
        raise HTTPException(404, f"no stocktake {count_id}")
    return {"count_id": count_id, "lines": report}


class WriteOffIn(In):
    sku: Sku
    kind: Literal["damage", "loss"]
    qty_milli: Qty
    ref: Uuid | None = None  # the write-off's id: the same again is refused, not booked twice


@router.post("/stores/{store}/write-offs", status_code=201)
def write_off(store: StorePath, body: WriteOffIn, db: Db) -> dict[str, Any]:
    ref = body.ref or str(uuid.uuid4())
    with db.begin():
        return {
            "ref": ref,
            **service.write_off(db, store, body.sku, body.kind, body.qty_milli, utcnow(), ref),
        }


class TransferIn(In):
    id: Uuid | None = None
    from_store: StoreId
    to_store: StoreId
    lines: Annotated[list[QtyLine], Field(min_length=1, max_length=500)]


class TransferReceiveIn(In):
    lines: Annotated[list[QtyLine], Field(max_length=500)] | None = None  # default: all sent


@router.post("/transfers", status_code=201)
def send_transfer(body: TransferIn, db: Db) -> dict[str, Any]:
    """Out of the sender's stock now; in transit until the receiver books it."""
    try:
        lines = one_per_sku(body.lines)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    with db.begin():
        return service.send_transfer(db, body.from_store, body.to_store, lines, utcnow(), body.id)


@router.post("/transfers/{transfer_id}/receive")
def receive_transfer(transfer_id: str, body: TransferReceiveIn, db: Db) -> dict[str, Any]:
    try:
        got = one_per_sku(body.lines) if body.lines is not None else None
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    with db.begin():
        return service.receive_transfer(db, transfer_id, utcnow(), got)


@router.get("/transfers/{transfer_id}")
def transfer(transfer_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return service.transfer_view(db, transfer_id)


@router.get("/demand")
def demand(
    db: Db,
    since: Day,
    until: Day,
    store: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Net units sold per store × SKU × business day (the forecast's input)."""
    if until < since or (until - since).days > 800:
        raise HTTPException(422, "since..until must be in order and at most 800 days")
    with db.begin():
        return {"days": reads.daily_demand(db, store, since, until, sku)}


class SubscribeIn(In):
    member_id: Uuid
    channel: Literal["sms", "wechat", "push"] = "sms"


@router.post("/stores/{store}/skus/{sku}/subscriptions", status_code=201)
def subscribe(store: StorePath, sku: SkuPath, body: SubscribeIn, db: Db) -> dict[str, Any]:
    """A member asks to be told when the SKU is back in this store (told once, then the
    subscription ends)."""
    with db.begin():
        if db.get(Member, body.member_id) is None:
            raise HTTPException(404, f"no member {body.member_id}")
        service.require_store(db, store)
        restock.subscribe(db, body.member_id, store, sku, body.channel, utcnow())
    return {"member_id": body.member_id, "store_id": store, "sku": sku, "channel": body.channel}
