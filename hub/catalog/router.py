from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.catalog import service as catalog
from hub.catalog.models import CatalogItem, Promotion, StorePrice
from hub.db import utcnow
from hub.deps import session
from hub.inputs import Fen, In, RowId, When, errors
from hub.stores.models import Store

router = APIRouter(tags=["catalog"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


_In = In
Text200 = Annotated[str, Field(max_length=200)]
Sku = Annotated[str, Path(min_length=1, max_length=200)]


class ItemIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    category: Text200 | None = None
    unit: Literal["piece", "kg"] = "piece"
    price_fen: Fen
    barcodes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = Field(
        default_factory=list
    )
    active: bool = True


class PriceIn(_In):
    price_fen: Fen


class PromotionIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    rule: dict[str, Any] = Field(default_factory=dict)
    stores: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)
    valid_from: When | None = None
    valid_until: When | None = None
    active: bool = True


class PublishIn(_In):
    stores: list[Annotated[str, Field(max_length=64)]] | None = None


@router.put("/catalog/items/{sku}")
def put_item(sku: Sku, body: ItemIn, db: Db) -> dict[str, Any]:
    with db.begin():
        item = db.get(CatalogItem, sku)
        if item is None:
            item = CatalogItem(sku=sku, **body.model_dump(), updated_at=utcnow())
            db.add(item)
        else:
            for k, v in body.model_dump().items():
                setattr(item, k, v)
            item.updated_at = utcnow()
        return {"sku": sku, **body.model_dump()}


@router.get("/catalog/items")
def items(db: Db) -> dict[str, Any]:
    with db.begin():
        return {
            "items": [
                {
                    "sku": i.sku,
                    "name": i.name,
                    "category": i.category,
                    "unit": i.unit,
                    "price_fen": i.price_fen,
                    "barcodes": i.barcodes,
                    "active": i.active,
                }
                for i in db.scalars(select(CatalogItem).order_by(CatalogItem.sku))
            ]
        }


@router.put("/stores/{store_id}/prices/{sku}")
def put_price(store_id: str, sku: Sku, body: PriceIn, db: Db) -> dict[str, Any]:
    """The store's own price for an item (else the chain's)."""
    with db.begin():
        if db.get(Store, store_id) is None:
            raise HTTPException(404, f"no store {store_id}")
        if db.get(CatalogItem, sku) is None:
            raise HTTPException(404, f"no catalog item {sku}")
        row = db.get(StorePrice, (store_id, sku))
        if row is None:
            db.add(StorePrice(store_id=store_id, sku=sku, price_fen=body.price_fen))
        else:
            row.price_fen = body.price_fen
        return {"store": store_id, "sku": sku, "price_fen": body.price_fen}


@router.post("/promotions", status_code=201)
def add_promotion(body: PromotionIn, db: Db) -> dict[str, Any]:
    with db.begin():
        p = Promotion(**body.model_dump())
        db.add(p)
        db.flush()
        return {"id": p.id, **body.model_dump()}


@router.put("/promotions/{promotion_id}")
def put_promotion(promotion_id: RowId, body: PromotionIn, db: Db) -> dict[str, Any]:
    with db.begin():
        p = db.get(Promotion, promotion_id)
        if p is None:
            raise HTTPException(404, f"no promotion {promotion_id}")
        for k, v in body.model_dump().items():
            setattr(p, k, v)
        return {"id": p.id, **body.model_dump()}


@router.post("/catalog/publish")
def publish(body: PublishIn, request: Request, db: Db) -> dict[str, Any]:
    """Build the changed snapshots now (all stores, or these) and publish what is new."""
    publish_fn = request.app.state.jobs.publisher()  # None while the hub has no broker connection
    with db.begin():  # one transaction, so the scheduled job cannot send what this one built
        made = [
            {"store": r.store_id, "kind": r.kind, "version": r.version}
            for r in catalog.refresh(db, body.stores)
        ]
        sent = catalog.publish_newest(db, publish_fn) if publish_fn else 0
    return {"new_versions": made, "published": sent, "connected": publish_fn is not None}


@router.get("/stores/{store_id}/snapshots")
def snapshots(store_id: str, db: Db) -> dict[str, Any]:
    """The versions the hub made for the store, and the ones its gateways report holding."""
    with db.begin():
        return catalog.overview(db, store_id)
