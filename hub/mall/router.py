"""The points mall's API: items on sale for points, orders placed, cancelled, fulfilled."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import INT32, In, Points, RowId, errors
from hub.mall import service as mall
from transport.ids import new_id

router = APIRouter(tags=["loyalty"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]
Count = Annotated[int, Field(ge=0, le=INT32[1])]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class ItemIn(In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["goods", "service", "perk"]
    partner: Annotated[str, Field(max_length=200)] | None = None
    points_price: Annotated[Points, Field(gt=0)]
    stock: Annotated[Points, Field(ge=0)] | None = None
    per_member_limit: Annotated[Count, Field(gt=0)] | None = None
    coupon_template_id: Annotated[Count, Field(gt=0)] | None = None
    active: bool = True


class OrderIn(In):
    item_id: Annotated[Count, Field(gt=0)]
    member_id: Id
    order_id: Annotated[str, Field(min_length=8, max_length=64)] | None = None
    channel: Literal["api", "mini_program", "lane"] = "api"


@router.get("/mall/items")
def items(db: Db) -> dict[str, Any]:
    with db.begin():
        return {"items": [mall.describe_item(i) for i in mall.items(db)]}


@router.post("/mall/items", status_code=201)
def add_item(body: ItemIn, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_item(mall.add_item(db, body.model_dump()))


@router.put("/mall/items/{item_id}")
def put_item(item_id: RowId, body: ItemIn, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_item(mall.change_item(db, item_id, body.model_dump()))


@router.post("/mall/orders", status_code=201)
def order(body: OrderIn, db: Db) -> dict[str, Any]:
    with db.begin():
        o = mall.place(db, body.order_id or new_id(), body.item_id, body.member_id, body.channel)
        return mall.describe_order(o)


@router.post("/mall/orders/{order_id}/cancel")
def cancel(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_order(mall.cancel(db, order_id))


@router.post("/mall/orders/{order_id}/fulfil")
def fulfil(order_id: str, db: Db) -> dict[str, Any]:
    with db.begin():
        return mall.describe_order(mall.fulfil(db, order_id))
