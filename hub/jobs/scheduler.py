"""Scheduled work of several contexts (points, coupons, tiers, catalog), run inside the hub
process by one asyncio task (each job in a worker thread, in its own transactions) and callable
by name through the API:

reservations  release lane holds (points, coupons) past their timeout every 5 s
expiry        expire points lots past their date                   every 10 min
tiers         daily tier evaluation of every member + birthday gifts, once per local day
snapshots     build changed store snapshots and publish them       every 10 s (with MQTT)
pricing       recompute booked sales, record price differences     every 2 s (hub/pricing)
members       push each store's recent members to its gateways      every 30 s (with MQTT)

Contexts add their own with `add` (hub/stock/runtime.py: `stock`, `replenishment`); those run
in a task of their own (a long nightly run holds back no other job), one run at a time each.
`clock` is the jobs' wall clock (UTC): tests set it to run a day's job at its hour.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from hub.catalog import service as catalog
from hub.coupons import holds as coupon_holds
from hub.db import Database, utcnow
from hub.loyalty import books
from hub.members import push as member_push
from hub.members.service import Members
from hub.pricing import recompute as pricing
from hub.tiers import service as tiers

log = logging.getLogger(__name__)
MEMBER_PUSH_S = 30.0  # how often the members push runs (docs/lanes.md)


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


def run_tiers(db: Database, members: Members) -> dict[str, Any]:
    with db.transaction() as s:
        changed = tiers.evaluate_all(s)
    with db.transaction() as s:
        gifts = tiers.birthday_gifts(s, members.open_birthday)  # birthdays are sealed
    return {"tier_changes": changed, "birthday_gifts": gifts}


def run_snapshots(db: Database, publish: catalog.Publish | None, everything: bool = False) -> dict:
    with db.transaction() as s:
        made = len(catalog.refresh(s))
    with db.transaction() as s:  # after the commit: see catalog.publish_newest
        sent = catalog.publish_newest(s, publish, everything) if publish else 0
    return {"new_versions": made, "published": sent}


def run_member_push(
    db: Database, members: Members, publish: catalog.Publish | None, everything: bool = False
) -> dict[str, Any]:
    return member_push.run(db, members, publish, member_push.Settings.from_env(), everything)


class Scheduler:
    def __init__(self, db: Database, members: Members, worker: Any = None) -> None:
        self.db = db
        self.worker = worker
        self.members = members
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, float] = {}
        self._tier_day: date | None = None
        self._was_connected = False
        self.runs: dict[str, dict[str, Any]] = {}
        self.clock: Callable[[], datetime] = utcnow
        self._added: dict[str, tuple[float, Callable[[], dict[str, Any]]]] = {}
        self._busy: dict[str, asyncio.Task[None]] = {}

    def add(self, name: str, every_s: float, job: Callable[[], dict[str, Any]]) -> None:
        """A context's job, run every `every_s` seconds and by name."""
        self._added[name] = (every_s, job)

    def publisher(self) -> catalog.Publish | None:
        w = self.worker
        if w is None or w.link is None or not w.link.connected:
            return None
        return lambda topic, payload, qos, retain: w.publish(topic, payload, qos, retain)

    def jobs(self) -> dict[str, Callable[[], dict[str, Any]]]:
        return {
            "reservations": lambda: run_reservations(self.db),
            "expiry": lambda: run_expiry(self.db),
            "tiers": lambda: run_tiers(self.db, self.members),
            "snapshots": lambda: run_snapshots(self.db, self.publisher()),
            "pricing": lambda: pricing.run(self.db),
            "members": lambda: run_member_push(self.db, self.members, self.publisher()),
            **{name: job for name, (_, job) in self._added.items()},
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
        busy = [t for t in self._busy.values() if not t.done()]
        if busy:  # a job's thread cannot be cancelled: give it a moment to commit or give up
            await asyncio.wait(busy, timeout=5)
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
        for name, (every_s, _) in self._added.items():
            busy = self._busy.get(name)
            if (busy is None or busy.done()) and self._due(name, every_s):
                self._busy[name] = asyncio.create_task(self._alone(name), name=f"job-{name}")
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
            await asyncio.to_thread(run_member_push, self.db, self.members, publish, True)
        else:
            if self._due("snapshots", 10):
                await asyncio.to_thread(self.run, "snapshots")
            if connected and self._due("members", MEMBER_PUSH_S):
                await asyncio.to_thread(self.run, "members")
        self._was_connected = connected

    async def _alone(self, name: str) -> None:
        try:
            await asyncio.to_thread(self.run, name)
        except Exception:
            log.exception("job %s failed; tried again at its next time", name)

    def _today(self) -> date:
        with self.db.transaction() as s:
            return tiers.today(s)
