"""1. Pricing time for a 100-line basket with 50 active promotions (goal: < 5 ms), beside the
   plain dictionary look-up of the same 100 prices in the same run (the raw floor of any
   pricing). Medians of several runs; each run prices 20 freshly drawn baskets. Times are the
   process's CPU time (this machine is shared; wall clock is printed beside it).
2. What the hub's recompute costs: 5-line sales priced by the engine (50 promotions in the
   snapshot they name) through Ingest.apply on SQLite with the sales books only, and with the
   price checks queued (what ingest carries), in the same run; then the pricing job's rate
   over the queued checks (off the ingest path). Medians of the runs.

    python bench/pricing.py [RUNS]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.app import ingest_handlers
from hub.catalog import service as catalog
from hub.catalog.models import Promotion
from hub.db import Database
from hub.ingest.service import Ingest
from hub.pricing import recompute as pricing_job
from hub.stores.models import Store
from protocols import topics
from protocols.coupons import Terms
from protocols.envelope import iso
from protocols.pricing import Member, Policy, price, promotion, sale_fields
from rig import baskets
from transport.ids import new_id

GOAL_MS = 5.0
AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def main(runs: int = 7) -> None:
    rng = random.Random(12)
    items = baskets.catalog(rng)
    promos = baskets.promotions(rng, items, 50)
    member = Member(tier="gold", discount_pct=95, prices={items[0]["sku"]: 1})
    coupons = [
        Terms(code="BENCH1", kind="percent_off", percent_off=5, stackable=True),
        Terms(code="BENCH2", kind="amount_off", amount_fen=500, threshold_fen=5000, stackable=True),
    ]
    policy = Policy(min_margin_bp=300)
    table = {it["sku"]: it["unit_price_fen"] for it in items}
    engine_ms, engine_wall, lookup_ms, searches = [], [], [], set()
    for _ in range(runs):
        carts = [baskets.basket(rng, items, 100) for _ in range(20)]
        t0, w0 = time.process_time(), time.perf_counter()
        for cart in carts:
            r = price(cart, promos, at=AT, member=member, coupons_presented=coupons, policy=policy)
            searches.add(r.search)
        engine_ms.append((time.process_time() - t0) * 1000 / len(carts))
        engine_wall.append((time.perf_counter() - w0) * 1000 / len(carts))
        t0 = time.process_time()
        for _ in range(100):
            for cart in carts:
                sum(table[it.sku] for it in cart)
        lookup_ms.append((time.process_time() - t0) * 1000 / (100 * len(carts)))
    e, b = statistics.median(engine_ms), statistics.median(lookup_ms)
    print(f"pricing, 100 lines, 50 promotions, member, 2 coupons ({'/'.join(sorted(searches))})")
    each = ", ".join(f"{x:.2f}" for x in engine_ms)
    print(f"  engine        median {e:7.3f} ms per basket  (runs: {each})")
    print(
        f"  (wall clock   median {statistics.median(engine_wall):7.3f} ms: the machine is shared)"
    )
    print(f"  dict look-up  median {b:7.4f} ms per basket")
    verdict = "met" if e < GOAL_MS else "MISSED"
    print(f"  ratio engine / look-up: {e / b:.0f}x; goal < {GOAL_MS} ms: {verdict}")


def _sales(rng: random.Random, items: list[dict[str, Any]], docs: list, n: int) -> list:
    """n engine-priced 5-line sales naming promotions snapshot v1, in messages of 250."""
    promos = [promotion(d) for d in docs]
    envs = []
    for seq in range(1, n + 1):
        cart = baskets.basket(rng, items, 5)
        r = price(cart, promos, at=AT)
        body = sale_fields(cart, r, names=[it.sku for it in cart], at=AT, promotions_version=1)
        eid = new_id()
        body.update(
            sale_id=eid,
            lane="1",
            cashier="bench",
            receipt_no=f"r{seq}",
            business_day="2026-11-28",
            payments=[{"tender": "cash", "amount_fen": body["total_fen"]}]
            if body["total_fen"]
            else [{"tender": "other", "amount_fen": 1}],
            change_fen=0 if body["total_fen"] else 1,
        )
        envs.append(
            {
                "id": eid,
                "seq": seq,
                "store": "b1",
                "gateway": "g1",
                "type": "sale.completed",
                "v": 1,
                "occurred_at": iso(AT),
                "body": body,
            }
        )
    topic = topics.events("b1", "g1")
    return [
        (topic, json.dumps({"v": 1, "events": envs[i : i + 250]}).encode())
        for i in range(0, n, 250)
    ]


def _apply(d: str, docs: list, msgs: list, recompute: bool) -> tuple[float, float]:
    db = Database(f"sqlite:///{d}/hub-{recompute}-{new_id()}.db")
    db.migrate()
    with db.transaction() as s:
        s.add(Store(id="b1", name="b1"))
        for p in docs:
            s.add(
                Promotion(
                    name=p["name"],
                    kind=p["kind"],
                    rule=p["rule"],
                    exclusive_group=p["group"],
                    stores=[],
                )
            )
        s.flush()
        catalog.refresh(s, ["b1"])
    keep = ("hub.sales.service", "hub.pricing.recompute") if recompute else ("hub.sales.service",)
    try:
        ingest = Ingest(db, ingest_handlers().only(lambda h: h.__module__ in keep))
        t0 = time.perf_counter()
        for i in range(0, len(msgs), 64):
            ingest.apply(msgs[i : i + 64])
        t1 = time.perf_counter()
        if recompute:
            assert pricing_job.run(db)["differences"] == 0
        return t1 - t0, time.perf_counter() - t1
    finally:
        db.engine.dispose()


def ingest(runs: int = 3, n: int = 5000) -> None:
    rng = random.Random(28)
    items = baskets.catalog(rng)
    docs = baskets.promotion_docs(rng, items, 50)
    msgs = _sales(rng, items, docs, n)
    books, queued, job = [], [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(runs):
            books.append(n / _apply(d, docs, msgs, recompute=False)[0])
            ingest_s, job_s = _apply(d, docs, msgs, recompute=True)
            queued.append(n / ingest_s)
            job.append(n / job_s)
    b, q, j = statistics.median(books), statistics.median(queued), statistics.median(job)
    print(f"hub, {n} engine-priced 5-line sales, SQLite, 50 promotions in the snapshot")
    print(f"  ingest, sales books only      median {b:8.0f} sales/s")
    print(f"  ingest, books + check queued  median {q:8.0f} sales/s  (ratio {q / b:.2f})")
    print(f"  pricing job (recompute)       median {j:8.0f} sales/s  (no difference found)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    ingest()
