"""Stores and their gateways: list, create or change a store, see its gateways."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import In, errors
from hub.stores import service as stores
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


@router.get("/stores")
def list_stores(db: Db) -> dict[str, Any]:
    return {"stores": [stores.describe(s) for s in stores.stores(db)]}


@router.put("/stores/{store_id}")
def put_store(store_id: StoreId, body: StoreIn, db: Db) -> dict[str, Any]:
    """Create or change a store; its id is the path's."""
    if body.id is not None and body.id != store_id:
        raise HTTPException(422, "store id in the path and the body differ")
    with db.begin():
        store = stores.put(db, store_id, body.name, body.tz)
    return stores.describe(store)


@router.get("/stores/{store_id}")
def get_store(store_id: str, db: Db) -> dict[str, Any]:
    store = stores.get(db, store_id)
    count, total = stores.sales_so_far(db, store_id)
    return {**stores.describe(store), "sales_count": count, "sales_total_fen": total}


@router.get("/stores/{store_id}/gateways")
def list_gateways(store_id: str, db: Db) -> dict[str, Any]:
    return {"gateways": [stores.describe_gateway(g) for g in stores.gateways(db, store_id)]}
