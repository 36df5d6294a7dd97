"""Replenishment in the hub: per store, the plan for every SKU (plan.py's arithmetic over the
forecast, the stock position and the supplier's terms), the reorder alerts, purchase orders
drafted per supplier through the purchasing service (sent at once under a threshold, else
waiting for a person), and transfer suggestions between stores."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.db import bulk_insert
from hub.forecast import service as forecasting
from hub.purchasing import service as purchasing
from hub.purchasing.models import PoLine, PurchaseOrder, Supplier, SupplierItem
from hub.replenishment import classify
from hub.replenishment import plan as arithmetic
from hub.replenishment.models import ReorderAlert, ReplenishmentSetting
from hub.sales.models import Sale, SaleLine
from hub.stock import ledger, reads
from hub.stock.ledger import StockError, StockInvalid, StockNotFound
from hub.stock.models import StockAlert
from hub.stores.models import Store
from protocols import stock_alerts, topics

log = logging.getLogger(__name__)

DEFAULT_SERVICE_LEVEL_PM = 950
DEFAULT_REVIEW_DAYS = 7
DEFAULT_LEAD_DAYS = 3  # a SKU no supplier sells yet: its reorder point still means something
MAX_HORIZON = 120
Publish = Callable[[str, bytes, int, bool], Any]


Terms = dict[str, Any]


def _suppliers(s: Session) -> tuple[dict[str, Terms], dict[tuple[str, str], Terms]]:
    """Per SKU, the cheapest supplier selling it (then the shortest lead time); and every
    supplier's terms per (supplier, SKU). One SELECT of plain rows (no ORM objects: the run
    reads every supplier item for every store)."""
    best: dict[str, Terms] = {}
    every: dict[tuple[str, str], Terms] = {}
    rows = s.execute(
        select(
            SupplierItem.supplier_id,
            SupplierItem.sku,
            Supplier.lead_time_days,
            SupplierItem.pack_milli,
            SupplierItem.min_order_milli,
            SupplierItem.cost_fen,
        ).join(Supplier, Supplier.id == SupplierItem.supplier_id)
    )
    for supplier, sku, lead, pack, minimum, cost in rows:
        terms = {
            "supplier_id": supplier,
            "lead_days": lead,
            "pack_milli": pack,
            "min_order_milli": minimum,
            "cost_fen": cost,
        }
        every[(supplier, sku)] = terms
        have = best.get(sku)
        if have is None or (cost, lead) < (have["cost_fen"], have["lead_days"]):
            best[sku] = terms
    return best, every


def plan_store(s: Session, store: str, today: date) -> list[dict[str, Any]]:
    """Every SKU the store sold in the history window or holds: forecast, position, terms,
    safety stock, reorder point, target and the suggested order (milli-units, fen)."""
    if s.get(Store, store) is None:
        raise StockNotFound(f"no store {store}")
    h = forecasting.history(s, [store], today - timedelta(days=1), forecasting.HISTORY_DAYS)
    pos = {p["sku"]: p for p in reads.positions(s, store)}
    skus = sorted({k[1] for k in h.keys} | set(pos))
    if not skus:
        return []
    settings = {
        r.sku: r
        for r in s.scalars(
            select(ReplenishmentSetting).where(ReplenishmentSetting.store_id == store)
        )
    }
    suppliers, every = _suppliers(s)

    def terms(sku: str) -> dict[str, Any] | None:
        st = settings.get(sku)
        if st is not None and st.supplier_id:
            return every.get((st.supplier_id, sku))
        return suppliers.get(sku)

    t = [terms(sku) for sku in skus]
    lead = np.array([x["lead_days"] if x else DEFAULT_LEAD_DAYS for x in t])
    review = np.array(
        [settings[k].review_days if k in settings else DEFAULT_REVIEW_DAYS for k in skus]
    )
    horizon = int(min(max(7, (lead + review).max()), MAX_HORIZON))
    mean = np.zeros((len(skus), horizon))
    sigma = np.zeros(len(skus))
    if h.keys:
        f = forecasting.forecast(s, h, horizon)
        at = {sku: i for i, sku in enumerate(skus)}  # not skus.index: 2,000² steps a store
        rows = np.array([at[k[1]] for k in h.keys])
        mean[rows], sigma[rows] = f.mean, f.sigma
    level = np.array(
        [settings[k].service_level_pm if k in settings else DEFAULT_SERVICE_LEVEL_PM for k in skus]
    )
    fixed = np.array(
        [
            settings[k].fixed_safety_milli
            if k in settings and settings[k].fixed_safety_milli is not None
            else -1
            for k in skus
        ]
    )
    empty: dict[str, int] = {}
    available = np.array([pos.get(k, empty).get("available_milli", 0) for k in skus])
    on_order = np.array(
        [
            pos.get(k, empty).get("on_order_milli", 0)
            + pos.get(k, empty).get("in_transit_milli", 0)
            for k in skus
        ]
    )
    p = arithmetic.plan(
        mean,
        sigma,
        lead,
        review,
        level,
        fixed,
        available,
        on_order,
        np.array([x["pack_milli"] if x else 1 for x in t]),
        np.array([x["min_order_milli"] if x else 0 for x in t]),
    )
    over_lead = arithmetic.demand_over(mean, lead)
    out = []
    for i, sku in enumerate(skus):
        x = t[i]
        qty = int(p.suggested[i]) if x else 0
        out.append(
            {
                "sku": sku,
                "supplier_id": x["supplier_id"] if x else None,
                "lead_days": int(lead[i]),
                "review_days": int(review[i]),
                "forecast_7d_milli": round(float(mean[i, :7].sum())),
                "forecast_lead_milli": round(float(over_lead[i])),
                "sigma_milli": round(float(sigma[i])),
                "on_hand_milli": pos.get(sku, empty).get("on_hand_milli", 0),
                "available_milli": int(available[i]),
                "on_order_milli": int(on_order[i]),
                "safety_milli": int(p.safety[i]),
                "reorder_point_milli": int(p.reorder_point[i]),
                "target_milli": int(p.target[i]),
                "need_milli": int(p.need[i]),
                "suggested_milli": qty,
                "value_fen": (qty * x["cost_fen"] + 500) // 1000 if x else 0,
                "below_reorder_point": bool(available[i] < p.reorder_point[i]),
            }
        )
    return out


def refresh_alerts(s: Session, store: str, rows: list[dict[str, Any]], now: datetime) -> int:
    """One open alert per SKU below its reorder point; the others' alerts go. Returns how many
    are shown (not those of SKUs the ledger alerts of: see `alerts`). Set-based: one SELECT of
    the store's alerts, one DELETE of those gone, one INSERT of the new ones, one UPDATE
    (executemany) of those whose figures moved."""
    alert = ReorderAlert.__table__
    have = {
        sku: (available, point)
        for sku, available, point in s.execute(
            select(alert.c.sku, alert.c.available_milli, alert.c.reorder_point_milli).where(
                alert.c.store_id == store
            )
        )
    }
    below = {
        r["sku"]: (r["available_milli"], r["reorder_point_milli"])
        for r in rows
        if r["below_reorder_point"]
    }
    gone = [sku for sku in have if sku not in below]
    for i in range(0, len(gone), 500):  # within every engine's limit of bound parameters
        s.execute(
            delete(alert).where(alert.c.store_id == store, alert.c.sku.in_(gone[i : i + 500]))
        )
    new = [sku for sku in below if sku not in have]
    for sku in new:
        log.warning(
            "reorder alert %s %s: available %s below the reorder point %s",
            store,
            sku,
            *below[sku],
        )
    bulk_insert(
        s,
        alert,
        [
            {"sku": sku, "available_milli": below[sku][0], "reorder_point_milli": below[sku][1]}
            for sku in new
        ],
        same={"store_id": store, "raised_at": now, "published": False},
    )
    moved = [(*below[sku], store, sku) for sku in below if sku in have and have[sku] != below[sku]]
    conn = s.connection()
    if moved:  # changed figures: the store hears of them again
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"UPDATE {alert.name} SET available_milli = {mark}, reorder_point_milli = {mark}, "
            f"published = {mark} WHERE store_id = {mark} AND sku = {mark}",
            [(available, point, False, st, sku) for available, point, st, sku in moved],
        )
    if gone:  # the store's list changed: publish it again
        s.execute(alert.update().where(alert.c.store_id == store).values(published=False))
    worse = s.scalars(
        select(StockAlert.sku).where(StockAlert.store_id == store, StockAlert.cleared_at.is_(None))
    )
    return len(below.keys() - set(worse))  # as `alerts` lists them: one alert per SKU


def alerts(s: Session, store: str | None = None) -> list[dict[str, Any]]:
    """Open reorder alerts, but not for a SKU the ledger already alerts of (below zero, or
    more reserved than on hand: more severe, the same shortage; protocols/stock_alerts.py)."""
    alert = ReorderAlert.__table__
    worse = (
        select(StockAlert.id)
        .where(
            StockAlert.store_id == alert.c.store_id,
            StockAlert.sku == alert.c.sku,
            StockAlert.cleared_at.is_(None),
        )
        .exists()
    )
    q = (
        select(
            alert.c.store_id,
            alert.c.sku,
            alert.c.available_milli,
            alert.c.reorder_point_milli,
            alert.c.raised_at,
        )
        .where(~worse)
        .order_by(alert.c.store_id, alert.c.sku)
    )
    if store:
        q = q.where(alert.c.store_id == store)
    return [{**r._asdict(), "raised_at": r.raised_at.isoformat()} for r in s.execute(q)]


def store_alerts(s: Session, store: str) -> list[dict[str, Any]]:
    """All the store is warned of, as its gateway gets them, one alert per SKU (the most
    severe): the ledger's (kind `negative`, `overreserved`) and the reorder alerts (`reorder`)."""
    found = ledger.open_alerts(s, store) + [{"kind": "reorder", **a} for a in alerts(s, store)]
    return [dict(a) for a in stock_alerts.most_severe(found)]


def publish_alerts(s: Session, store: str, publish: Publish, now: datetime) -> bool:
    """The store's open alerts of both kinds in one retained document on its `stock-alerts`
    config leaf (one topic: the retained message is the whole list), when either changed."""
    pending = s.scalar(
        select(ReorderAlert.sku)
        .where(ReorderAlert.store_id == store, ReorderAlert.published.is_(False))
        .limit(1)
    ) or s.scalar(
        select(StockAlert.id)
        .where(StockAlert.store_id == store, StockAlert.published.is_(False))
        .limit(1)
    )
    if pending is None:
        return False
    doc = {"store": store, "at": now.isoformat(), "alerts": store_alerts(s, store)}
    publish(topics.stock_alerts(store), json.dumps(doc, ensure_ascii=False).encode(), 1, True)
    for table in (ReorderAlert.__table__, StockAlert.__table__):
        s.execute(table.update().where(table.c.store_id == store).values(published=True))
    return True


def _on_draft(s: Session, store: str) -> set[str]:
    """SKUs already on a draft PO of the store (waiting for approval): not drafted again."""
    return set(
        s.scalars(
            select(PoLine.sku)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.po_id)
            .where(PurchaseOrder.store_id == store, PurchaseOrder.state == "draft")
        )
    )


def draft_orders(
    s: Session,
    store: str,
    rows: list[dict[str, Any]],
    now: datetime,
    auto_send_below_fen: int | None = None,
) -> list[dict[str, Any]]:
    """One draft PO per supplier for the suggested orders (through the purchasing service, so
    its rules hold: whole packs, minimums). A PO worth less than `auto_send_below_fen` is sent
    at once (if it meets the supplier's minimum order; else it waits as a draft)."""
    skip = _on_draft(s, store)
    per_supplier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["suggested_milli"] > 0 and r["supplier_id"] and r["sku"] not in skip:
            per_supplier[r["supplier_id"]].append(
                {"sku": r["sku"], "qty_milli": r["suggested_milli"]}
            )
    made = []
    for supplier, lines in sorted(per_supplier.items()):
        po = purchasing.create_po(
            s, supplier, store, lines, now, note=f"replenishment {now.date().isoformat()}"
        )
        value = po["value_fen"]
        if auto_send_below_fen is not None and value < auto_send_below_fen:
            try:
                with s.begin_nested():
                    po = purchasing.move_po(s, po["id"], "sent", now)
            except StockError as why:
                log.info("replenishment PO %s stays a draft: %s", po["id"], why)
        made.append({**po, "value_fen": value})
    return made


def transfers(s: Session, today: date, stores: list[str] | None = None) -> list[dict[str, Any]]:
    """Between stores: a store needing a SKU gets it from one holding more than its own target
    (in whole units), before anything is bought."""
    ids = stores or list(s.scalars(select(Store.id).order_by(Store.id)))
    return transfers_between({store: plan_store(s, store, today) for store in ids})


def transfers_between(plans: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The transfers among stores whose plans are given (plan_store's rows per store)."""
    per_sku: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for store, rows in plans.items():
        for r in rows:
            excess = r["available_milli"] - r["target_milli"]
            per_sku[r["sku"]][store] = (r["need_milli"], max(excess, 0))
    out = []
    for sku, by_store in sorted(per_sku.items()):
        names = sorted(by_store)
        need = np.array([by_store[n][0] for n in names])
        excess = np.array([by_store[n][1] for n in names])
        if not need.any() or not excess.any():
            continue
        for src, dst, qty in arithmetic.transfers(names, need, excess):
            out.append({"sku": sku, "from_store": src, "to_store": dst, "qty_milli": qty})
    return out


def nightly(
    s: Session, store: str, today: date, now: datetime, auto_send_below_fen: int | None = None
) -> dict[str, Any]:
    """What the nightly run does for one store: forecast rows, plan, alerts, draft POs. The
    plan's rows come back too (`plan`), for the transfers between stores."""
    series = forecasting.run_store(s, store, today, now)
    rows = plan_store(s, store, today)
    open_alerts = refresh_alerts(s, store, rows, now)
    pos = draft_orders(s, store, rows, now, auto_send_below_fen)
    return {
        "store_id": store,
        "series": series,
        "alerts": open_alerts,
        "purchase_orders": pos,
        "plan": rows,
    }


def save_setting(s: Session, store: str, sku: str, values: dict[str, Any]) -> dict[str, Any]:
    if s.get(Store, store) is None:
        raise StockNotFound(f"no store {store}")
    if values.get("supplier_id") and s.get(SupplierItem, (values["supplier_id"], sku)) is None:
        raise StockInvalid(f"{values['supplier_id']} does not sell {sku}")
    row = s.get(ReplenishmentSetting, (store, sku))
    if row is None:
        row = ReplenishmentSetting(store_id=store, sku=sku)
        s.add(row)
    row.service_level_pm = values.get("service_level_pm", DEFAULT_SERVICE_LEVEL_PM)
    row.fixed_safety_milli = values.get("fixed_safety_milli")
    row.review_days = values.get("review_days", DEFAULT_REVIEW_DAYS)
    row.supplier_id = values.get("supplier_id")
    s.flush()
    return {"store_id": store, "sku": sku, **values}


def classification(s: Session, store: str, today: date) -> list[dict[str, Any]]:
    """Every SKU the store sold in the last year or holds: ABC, XYZ, mover, seasonal
    (classify.py), with the revenue (fen) and units (milli) of the window."""
    if s.get(Store, store) is None:
        raise StockNotFound(f"no store {store}")
    until = today - timedelta(days=1)
    h = forecasting.history(s, [store], until, 360)
    held = {p["sku"] for p in reads.positions(s, store)}
    first = until - timedelta(days=classify.WINDOW_DAYS - 1)
    revenue = dict(
        s.execute(
            select(SaleLine.sku, func.sum(SaleLine.total_fen - SaleLine.refunded_fen))
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(Sale.store_id == store, Sale.business_day >= first, Sale.business_day <= until)
            .group_by(SaleLine.sku)
        ).all()
    )
    skus = sorted({k[1] for k in h.keys} | held | set(revenue))
    if not skus:
        return []
    year = np.zeros((len(skus), 360))
    if h.keys:
        year[[skus.index(k[1]) for k in h.keys]] = h.demand
    window = year[:, -classify.WINDOW_DAYS :]
    rev = np.array([int(revenue.get(k) or 0) for k in skus])
    history_days = (year.any(axis=0)).argmax() if year.any() else 360
    abc, (xyz, cv) = classify.abc(rev), classify.xyz(window)
    moving = classify.movers(window)
    seasonal = classify.seasonal(year) if history_days == 0 else np.zeros(len(skus), dtype=bool)
    return [
        {
            "sku": sku,
            "revenue_fen": int(rev[i]),
            "units_milli": int(window[i].sum()),
            "abc": str(abc[i]),
            "xyz": str(xyz[i]),
            "cv": None if np.isnan(cv[i]) else round(float(cv[i]), 3),
            "mover": str(moving[i]),
            "seasonal": bool(seasonal[i]),
        }
        for i, sku in enumerate(skus)
    ]
