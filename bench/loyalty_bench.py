"""Loyalty on the ingest path, and the member 360° view under load.

1. Sales per second through Ingest.apply with loyalty applied (points earned by rules and
   tier multipliers, coupons consumed, points paid through reservations, tiers evaluated)
   against the foundation's plain apply rate (the same Ingest.apply with only the sales
   books registered), measured in the same run on the same kind of database. Goal: ≥ 0.5.
2. The member 360° view: p50/p99 latency at a steady 200 requests/s through the real HTTP
   server (`storegw hub`, its own process) with real members that have sales, points,
   coupons and tiers.

    python bench/loyalty_bench.py [SALES] [--pg]     (--pg: also PostgreSQL, from
                                                      STOREGW_TEST_PG_URL)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import mosquitto, pct, sale_envelope
from hub.app import ingest_handlers
from hub.coupons import service as coupons
from hub.coupons.models import CouponTemplate
from hub.db import Database
from hub.ingest.handlers import Handlers
from hub.ingest.service import Ingest
from hub.loyalty.books import check_books
from hub.loyalty.models import EarningRule
from hub.loyalty.service import Ledger
from hub.members.service import Members, Registration
from hub.members.vault import Vault
from hub.tiers.models import Tier
from protocols import topics
from rig import free_port

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 16_000
MEMBERS = 2_000
PER_MESSAGE = 250  # the uplink's batch size
PER_PASS = 64  # the worker's messages per pass
MEMBER_SHARE = 0.7  # of sales with a member card
COUPON_SHARE = 0.05
POINTS_SHARE = 0.02


def setup(db: Database, vault: Vault) -> dict[str, Any]:
    """Tiers, rules, members with some points, coupons to use, reservations to pay with."""
    members = Members(vault)
    ids: list[str] = []
    with db.transaction() as s:
        s.add_all(
            [
                CouponTemplate(
                    id=1, name="立减5元", kind="amount_off", amount_fen=500, valid_days=30
                ),
                Tier(code="normal", name="普通", rank=0),
                Tier(
                    code="silver",
                    name="银卡",
                    rank=1,
                    discount_pct=95,
                    spend_threshold_fen=100_000,
                    points_multiplier_pct=110,
                ),
                Tier(
                    code="gold",
                    name="金卡",
                    rank=2,
                    discount_pct=90,
                    spend_threshold_fen=500_000,
                    points_multiplier_pct=120,
                ),
                EarningRule(name="fresh ×2", category="fresh", rate_milli=2000),
            ]
        )
    with db.transaction() as s:
        for i in range(MEMBERS):
            reg = Registration(phone=f"+86139{i:08d}", birthday=f"1990-{i % 12 + 1:02d}-15")
            ids.append(members.register(s, reg).member.id)
    codes: list[str] = []
    reservations: list[tuple[str, str]] = []
    with db.transaction() as s:
        led = Ledger(s)
        led.lock(ids)
        for m in ids:
            led.credit(m, "adjust_in", 5_000, source_type="manual", source_id=f"seed-{m}")
        for i in range(int(N * COUPON_SHARE)):
            codes.append(coupons.issue(s, 1, ids[i % MEMBERS]).coupon.code)
        for i in range(int(N * POINTS_SHARE)):
            rid = f"bench-{i:06d}"
            led.reserve(rid, ids[i % MEMBERS], 100, ttl_s=3600)
            reservations.append((rid, ids[i % MEMBERS]))
    return {"members": ids, "codes": codes, "reservations": reservations}


def loyalty_messages(ctx: dict[str, Any]) -> list[tuple[str, bytes]]:
    rnd = random.Random(5)
    codes = list(ctx["codes"])
    resv = list(ctx["reservations"])
    envs = []
    for seq in range(1, N + 1):
        e = sale_envelope(seq, "b1", "g1")
        b = e["body"]
        roll = rnd.random()
        if resv and roll < POINTS_SHARE:
            rid, m = resv.pop()
            b["member_id"], b["points_reservation"] = m, rid
            first = b["payments"][0]
            first["amount_fen"] -= 100
            if first["tender"] == "cash":
                b["change_fen"] = first["amount_fen"] - (b["total_fen"] - 100)
            b["payments"] = [{"tender": "points", "amount_fen": 100, "ref": rid}, first]
        elif codes and roll < POINTS_SHARE + COUPON_SHARE:
            code = codes.pop()
            b["member_id"] = ctx["members"][len(codes) % MEMBERS]
            b["coupons"] = [code]
        elif roll < MEMBER_SHARE:
            b["member_id"] = rnd.choice(ctx["members"])
        envs.append(e)
    topic = topics.events("b1", "g1")
    return [
        (topic, json.dumps({"v": 1, "events": envs[i : i + PER_MESSAGE]}).encode())
        for i in range(0, N, PER_MESSAGE)
    ]


def apply_all(db: Database, msgs: list[tuple[str, bytes]], handlers: Handlers) -> float:
    ingest = Ingest(db, handlers)
    t = time.perf_counter()
    for i in range(0, len(msgs), PER_PASS):
        ingest.apply(msgs[i : i + PER_PASS])
    return time.perf_counter() - t


class Engine:
    """Fresh copies of one prepared database (members, coupons, holds), so every run starts
    from the same state: a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL."""

    def __init__(self, kind: str, workdir: Path, pg_url: str | None = None) -> None:
        self.kind, self.workdir, self.pg_url = kind, workdir, pg_url
        self.made: list[str] = []
        self.template = self._new_name()
        d = self._create(self.template, template=None)
        d.migrate()
        self.key = secrets.token_bytes(32)
        self.ctx = setup(d, Vault(self.key))
        d.engine.dispose()

    def _new_name(self) -> str:
        return f"bench_{uuid.uuid4().hex[:10]}"

    def _create(self, name: str, template: str | None) -> Database:
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            if template:
                shutil.copy(self.workdir / f"{template}.db", path)
            return Database(f"sqlite:///{path}")
        import psycopg

        assert self.pg_url
        with psycopg.connect(self.pg_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return Database(f"{self.pg_url.rsplit('/', 1)[0]}/{name}")

    def fresh(self) -> Database:
        return self._create(self._new_name(), self.template)

    def drop(self) -> None:
        if self.kind == "postgresql" and self.made:
            import psycopg

            assert self.pg_url
            with psycopg.connect(self.pg_url, autocommit=True) as c:
                for name in self.made:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


LOYALTY = ("hub.sales.service", "hub.loyalty.ingest")  # the sales books and loyalty's handlers


def ingest_rates(engine: Engine, rounds: int = 3) -> tuple[float, float, float]:
    """(plain, with loyalty, with every handler) in sales/s: the same messages on fresh copies
    of the same database, alternating, the median of `rounds` runs each (the machine is
    shared). "With loyalty" is what this issue's goal is about; every handler (stock, the
    price check's queue, analytics' follow-up too) is what a hub runs, printed beside it."""
    everything = ingest_handlers()
    plain_only = everything.only(lambda h: h.__module__ == "hub.sales.service")
    loyalty = everything.only(lambda h: h.__module__ in LOYALTY)
    msgs = loyalty_messages(engine.ctx)
    runs: dict[int, list[float]] = {id(plain_only): [], id(loyalty): [], id(everything): []}
    for _ in range(rounds):
        for handlers in (plain_only, loyalty, everything):
            db = engine.fresh()
            runs[id(handlers)].append(apply_all(db, msgs, handlers))
            if handlers is not plain_only:
                with db.transaction() as s:
                    problems = check_books(s)
                assert not problems, problems[:5]
            db.engine.dispose()
    plain, loyal, full = (
        N / statistics.median(runs[id(h)]) for h in (plain_only, loyalty, everything)
    )
    return plain, loyal, full


# --- the 360° view at 200 requests/s ---------------------------------------------------------
def view_latency(
    url: str, work: Path, ids: list[str], key: bytes, rate: float = 200.0, seconds: float = 15.0
) -> dict[str, Any]:
    """The hub as it runs (`storegw hub`, its own process, with its broker), requests sent
    open-loop on a fixed schedule from this process; lateness counts as latency."""
    import httpx

    work.mkdir(parents=True, exist_ok=True)
    broker = mosquitto(work)
    port = free_port()
    env = {
        **os.environ,
        "STOREGW_HUB_TOKEN": "bench-token",
        "STOREGW_MEMBER_KEY": base64.b64encode(key).decode(),
    }
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storegw.cli",
            "--log-level",
            "WARNING",
            "hub",
            "--data-dir",
            str(work / "hub-data"),
            "--database-url",
            url,
            "--mqtt-url",
            broker.url,
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer bench-token"}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).json().get("mqtt"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        time.sleep(3)  # let the start-up jobs (daily tier evaluation) finish first
        samples, errors, achieved = asyncio.run(_open_loop(base, headers, ids, rate, seconds))
    finally:
        hub.terminate()
        hub.wait(15)
        broker.stop()
    return {
        "requests": len(samples),
        "errors": errors,
        "rate": achieved,
        "p50_ms": pct(samples, 50) * 1000,
        "p99_ms": pct(samples, 99) * 1000,
    }


async def _open_loop(
    base: str, headers: dict[str, str], ids: list[str], rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Requests sent on a fixed schedule (not when the last one came back), from one event
    loop with aiohttp (light enough not to be the bottleneck itself); latency is counted from
    the moment a request was due."""
    import aiohttp

    samples: list[float] = []
    errors = 0
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, headers=headers, connector=conn) as c:
        async with c.get(f"/api/members/{ids[0]}/360") as r:
            await r.read()

        async def one(i: int, due: float) -> None:
            nonlocal errors
            async with c.get(f"/api/members/{ids[i % len(ids)]}/360") as r:
                await r.read()
                errors += r.status != 200
            samples.append(time.perf_counter() - due)

        tasks = []
        start = time.perf_counter() + 0.5
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        return samples, errors, len(samples) / (time.perf_counter() - start)


def main() -> None:
    print(
        f"{N} sales of 5 lines, {PER_MESSAGE}/message, {PER_PASS} messages/pass; "
        f"{MEMBERS} members, {MEMBER_SHARE:.0%} member sales, {COUPON_SHARE:.0%} with a "
        f"coupon, {POINTS_SHARE:.0%} paid partly with points; median of 3 alternating runs"
    )
    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)
    engines = [Engine("sqlite", work)]
    pg = os.environ.get("STOREGW_TEST_PG_URL")
    if "--pg" in sys.argv and pg:
        engines.append(Engine("postgresql", work, pg))
    try:
        for e in engines:
            plain, loyal, full = ingest_rates(e)
            print(
                f"{e.kind:10} with loyalty {loyal:7.0f} sales/s   plain apply {plain:7.0f} "
                f"sales/s   ratio {loyal / plain:4.2f} (goal >= 0.50); every handler "
                f"{full:7.0f} sales/s ({full / plain:4.2f})"
            )
        for e in engines:  # the 360° view over a database that has taken the sales above
            d = e.fresh()
            apply_all(d, loyalty_messages(e.ctx), ingest_handlers())
            url = d.url
            d.engine.dispose()
            v = view_latency(url, work / e.kind, e.ctx["members"], e.key)
            print(
                f"{e.kind:10} member 360 view at {v['rate']:.0f} req/s (target 200): "
                f"p50 {v['p50_ms']:.1f} ms  p99 {v['p99_ms']:.1f} ms  "
                f"({v['requests']} requests, {v['errors']} errors)"
            )
    finally:
        for e in engines:
            e.drop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
