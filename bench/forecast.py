"""The nightly forecast + replenishment for a chain, end to end on the hub's own path: 200 stores
× 2,000 SKUs × 2 years of daily history (goal: the whole run under 10 minutes on this 2-core
machine). Per store, one transaction, `hub.replenishment.service.nightly` as the job calls it:
pack yesterday's demand into the blocks (hub/forecast/packed.py), read the store's two years,
the design (weekday, trend, CN holidays) and promotions, the batched per-series regression
(hub/forecast/model.py), the forecast rows written, the plan (forecast over lead + review,
safety stock, reorder point, suggested order), reorder alerts, draft POs per supplier.

The database holds what it holds the morning after a night like any other: the stores' two
years packed through the day before yesterday (written by `packed.write_blocks`, dense: every
SKU sold every day, the worst case), yesterday in `stock_daily_demand` (2,000 rows a store;
with `--daily-history` the two years too, as a hub keeps them: the daily rows are the truth the
blocks copy, 1.46 M rows a store), stock on hand, four suppliers. Laying that down is not timed.

Beside it, over the same data in the same run: seasonal naive (a copy of last week) over each
store's history as the nightly read returns it, the raw floor of any forecast; and that read
alone. `--initial-stores N`: the one-time first pack of N stores whose two years are only in
`stock_daily_demand` (1.46 M rows a store), what a hub upgraded from 0012 pays once.

CPU time of this process and wall time; medians over runs (each on a fresh database);
"per series" = per store × SKU. `--stores N` (< 200) extrapolates linearly and says so.

    python bench/forecast.py [--stores 200] [--skus 2000] [--days 730] [--runs 1]
                             [--initial-stores 1] [--pg] [--daily-history]
                             (--pg: STOREGW_TEST_PG_URL)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.db import Database, bulk_insert
from hub.forecast import packed
from hub.forecast import service as forecasting
from hub.forecast.model import seasonal_naive
from hub.forecast.models import BLOCK_DAYS
from hub.purchasing.models import Supplier, SupplierItem
from hub.replenishment.service import nightly
from hub.stock.models import DailyDemand, StockBalance
from hub.stores.models import Store
from rig.demand import chain

CHAIN_STORES = 200
TODAY = date(2026, 11, 28)
HORIZON = 14  # lead + review: what seasonal naive is asked for too
SUPPLIERS = 4


def clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def sku(k: int) -> str:
    return f"69{k:011d}"


def lay_down(
    db: Database,
    stores: int,
    skus: int,
    days: int,
    pool: list[np.ndarray],
    daily_history: bool = False,
) -> None:
    """The chain as the morning finds it (not timed); `daily_history`: the two years in
    `stock_daily_demand` too, not only yesterday."""
    until = TODAY - timedelta(days=1)
    first = until - timedelta(days=days - 1)
    through = until - timedelta(days=1)
    d0 = packed.day_number(first)
    b0, b1 = d0 // BLOCK_DAYS, packed.day_number(through) // BLOCK_DAYS
    names = [sku(k) for k in range(skus)]
    now = datetime.now(UTC)
    rng = np.random.default_rng(5)
    with db.transaction() as s:
        bulk_insert(
            s,
            Supplier.__table__,
            [{"id": f"sup{i}", "name": f"供应商{i}", "lead_time_days": 2 + i} for i in range(4)],
            same={"min_order_fen": 0, "created_at": now},
        )
        bulk_insert(
            s,
            SupplierItem.__table__,
            [
                {"supplier_id": f"sup{k % SUPPLIERS}", "sku": n, "cost_fen": 100 + k % 900}
                for k, n in enumerate(names)
            ],
            same={"pack_milli": 6000, "min_order_milli": 0},
        )
    for st in range(stores):
        store = f"s{st:03d}"
        y = pool[st % len(pool)].astype(np.int64)
        wide = np.zeros((skus, (b1 - b0 + 1) * BLOCK_DAYS), dtype=np.int64)
        off = d0 - b0 * BLOCK_DAYS
        wide[:, off : off + days - 1] = y[:, :-1]
        n_b = b1 - b0 + 1
        with db.transaction() as s:
            s.add(Store(id=store, name=f"门店{st}"))
            s.flush()
            packed.write_blocks(
                s,
                store,
                [n for n in names for _ in range(n_b)],
                np.tile(np.arange(b0, b1 + 1), skus),
                wide.reshape(skus * n_b, BLOCK_DAYS),
            )
            s.connection().exec_driver_sql(
                "INSERT INTO forecast_demand_packed (store_id, through) VALUES "
                + ("(%s, %s)" if s.connection().dialect.name == "postgresql" else "(?, ?)"),
                (store, through if s.connection().dialect.name == "postgresql" else str(through)),
            )
            bulk_insert(
                s,
                DailyDemand.__table__,
                [{"sku": n, "sold_milli": int(q)} for n, q in zip(names, y[:, -1], strict=True)],
                same={"store_id": store, "day": until, "refunded_milli": 0},
            )
            if daily_history:  # the truth the blocks copy, as ingest leaves it
                for n, row in zip(names, y[:, :-1], strict=True):
                    bulk_insert(
                        s,
                        DailyDemand.__table__,
                        [
                            {"day": first + timedelta(days=i), "sold_milli": int(q)}
                            for i, q in enumerate(row)
                        ],
                        same={"store_id": store, "sku": n, "refunded_milli": 0},
                    )
            # on hand: about two weeks of demand, so some SKUs are below their reorder point
            held = y[:, -28:].mean(axis=1) * rng.uniform(3, 20, skus)
            bulk_insert(
                s,
                StockBalance.__table__,
                [{"sku": n, "on_hand_milli": int(q)} for n, q in zip(names, held, strict=True)],
                same={"store_id": store, "reserved_milli": 0, "updated_at": now},
            )


def one_run(
    url: str,
    stores: int,
    skus: int,
    days: int,
    pool: list[np.ndarray],
    daily_history: bool = False,
) -> dict[str, float]:
    db = Database(url)
    db.migrate()
    w0 = time.perf_counter()
    lay_down(db, stores, skus, days, pool, daily_history)
    print(f"  laid down in {time.perf_counter() - w0:.0f} s (not timed)", flush=True)
    out = dict.fromkeys(("cpu", "wall", "read_cpu", "read_wall", "naive_cpu"), 0.0)
    per_store: list[float] = []
    until = TODAY - timedelta(days=1)
    for st in range(stores):
        store = f"s{st:03d}"
        c0, w0 = clocks()
        with db.transaction() as s:
            done = nightly(s, store, TODAY, datetime.now(UTC))
        c1, w1 = clocks()
        assert done["series"] == skus, done
        with db.transaction() as s:  # the read alone, and seasonal naive over what it returns
            h = forecasting.history(s, [store], until, forecasting.HISTORY_DAYS)
        c2, _ = clocks()
        w2 = time.perf_counter()
        seasonal_naive(h.demand, HORIZON).sum()
        c3, _ = clocks()
        out["cpu"] += c1 - c0
        out["wall"] += w1 - w0
        out["read_cpu"] += c2 - c1
        out["read_wall"] += w2 - w1
        out["naive_cpu"] += c3 - c2
        per_store.append(w1 - w0)
        if (st + 1) % 10 == 0:  # a long run on a shared machine: the figures so far
            print(
                f"  {st + 1} stores: {out['cpu']:.0f} s CPU, {out['wall']:.0f} s wall; load "
                f"{Path('/proc/loadavg').read_text().split()[0]}",
                flush=True,
            )
    out["store_wall_median"] = statistics.median(per_store)
    db.engine.dispose()
    return out


def initial_pack(url: str, stores: int, skus: int, days: int, pool: list[np.ndarray]) -> float:
    """Wall seconds per store of the first pack from `stock_daily_demand` alone (median)."""
    db = Database(url)
    db.migrate()
    first = TODAY - timedelta(days=days)
    names = [sku(k) for k in range(skus)]
    took = []
    for st in range(stores):
        y = pool[st % len(pool)].astype(np.int64)
        store = f"i{st:03d}"
        with db.transaction() as s:
            for k, n in enumerate(names):
                rows = [
                    {"day": first + timedelta(days=i), "sold_milli": int(v)}
                    for i, v in enumerate(y[k])
                ]
                bulk_insert(
                    s,
                    DailyDemand.__table__,
                    rows,
                    same={"store_id": store, "sku": n, "refunded_milli": 0},
                )
        w0 = time.perf_counter()
        with db.transaction() as s:
            packed.pack(s, store, TODAY - timedelta(days=1))
        took.append(time.perf_counter() - w0)
    db.engine.dispose()
    return statistics.median(took)


def fresh_sqlite(d: str) -> Callable[[], tuple[str, Callable[[], None]]]:
    n = iter(range(10**6))
    return lambda: (f"sqlite:///{d}/forecast{next(n)}.db", lambda: None)


def fresh_pg(base: str) -> Callable[[], tuple[str, Callable[[], None]]]:
    sys.argv[1:] = []  # bench.hub_apply reads its own argv when imported
    from bench.hub_apply import pg_database

    return lambda: pg_database(base)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, default=CHAIN_STORES)
    ap.add_argument("--skus", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--initial-stores", type=int, default=1)
    ap.add_argument("--pg", action="store_true", help="PostgreSQL at STOREGW_TEST_PG_URL")
    ap.add_argument(
        "--daily-history",
        action="store_true",
        help="the two years in stock_daily_demand too (1.46 M rows a store to lay down)",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the reorder alerts' warnings: thousands
    first = TODAY - timedelta(days=a.days)
    # a pool of generated stores, reused round-robin (generation is not what is measured)
    pool = [chain(a.skus, first, a.days, seed=k).demand for k in range(4)]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        fresh = fresh_pg(os.environ["STOREGW_TEST_PG_URL"]) if a.pg else fresh_sqlite(d)
        engine = "postgresql" if a.pg else "sqlite"
        runs = []
        for _ in range(a.runs):
            url, done = fresh()
            try:
                runs.append(one_run(url, a.stores, a.skus, a.days, pool, a.daily_history))
            finally:
                done()
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        initial = None
        if a.initial_stores:
            url, done = fresh()
            try:
                initial = initial_pack(url, a.initial_stores, a.skus, a.days, pool)
            finally:
                done()
    series = a.stores * a.skus
    scale = CHAIN_STORES / a.stores
    print(
        f"{engine}: {a.stores} stores × {a.skus} SKUs × {a.days} days"
        f"{' (the daily rows too)' if a.daily_history else ''}, medians of {a.runs} "
        f"run(s); load average {Path('/proc/loadavg').read_text().split()[0]} at the end"
    )
    print(
        f"nightly (pack + read + forecast + plan + alerts + POs): {med['cpu']:.1f} s CPU, "
        f"{med['wall']:.1f} s wall; per store {med['store_wall_median']:.2f} s wall (median); "
        f"per series {med['cpu'] / series * 1e6:.0f} µs CPU, "
        f"{med['wall'] / series * 1e6:.0f} µs wall"
    )
    print(
        f"  of which the read alone (again, after):   {med['read_cpu']:.1f} s CPU, "
        f"{med['read_wall']:.1f} s wall ({med['read_wall'] / a.stores * 1e3:.0f} ms a store)"
    )
    print(
        f"seasonal naive over the same histories:     {med['naive_cpu']:.2f} s CPU, "
        f"{med['naive_cpu'] / series * 1e6:.2f} µs CPU per series; "
        f"nightly / naive {med['cpu'] / med['naive_cpu']:.0f}× (CPU)"
    )
    total = med["wall"] * scale
    if scale != 1:
        print(
            f"extrapolated to {CHAIN_STORES} stores (× {scale:g}, each store its own "
            f"transaction): {med['cpu'] * scale:.0f} s CPU, {total:.0f} s wall"
        )
    print(
        f"goal: the nightly run under 600 s wall: {'met' if total < 600 else 'NOT met'} "
        f"({total:.0f} s)"
    )
    if initial is not None:
        print(
            f"one-time first pack of a store from stock_daily_demand ({a.skus * a.days:,} "
            f"rows): {initial:.1f} s wall (median of {a.initial_stores})"
        )


if __name__ == "__main__":
    main()
