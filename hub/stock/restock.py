"""Back in stock: when goods received (or a transfer in) make a SKU available again in a store
where nothing was available, the members who asked to be told (their subscription, then
removed) and the members who bought it there recently are queued a notice, once each per
restock (the outbox's unique key `restock:<restock id>:<member>`). Sending, consent and quiet
hours are the outbox's (hub/notify/outbox.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hub.notify import outbox
from hub.sales.models import Sale, SaleLine
from hub.stock.models import Restock, RestockSubscription

RECENT_BUYERS_DAYS = 30
TEMPLATE = "back_in_stock"


def detected(s: Session, keys: list[tuple[str, str]], at: datetime) -> None:
    for store, sku in keys:
        rid = s.execute(
            insert(Restock).values(store_id=store, sku=sku, at=at).returning(Restock.id)
        ).scalar_one()
        subs = s.execute(
            select(RestockSubscription.member_id, RestockSubscription.channel).where(
                RestockSubscription.store_id == store, RestockSubscription.sku == sku
            )
        ).all()
        buyers = s.scalars(
            select(Sale.member_id)
            .join(SaleLine, SaleLine.sale_id == Sale.id)
            .where(
                Sale.store_id == store,
                SaleLine.sku == sku,
                Sale.member_id.is_not(None),
                Sale.occurred_at >= at - timedelta(days=RECENT_BUYERS_DAYS),
            )
            .distinct()
        ).all()
        asked = {m: ch for m, ch in subs}
        notices = [
            {
                "key": f"restock:{rid}:{m}",
                "member_id": m,
                "store_id": store,
                "channel": asked.get(m, "sms"),
                "template": TEMPLATE,
                "params": {"store_id": store, "sku": sku},
                "requested": m in asked,
            }
            for m in sorted(set(asked) | set(buyers))
        ]
        outbox.enqueue(s, notices, at)
        if subs:
            s.execute(
                delete(RestockSubscription).where(
                    RestockSubscription.store_id == store, RestockSubscription.sku == sku
                )
            )


def subscribe(s: Session, member_id: str, store: str, sku: str, channel: str, at: datetime) -> None:
    """Ask to be told (again asking is the same subscription, its channel updated)."""
    row = s.get(RestockSubscription, (member_id, store, sku))
    if row is None:
        s.add(
            RestockSubscription(
                member_id=member_id, store_id=store, sku=sku, channel=channel, created_at=at
            )
        )
    else:
        row.channel = channel
    s.flush()
