"""Pricing time for a 100-line basket with 50 active promotions (goal: < 5 ms), beside the
plain dictionary look-up of the same 100 prices in the same run (the raw floor of any
pricing). Medians of several runs; each run prices 20 freshly drawn baskets. Times are the
process's CPU time (this machine is shared; wall clock is printed beside it).

    python bench/pricing.py [RUNS]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.coupons import Terms
from protocols.pricing import Member, Policy, price
from rig import baskets

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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
