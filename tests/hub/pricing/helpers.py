"""A store with promotions, its snapshot as the gateway holds it, and a sale priced at the
edge with the engine — shared by the recompute tests and the property test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.catalog import service as catalog
from hub.catalog.models import ConfigSnapshot, Promotion
from hub.db import Database
from hub.stores.models import Store
from protocols import pricing, snapshots
from tests.loyalty.conftest import Till


def open_store(db: Database, store: str, promos: list[dict[str, Any]]) -> int:
    """The store and its promotions at the hub; returns the promotions snapshot version."""
    with db.transaction() as s:
        if s.get(Store, store) is None:
            s.add(Store(id=store, name=store))
        for p in promos:
            s.add(
                Promotion(
                    name=p["name"],
                    kind=p["kind"],
                    rule=p["rule"],
                    exclusive_group=p.get("group"),
                    stores=[store],
                )
            )
        s.flush()
        catalog.refresh(s, [store])
        return s.scalars(
            select(ConfigSnapshot.version)
            .where(ConfigSnapshot.store_id == store, ConfigSnapshot.kind == "promotions")
            .order_by(ConfigSnapshot.version.desc())
        ).first()


def held_promotions(db: Database, store: str, version: int) -> list[pricing.Promotion]:
    """The promotions as the gateway takes them: the published bytes, parsed and checked."""
    with db.transaction() as s:
        row = s.get(ConfigSnapshot, (store, "promotions", version))
        assert row is not None
        payload = row.payload.encode()
    snap = snapshots.parse(payload, store, "promotions")
    return pricing.promotions_from_snapshot(snap.data)


def lane_sale(
    till: Till,
    items: list[pricing.Item],
    promos: list[pricing.Promotion],
    version: int | None,
    at: datetime,
    **kw: Any,
) -> tuple[dict[str, Any], pricing.Priced]:
    """A sale.completed priced at the edge, as the lane will journal it."""
    priced = pricing.price(items, promos, at=at, **kw)
    fields = pricing.sale_fields(
        items,
        priced,
        names=[f"item {it.sku}" for it in items],
        at=at,
        promotions_version=version,
        member=kw.get("member"),
        policy=kw.get("policy", pricing.Policy()),
        override=kw.get("override", False),
    )
    env = till.sale(fields["lines"], at=at)
    env["body"]["pricing"] = fields["pricing"]
    assert env["body"]["total_fen"] == priced.total_fen
    return env, priced
