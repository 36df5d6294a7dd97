"""The points mall (积分商城): goods, services and partner perks bought with points.

An order is one transaction: the member's account locked, the item's stock taken by a
conditional UPDATE (stock never below zero, however many buy the last one at once), the
per-member limit counted, the points debited, and for a perk a voucher code (or a coupon from
the item's template) issued. The order id is the client's key: placing it again returns it.
Cancelling gives the points and the stock back, once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.coupons import service as coupons
from hub.db import utcnow
from hub.loyalty.service import Ledger
from hub.mall.models import MallItem, MallOrder
from hub.members.service import survivor
from hub.members.survivors import resolve


class MallError(Exception):
    """The order cannot be placed, cancelled or fulfilled as asked (its state, a limit)."""


class MallNotFound(MallError):
    """No such item on sale, or no such order."""


class SoldOut(MallError):
    """The item's stock is gone."""


def place(
    s: Session,
    order_id: str,
    item_id: int,
    member_id: str,
    channel: str = "api",
    now: datetime | None = None,
) -> MallOrder:
    now = now or utcnow()
    owner = survivor(s, member_id)
    led = Ledger(s, now)
    led.lock([owner])  # accounts before items: the order every transaction locks in
    existing = s.get(MallOrder, order_id)
    if existing is not None:
        if existing.member_id != owner or existing.item_id != item_id:
            raise MallError(f"order id {order_id} is taken by another order")
        return existing
    item = s.get(MallItem, item_id)
    if item is None or not item.active:
        raise MallNotFound(f"no mall item {item_id} on sale")
    if item.per_member_limit is not None:
        had = s.execute(
            select(func.count())
            .select_from(MallOrder)
            .where(
                MallOrder.item_id == item_id,
                MallOrder.member_id == owner,
                MallOrder.status != "cancelled",
            )
        ).scalar_one()
        if had >= item.per_member_limit:
            raise MallError(f"limit of {item.per_member_limit} per member reached")
    if item.stock is not None:
        took = s.execute(
            update(MallItem)
            .where(MallItem.id == item_id, MallItem.stock > 0)
            .values(stock=MallItem.stock - 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if took != 1:
            raise SoldOut(f"{item.name} is sold out")
    led.debit(
        owner,
        "mall",
        item.points_price,
        source_type="mall_order",
        source_id=order_id,
        detail={"item": item_id, "name": item.name},
    )
    order = MallOrder(
        id=order_id,
        item_id=item_id,
        member_id=owner,
        points=item.points_price,
        status="placed",
        channel=channel,
        created_at=now,
    )
    if item.kind in ("service", "perk"):
        order.voucher = _voucher(s)
    s.add(order)
    if item.coupon_template_id is not None:
        got = coupons.issue(
            s, item.coupon_template_id, owner, source="mall", key=f"mall:{order_id}", now=now
        )
        order.coupon_code = got.coupon.code
    return order


def _voucher(s: Session) -> str:
    while True:
        v = "V" + secrets.token_hex(8).upper()
        if s.scalars(select(MallOrder.id).where(MallOrder.voucher == v)).first() is None:
            return v


def cancel(s: Session, order_id: str, now: datetime | None = None) -> MallOrder:
    now = now or utcnow()
    order = s.get(MallOrder, order_id)
    if order is None:
        raise MallNotFound(f"no mall order {order_id}")
    owner = resolve(s, [order.member_id]).get(order.member_id, order.member_id)
    led = Ledger(s, now)
    led.lock([owner])
    s.refresh(order, with_for_update=True)
    if order.status == "cancelled":
        return order
    if order.status == "fulfilled":
        raise MallError(f"order {order_id} is fulfilled; it cannot be cancelled")
    if order.coupon_code:
        coupons.void(s, order.coupon_code, f"mall order {order_id} cancelled")
    led.credit(
        owner,
        "mall_cancel",
        order.points,
        source_type="mall_order",
        source_id=order_id,
        detail={"item": order.item_id},
    )
    s.execute(
        update(MallItem)
        .where(MallItem.id == order.item_id, MallItem.stock.is_not(None))
        .values(stock=MallItem.stock + 1)
        .execution_options(synchronize_session=False)
    )
    order.status = "cancelled"
    order.settled_at = now
    return order


def fulfil(s: Session, order_id: str) -> MallOrder:
    order = s.get(MallOrder, order_id, with_for_update=True)
    if order is None:
        raise MallNotFound(f"no mall order {order_id}")
    if order.status == "cancelled":
        raise MallError(f"order {order_id} was cancelled")
    if order.status == "placed":
        order.status = "fulfilled"
        order.settled_at = utcnow()
    return order


def items(s: Session) -> list[MallItem]:
    return list(s.scalars(select(MallItem).order_by(MallItem.id)))


def add_item(s: Session, fields: dict[str, Any]) -> MallItem:
    item = MallItem(**fields)
    s.add(item)
    s.flush()
    return item


def change_item(s: Session, item_id: int, fields: dict[str, Any]) -> MallItem:
    item = s.get(MallItem, item_id, with_for_update=True)
    if item is None:
        raise MallNotFound(f"no mall item {item_id}")
    for k, v in fields.items():
        setattr(item, k, v)
    return item


def describe_item(i: MallItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "kind": i.kind,
        "partner": i.partner,
        "points_price": i.points_price,
        "stock": i.stock,
        "per_member_limit": i.per_member_limit,
        "coupon_template_id": i.coupon_template_id,
        "active": i.active,
    }


def describe_order(o: MallOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "item_id": o.item_id,
        "member_id": o.member_id,
        "points": o.points,
        "status": o.status,
        "voucher": o.voucher,
        "coupon_code": o.coupon_code,
        "channel": o.channel,
        "created_at": o.created_at,
        "settled_at": o.settled_at,
    }
