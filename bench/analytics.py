"""Member analytics at chain scale, on PostgreSQL.

1. RFM + heat + segments (member facts, RFM quintiles, the week's heat, three segments
   recomputed for everybody) over MEMBERS members and LINES sale lines, against one SQL
   aggregate pass over the same sales (per member: purchases, net spend, last day — the least
   any RFM must read), timed in the same run on the same database. Goal: within 3× of it.
   Run i computes as of AS_OF + i days, as the daily job does day after day: the first run on
   a new database writes every score (printed as "first"), the next ones only what changed
   since the day before (their median is the daily figure).
   The process's peak RSS is printed too: the computations run in the database, no sale row
   comes into Python, so it stays flat whatever the number of lines.
2. BG/NBD + Gamma-Gamma fit for FIT_MEMBERS members drawn from known parameters. Goal: < 10 s.

    python bench/analytics.py [--members 1000000] [--lines 20000000] [--fit-members 100000]
                              [--runs 3] [--keep]
(needs STOREGW_TEST_PG_URL; the data is generated inside PostgreSQL with generate_series,
four lines per sale; --keep leaves the database for a look.)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import uuid
from datetime import date, timedelta

import numpy as np
import psycopg
from sqlalchemy import text

from hub.analytics import facts, heat, ltv_model, rfm, segments
from hub.db import Database

AS_OF = date(2026, 6, 30)
LINES_PER_SALE = 4
RULES = {
    "dormant big spenders": "days_since_purchase > 120 and spend_total >= 50000",
    "tea this year": "category has 'cat3' and visits_365d >= 2",
    "cooling": "heat < 20 and rfm_cell in ('at_risk', 'dormant')",
}


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def generate(db: Database, members: int, lines: int) -> None:
    sales = lines // LINES_PER_SALE
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO loyalty_settings (id, base_rate_milli, birthday_multiplier_pct,"
                " point_value_milli_fen, points_valid_days, reservation_ttl_s,"
                " card_valid_days, timezone) VALUES (1, 1000, 200, 1000, 365, 300, 730,"
                " 'Asia/Shanghai') ON CONFLICT DO NOTHING"
            )
        )
        c.execute(
            text(
                "INSERT INTO stores (id, name, tz, created_at) SELECT 's' || g, 'store ' || g,"
                " 'Asia/Shanghai', now() FROM generate_series(0, 19) g"
            )
        )
        c.execute(
            text(
                "INSERT INTO members (id, channel, origin_store, card_no, card_valid_until, status,"
                " created_at, updated_at, tags, marketing_consent)"
                " SELECT 'm' || lpad(g::text, 9, '0'), 'lane', 's' || (g % 20), 'c' || g,"
                " now() + interval '2 years', 'active', now(), now(), '[]', false"
                " FROM generate_series(1, :n) g"
            ),
            {"n": members},
        )
        # member of sale g: a skewed draw, so frequencies spread like a real chain's
        c.execute(
            text(
                "INSERT INTO sales (id, store_id, gateway_id, seq, lane, cashier, receipt_no,"
                " business_day, occurred_at, total_fen, change_fen, discount_fen, member_id,"
                " coupons, refunded_fen)"
                " SELECT 'x' || g, 's' || (g % 20), 'g1', g, '1', 'c', g::text,"
                " DATE '2026-06-30' - ago,"
                " TIMESTAMPTZ '2026-06-30 04:00Z' - make_interval(days => ago),"
                " fen, 0, 0, 'm' || lpad((1 + floor(:n * u * u))::int::text, 9, '0'), '[]',"
                " CASE WHEN g % 50 = 0 THEN fen ELSE 0 END"
                " FROM (SELECT g, (g::bigint * 7919 % 400)::int AS ago,"
                " 4 * (100 + g % 9900) AS fen,"
                " (g::bigint * 104729 % 1000003) / 1000003.0 AS u"
                " FROM generate_series(1, :s) g) x"
            ),
            {"n": members, "s": sales},
        )
        c.execute(
            text(
                "INSERT INTO sale_lines (sale_id, n, sku, name, category, qty_milli,"
                " unit_price_fen, discount_fen, total_fen, weighed, refunded_qty_milli,"
                " refunded_fen)"
                " SELECT 'x' || g, k, 'sku' || (g % 500 + k), 'item', 'cat' || ((g + k) % 8), 1000,"
                " 100 + g % 9900, 0, 100 + g % 9900, false, 0, 0"
                " FROM generate_series(1, :s) g CROSS JOIN generate_series(1, :k) k"
            ),
            {"s": sales, "k": LINES_PER_SALE},
        )
    with db.engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


BASELINES = {
    # the least an RFM must read: per member, purchases, net spend, last day, from sales
    "sales": "SELECT member_id, COUNT(*) AS n, SUM(total_fen - refunded_fen) AS v,"
    " MAX(business_day) AS d FROM sales WHERE refunded_fen < total_fen GROUP BY member_id",
    # the same per member over the sale lines (member and day live on the sale)
    "lines": "SELECT s.member_id, COUNT(*) AS n, SUM(l.total_fen) AS v, MAX(s.business_day) AS d"
    " FROM sale_lines l JOIN sales s ON s.id = l.sale_id GROUP BY s.member_id",
}


def baseline(db: Database, sql: str) -> float:
    """The aggregate computed in full by the server; only a one-row summary of it comes back (a
    million result rows fetched into Python would measure the driver and spoil the RSS figure).
    The summary reads every aggregate: a bare COUNT(*) over the subquery let PostgreSQL drop
    the aggregates (NULL outputs) and time only the grouping."""
    t = time.perf_counter()
    with db.transaction() as s:
        s.execute(text(f"SELECT COUNT(*), SUM(n), SUM(v), MAX(d) FROM ({sql}) x")).one()
    return time.perf_counter() - t


def ours(db: Database, as_of: date) -> dict[str, float]:
    out = {}
    t0 = time.perf_counter()
    with db.transaction() as s:
        facts.refresh(s, as_of)
    out["facts"] = time.perf_counter() - t0
    t = time.perf_counter()
    with db.transaction() as s:
        rfm.compute(s, as_of, from_facts=True)  # as the daily job: right after the facts
    out["rfm"] = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        heat.compute_week(s, as_of)
    out["heat"] = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        segments.refresh(s, as_of)
    out["segments"] = time.perf_counter() - t
    out["total"] = time.perf_counter() - t0
    return out


def fit_bench(n: int, runs: int) -> None:
    true = ltv_model.BgNbd(r=0.25, alpha=4.0, a=0.8, b=2.5)
    rng = np.random.default_rng(1)
    x, t_x, T = ltv_model.simulate_bgnbd(true, n, 52.0, rng)
    # whole weeks, as the hub's weekly summaries give them
    t_x = np.floor(t_x)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    mx = np.array([rng.gamma(6.0, 1 / nu[i], int(k)).mean() if k else 0.0 for i, k in enumerate(x)])
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        bg = ltv_model.fit_bgnbd(x, t_x, T)
        gg = ltv_model.fit_gamma_gamma(x, mx)
        ltv_model.expected_purchases(bg, 52, x, t_x, T)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(
        f"fit {n:,} members: BG/NBD r={bg.r:.3f} α={bg.alpha:.2f} a={bg.a:.3f} b={bg.b:.3f}"
        f" (true 0.25 4.0 0.8 2.5); GG p={gg.p:.2f} q={gg.q:.2f} v={gg.v:.2f} (true 6 4 15)"
    )
    print(f"fit time median of {runs}: {med:.2f} s (goal < 10 s) {'OK' if med < 10 else 'MISSED'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--lines", type=int, default=20_000_000)
    p.add_argument("--fit-members", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--skip-db", action="store_true", help="only the fit")
    p.add_argument("--skip-fit", action="store_true", help="only the database part")
    p.add_argument(
        "--generate-only", action="store_true", help="make the data, print its name, stop (--keep)"
    )
    p.add_argument("--db", help="reuse a database left by --keep/--generate-only (kept)")
    a = p.parse_args()
    if not (a.skip_fit or a.generate_only):
        fit_bench(a.fit_members, a.runs)
    if a.skip_db:
        return
    url = os.environ.get("STOREGW_TEST_PG_URL")
    if not url:
        sys.exit("set STOREGW_TEST_PG_URL (a PostgreSQL server to make a database in)")
    name = a.db or f"storegw_bench_analytics_{uuid.uuid4().hex[:8]}"
    keep = a.keep or a.generate_only or a.db is not None
    if not a.db:
        _admin(url, f'CREATE DATABASE "{name}"')
    db = Database(f"{url.rsplit('/', 1)[0]}/{name}")
    try:
        db.migrate()
        if not a.db:
            t = time.perf_counter()
            generate(db, a.members, a.lines)
            print(
                f"generated {a.members:,} members, {a.lines // LINES_PER_SALE:,} sales,"
                f" {a.lines:,} lines in {time.perf_counter() - t:.0f} s in database {name}",
                flush=True,
            )
            with db.transaction() as s:
                for n, r in RULES.items():
                    segments.create(s, n, r)
        if a.generate_only:
            return
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        base: dict[str, list[float]] = {k: [] for k in BASELINES}
        mine = []
        for i in range(a.runs):
            mine.append(ours(db, AS_OF + timedelta(days=i)))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in mine[-1].items()))
            for k, q in BASELINES.items():
                base[k].append(baseline(db, q))
                print(f"  one pass over {k}: {base[k][-1]:.2f} s", flush=True)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        daily = mine[1:] or mine
        parts = {k: statistics.median(m[k] for m in daily) for k in mine[0]}
        print(f"ours, day after day (median of {len(daily)}): ", end="")
        print(", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
        for k, times in base.items():
            b = statistics.median(times)
            ratio = parts["total"] / b
            print(
                f"one aggregate pass over {k}: {b:.2f} s (median of {a.runs});"
                f" RFM + heat + segments / it: {ratio:.2f}× day after day (goal ≤ 3×)"
                f" {'OK' if ratio <= 3 else 'MISSED'}; first run {mine[0]['total'] / b:.2f}×"
            )
        print(
            f"peak RSS of this process: {rss0 / 1024:.0f} MB before the runs,"
            f" {rss1 / 1024:.0f} MB after"
        )
        with db.transaction() as s:
            sizes = dict(segments.current_sizes(s))
            cells = dict(
                s.execute(text("SELECT cell, COUNT(*) FROM member_rfm GROUP BY cell")).all()
            )
        print(f"segments: {sizes}; RFM cells: {cells}")
    finally:
        db.engine.dispose()
        if not keep:
            _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
