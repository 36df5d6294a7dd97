from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import In, errors
from hub.sales.models import Sale
from hub.stores.models import Gateway, Store
from protocols import topics

router = APIRouter(tags=["stores"], responses=errors(404))
Db = Annotated[Session, Depends(session)]


STORE_ID = topics.ID_PATTERN
StoreId = Annotated[str, Path(pattern=STORE_ID)]


class StoreIn(In):
    # the id is the path's; one given here too must be the same (older clients send it)
    id: Annotated[str, Field(pattern=STORE_ID)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    tz: Annotated[str, Field(max_length=64)] = "Asia/Shanghai"

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone {v!r}") from err
        return v


def _store(s: Store) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "tz": s.tz, "created_at": s.created_at}


@router.get("/stores")
def list_stores(db: Db) -> dict[str, Any]:
    return {"stores": [_store(s) for s in db.scalars(select(Store).order_by(Store.id))]}


@router.put("/stores/{store_id}")
def put_store(store_id: StoreId, body: StoreIn, db: Db) -> dict[str, Any]:
    """Create or change a store; its id is the path's."""
    if body.id is not None and body.id != store_id:
        raise HTTPException(422, "store id in the path and the body differ")
    with db.begin():
        store = db.get(Store, store_id)
        if store is None:
            store = Store(id=store_id, name=body.name, tz=body.tz)
            db.add(store)
        else:
            store.name, store.tz = body.name, body.tz
    return _store(store)


@router.get("/stores/{store_id}")
def get_store(store_id: str, db: Db) -> dict[str, Any]:
    store = db.get(Store, store_id)
    if store is None:
        raise HTTPException(404, f"no store {store_id}")
    count, total = db.execute(
        select(func.count(Sale.id), func.coalesce(func.sum(Sale.total_fen), 0)).where(
            Sale.store_id == store_id
        )
    ).one()
    return {**_store(store), "sales_count": count, "sales_total_fen": int(total)}


@router.get("/stores/{store_id}/gateways")
def list_gateways(store_id: str, db: Db) -> dict[str, Any]:
    rows = db.scalars(select(Gateway).where(Gateway.store_id == store_id).order_by(Gateway.id))
    return {
        "gateways": [
            {
                "id": g.id,
                "store": g.store_id,
                "last_seq": g.last_seq,
                "status": g.status,
                "status_at": g.status_at,
                "last_applied_at": g.last_applied_at,
            }
            for g in rows
        ]
    }
