"""Pickup API: an online order holds its goods in a store, is cancelled, or expires (the job;
`POST /pickups/expire` runs it now)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.deps import session
from hub.inputs import In, errors
from hub.pickup import service as pickup
from hub.stock.inputs import QtyLine, StoreId, Uuid, one_per_sku

router = APIRouter(prefix="/pickups", tags=["pickup"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


class PickupIn(In):
    order_id: Uuid
    store_id: StoreId
    lines: Annotated[list[QtyLine], Field(min_length=1, max_length=500)]
    hold_s: Annotated[int, Field(gt=0, le=30 * 86400)] | None = None  # default 48 h
    member_id: Uuid | None = None


@router.post("", status_code=201)
def reserve(body: PickupIn, db: Db) -> dict[str, Any]:
    """Hold the goods in the store, all lines or none (409 when one is not available)."""
    try:
        lines = one_per_sku(body.lines)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    with db.begin():
        return pickup.reserve(
            db,
            body.order_id,
            body.store_id,
            lines,
            utcnow(),
            hold_s=body.hold_s,
            member_id=body.member_id,
        )


@router.post("/expire")
def expire(db: Db) -> dict[str, Any]:
    with db.begin():
        return {"expired": pickup.expire(db, utcnow())}


@router.get("/{order_id}")
def get(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return pickup.view(db, order_id)


@router.post("/{order_id}/cancel")
def cancel(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return pickup.cancel(db, order_id, utcnow())
