"""The forecast in the hub: a store's daily demand history (`stock_daily_demand`, kept with
every sale, packed 64 days to a row by the nightly run: packed.py) as one matrix, the
promotions calendar, the model over all the store's SKUs at once, and the rows in
`demand_forecasts` (replaced per store on each run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import repeat
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.catalog.models import CatalogItem, Promotion
from hub.forecast import packed
from hub.forecast.backtest import backtest
from hub.forecast.calendar import days_between, holiday_matrix, holidays_named, promo_matrix
from hub.forecast.model import Forecast, design, fit, predict
from hub.forecast.models import DemandForecast
from hub.stores.models import Store

HISTORY_DAYS = 730
MIN_HISTORY_DAYS = 28
HORIZON = 7


@dataclass
class History:
    keys: list[tuple[str, str]]  # (store, sku) per row
    days: np.ndarray  # datetime64[D], the columns
    demand: np.ndarray  # (series, days) net milli-units, zero where nothing sold


def history(s: Session, stores: list[str] | None, until: date, n_days: int) -> History:
    """Net demand per store × SKU × day over the `n_days` up to `until` (inclusive): the packed
    blocks and what `stock_daily_demand` holds beyond them (packed.py), zero where nothing
    sold, negative days (more refunded than sold) at zero."""
    kept = s.info.pop("forecast_history", None)  # run_store's read, for its plan (once)
    if kept is not None and kept[0] == (stores, until, n_days):
        return kept[1]
    first = until - timedelta(days=n_days - 1)
    keys, demand = packed.read(s.connection(), stores, first, until)
    return History(keys, days_between(first, n_days), np.maximum(demand, 0, dtype=np.float64))


def promotions(s: Session, tz: str = "Asia/Shanghai") -> list[dict[str, Any]]:
    """Active promotions as the calendar reads them: stores, SKUs (scope, gift, bundle items),
    categories, first and last store-local day (None: open)."""
    zone = ZoneInfo(tz)

    def day(at: datetime | None) -> date | None:
        return at.astimezone(zone).date() if at else None

    out = []
    for p in s.scalars(select(Promotion).where(Promotion.active.is_(True))):
        rule = p.rule or {}
        skus = set(rule.get("skus") or [])
        skus |= {rule["gift_sku"]} if rule.get("gift_sku") else set()
        skus |= {i["sku"] for i in rule.get("items") or [] if isinstance(i, dict) and "sku" in i}
        out.append(
            {
                "stores": list(p.stores or []),
                "skus": sorted(skus),
                "categories": list(rule.get("categories") or []),
                "first": day(p.valid_from),
                "last": day(p.valid_until),
            }
        )
    return out


def _inputs(s: Session, h: History, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The holiday columns, the design matrix and the promotion indicator over the history
    and the `horizon` days after it."""
    days = days_between(h.days[0].astype(date), len(h.days) + horizon)
    cal = holiday_matrix(days)
    zone = store_zone(s, h.keys[0][0]) if h.keys else "Asia/Shanghai"
    promos = promotions(s, zone)
    # the catalog's category only matters for the categories promotions name: those SKUs'
    # (a few names in the IN list, not the store's 2,000 SKUs)
    named = sorted({c for p in promos for c in p["categories"]})
    category = (
        dict(
            s.execute(
                select(CatalogItem.sku, CatalogItem.category).where(CatalogItem.category.in_(named))
            ).all()
        )
        if named
        else {}
    )
    promo = promo_matrix(h.keys, days, promos, category)
    return cal, design(days, cal), promo


def forecast(s: Session, h: History, horizon: int = HORIZON) -> Forecast:
    """The model over `h`. The fit is kept in the session for the next call over the same
    history (the nightly run forecasts a store, then plans over a longer horizon from it):
    the same `History` object (a read is never changed after it is made) and the same
    promotion days."""
    _, x, promo = _inputs(s, h, horizon)
    n = len(h.days)
    kept = s.info.get("forecast_fit")
    if kept is None or kept[0] is not h or not np.array_equal(kept[1], promo[:, :n]):
        kept = (h, promo[:, :n], fit(h.demand, x[:n], promo[:, :n]))
        s.info["forecast_fit"] = kept  # one, the last: a store's worth of coefficients
    return predict(kept[2], x[n:], promo[:, n:])


def run_store(s: Session, store: str, today: date, now: datetime, horizon: int = HORIZON) -> int:
    """Forecast every SKU of a store from `today` on (history up to yesterday) and replace
    its rows. Returns how many series were forecast."""
    packed.pack(s, store, today - timedelta(days=1))  # yesterday into the blocks
    h = history(s, [store], today - timedelta(days=1), HISTORY_DAYS)
    # the nightly run plans the store next, in this transaction, over the same read
    s.info["forecast_history"] = (([store], today - timedelta(days=1), HISTORY_DAYS), h)
    # the table's, not the ORM's: no session objects to synchronise (the ORM's evaluator
    # cost more than the DELETE)
    rows = DemandForecast.__table__
    s.execute(delete(rows).where(rows.c.store_id == store))
    if not h.keys:
        return 0
    f = forecast(s, h, horizon)
    mean, low, high = (np.rint(a).astype(np.int64) for a in (f.mean, f.low, f.high))
    low, high = np.minimum(low, mean), np.maximum(high, mean)
    sigma = np.repeat(np.rint(f.sigma).astype(np.int64), horizon)
    _write(s, store, [k[1] for k in h.keys], today, now, mean, low, high, sigma)
    return len(h.keys)


_FORECASTS = (
    "INSERT INTO demand_forecasts (store_id, sku, day, mean_milli, low_milli, high_milli,"
    " sigma_milli, made_at) "
)


def _write(
    s: Session,
    store: str,
    skus: list[str],
    today: date,
    now: datetime,
    *columns: np.ndarray,
) -> None:
    """A store's rows (series × horizon), built column-wise: 14 k rows a store a night."""
    conn = s.connection()
    horizon = columns[0].shape[1]
    made = DemandForecast.__table__.c.made_at.type.dialect_impl(conn.dialect)
    bind = made.bind_processor(conn.dialect)
    at = bind(now) if bind else now
    n = len(skus)
    sku_col = [sku for sku in skus for _ in range(horizon)]
    days = [today + timedelta(days=d) for d in range(horizon)]
    values = [c.ravel().tolist() for c in columns]
    if conn.dialect.name == "postgresql":  # one statement of arrays
        conn.exec_driver_sql(
            _FORECASTS + "SELECT %s, *, %s FROM unnest(%s::varchar[], %s::date[], "
            "%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])",
            (store, at, sku_col, days * n, *values),
        )
        return
    # the rows zipped in C as the driver binds them (the day's isoformat a Python step a row
    # was most of the write; zip reuses its tuple, so no 14 k tuples for the collector to
    # walk), through the driver's cursor (in the session's transaction: the same connection)
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.executemany(
            _FORECASTS + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(repeat(store), sku_col, [d.isoformat() for d in days] * n, *values, repeat(at)),
        )
    finally:
        cur.close()


def stored(s: Session, store: str, sku: str | None = None) -> list[dict[str, Any]]:
    q = select(DemandForecast).where(DemandForecast.store_id == store)
    if sku:
        q = q.where(DemandForecast.sku == sku)
    return [
        {
            "sku": f.sku,
            "day": f.day.isoformat(),
            "mean_milli": f.mean_milli,
            "low_milli": f.low_milli,
            "high_milli": f.high_milli,
            "sigma_milli": f.sigma_milli,
        }
        for f in s.scalars(q.order_by(DemandForecast.sku, DemandForecast.day))
    ]


def live(s: Session, store: str, sku: str, today: date) -> list[dict[str, Any]]:
    """One SKU's forecast computed now, not stored (before the first nightly run)."""
    h = history(s, [store], today - timedelta(days=1), HISTORY_DAYS)
    if (store, sku) not in h.keys:
        return []
    i = h.keys.index((store, sku))
    f = forecast(s, History([h.keys[i]], h.days, h.demand[i : i + 1]), HORIZON)
    return [
        {
            "sku": sku,
            "day": (today + timedelta(days=d)).isoformat(),
            "mean_milli": round(float(f.mean[0, d])),
            "low_milli": round(float(f.low[0, d])),
            "high_milli": round(float(f.high[0, d])),
            "sigma_milli": round(float(f.sigma[0])),
        }
        for d in range(HORIZON)
    ]


def chart(
    s: Session, store: str, sku: str, today: date, weeks: int = 8, language: str = "en_US"
) -> dict[str, Any]:
    """A SKU's last weeks of demand, its stored forecast and interval, and the holidays in
    that span (for the console's chart). Milli-units."""
    first = today - timedelta(days=7 * weeks)
    h = history(s, [store], today - timedelta(days=1), 7 * weeks)
    past = h.demand[h.keys.index((store, sku))] if (store, sku) in h.keys else np.zeros(len(h.days))
    ahead = stored(s, store, sku) or live(s, store, sku, today)
    last = date.fromisoformat(ahead[-1]["day"]) if ahead else today - timedelta(days=1)
    return {
        "store_id": store,
        "sku": sku,
        "history": [
            {"day": str(d), "net_milli": int(v)} for d, v in zip(h.days, past, strict=True)
        ],
        "forecast": ahead,
        "holidays": holidays_named(first, last, language),
    }


def store_zone(s: Session, store: str) -> str:
    return s.scalar(select(Store.tz).where(Store.id == store)) or "Asia/Shanghai"


def backtest_chain(
    s: Session, until: date, origins: int = 8, stores: list[str] | None = None
) -> dict[str, Any]:
    """The backtest over the hub's own history up to `until` (every store, or those named)."""
    h = history(s, stores, until, HISTORY_DAYS)
    active = h.demand.sum(axis=1) > 0
    h = History([k for k, a in zip(h.keys, active, strict=True) if a], h.days, h.demand[active])
    if not h.keys:
        raise ValueError("no demand recorded yet")
    keep = np.flatnonzero(h.demand.any(axis=0))
    start = int(keep[0]) if keep.size else 0  # from the first day anything sold
    h = History(h.keys, h.days[start:], h.demand[:, start:])
    cal, _, promo = _inputs(s, h, 0)
    return backtest(h.demand, h.days, cal, promo, origins=origins)
