"""How the loyalty contexts (members, points, tiers, coupons, catalog snapshots) join the
hub app: their routers, their errors as HTTP answers, the member key, the lanes' RPC and the
snapshot reports on the ingest worker's MQTT connection, the scheduled jobs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from hub.catalog import service as catalog
from hub.catalog.router import router as catalog_router
from hub.coupons.router import router as coupons_router
from hub.coupons.service import CouponError
from hub.db import Database
from hub.loyalty.jobs import Scheduler
from hub.loyalty.router import router as loyalty_router
from hub.loyalty.rpc import RpcServer
from hub.loyalty.service import PointsError
from hub.members.reads import Reader
from hub.members.router import router as members_router
from hub.members.router import views as member_views
from hub.members.service import MemberError, Members
from hub.members.vault import Vault
from hub.tiers.router import router as tiers_router
from protocols import topics

log = logging.getLogger(__name__)
_running: set[asyncio.Task[None]] = set()
ROUTERS: tuple[APIRouter, ...] = (
    members_router,
    loyalty_router,
    tiers_router,
    coupons_router,
    catalog_router,
)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status", 409))
    log.warning("refused %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install(app: FastAPI, db: Database, data_dir: Path) -> None:
    """At create_app: state and error answers (routers are included with the others)."""
    app.state.members = Members(Vault.load(data_dir))
    app.state.reader = Reader(db)
    app.state.rpc = RpcServer(db, app.state.members)
    app.state.jobs = Scheduler(db)
    app.include_router(member_views)  # ahead of the /api router: see hub/members/router.py
    for exc in (PointsError, MemberError, CouponError):
        app.add_exception_handler(exc, _refused)


def attach_worker(app: FastAPI, worker: object) -> None:
    """Before the ingest worker starts: lanes' RPC and gateways' snapshot reports."""
    db: Database = app.state.db
    app.state.rpc.attach(worker)
    app.state.jobs.worker = worker

    # One report at a time, in arrival order (the lock is FIFO): applied side by side in
    # threads, a gateway's older report could land after its newer one and stay.
    in_order = asyncio.Lock()

    async def record(topic: str, payload: bytes) -> None:
        async with in_order:
            await asyncio.to_thread(_record_held, db, topic, payload)

    def held(topic: str, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(record(topic, payload))
        _running.add(task)
        task.add_done_callback(_running.discard)

    worker.subscribe(topics.SNAPSHOTS_HELD_ALL, held)  # type: ignore[attr-defined]


def _record_held(db: Database, topic: str, payload: bytes) -> None:
    try:
        t = topics.parse_gateway_topic(topic)
        with db.transaction() as s:
            catalog.record_held(s, t.store, t.gateway, payload)
    except (ValueError, TypeError, RecursionError) as err:
        log.warning("bad snapshot report on %s: %s", topic, err)


async def start(app: FastAPI) -> None:
    app.state.jobs.start()


async def stop(app: FastAPI) -> None:
    await app.state.jobs.stop()
    app.state.reader.dispose()
