"""The console's stock pages: per store, on hand / available / reorder point / suggested order
with the draft POs to approve (a form with the CSRF token; approving sends the PO through the
purchasing service), and a forecast chart per SKU (history, forecast and its interval,
holidays marked). Every table also as CSV. A store manager sees their own stores only."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts.roles import STORE_MANAGER
from hub.accounts.service import Account
from hub.console.web import BASE, PageRefused, check_csrf, lang, page_user, render
from hub.db import utcnow
from hub.deps import session
from hub.forecast import service as forecasting
from hub.members.overview import today
from hub.purchasing import service as purchasing
from hub.purchasing.models import PurchaseOrder
from hub.replenishment import export, service
from hub.stock.ledger import StockError
from hub.stores.models import Store
from protocols.money import fen_to_yuan

log = logging.getLogger(__name__)
pages = APIRouter(prefix=BASE, include_in_schema=False)
Db = Annotated[Session, Depends(session)]
StockUser = Annotated[Account, Depends(page_user("/console/stock"))]
ForecastUser = Annotated[Account, Depends(page_user("/console/forecast"))]
StoreQ = Annotated[str | None, Query(max_length=64)]
DRAFT_COLUMNS = ("id", "supplier_id", "skus", "value_fen", "created_at")
FORECAST_COLUMNS = ("sku", "day", "mean_milli", "low_milli", "high_milli", "sigma_milli")


def qty(milli: int) -> str:
    """Milli-units as pieces / kg for people: 90000 → "90", 1500 → "1.5"."""
    whole, rest = divmod(abs(milli), 1000)
    sign = "-" if milli < 0 else ""
    return f"{sign}{whole}" + (f".{rest:03d}".rstrip("0") if rest else "")


def _stores(db: Session, account: Account) -> list[str]:
    ids = list(db.scalars(select(Store.id).order_by(Store.id)))
    return [i for i in ids if i in account.stores] if account.role == STORE_MANAGER else ids


def _pick(db: Session, account: Account, store: str | None) -> tuple[list[str], str | None]:
    mine = _stores(db, account)
    if store is None:
        return mine, mine[0] if mine else None
    if store not in mine:
        log.warning("console stock: %s may not see store %r", account.username, store)
        raise PageRefused(403, "error.forbidden", f"not one of {account.username}'s stores")
    return mine, store


def _drafts(db: Session, store: str) -> list[dict[str, Any]]:
    out = []
    for po in db.scalars(
        select(PurchaseOrder)
        .where(PurchaseOrder.store_id == store, PurchaseOrder.state == "draft")
        .order_by(PurchaseOrder.created_at, PurchaseOrder.id)
    ):
        view = purchasing.po_view(db, po.id)
        out.append(
            {
                "id": po.id,
                "supplier_id": po.supplier_id,
                "skus": " ".join(f"{ln['sku']}×{qty(ln['ordered_milli'])}" for ln in view["lines"]),
                "value_fen": purchasing.po_value_fen(db, po.id),
                "created_at": po.created_at.isoformat(),
            }
        )
    return out


@pages.get("/stock")
def stock_page(request: Request, db: Db, account: StockUser, store: StoreQ = None) -> Response:
    with db.begin():
        stores, store = _pick(db, account, store)
        rows = service.plan_store(db, store, today(db)) if store else []
        drafts = _drafts(db, store) if store else []
    return render(
        request,
        "stock.html",
        stores=stores,
        store=store,
        rows=rows,
        below=[r for r in rows if r["below_reorder_point"]],
        drafts=drafts,
        qty=qty,
        yuan=fen_to_yuan,
    )


@pages.get("/stock.csv")
def stock_csv(
    db: Db, account: StockUser, store: Annotated[str, Query(max_length=64)], table: str = "plan"
) -> Response:
    with db.begin():
        _, store = _pick(db, account, store)
        assert store is not None
        if table == "drafts":
            return export.csv_response(_drafts(db, store), DRAFT_COLUMNS, f"drafts-{store}")
        if table == "classification":
            rows = service.classification(db, store, today(db))
            return export.csv_response(rows, export.CLASS_COLUMNS, f"classification-{store}")
        rows = service.plan_store(db, store, today(db))
    return export.csv_response(rows, export.PLAN_COLUMNS, f"plan-{store}")


@pages.post("/stock/approve")
def approve(
    request: Request,
    db: Db,
    account: StockUser,
    csrf: Annotated[str, Form()],
    po_id: Annotated[str, Form(max_length=36)],
) -> Response:
    check_csrf(request, csrf)
    with db.begin():
        po = db.get(PurchaseOrder, po_id)
        if po is None:
            raise PageRefused(404, "stock.no_po", f"no purchase order {po_id}")
        _pick(db, account, po.store_id)
        try:
            with db.begin_nested():
                purchasing.move_po(db, po_id, "sent", utcnow())
        except StockError as why:
            log.warning("console: %s could not approve %s: %s", account.username, po_id, why)
            raise PageRefused(409, "stock.not_sent", str(why)) from None
        store = po.store_id
    log.info("console: %s approved and sent PO %s", account.username, po_id)
    return RedirectResponse(f"{BASE}/stock?store={store}", status_code=303)


@pages.get("/forecast")
def forecast_page(
    request: Request,
    db: Db,
    account: ForecastUser,
    store: StoreQ = None,
    sku: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    with db.begin():
        stores, store = _pick(db, account, store)
        skus = [r["sku"] for r in service.plan_store(db, store, today(db))] if store else []
        sku = sku if sku in skus else (skus[0] if skus else None)
        language = "zh_CN" if lang(request) == "zh" else "en_US"
        data = forecasting.chart(db, store, sku, today(db), language=language) if sku else None
    return render(
        request,
        "forecast.html",
        stores=stores,
        store=store,
        skus=skus,
        sku=sku,
        data=data,
        series=chart_series(data) if data else None,
        qty=qty,
    )


@pages.get("/forecast.csv")
def forecast_csv(
    db: Db,
    account: ForecastUser,
    store: Annotated[str, Query(max_length=64)],
    sku: Annotated[str, Query(min_length=1, max_length=200)],
) -> Response:
    with db.begin():
        _pick(db, account, store)
        data = forecasting.chart(db, store, sku, today(db))
    return export.csv_response(data["forecast"], FORECAST_COLUMNS, f"forecast-{store}-{sku}")


def chart_series(data: dict[str, Any]) -> dict[str, Any]:
    """The chart's series in pieces / kg: history, then the forecast, its interval as a
    stacked band (low + (high − low)), and a marker line on each holiday in view."""
    hist, ahead = data["history"], data["forecast"]
    days = [h["day"] for h in hist] + [f["day"] for f in ahead]
    pad = [None] * len(hist)

    def units(milli: int) -> float:
        return milli / 1000

    return {
        "days": days,
        "history": [units(h["net_milli"]) for h in hist],
        "low": pad + [units(f["low_milli"]) for f in ahead],
        "band": pad + [units(f["high_milli"] - f["low_milli"]) for f in ahead],
        "mean": pad + [units(f["mean_milli"]) for f in ahead],
        "holidays": [
            {"xAxis": h["day"], "name": h["name"]} for h in data["holidays"] if h["day"] in days
        ],
    }
