"""The hub's FastAPI app: one router per bounded context under /api (every route checked by
hub/deps.py::authorize against hub/auth/policy.py), the HQ console's pages under /console, the
ingest worker started and stopped with the app."""

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
from hub.analytics.jobs import AnalyticsJobs
from hub.analytics.pages import router as analytics_pages
from hub.analytics.router import router as analytics_router
from hub.auth import policy
from hub.auth.gate import Gate
from hub.auth.router import router as api_keys_router
from hub.auth.service import Tokens
from hub.auth.signing import Signer
from hub.console import router as console
from hub.db import Database
from hub.deps import authorize
from hub.ingest.router import router as ingest_router
from hub.ingest.worker import IngestWorker
from hub.inputs import plain_params
from hub.loyalty import runtime as loyalty
from hub.metrics import router as metrics_router
from hub.pricing.router import router as pricing_router
from hub.sales.router import router as sales_router
from hub.stock import runtime as stock
from hub.stores.router import router as stores_router
from protocols import api_docs
from transport import sd_notify


def create_app(
    data_dir: Path, database_url: str | None = None, mqtt_url: str | None = None
) -> FastAPI:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url or f"sqlite:///{data_dir / 'hub.db'}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.migrate()
        app.state.tokens.bootstrap(data_dir)
        if mqtt_url:
            app.state.worker = IngestWorker(db, mqtt_url)
            loyalty.attach_worker(app, app.state.worker)
            await app.state.worker.start()
        await loyalty.start(app)
        app.state.analytics.start()
        await stock.start(app)
        # `storegw hub` bound its socket before the app started: ready means serving
        sd_notify.ready("hub serving")
        watchdog = asyncio.create_task(sd_notify.keep_alive())
        yield
        sd_notify.notify("STOPPING=1")
        watchdog.cancel()
        await stock.stop(app)
        await app.state.analytics.stop()
        await loyalty.stop(app)
        if app.state.worker:
            await app.state.worker.stop()
        db.engine.dispose()

    # FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN; ours is served whole
    app = FastAPI(
        title="storegw hub", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.db = db
    app.state.tokens = Tokens(db)
    app.state.gate = Gate(app.state.tokens, Signer.load(data_dir))
    app.state.worker = None
    loyalty.install(app, db, data_dir)
    # analytics' daily and weekly jobs; churn warnings go out on loyalty's MQTT publisher
    app.state.analytics = AnalyticsJobs(db, lambda: app.state.jobs.publisher())
    stock.install(app)  # stock, purchasing, pickup, notifications (issue 14)
    http_errors.install(app)  # database refusals → 409/422, every error JSON

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
    for r in (
        accounts_router,
        api_keys_router,
        stores_router,
        sales_router,
        ingest_router,
        pricing_router,
        *loyalty.ROUTERS,
        analytics_router,
        *stock.ROUTERS,
    ):
        api.include_router(r)
    app.include_router(api)
    app.include_router(metrics_router)  # /metrics: HQ token, outside /api like /health
    console.install(app)
    app.include_router(analytics_pages)  # the console's analytics pages
    _declare_bearer(app)
    return app


def _declare_bearer(app: FastAPI) -> None:
    """Declare the bearer token in the OpenAPI document, on every /api operation and /metrics,
    so /docs' "Try it out" sends it. The check itself
    stays hub/auth/gate.py's."""
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
