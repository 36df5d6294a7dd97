from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog import service as catalog
from hub.catalog.models import CatalogItem, Promotion, StorePrice
from hub.db import utcnow
from hub.deps import Actor, session
from hub.inputs import Fen, In, RowId, When, errors
from hub.stores.models import Store
from protocols.pricing import rules as pricing_rules

log = logging.getLogger(__name__)
# the OpenAPI shows one schema per kind for `rule`, generated from the engine's own types
RULE_SCHEMAS = pricing_rules.json_schemas()

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
    cost_fen: Fen | None = None  # per unit: the pricing engine's margin floor
    barcodes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = Field(
        default_factory=list
    )
    active: bool = True


class PriceIn(_In):
    price_fen: Fen


class PromotionIn(_In):
    """A typed promotion: `rule` holds the fields of `kind`'s rule, validated by the pricing
    engine's own types (protocols/pricing/rules.py; the schemas per kind are in the OpenAPI
    under `rule`). A rule the engine cannot evaluate is refused (422) with the reason."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal[pricing_rules.KINDS]  # type: ignore[valid-type]
    rule: Annotated[dict[str, Any], Field(json_schema_extra=RULE_SCHEMAS)] = Field(
        default_factory=dict
    )
    group: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="mutually exclusive with the other promotions of its group"
    )
    stores: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)
    valid_from: When | None = None
    valid_until: When | None = None
    active: bool = True

    def typed(self) -> dict[str, Any]:
        """The row's values, the rule as the engine reads it; HTTP 422 with the reason if
        the engine cannot evaluate it."""
        try:
            rule = pricing_rules.rule_fields(pricing_rules.check_rule(self.kind, self.rule))
        except pricing_rules.RuleError as err:
            log.warning("promotion %r refused: %s", self.name, err)
            raise HTTPException(422, str(err)) from None
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise HTTPException(422, "valid_until must be after valid_from")
        out = self.model_dump(exclude={"group"})
        return {**out, "rule": rule, "exclusive_group": self.group}


def _promotion(p: Promotion) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "rule": p.rule,
        "group": p.exclusive_group,
        "stores": p.stores,
        "valid_from": p.valid_from,
        "valid_until": p.valid_until,
        "active": p.active,
    }


class PublishIn(_In):
    stores: list[Annotated[str, Field(max_length=64)]] | None = None


@router.put("/catalog/items/{sku}")
def put_item(sku: Sku, body: ItemIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        item = db.get(CatalogItem, sku)
        before = {k: getattr(item, k) for k in body.model_dump()} if item else None
        if item is None:
            item = CatalogItem(sku=sku, **body.model_dump(), updated_at=utcnow())
            db.add(item)
        else:
            for k, v in body.model_dump().items():
                setattr(item, k, v)
            item.updated_at = utcnow()
        audit.record(db, who, "catalog.item", sku, before, body.model_dump())
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
                    "cost_fen": i.cost_fen,
                    "active": i.active,
                }
                for i in db.scalars(select(CatalogItem).order_by(CatalogItem.sku))
            ]
        }


@router.put("/stores/{store_id}/prices/{sku}")
def put_price(store_id: str, sku: Sku, body: PriceIn, db: Db, who: Actor) -> dict[str, Any]:
    """The store's own price for an item (else the chain's)."""
    with db.begin():
        if db.get(Store, store_id) is None:
            raise HTTPException(404, f"no store {store_id}")
        if db.get(CatalogItem, sku) is None:
            raise HTTPException(404, f"no catalog item {sku}")
        row = db.get(StorePrice, (store_id, sku))
        before = {"price_fen": row.price_fen} if row else None
        if row is None:
            db.add(StorePrice(store_id=store_id, sku=sku, price_fen=body.price_fen))
        else:
            row.price_fen = body.price_fen
        after = {"price_fen": body.price_fen}
        audit.record(db, who, "catalog.store_price", f"{store_id}/{sku}", before, after)
        return {"store": store_id, "sku": sku, "price_fen": body.price_fen}


@router.post("/promotions", status_code=201, responses=errors(422))
def add_promotion(body: PromotionIn, db: Db, who: Actor) -> dict[str, Any]:
    values = body.typed()
    with db.begin():
        p = Promotion(**values)
        db.add(p)
        db.flush()
        audit.record(db, who, "promotion", str(p.id), None, _promotion(p))
        return _promotion(p)


@router.put("/promotions/{promotion_id}", responses=errors(422))
def put_promotion(promotion_id: RowId, body: PromotionIn, db: Db, who: Actor) -> dict[str, Any]:
    values = body.typed()
    with db.begin():
        p = db.get(Promotion, promotion_id)
        if p is None:
            raise HTTPException(404, f"no promotion {promotion_id}")
        before = _promotion(p)
        for k, v in values.items():
            setattr(p, k, v)
        audit.record(db, who, "promotion", str(promotion_id), before, _promotion(p))
        return _promotion(p)


@router.get("/promotions")
def list_promotions(db: Db) -> dict[str, Any]:
    with db.begin():
        return {
            "promotions": [
                _promotion(p) for p in db.scalars(select(Promotion).order_by(Promotion.id))
            ]
        }


@router.post("/catalog/publish")
def publish(body: PublishIn, request: Request, db: Db, who: Actor) -> dict[str, Any]:
    """Build the changed snapshots now (all stores, or these) and publish what is new."""
    publish_fn = request.app.state.jobs.publisher()  # None while the hub has no broker connection
    with db.begin():
        made = [
            {"store": r.store_id, "kind": r.kind, "version": r.version}
            for r in catalog.refresh(db, body.stores)
        ]
        if made:  # configuration for the stores' gateways (prices, promotions, tiers)
            audit.record(db, who, "config.publish", ",".join(body.stores or ["*"]), None, made)
    sent = 0
    if publish_fn:
        with db.begin():  # after the commit (catalog.publish_newest); the scheduled job may
            catalog.publish_newest(db, publish_fn)  # have sent some already: count them all
            sent = catalog.published_count(db, made)
    return {"new_versions": made, "published": sent, "connected": publish_fn is not None}


@router.get("/stores/{store_id}/snapshots")
def snapshots(store_id: str, db: Db) -> dict[str, Any]:
    """The versions the hub made for the store, and the ones its gateways report holding."""
    with db.begin():
        return catalog.overview(db, store_id)
