"""The hub's FastAPI app, assembled in one place: the contexts' routers under /api (each route
checked by hub/deps.py::authorize against its row in hub/auth/policy.py), the HQ console's pages
under /console, the ingest handlers in the order they run, the lanes' RPC methods and the
snapshot reports on the ingest worker's connection, the scheduled jobs, and the one mapping
from domain errors to HTTP answers (hub/http_errors.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from hub import http_errors
from hub.accounts.router import router as accounts_router
from hub.analytics import ingest as analytics_ingest
from hub.analytics.jobs import AnalyticsJobs
from hub.analytics.pages import router as analytics_pages
from hub.analytics.router import router as analytics_router
from hub.audit.pages import router as audit_pages
from hub.audit.router import router as audit_router
from hub.auth import policy
from hub.auth.gate import Gate
from hub.auth.router import router as api_keys_router
from hub.auth.service import Tokens
from hub.auth.signing import Signer
from hub.catalog.reports import HeldReports
from hub.catalog.router import router as catalog_router
from hub.console import router as console
from hub.coupons import rpc as coupons_rpc
from hub.coupons.router import router as coupons_router
from hub.db import Database
from hub.deps import authorize
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
from hub.metrics import router as metrics_router
from hub.pairing.authority import Authority
from hub.pairing.pages import pages as pairing_pages
from hub.pairing.router import router as pairing_router
from hub.pairing.service import Pairing
from hub.pricing import recompute as pricing
from hub.pricing.router import router as pricing_router
from hub.replenishment.pages import pages as replenishment_pages
from hub.replenishment.router import router as replenishment_router
from hub.rpc import Method, RpcServer, ping
from hub.sales import rpc as refunds_rpc
from hub.sales import service as sales
from hub.sales.router import router as sales_router
from hub.stock import ingest as stock_ingest
from hub.stock import rpc as stock_rpc
from hub.stock import runtime as stock
from hub.stores.router import router as stores_router
from hub.tiers.router import router as tiers_router
from protocols import api_docs
from transport import sd_notify

# every context's routes, mounted under /api behind the access check (one line each)
ROUTERS: tuple[APIRouter, ...] = (
    accounts_router,
    audit_router,
    api_keys_router,
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
    pricing_router,
    pairing_router,
    analytics_router,
    *stock.ROUTERS,  # stock, purchasing, pickup, notifications
    replenishment_router,  # forecast, replenishment, classification
)


def ingest_handlers() -> Handlers:
    """Who applies each event type, in the order they run inside ingest's transaction: the
    sales books first (what follows reads the booked sale), then loyalty (coupons, points,
    tiers), stock, and the price check's queue. A context joins with one line."""
    return (
        Handlers()
        .add("sale.completed", sales.book_sales)
        .add("sale.refunded", sales.book_refunds)
        .add("shift.closed", sales.book_shift_closes)
        .add("sale.completed", loyalty_ingest.sales_completed)
        .add("sale.refunded", loyalty_ingest.sales_refunded)
        .add("sale.completed", stock_ingest.sales_move_stock)
        .add("sale.refunded", stock_ingest.refunds_move_stock)
        .add("stock.counted", stock_ingest.stocktakes)
        .add("stock.received", stock_ingest.goods_received)
        .add("sale.completed", pricing.queue_sales)
        .add("sale.completed", analytics_ingest.follow_sales)  # segments follow each batch
        .add("sale.refunded", analytics_ingest.follow_sales)
    )


def rpc_methods(members: Members) -> dict[str, Method]:
    """The lanes' online calls (protocols/rpc.py), each answered by the context it belongs to."""
    return {
        **members_rpc.methods(members),  # member.lookup, member.register
        **coupons_rpc.METHODS,  # coupon.check, coupon.reserve / commit / release
        **points_rpc.METHODS,  # points.reserve / commit / release
        **refunds_rpc.METHODS,  # refund.claim, refund.release, sale.lookup
        **stock_rpc.METHODS,  # stock.levels, pickup.complete
        "ping": ping,  # the technician's network check (edge/admin)
    }


def create_app(
    data_dir: Path,
    database_url: str | None = None,
    mqtt_url: str | None = None,
    broker_url: str | None = None,
    pairing_hook: str | None = None,
) -> FastAPI:
    data_dir.mkdir(parents=True, exist_ok=True)
    # the chain's CA and the hub's own client certificate, before the MQTT link needs it
    authority = Authority.load_or_create(data_dir)
    db = Database(database_url or f"sqlite:///{data_dir / 'hub.db'}")
    handlers = ingest_handlers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        with db.transaction() as s:  # stored in clear before 0008 / 0013 (hub/members)
            app.state.members.seal_clear_fields(s)
        app.state.tokens.bootstrap(data_dir)
        with db.sessions() as s:
            app.state.pairing.write_crl(s)  # the broker's CRL follows the database
        if mqtt_url:
            # the shared subscription's group: a secret of this deployment (every hub process
            # sharing the auth key joins the same one), no account can join it by guessing
            group = "hub-" + app.state.gate.signer.mac("mqtt-share-group", "v1")[:22]
            worker = app.state.worker = IngestWorker(db, mqtt_url, handlers, share_group=group)
            # other contexts share the worker's connection: subscribed before it starts
            app.state.rpc.attach(worker)  # the lanes' online calls
            HeldReports(db).attach(worker)  # which snapshots each gateway holds
            app.state.jobs.worker = worker  # the snapshot job publishes through it
            await worker.start()
        app.state.jobs.start()
        app.state.analytics.start()
        # `storegw hub` bound its socket before the app started: ready means serving
        sd_notify.ready("hub serving")
        watchdog = asyncio.create_task(sd_notify.keep_alive())
        yield
        sd_notify.notify("STOPPING=1")
        watchdog.cancel()
        await app.state.analytics.stop()
        await app.state.jobs.stop()
        if app.state.worker:
            await app.state.worker.stop()
        app.state.rpc.close()
        app.state.reader.dispose()
        db.engine.dispose()

    # FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN; ours is served whole
    app = FastAPI(
        title="storegw hub", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.db = db
    app.state.tokens = Tokens(db)
    app.state.gate = Gate(app.state.tokens, Signer.load(data_dir))
    app.state.worker = None
    # what paired gateways are told to connect to (default: the hub's own broker address)
    app.state.pairing = Pairing(
        authority,
        broker_url or (mqtt_url or "").split("?")[0],
        hook=pairing_hook,
    )
    app.state.members = Members(Vault.load(data_dir))
    app.state.reader = Reader(db)  # the 360° view's reads, on the event loop
    app.state.rpc = RpcServer(db, rpc_methods(app.state.members))
    app.state.jobs = Scheduler(db, app.state.members)  # the members push, birthday gifts
    # analytics' daily and weekly jobs; churn warnings go out on the scheduler's MQTT publisher
    app.state.analytics = AnalyticsJobs(db, lambda: app.state.jobs.publisher())
    stock.install(app)  # the notification channels (simulators by default), stock's jobs
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

    docs_page = resources.files("protocols").joinpath(api_docs.PAGE).read_text("utf-8")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API docs (the gateway's page too): nothing loaded from the internet."""
        return HTMLResponse(docs_page, headers={"Content-Security-Policy": api_docs.CSP})

    api = APIRouter(prefix="/api", dependencies=[Depends(authorize), Depends(plain_params)])
    for r in ROUTERS:
        api.include_router(r)
    app.include_router(api)
    app.include_router(metrics_router)  # /metrics: outside /api like /health, same check
    console.install(app)
    app.include_router(analytics_pages)  # the console's analytics pages
    app.include_router(audit_pages)  # the console's audit page
    app.include_router(pairing_pages)  # the console's pairing page
    app.include_router(replenishment_pages)  # the stock and forecast pages
    _declare_bearer(app)
    return app


def _declare_bearer(app: FastAPI) -> None:
    """Declare the bearer token in the OpenAPI document on every operation that needs one (all
    of /api but the policy's public rows, and /metrics), so /docs' "Try it out" sends it. The
    check itself is hub/auth/gate.py's."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()  # FastAPI caches it: the loop below runs once
        schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "an access token from /api/auth/token, an API key, or the first"
            " HQ token (STOREGW_HUB_TOKEN or <data dir>/admin-token)",
        }
        for path, item in spec["paths"].items():
            for method, op in item.items():
                row = policy.rule(method, path)
                if (path.startswith("/api/") or path == "/metrics") and not (row and row.public):
                    op["security"] = [{"bearer": []}]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
