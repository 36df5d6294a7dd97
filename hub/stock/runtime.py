"""How stock, purchasing, pickup, notifications and replenishment join the hub app: their
routers, and their jobs on the hub's scheduler (hub/jobs/scheduler.py; each runs by name too,
`POST /api/loyalty/jobs/{name}/run`):

stock          every STOREGW_STOCK_JOB_S (5 s), each step in its own transaction: release
               expired pickup holds, send the notification outbox's due notices, publish each
               store's open alerts (retained, on `storegw/v1/{store}/config/stock-alerts`)
               when they changed
replenishment  checks every STOREGW_REPLENISH_CHECK_S (30 s) for stores whose nightly run is
               due (hub/replenishment/nightly.py), runs them and publishes their alerts"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from hub.db import Database
from hub.notify import outbox
from hub.notify.channels import Channel, simulators
from hub.notify.router import router as notify_router
from hub.pickup import service as pickup
from hub.pickup.router import router as pickup_router
from hub.purchasing.router import router as purchasing_router
from hub.replenishment import nightly
from hub.replenishment import service as replenishment
from hub.replenishment.models import ReorderAlert
from hub.stock.models import StockAlert
from hub.stock.router import router as stock_router

log = logging.getLogger(__name__)
ROUTERS: tuple[APIRouter, ...] = (stock_router, purchasing_router, pickup_router, notify_router)
Publish = Callable[[str, bytes, int, bool], Any]


def install(app: FastAPI) -> None:
    """At create_app: the notification channels (simulators by default) and the jobs."""
    app.state.channels = simulators()
    jobs, db = app.state.jobs, app.state.db
    every = float(os.environ.get("STOREGW_STOCK_JOB_S", "5"))
    jobs.add(
        "stock", every, lambda: run_once(db, app.state.channels, jobs.publisher(), jobs.clock())
    )
    settings = nightly.Settings.from_env()
    check = float(os.environ.get("STOREGW_REPLENISH_CHECK_S", "30"))
    jobs.add(
        "replenishment", check, lambda: replenish(db, jobs.publisher(), jobs.clock(), settings)
    )


def publish_alerts(db: Database, publish: Publish, now: datetime) -> int:
    """Each store whose alerts (the ledger's or reorder alerts) changed gets its open alerts,
    retained."""
    with db.transaction() as s:
        stores = set(
            s.scalars(select(StockAlert.store_id).where(StockAlert.published.is_(False)))
        ) | set(s.scalars(select(ReorderAlert.store_id).where(ReorderAlert.published.is_(False))))
        for store in sorted(stores):
            replenishment.publish_alerts(s, store, publish, now)
    return len(stores)


def run_once(
    db: Database, channels: dict[str, Channel], publish: Publish | None, now: datetime
) -> dict[str, Any]:
    with db.transaction() as s:
        expired = pickup.expire(s, now)
    with db.transaction() as s:
        sent = outbox.dispatch(s, channels, now)
    published = publish_alerts(db, publish, now) if publish else 0
    return {"pickups_expired": expired, **sent, "alert_stores_published": published}


def replenish(
    db: Database, publish: Publish | None, now: datetime, settings: nightly.Settings
) -> dict[str, Any]:
    done = nightly.run(db, now, settings)
    if done["ran"] and publish:  # the stores hear of their alerts now, not at the next round
        done["alert_stores_published"] = publish_alerts(db, publish, now)
    return done
