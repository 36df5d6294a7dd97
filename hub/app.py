"""The hub's FastAPI app: one router per bounded context under /api (every route checked by
hub/deps.py::authorize against hub/auth/policy.py), the HQ console's pages under /console, the
ingest worker started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from hub import http_errors
from hub.accounts.router import router as accounts_router
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
from hub.pricing.router import router as pricing_router
from hub.replenishment.pages import pages as replenishment_pages
from hub.replenishment.router import router as replenishment_router
from hub.sales.router import router as sales_router
from hub.stock import runtime as stock
from hub.stores.router import router as stores_router


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
        await stock.start(app)
        yield
        await stock.stop(app)
        await loyalty.stop(app)
        if app.state.worker:
            await app.state.worker.stop()
        db.engine.dispose()

    app = FastAPI(title="storegw hub", version="0.1.0", lifespan=lifespan)
    app.state.db = db
    app.state.tokens = Tokens(db)
    app.state.gate = Gate(app.state.tokens, Signer.load(data_dir))
    app.state.worker = None
    loyalty.install(app, db, data_dir)
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

    api = APIRouter(prefix="/api", dependencies=[Depends(authorize), Depends(plain_params)])
    for r in (
        accounts_router,
        api_keys_router,
        stores_router,
        sales_router,
        ingest_router,
        pricing_router,
        *loyalty.ROUTERS,
        *stock.ROUTERS,
        replenishment_router,  # forecast, replenishment, classification (issue 14)
    ):
        api.include_router(r)
    app.include_router(api)
    console.install(app)
    app.include_router(replenishment_pages)  # the stock and forecast pages (issue 14)
    _declare_bearer(app)
    return app


def _declare_bearer(app: FastAPI) -> None:
    """Declare the bearer token in the OpenAPI document, on every /api operation (the 360° view
    is mounted outside the /api router), so /docs' "Try it out" sends it. The check itself
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
                if path.startswith("/api/") and not (row and row.public):
                    op["security"] = [{"bearer": []}]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
