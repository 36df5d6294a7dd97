"""How stock, purchasing, pickup and notifications join the hub app: their routers, their
refusals as HTTP answers, and one job every few seconds (each step in its own transaction):
release expired pickup holds, send the notification outbox's due notices, publish each store's
open stock alerts (retained, on `storegw/v1/{store}/config/stock-alerts`) when they changed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from hub.db import Database, utcnow
from hub.notify import outbox
from hub.notify.channels import Channel, simulators
from hub.notify.router import router as notify_router
from hub.pickup import service as pickup
from hub.pickup.router import router as pickup_router
from hub.purchasing.router import router as purchasing_router
from hub.stock import ledger
from hub.stock.ledger import StockError
from hub.stock.models import StockAlert
from hub.stock.router import router as stock_router
from protocols import topics

log = logging.getLogger(__name__)
ROUTERS: tuple[APIRouter, ...] = (stock_router, purchasing_router, pickup_router, notify_router)
Publish = Callable[[str, bytes, int, bool], Any]


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status", 409))
    log.warning("refused %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install(app: FastAPI) -> None:
    """At create_app: error answers and the notification channels (simulators by default)."""
    app.add_exception_handler(StockError, _refused)
    app.state.channels = simulators()
    app.state.stock_task = None


def publish_alerts(db: Database, publish: Publish, now: datetime) -> int:
    """Each store whose alerts changed gets its open alerts, retained."""
    with db.transaction() as s:
        stores = s.scalars(
            select(StockAlert.store_id).where(StockAlert.published.is_(False)).distinct()
        ).all()
        for store in stores:
            doc = {"store": store, "at": now.isoformat(), "alerts": ledger.open_alerts(s, store)}
            publish(
                topics.stock_alerts(store), json.dumps(doc, ensure_ascii=False).encode(), 1, True
            )
            s.execute(
                update(StockAlert)
                .where(StockAlert.store_id == store, StockAlert.published.is_(False))
                .values(published=True)
            )
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


async def start(app: FastAPI) -> None:
    every = float(os.environ.get("STOREGW_STOCK_JOB_S", "5"))
    worker = app.state.worker
    publish = worker.publish if worker else None

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(
                    run_once, app.state.db, app.state.channels, publish, utcnow()
                )
            except Exception:
                log.exception("stock job failed (tried again next round)")
            await asyncio.sleep(every)

    app.state.stock_task = asyncio.create_task(loop(), name="stock-jobs")


async def stop(app: FastAPI) -> None:
    task = app.state.stock_task
    if task:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
