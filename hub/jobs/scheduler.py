"""Scheduled work of several contexts (points, coupons, tiers, catalog), run inside the hub
process by one asyncio task (each job in a worker thread, in its own transactions) and callable
by name through the API:

reservations  release lane holds (points, coupons) past their timeout every 5 s
expiry        expire points lots past their date                   every 10 min
tiers         daily tier evaluation of every member + birthday gifts, once per local day
snapshots     build changed store snapshots and publish them       every 10 s (with MQTT)
pricing       recompute booked sales, record price differences     every 2 s (hub/pricing)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from hub.catalog import service as catalog
from hub.coupons import holds as coupon_holds
from hub.db import Database
from hub.loyalty import books
from hub.pricing import recompute as pricing
from hub.tiers import service as tiers

log = logging.getLogger(__name__)


class NoSuchJob(LookupError):
    """A job name the scheduler does not know."""


def run_reservations(db: Database) -> dict[str, Any]:
    total = 0
    while True:
        with db.transaction() as s:
            n = books.release_expired_reservations(s)
        with db.transaction() as s:
            c = coupon_holds.expire(s)  # coupons claimed by lanes, timed out
        total += n + c
        if n < 1000 and c < 1000:
            return {"released": total}


def run_expiry(db: Database) -> dict[str, Any]:
    total = 0
    while True:  # a bounded number of members per transaction: lanes are not kept waiting
        with db.transaction() as s:
            n = books.expire_points(s)
        if n == 0:
            return {"expired_points": total}
        total += n


def run_tiers(db: Database, open_birthday: Callable[[str, bytes], date]) -> dict[str, Any]:
    with db.transaction() as s:
        changed = tiers.evaluate_all(s)
    with db.transaction() as s:
        gifts = tiers.birthday_gifts(s, open_birthday)
    return {"tier_changes": changed, "birthday_gifts": gifts}


def run_snapshots(db: Database, publish: catalog.Publish | None, everything: bool = False) -> dict:
    with db.transaction() as s:  # built and sent together: see POST /api/catalog/publish
        made = len(catalog.refresh(s))
        sent = catalog.publish_newest(s, publish, everything) if publish else 0
    return {"new_versions": made, "published": sent}


class Scheduler:
    def __init__(
        self, db: Database, open_birthday: Callable[[str, bytes], date], worker: Any = None
    ) -> None:
        self.db = db
        self.open_birthday = open_birthday  # the birthday gifts' (birthdays are sealed)
        self.worker = worker
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, float] = {}
        self._tier_day: date | None = None
        self._was_connected = False
        self.runs: dict[str, dict[str, Any]] = {}

    def publisher(self) -> catalog.Publish | None:
        w = self.worker
        if w is None or w.link is None or not w.link.connected:
            return None
        return lambda topic, payload, qos, retain: w.publish(topic, payload, qos, retain)

    def jobs(self) -> dict[str, Callable[[], dict[str, Any]]]:
        return {
            "reservations": lambda: run_reservations(self.db),
            "expiry": lambda: run_expiry(self.db),
            "tiers": lambda: run_tiers(self.db, self.open_birthday),
            "snapshots": lambda: run_snapshots(self.db, self.publisher()),
            "pricing": lambda: pricing.run(self.db),
        }

    def run(self, name: str) -> dict[str, Any]:
        job = self.jobs().get(name)
        if job is None:
            raise NoSuchJob(f"no job {name!r} (jobs: {', '.join(self.jobs())})")
        result = job()
        self.runs[name] = {"at": time.time(), "result": result}
        return result

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="loyalty-jobs")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def _due(self, name: str, every_s: float) -> bool:
        now = time.monotonic()
        if now - self._last.get(name, -1e9) >= every_s:
            self._last[name] = now
            return True
        return False

    async def _loop(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loyalty job failed; retrying at the next tick")
            await asyncio.sleep(1.0)

    async def _tick(self) -> None:
        if self._due("reservations", 5):
            await asyncio.to_thread(self.run, "reservations")
        if self._due("pricing", 2):
            await asyncio.to_thread(self.run, "pricing")
        if self._due("expiry", 600):
            await asyncio.to_thread(self.run, "expiry")
        day = await asyncio.to_thread(self._today)
        if day != self._tier_day:
            await asyncio.to_thread(self.run, "tiers")
            self._tier_day = day
        publish = self.publisher()
        connected = publish is not None
        if connected and not self._was_connected:
            # (re)connected: resend the newest of everything; the broker may have lost them
            await asyncio.to_thread(run_snapshots, self.db, publish, True)
        elif self._due("snapshots", 10):
            await asyncio.to_thread(self.run, "snapshots")
        self._was_connected = connected

    def _today(self) -> date:
        with self.db.transaction() as s:
            return tiers.today(s)
