"""Hub ingest rate with stock moves against the rate without them, in the same run: 5-line
sales through Ingest.apply (validation, seq order, dedupe, the handlers, one transaction per
pass) with every registered handler, and with every handler but stock's (hub/stock/ingest.py).
Each configuration runs on a fresh database, alternating, several times; medians are compared.
Goal: with stock ≥ 70 % of without. SQLite always, PostgreSQL when STOREGW_TEST_PG_URL is set.

    python bench/stock_ingest.py [N sales] [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import batches
from bench.hub_apply import PER_MESSAGE, PER_PASS, pg_database
from hub.db import Database
from hub.ingest.handlers import HANDLERS
from hub.ingest.service import Ingest

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
STOCK = "hub.stock.ingest"
EVERYTHING = {t: list(hs) for t, hs in HANDLERS.items()}


def handlers(with_stock: bool) -> None:
    for t, hs in EVERYTHING.items():
        HANDLERS[t] = [h for h in hs if with_stock or h.__module__ != STOCK]


def ours(url: str, msgs: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Wall and CPU seconds to apply the messages (passes as the worker takes them)."""
    db = Database(url)
    db.migrate()
    ingest = Ingest(db)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(msgs), PER_PASS):
        ingest.apply(msgs[i : i + PER_PASS])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.engine.dispose()
    return wall, cpu


def measure(engine: str, fresh_url: object) -> None:
    msgs = batches(N, PER_MESSAGE)
    times: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(RUNS):
        for with_stock in (False, True):
            handlers(with_stock)
            url, done = fresh_url()  # type: ignore[operator]
            try:
                wall, used = ours(url, msgs)
                times[with_stock].append(wall)
                cpu[with_stock].append(used)
            finally:
                done()
    without, with_ = (statistics.median(times[k]) for k in (False, True))
    c_without, c_with = (statistics.median(cpu[k]) for k in (False, True))
    print(
        f"{engine:10} without stock {N / without:8.0f} sales/s   with stock {N / with_:8.0f} "
        f"sales/s   with/without {without / with_:5.2f}  (goal ≥ 0.70; medians of {RUNS}; "
        f"this process's CPU time alone: {c_without / c_with:4.2f})"
    )


def main() -> None:
    assert any(h.__module__ == STOCK for hs in HANDLERS.values() for h in hs), "no stock handler"
    print(f"{N} sales of 5 lines, {PER_MESSAGE} per message, {PER_PASS} messages per pass")
    with tempfile.TemporaryDirectory() as d:
        n = iter(range(10**6))

        def sqlite_url() -> tuple[str, object]:
            return f"sqlite:///{d}/hub{next(n)}.db", lambda: None

        measure("sqlite", sqlite_url)
    pg = os.environ.get("STOREGW_TEST_PG_URL")
    if pg:
        measure("postgresql", lambda: pg_database(pg))
    else:
        print("postgresql skipped: STOREGW_TEST_PG_URL is not set")


if __name__ == "__main__":
    main()
