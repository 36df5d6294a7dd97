"""When analytics runs by itself, inside the hub process (one asyncio task; each job in a worker
thread, in its own transaction), and the one-member card for the 360° view.

daily   once per store-local day: facts → RFM → intimacy → segments (everybody) → LTV
heat    once per store-local week, for the week just ended (Monday's first tick), then the
        churn warnings are pushed to the home stores (when MQTT is up; else at the next run)

Neither runs because the hub started: each run is recorded (analytics_runs), and at start the
jobs take the newest recorded day / week as done. A hub that missed a day or a week while down
catches up at its first tick; a database where the job never ran gets its first run at the
next business day (or week), or now through `POST /api/analytics/jobs/{daily|heat}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from hub.analytics import common, facts, heat, intimacy, ltv, rfm, segments
from hub.analytics.models import MemberHeat, MemberIntimacy, MemberLtv, MemberRfm
from hub.db import Database

log = logging.getLogger(__name__)


def daily(s: Session, as_of: date, window_days: int = 365) -> dict[str, Any]:
    out: dict[str, Any] = {"facts": facts.refresh(s, as_of)}
    out["rfm"] = rfm.compute(s, as_of, window_days, from_facts=True)
    out["intimacy"] = intimacy.compute(s, as_of)
    out["segments"] = segments.full(s, as_of)
    try:
        with s.begin_nested():
            out["ltv"] = ltv.compute(s, as_of)
    except ValueError as err:  # too few members to fit yet (common.Refused): the rest stands
        out["ltv"] = {"skipped": str(err)}
    common.record(s, "daily", DAILY_METHOD, {"as_of": as_of.isoformat()}, {"steps": list(out)})
    return out


DAILY_METHOD = "member facts → RFM → intimacy → segments (everybody) → LTV"


def _last_done(s: Session, kind: str, key: str) -> date | None:
    """The day (`key` of the params) of the newest recorded run of `kind`, if any."""
    run = common.last_run(s, kind)
    value = run.params.get(key) if run is not None else None
    return date.fromisoformat(value) if isinstance(value, str) else None


def member_card(s: Session, member_id: str) -> dict[str, Any]:
    """RFM, this and last weeks' heat, intimacy and predicted value of one (surviving) member."""
    owner = facts.owners(s, [member_id])
    mid = next(iter(owner), member_id)
    r = s.get(MemberRfm, mid)
    heats = (
        s.query(MemberHeat)
        .filter(MemberHeat.member_id == mid)
        .order_by(MemberHeat.week.desc())
        .limit(8)
        .all()
    )
    i = s.get(MemberIntimacy, mid)
    v = s.get(MemberLtv, mid)
    return {
        "member_id": mid,
        "rfm": None
        if r is None
        else {
            "cell": r.cell,
            "zh": rfm.BY_KEY[r.cell].zh,
            "en": rfm.BY_KEY[r.cell].en,
            "r": r.r,
            "f": r.f,
            "m": r.m,
            "computed_at": r.computed_at.isoformat(),
        },
        "heat": [{"week": h.week.isoformat(), "heat": h.heat} for h in reversed(heats)],
        "intimacy": None
        if i is None
        else {"score": i.score, "computed_at": i.computed_at.isoformat()},
        "ltv": None
        if v is None
        else {
            "p_alive": round(v.p_alive, 4),
            "expected_purchases": round(v.expected_purchases, 3),
            "expected_value_fen": v.expected_value_fen,
            "horizon_days": v.horizon_days,
            "computed_at": v.computed_at.isoformat(),
        },
    }


class AnalyticsJobs:
    def __init__(self, db: Database, publisher: Callable[[], heat.Publish | None]) -> None:
        self.db = db
        self.publisher = publisher
        self._task: asyncio.Task[None] | None = None
        self._day: date | None = None
        self._week: date | None = None
        self._unpushed: date | None = None
        self._quiet_until = 0.0  # after a failure: the next try in 10 minutes, not 30 s
        self.runs: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="analytics-jobs")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            if time.monotonic() >= self._quiet_until:
                try:
                    await asyncio.to_thread(self.tick)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("analytics job failed; trying again in 10 minutes")
                    self._quiet_until = time.monotonic() + 600
            await asyncio.sleep(30.0)

    def tick(self) -> None:
        with self.db.transaction() as s:
            today = common.today(s)
            if self._day is None:  # first tick: not a run at start (module docstring)
                self._day = _last_done(s, "daily", "as_of") or today
            if self._week is None:
                ended = common.monday(today) - timedelta(days=7)
                self._week = self._unpushed = _last_done(s, "heat", "week") or ended
        if today != self._day:
            with self.db.transaction() as s:
                self.runs["daily"] = {"at": time.time(), "result": daily(s, today)}
            self._day = today
        ended = common.monday(today) - timedelta(days=7)
        if ended != self._week:
            with self.db.transaction() as s:
                self.runs["heat"] = {"at": time.time(), "result": heat.compute_week(s, ended)}
            self._week = self._unpushed = ended
        publish = self.publisher()
        if self._unpushed is not None and publish is not None:
            with self.db.transaction() as s:
                heat.push(s, self._unpushed, publish)
            self._unpushed = None


_FOR_360 = text(
    """
    SELECT r.cell, i.score, l.p_alive, l.expected_value_fen, l.horizon_days,
           (SELECT h.heat FROM member_heat h WHERE h.member_id = x.id
            ORDER BY h.week DESC LIMIT 1) AS heat,
           (SELECT MAX(h.week) FROM member_heat h WHERE h.member_id = x.id) AS week
    FROM (SELECT CAST(:id AS VARCHAR(36)) AS id) x
    LEFT JOIN member_rfm r ON r.member_id = x.id
    LEFT JOIN member_intimacy i ON i.member_id = x.id
    LEFT JOIN member_ltv l ON l.member_id = x.id
    """
)


def for_360(conn: Connection, member_id: str) -> dict[str, Any]:
    """The 360° view's analytics line: the newest heat, predicted value over the horizon,
    P(alive), RFM cell and intimacy (one primary-key look-up each; the view is a hot path)."""
    row = conn.execute(_FOR_360, {"id": member_id}).one()
    return {
        "heat": row.heat,
        "heat_week": str(row.week) if row.week is not None else None,
        "predicted_value_fen": row.expected_value_fen,
        "horizon_days": row.horizon_days,
        "p_alive": None if row.p_alive is None else round(row.p_alive, 4),
        "rfm_cell": row.cell,
        "intimacy": row.score,
    }
