"""Snapshots for the stores: what each store's gateway needs to sell offline — its catalog, its
prices (the chain's, or the store's own), the promotions that run there, the tier ladder.

`refresh` builds each (store, kind) and writes a new version only when the content changed;
`publish_newest` sends the newest unpublished versions, retained, so a gateway that connects
later still gets them; `republish_latest` resends every newest version (after the broker lost
its retained messages). Gateways report the versions they hold; `overview` shows both sides."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.catalog.models import (
    CatalogItem,
    ConfigSnapshot,
    GatewaySnapshot,
    Promotion,
    StorePrice,
)
from hub.db import utcnow
from hub.stores.models import Store
from hub.tiers.models import Tier
from protocols import snapshots, topics
from protocols.pricing import rules as pricing_rules

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes, int, bool], None]  # topic, payload, qos, retain


def data(s: Session, store: str, kind: str, now: datetime) -> dict[str, Any]:
    if kind == "catalog":
        items = s.scalars(
            select(CatalogItem).where(CatalogItem.active.is_(True)).order_by(CatalogItem.sku)
        )
        return {
            "items": [
                {
                    "sku": i.sku,
                    "name": i.name,
                    "category": i.category,
                    "unit": i.unit,
                    "barcodes": i.barcodes,
                    "cost_fen": i.cost_fen,
                }
                for i in items
            ]
        }
    if kind == "prices":
        own = dict(
            s.execute(
                select(StorePrice.sku, StorePrice.price_fen).where(StorePrice.store_id == store)
            ).all()
        )
        rows = s.execute(
            select(CatalogItem.sku, CatalogItem.price_fen).where(CatalogItem.active.is_(True))
        ).all()
        return {"prices": {sku: int(own.get(sku, fen)) for sku, fen in sorted(rows)}}
    if kind == "promotions":
        promos = s.scalars(
            select(Promotion)
            .where(
                Promotion.active.is_(True),
                or_(Promotion.valid_until.is_(None), Promotion.valid_until > now),
            )
            .order_by(Promotion.id)
        )
        out = []
        for p in promos:
            if p.stores and store not in p.stores:
                continue
            try:  # typed on the way in; a row typed otherwise must not hold up the snapshot
                rule = pricing_rules.rule_fields(pricing_rules.check_rule(p.kind, p.rule))
            except pricing_rules.RuleError as err:
                log.error("promotion %s left out of %s's snapshot: %s", p.id, store, err)
                continue
            out.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "kind": p.kind,
                    "rule": rule,
                    "group": p.exclusive_group,
                    "valid_from": p.valid_from.isoformat() if p.valid_from else None,
                    "valid_until": p.valid_until.isoformat() if p.valid_until else None,
                }
            )
        return {"promotions": out}
    if kind == "tiers":
        return {
            "tiers": [
                {
                    "code": t.code,
                    "name": t.name,
                    "rank": t.rank,
                    "discount_pct": t.discount_pct,
                    "points_multiplier_pct": t.points_multiplier_pct,
                    "birthday_gift": t.birthday_gift_template_id is not None,
                }
                for t in s.scalars(select(Tier).order_by(Tier.rank))
            ]
        }
    raise snapshots.SnapshotError(f"unknown snapshot kind {kind!r}")


def latest(s: Session, store: str, kind: str) -> ConfigSnapshot | None:
    return s.scalars(
        select(ConfigSnapshot)
        .where(ConfigSnapshot.store_id == store, ConfigSnapshot.kind == kind)
        .order_by(ConfigSnapshot.version.desc())
        .limit(1)
    ).first()


def refresh(
    s: Session, stores: list[str] | None = None, now: datetime | None = None
) -> list[ConfigSnapshot]:
    """New versions for every (store, kind) whose content changed; returns them."""
    now = now or utcnow()
    q = select(Store).order_by(Store.id).with_for_update()  # one refresher per store at a time
    if stores:
        q = q.where(Store.id.in_(stores))
    made = []
    for store in s.scalars(q).all():
        for kind in snapshots.KINDS:
            content = data(s, store.id, kind, now)
            digest = snapshots.digest(snapshots.check_data(kind, content))
            last = latest(s, store.id, kind)
            if last is not None and last.sha256 == digest:
                continue
            version = (last.version if last else 0) + 1
            snap = snapshots.build(store.id, kind, version, content, now)
            row = ConfigSnapshot(
                store_id=store.id,
                kind=kind,
                version=version,
                sha256=snap.sha256,
                payload=snapshots.encode(snap).decode(),
                created_at=now,
            )
            s.add(row)
            made.append(row)
    return made


def _newest(s: Session, unpublished_only: bool) -> list[ConfigSnapshot]:
    newest = (
        select(
            ConfigSnapshot.store_id,
            ConfigSnapshot.kind,
            func.max(ConfigSnapshot.version).label("v"),
        )
        .group_by(ConfigSnapshot.store_id, ConfigSnapshot.kind)
        .subquery()
    )
    q = select(ConfigSnapshot).join(
        newest,
        (ConfigSnapshot.store_id == newest.c.store_id)
        & (ConfigSnapshot.kind == newest.c.kind)
        & (ConfigSnapshot.version == newest.c.v),
    )
    if unpublished_only:
        q = q.where(ConfigSnapshot.published_at.is_(None))
    return list(s.scalars(q.order_by(ConfigSnapshot.store_id, ConfigSnapshot.kind)))


def publish_newest(s: Session, publish: Publish, everything: bool = False) -> int:
    """Publish the newest version of each (store, kind) not yet published (or all of them),
    retained, and mark it published in the caller's transaction. Call it in a transaction of
    its own, after the `refresh` that built them committed: a version sent and then rolled
    back would be built again with other content under the same number, and a gateway that
    holds the number would keep the wrong content. The stores' rows are locked first, as
    `refresh` locks them: a publisher never reads the newest while another commits a newer
    one, so an older version never lands last on a retained topic."""
    s.execute(select(Store.id).order_by(Store.id).with_for_update())
    rows = _newest(s, unpublished_only=not everything)
    now = utcnow()
    for r in rows:
        publish(topics.config(r.store_id, r.kind), r.payload.encode(), 1, True)
        r.published_at = r.published_at or now
    if rows:
        log.info("published %s snapshot(s)", len(rows))
    return len(rows)


def published_count(s: Session, versions: list[dict[str, Any]]) -> int:
    """How many of these {store, kind, version} are out (whoever sent them)."""
    if not versions:
        return 0
    keys = {(v["store"], v["kind"], v["version"]) for v in versions}
    rows = s.execute(
        select(ConfigSnapshot.store_id, ConfigSnapshot.kind, ConfigSnapshot.version).where(
            ConfigSnapshot.store_id.in_({k[0] for k in keys}),
            ConfigSnapshot.published_at.is_not(None),
        )
    )
    return sum(1 for r in rows if tuple(r) in keys)


def record_held(s: Session, store: str, gateway: str, payload: bytes) -> None:
    """A gateway's report {kind: version, …} of what it holds."""
    doc = json.loads(payload)
    if not isinstance(doc, dict):
        raise ValueError("snapshot report is not an object")
    for kind, version in doc.items():
        # "members": the members push's version (hub/members/push.py), reported beside these
        known = kind in snapshots.KINDS or kind == "members"
        if not known or type(version) is not int or not 0 < version < 2**31:
            raise ValueError(f"bad snapshot report entry {kind!r}: {version!r}")
    # an upsert: a gateway's retained report arrives again on every hub reconnect, and two
    # reports of one gateway may be recorded at once (both would INSERT the first time)
    upsert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for kind, version in doc.items():
        now = utcnow()
        stmt = upsert(GatewaySnapshot).values(
            store_id=store, gateway_id=gateway, kind=kind, version=version, reported_at=now
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["store_id", "gateway_id", "kind"],
                set_={"version": version, "reported_at": now},
            )
        )


def overview(s: Session, store: str) -> dict[str, Any]:
    held: dict[str, dict[str, int]] = {}
    for g in s.scalars(select(GatewaySnapshot).where(GatewaySnapshot.store_id == store)):
        held.setdefault(g.kind, {})[g.gateway_id] = g.version
    out = {}
    for kind in snapshots.KINDS:
        last = latest(s, store, kind)
        out[kind] = {
            "version": last.version if last else None,
            "sha256": last.sha256 if last else None,
            "created_at": last.created_at if last else None,
            "published_at": last.published_at if last else None,
            "gateways": held.get(kind, {}),
        }
    return {"store": store, "snapshots": out}
