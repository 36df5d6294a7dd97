"""The hub's FastAPI app, assembled in one place: the contexts' routers under /api (bearer
token required), the ingest handlers in the order they run, the lanes' RPC methods and the
snapshot reports on the ingest worker's connection, the scheduled jobs, and the one mapping
from domain errors to HTTP answers (hub/http_errors.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from hub import http_errors
from hub.auth.service import Tokens
from hub.catalog.reports import HeldReports
from hub.catalog.router import router as catalog_router
from hub.coupons import rpc as coupons_rpc
from hub.coupons.router import router as coupons_router
from hub.db import Database
from hub.deps import require_token
from hub.ingest.handlers import Handlers
from hub.ingest.router import router as ingest_router
from hub.ingest.worker import IngestWorker
from hub.inputs import plain_params
from hub.jobs.router import router as jobs_router
from hub.jobs.scheduler import Scheduler
from hub.loyalty import ingest as loyalty_ingest
from hub.loyalty import rpc as points_rpc
from hub.loyalty.router import router as points_router
from hub.mall.router import router as mall_router
from hub.members import rpc as members_rpc
from hub.members.reads import Reader
from hub.members.router import router as members_router
from hub.members.service import Members
from hub.members.vault import Vault
from hub.rpc import Method, RpcServer
from hub.sales import rpc as refunds_rpc
from hub.sales import service as sales
from hub.sales.router import router as sales_router
from hub.stores.router import router as stores_router
from hub.tiers.router import router as tiers_router

# every context's routes, mounted under /api behind the token check (one line each)
ROUTERS: tuple[APIRouter, ...] = (
    stores_router,
    sales_router,
    ingest_router,
    members_router,
    points_router,
    jobs_router,
    mall_router,
    tiers_router,
    coupons_router,
    catalog_router,
)


def ingest_handlers() -> Handlers:
    """Who applies each event type, in the order they run inside ingest's transaction: the
    sales books first (what follows reads the booked sale), then loyalty (coupons, points,
    tiers). A context joins with one line."""
    return (
        Handlers()
        .add("sale.completed", sales.book_sales)
        .add("sale.refunded", sales.book_refunds)
        .add("shift.closed", sales.book_shift_closes)
        .add("sale.completed", loyalty_ingest.sales_completed)
        .add("sale.refunded", loyalty_ingest.sales_refunded)
    )


def rpc_methods(members: Members) -> dict[str, Method]:
    """The lanes' online calls (protocols/rpc.py), each answered by the context it belongs to."""
    return {
        **members_rpc.methods(members),  # member.lookup, member.register
        **coupons_rpc.METHODS,  # coupon.check, coupon.reserve / commit / release
        **points_rpc.METHODS,  # points.reserve / commit / release
        **refunds_rpc.METHODS,  # refund.claim, refund.release
    }


def create_app(
    data_dir: Path, database_url: str | None = None, mqtt_url: str | None = None
) -> FastAPI:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url or f"sqlite:///{data_dir / 'hub.db'}")
    handlers = ingest_handlers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        app.state.tokens.bootstrap(data_dir)
        if mqtt_url:
            worker = app.state.worker = IngestWorker(db, mqtt_url, handlers)
            # other contexts share the worker's connection: subscribed before it starts
            app.state.rpc.attach(worker)  # the lanes' online calls
            HeldReports(db).attach(worker)  # which snapshots each gateway holds
            app.state.jobs.worker = worker  # the snapshot job publishes through it
            await worker.start()
        app.state.jobs.start()
        yield
        await app.state.jobs.stop()
        if app.state.worker:
            await app.state.worker.stop()
        app.state.reader.dispose()
        db.engine.dispose()

    app = FastAPI(title="storegw hub", version="0.1.0", lifespan=lifespan)
    app.state.db = db
    app.state.tokens = Tokens(db)
    app.state.worker = None
    app.state.members = Members(Vault.load(data_dir))
    app.state.reader = Reader(db)  # the 360° view's reads, on the event loop
    app.state.rpc = RpcServer(db, rpc_methods(app.state.members))
    app.state.jobs = Scheduler(db)
    http_errors.install(app)  # domain errors and database refusals → 4xx, every error JSON

    @app.get(
        "/health",
        tags=["ops"],
        responses={503: {"description": "ingest is stalled or dead"}},
    )
    def health() -> JSONResponse:
        w = app.state.worker
        body: dict[str, object] = {"ok": True, "mqtt": bool(w and w.link and w.link.connected)}
        if w:
            body["ok"], body["ingest"] = w.health()
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    api = APIRouter(prefix="/api", dependencies=[Depends(require_token), Depends(plain_params)])
    for r in ROUTERS:
        api.include_router(r)
    app.include_router(api)
    return app
