"""The nightly forecast + replenishment for a chain: 200 stores × 2,000 SKUs × 2 years of
daily history (goal: the whole run under 10 minutes on this 2-core machine), processed one
store (2,000 series) at a time so memory stays a few tens of MB. Per chunk:

- model: the design (weekday, trend, CN holidays) and promotions, the batched per-series
  regression (hub/forecast/model.py) over 14 days (lead + review), and the replenishment
  arithmetic (hub/replenishment/plan.py: safety stock, reorder point, suggested order);
- baseline, over the same data in the same run: seasonal naive over the same 14 days (the
  cheapest forecast there is: a copy of last week), i.e. the raw floor of any forecast.

Times are the process's CPU time (the machine is shared; wall clock beside it), medians over
runs; "per series" = per store × SKU. Generating the demand is not timed. Reading the history
from the database is not part of this figure (the hub reads `stock_daily_demand`, one index
range scan per store). `--stores N` runs N stores and extrapolates to 200 linearly (each
store is an independent chunk of the same size), and says so.

    python bench/forecast.py [--stores 200] [--skus 2000] [--days 730] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.db import Database, bulk_insert
from hub.forecast import service as forecasting
from hub.forecast.calendar import days_between, holiday_matrix
from hub.forecast.model import design, fit_predict, seasonal_naive
from hub.replenishment.plan import plan
from hub.stock.models import DailyDemand
from rig.demand import chain

HORIZON = 14
CHAIN_STORES = 200


def clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def one_store(y: np.ndarray, promo: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> float:
    n = y.shape[1]
    pf = np.zeros((y.shape[0], HORIZON))
    f = fit_predict(y, x[:n], x[n:], promo, pf)
    s = y.shape[0]
    p = plan(
        f.mean,
        f.sigma,
        rng.integers(1, 6, s),
        np.full(s, 7),
        np.full(s, 950),
        np.full(s, -1),
        rng.integers(0, 50_000, s),
        np.zeros(s, dtype=np.int64),
        np.full(s, 6000),
        np.zeros(s, dtype=np.int64),
    )
    return float(p.suggested.sum())


def read_history(stores: int, skus: int, days: int, runs: int) -> tuple[float, float]:
    """CPU and wall seconds to read one store's history from SQLite (`forecasting.history`),
    median over stores and runs; the rows are dense (every SKU sold every day: the worst
    case)."""
    db = Database(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    db.migrate()
    first = date(2024, 11, 28)
    rng = np.random.default_rng(2)
    for st in range(stores):
        with db.transaction() as s:
            for k in range(skus):
                q = rng.poisson(3, days) * 1000 + 1000
                rows = [
                    {"sku": f"69{k:011d}", "day": first + timedelta(days=i), "sold_milli": int(v)}
                    for i, v in enumerate(q)
                ]
                bulk_insert(
                    s,
                    DailyDemand.__table__,
                    rows,
                    same={"store_id": f"s{st:03d}", "refunded_milli": 0},
                )
    cpu, wall = [], []
    for _ in range(runs):
        for st in range(stores):
            c0, w0 = clocks()
            with db.transaction() as s:
                forecasting.history(s, [f"s{st:03d}"], first + timedelta(days=days - 1), days)
            c1, w1 = clocks()
            cpu.append(c1 - c0)
            wall.append(w1 - w0)
    db.engine.dispose()
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, default=CHAIN_STORES)
    ap.add_argument("--skus", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--read-stores", type=int, default=2, help="stores written to SQLite to time the read"
    )
    a = ap.parse_args()
    first = date(2024, 11, 28)
    # a pool of generated stores, reused round-robin (generation is not what is measured)
    pool = [chain(a.skus, first, a.days, seed=k) for k in range(4)]
    days = days_between(first, a.days + HORIZON)
    rng = np.random.default_rng(1)
    model_cpu, model_wall, naive_cpu, naive_wall = [], [], [], []
    for _ in range(a.runs):
        m_cpu = m_wall = n_cpu = n_wall = 0.0
        for k in range(a.stores):
            c = pool[k % len(pool)]
            c0, w0 = clocks()
            x = design(days, holiday_matrix(days))  # per store: the real run does it per chunk
            one_store(c.demand, c.promo, x, rng)
            c1, w1 = clocks()
            seasonal_naive(c.demand, HORIZON).sum()
            c2, w2 = clocks()
            m_cpu, m_wall = m_cpu + c1 - c0, m_wall + w1 - w0
            n_cpu, n_wall = n_cpu + c2 - c1, n_wall + w2 - w1
        model_cpu.append(m_cpu)
        model_wall.append(m_wall)
        naive_cpu.append(n_cpu)
        naive_wall.append(n_wall)
    series = a.stores * a.skus
    mc, mw = statistics.median(model_cpu), statistics.median(model_wall)
    nc, nw = statistics.median(naive_cpu), statistics.median(naive_wall)
    scale = CHAIN_STORES / a.stores
    print(f"{a.stores} stores × {a.skus} SKUs × {a.days} days, {a.runs} runs (medians)")
    print(
        f"forecast + replenishment: {mc:.1f} s CPU ({mw:.1f} s wall), "
        f"{mc / series * 1e6:.1f} µs CPU per series"
    )
    print(
        f"seasonal naive:           {nc:.2f} s CPU ({nw:.2f} s wall), "
        f"{nc / series * 1e6:.2f} µs CPU per series"
    )
    print(f"ratio model / seasonal naive: {mc / nc:.0f}× (CPU)")
    if scale != 1:
        print(
            f"extrapolated to {CHAIN_STORES} stores (× {scale:g}, each store an independent "
            f"chunk): {mc * scale:.0f} s CPU, {mw * scale:.0f} s wall"
        )
    rc, rw = read_history(a.read_stores, a.skus, a.days, a.runs)
    print(
        f"reading one store's history from SQLite (dense, {a.skus * a.days:,} rows): "
        f"{rc:.2f} s CPU ({rw:.2f} s wall), median of {a.read_stores} stores × {a.runs} runs; "
        f"× {CHAIN_STORES} stores (extrapolated): {rc * CHAIN_STORES:.0f} s CPU"
    )
    total_cpu = mc * scale + rc * CHAIN_STORES
    total_wall = mw * scale + rw * CHAIN_STORES
    print(
        f"nightly total (read + forecast + replenishment): {total_cpu:.0f} s CPU, "
        f"{total_wall:.0f} s wall on this shared machine"
    )
    print(
        f"goal: the nightly run under 600 s: {'met' if total_cpu < 600 else 'NOT met'} in CPU "
        f"time, {'met' if total_wall < 600 else 'NOT met'} in wall time"
    )


if __name__ == "__main__":
    main()
