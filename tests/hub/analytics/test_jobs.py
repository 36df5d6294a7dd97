"""The analytics jobs run on their schedule, not because a hub started: a fresh database gets
no run at the first tick; a day or week missed while the hub was down is caught up once."""

from __future__ import annotations

from datetime import date, timedelta

from hub.analytics import common
from hub.analytics.jobs import AnalyticsJobs
from hub.analytics.models import AnalyticsRun
from hub.db import Database


def _runs(db: Database, kind: str) -> list[dict]:
    with db.transaction() as s:
        rows = s.query(AnalyticsRun).filter(AnalyticsRun.kind == kind).all()
        return [r.params for r in rows]


def _today(db: Database) -> date:
    with db.transaction() as s:
        return common.today(s)


def test_a_start_is_not_a_run(db: Database) -> None:
    jobs = AnalyticsJobs(db, lambda: None)
    jobs.tick()
    jobs.tick()
    assert _runs(db, "daily") == [] and _runs(db, "heat") == []
    assert _runs(db, "rfm") == [] and _runs(db, "segments") == []


def test_a_missed_day_and_week_are_caught_up_once(db: Database) -> None:
    today = _today(db)
    ended = common.monday(today) - timedelta(days=7)
    with db.transaction() as s:  # the hub last ran the jobs before it went down
        common.record(s, "daily", "", {"as_of": (today - timedelta(days=2)).isoformat()}, {})
        common.record(s, "heat", "", {"week": (ended - timedelta(days=14)).isoformat()}, {})
    jobs = AnalyticsJobs(db, lambda: None)
    jobs.tick()
    jobs.tick()  # the same day: nothing more
    daily = [p["as_of"] for p in _runs(db, "daily")]
    if _today(db) == today:  # (not across local midnight)
        assert daily == [(today - timedelta(days=2)).isoformat(), today.isoformat()]
    assert [p["week"] for p in _runs(db, "heat")][1:] == [ended.isoformat()]
    # a new hub on the same database: today's run is recorded, so no second one
    AnalyticsJobs(db, lambda: None).tick()
    assert len(_runs(db, "daily")) == len(daily)
