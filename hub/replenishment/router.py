"""Replenishment API: a store's plan (forecast, position, safety stock, reorder point,
suggested order), running the nightly step now, the stored forecast and a SKU's chart data,
reorder alerts, transfer suggestions, settings, the classification. Tables also as CSV
(`?format=csv`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.deps import session
from hub.forecast import service as forecasting
from hub.inputs import CSV_TOO, In, errors
from hub.members.overview import today
from hub.replenishment import export, nightly, service
from hub.stock.inputs import SkuPath, StorePath

router = APIRouter(
    prefix="/replenishment", tags=["replenishment"], responses={**errors(404, 422), **CSV_TOO}
)
Db = Annotated[Session, Depends(session)]
Format = Annotated[Literal["json", "csv"], Query()]


class RunBody(In):
    auto_send_below_fen: Annotated[int | None, Field(ge=0, le=10**12)] = None


class SettingBody(In):
    service_level_pm: Annotated[int, Field(gt=0, lt=1000)] = service.DEFAULT_SERVICE_LEVEL_PM
    fixed_safety_milli: Annotated[int | None, Field(ge=0, le=10**9)] = None
    review_days: Annotated[int, Field(ge=1, le=90)] = service.DEFAULT_REVIEW_DAYS
    supplier_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


@router.get("/stores/{store_id}/plan")
def plan(store_id: StorePath, db: Db, format: Format = "json") -> Any:
    """Per SKU: forecast over 7 days and over the lead time, position, safety stock, reorder
    point, target and the suggested order (milli-units; value in fen)."""
    with db.begin():
        rows = service.plan_store(db, store_id, today(db))
    if format == "csv":
        return export.csv_response(rows, export.PLAN_COLUMNS, f"plan-{store_id}")
    return {"store_id": store_id, "plan": rows}


@router.post("/stores/{store_id}/run")
def run(store_id: StorePath, body: RunBody, db: Db, request: Request) -> dict[str, Any]:
    """The nightly step for one store now: forecast rows, reorder alerts (published to the
    store when it changed), draft POs per supplier (sent at once under the threshold)."""
    now = utcnow()
    with db.begin():
        done = service.nightly(db, store_id, today(db), now, body.auto_send_below_fen)
        del done["plan"]  # GET …/plan has it
    # only after COMMIT: the store must never hear of alerts a rollback takes back
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        with db.begin():
            service.publish_alerts(db, store_id, worker.publish, now)
    return done


@router.get("/stores/{store_id}/forecast")
def forecast(
    store_id: StorePath,
    db: Db,
    sku: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """The last run's forecast per SKU and day, with its 80 % interval (milli-units)."""
    with db.begin():
        return {"store_id": store_id, "forecast": forecasting.stored(db, store_id, sku)}


@router.get("/stores/{store_id}/skus/{sku}/chart")
def chart(store_id: StorePath, sku: SkuPath, db: Db) -> dict[str, Any]:
    """Eight weeks of demand, the forecast and its interval, the holidays in between."""
    with db.begin():
        return forecasting.chart(db, store_id, sku, today(db))


@router.put("/stores/{store_id}/skus/{sku}/setting")
def setting(store_id: StorePath, sku: SkuPath, body: SettingBody, db: Db) -> dict[str, Any]:
    """Safety stock by service level (per mille) or fixed, review period, supplier."""
    with db.begin():
        return service.save_setting(db, store_id, sku, body.model_dump())


@router.get("/stores/{store_id}/classification")
def classification(store_id: StorePath, db: Db, format: Format = "json") -> Any:
    """ABC by revenue, XYZ by weekly demand variability, fast/medium/slow/dead, seasonal."""
    with db.begin():
        rows = service.classification(db, store_id, today(db))
    if format == "csv":
        return export.csv_response(rows, export.CLASS_COLUMNS, f"classification-{store_id}")
    return {"store_id": store_id, "classification": rows}


@router.get("/alerts")
def alerts(
    db: Db, store: Annotated[str | None, Query(min_length=1, max_length=64)] = None
) -> dict[str, Any]:
    """Open reorder alerts: available below the reorder point (as of the last run)."""
    with db.begin():
        return {"alerts": service.alerts(db, store)}


@router.get("/runs")
def runs(
    db: Db, store: Annotated[str | None, Query(min_length=1, max_length=64)] = None
) -> dict[str, Any]:
    """The nightly runs, newest first: per store and business day, the SKUs forecast, the open
    reorder alerts, the POs drafted and the transfers suggested into the store."""
    with db.begin():
        return {"runs": nightly.runs(db, store)}


@router.get("/transfers")
def transfers(
    db: Db,
    store: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    format: Format = "json",
) -> Any:
    """Transfers that would cover a store's need from another store's excess (every store's,
    or those into the one named)."""
    with db.begin():
        rows = service.transfers(db, today(db), [store] if store else None)
    if format == "csv":
        return export.csv_response(rows, export.TRANSFER_COLUMNS, "transfers")
    return {"transfers": rows}
