"""The chain's stores and the gateways each runs: a store is made or renamed by HQ (or
registered by its gateway's first event, hub/ingest/service.py); its gateways report their
ingest position and online status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.sales.models import Sale
from hub.stores.models import Gateway, Store


class StoreNotFound(LookupError):
    """No store by that id."""


def stores(s: Session) -> list[Store]:
    return list(s.scalars(select(Store).order_by(Store.id)))


def get(s: Session, store_id: str) -> Store:
    store = s.get(Store, store_id)
    if store is None:
        raise StoreNotFound(f"no store {store_id}")
    return store


def put(s: Session, store_id: str, name: str, tz: str) -> Store:
    """Create the store, or change its name and time zone."""
    store = s.get(Store, store_id)
    if store is None:
        store = Store(id=store_id, name=name, tz=tz)
        s.add(store)
    else:
        store.name, store.tz = name, tz
    return store


def sales_so_far(s: Session, store_id: str) -> tuple[int, int]:
    """(count, total fen) of the store's booked sales."""
    count, total = s.execute(
        select(func.count(Sale.id), func.coalesce(func.sum(Sale.total_fen), 0)).where(
            Sale.store_id == store_id
        )
    ).one()
    return int(count), int(total)


def gateways(s: Session, store_id: str) -> list[Gateway]:
    return list(
        s.scalars(select(Gateway).where(Gateway.store_id == store_id).order_by(Gateway.id))
    )


def describe(store: Store) -> dict[str, Any]:
    return {"id": store.id, "name": store.name, "tz": store.tz, "created_at": store.created_at}


def describe_gateway(g: Gateway) -> dict[str, Any]:
    return {
        "id": g.id,
        "store": g.store_id,
        "last_seq": g.last_seq,
        "status": g.status,
        "status_at": g.status_at,
        "last_applied_at": g.last_applied_at,
    }
