"""Hub apply rate: 5-line sales per second through Ingest.apply (validation, seq order,
dedupe, bulk insert, one transaction per pass; the sales books only — loyalty measures its
own handlers on top in bench/loyalty_bench.py) against a raw bulk insert of the same rows
with the bare driver, on SQLite and (when STOREGW_TEST_PG_URL is set) PostgreSQL.

    python bench/hub_apply.py [N]
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import batches
from hub.app import ingest_handlers
from hub.db import Database
from hub.ingest.handlers import Handlers
from hub.ingest.service import Ingest

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
PER_MESSAGE = 250  # the uplink's batch size
PER_PASS = 64  # the worker's messages per pass


def rows(msgs: list[tuple[str, bytes]]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    sales, lines, pays = [], [], []
    for _, payload in msgs:
        for e in json.loads(payload)["events"]:
            b = e["body"]
            sales.append(
                (
                    e["id"],
                    "b1",
                    "g1",
                    e["seq"],
                    b["lane"],
                    b["cashier"],
                    b["receipt_no"],
                    b["business_day"],
                    e["occurred_at"],
                    b["total_fen"],
                    b["change_fen"],
                )
            )
            lines += [
                (
                    e["id"],
                    n,
                    x["sku"],
                    x["name"],
                    x["qty_milli"],
                    x["unit_price_fen"],
                    x["discount_fen"],
                    x["total_fen"],
                )
                for n, x in enumerate(b["lines"], 1)
            ]
            pays += [
                (e["id"], n, p["tender"], p["amount_fen"]) for n, p in enumerate(b["payments"], 1)
            ]
    return sales, lines, pays


RAW_DDL = [
    "CREATE TABLE s (id text primary key, store text, gw text, seq bigint, lane text, "
    "cashier text, receipt text, day text, at text, total bigint, change bigint)",
    "CREATE TABLE l (sale text, n int, sku text, name text, qty bigint, price bigint, "
    "disc bigint, total bigint, primary key (sale, n))",
    "CREATE TABLE p (sale text, n int, tender text, amount bigint, primary key (sale, n))",
]


def raw_sqlite(path: Path, data: tuple) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for ddl in RAW_DDL:
        conn.execute(ddl)
    sales, lines, pays = data
    step = PER_MESSAGE * PER_PASS
    t = time.perf_counter()
    for i in range(0, len(sales), step):
        ids = {s[0] for s in sales[i : i + step]}
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO s VALUES (?,?,?,?,?,?,?,?,?,?,?)", sales[i : i + step])
        conn.executemany(
            "INSERT INTO l VALUES (?,?,?,?,?,?,?,?)", [x for x in lines if x[0] in ids]
        )
        conn.executemany("INSERT INTO p VALUES (?,?,?,?)", [x for x in pays if x[0] in ids])
        conn.execute("COMMIT")
    return time.perf_counter() - t


def raw_pg(url: str, data: tuple) -> float:
    import psycopg

    sales, lines, pays = data
    step = PER_MESSAGE * PER_PASS
    with psycopg.connect(url) as conn:
        for ddl in RAW_DDL:
            conn.execute(ddl)
        conn.commit()
        t = time.perf_counter()
        for i in range(0, len(sales), step):
            ids = {s[0] for s in sales[i : i + step]}
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO s VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", sales[i : i + step]
                )
                cur.executemany(
                    "INSERT INTO l VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    [x for x in lines if x[0] in ids],
                )
                cur.executemany(
                    "INSERT INTO p VALUES (%s,%s,%s,%s)", [x for x in pays if x[0] in ids]
                )
            conn.commit()
        return time.perf_counter() - t


def plain_handlers() -> Handlers:
    """Only the foundation's handlers (the sales books)."""
    return ingest_handlers().only(lambda h: h.__module__ == "hub.sales.service")


def ours(url: str, msgs: list[tuple[str, bytes]]) -> float:
    db = Database(url)
    db.migrate()
    ingest = Ingest(db, plain_handlers())
    t = time.perf_counter()
    for i in range(0, len(msgs), PER_PASS):
        ingest.apply(msgs[i : i + PER_PASS])
    elapsed = time.perf_counter() - t
    db.engine.dispose()
    return elapsed


def pg_database(base: str) -> tuple[str, callable]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base.rsplit('/', 1)[0]}/{name}", drop


def report(engine: str, t_ours: float, t_raw: float) -> None:
    print(
        f"{engine:10} ours {N / t_ours:8.0f} sales/s   raw bulk insert {N / t_raw:8.0f} "
        f"sales/s   ours/raw {t_raw / t_ours:5.2f}"
    )


def main() -> None:
    msgs = batches(N, PER_MESSAGE)
    data = rows(msgs)
    print(f"{N} sales of 5 lines, {PER_MESSAGE} per message, {PER_PASS} messages per pass")
    with tempfile.TemporaryDirectory() as d:
        report("sqlite", ours(f"sqlite:///{d}/hub.db", msgs), raw_sqlite(Path(d) / "raw.db", data))
    pg = os.environ.get("STOREGW_TEST_PG_URL")
    if pg:
        url1, drop1 = pg_database(pg)
        url2, drop2 = pg_database(pg)
        try:
            report("postgresql", ours(url1, msgs), raw_pg(url2, data))
        finally:
            drop1()
            drop2()
    else:
        print("postgresql skipped: STOREGW_TEST_PG_URL is not set")


if __name__ == "__main__":
    main()
