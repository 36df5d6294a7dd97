"""What every analytics service shares: the surviving profile of a sale's member, what counts
as a purchase, dates in SQL on both engines, and the record of each computation (a run)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from hub.analytics.models import AnalyticsRun
from hub.db import UtcDateTime, utcnow
from hub.tiers import service as tiers

# A sale's member may be a profile merged since: its purchases are the survivor's. Sales are
# aggregated per member id first and the (far fewer) aggregates then mapped to survivors:
# joining every sale row to members doubled the cost of a pass.
OWNER = "COALESCE(m.merged_into, m.id)"
# The same without reading the whole members table: the absorbed profiles are few (and
# members.merged_into is indexed), so `LEFT JOIN {ABSORBED} mm ON mm.id = x.member_id` and
# `owner_of("x.member_id")` map a member id to its survivor for the price of a tiny hash.
ABSORBED = "(SELECT id, merged_into FROM members WHERE merged_into IS NOT NULL)"


class Refused(ValueError):
    """A computation analytics cannot do as asked (too few members to fit, a bad window): the
    reason says why (hub/http_errors.py answers it 422)."""


def owner_of(member_id: str) -> str:
    return f"COALESCE(mm.merged_into, {member_id})"


# A purchase is a sale not refunded in full; its value is what was kept.
PURCHASE = "s.refunded_fen < s.total_fen"
NET = "(s.total_fen - s.refunded_fen)"


def sql(source: str, dates: tuple[str, ...] = (), stamps: tuple[str, ...] = ()) -> TextClause:
    """A text query whose date and UTC timestamp parameters bind as their columns store them
    on either engine (SQLite keeps ISO strings and naive UTC)."""
    used = set(re.findall(r"(?<!:):(\w+)", source))
    binds = [bindparam(k, type_=Date) for k in dates if k in used]
    binds += [bindparam(k, type_=UtcDateTime()) for k in stamps if k in used]
    return text(source).bindparams(*binds) if binds else text(source)


def roomy(s: Session) -> None:
    """A whole-chain pass sorts and hashes a million members: on PostgreSQL give this
    transaction 64 MB per sort instead of the default 4 MB, so they stay in memory."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL work_mem = '64MB'"))


def stage(s: Session, table: str) -> str:
    """An empty temporary table with `table`'s columns to compute a whole-chain result into
    (on PostgreSQL a temporary table is not WAL-logged); `sync` then writes only what changed."""
    name = f"{table}_stage"
    s.execute(text(f"DROP TABLE IF EXISTS {name}"))
    s.execute(text(f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM {table} WHERE 1 = 0"))
    return name


def sync(
    s: Session, table: str, stage: str, key: str, compared: tuple[str, ...], stamps: tuple[str, ...]
) -> dict[str, int]:
    """Make `table` hold exactly `stage`'s rows, writing only the rows that differ in a
    `compared` column (their `stamps` too): most members' scores are the same as yesterday's,
    and rewriting a million unchanged rows (index entries, WAL, dead tuples) cost more than
    computing them. Three set-based statements (hash joins on `key`); drops the stage."""
    pg = s.get_bind().dialect.name == "postgresql"
    if pg:
        # (the stage is not analysed: the planner sizes it from its pages, enough for hashes)
        # an empty `table` (the first run) is planned as one row: a nested loop would rescan
        # it for each stage row, new rows included (invisible but read): quadratic. Hash joins.
        s.execute(text("SET LOCAL enable_nestloop = off"))
    cols = compared + stamps
    old = ", ".join(f"{table}.{c}" for c in compared)
    new = ", ".join(f"n.{c}" for c in compared)
    changed = s.execute(
        text(
            f"UPDATE {table} SET {', '.join(f'{c} = n.{c}' for c in cols)} FROM {stage} n"
            f" WHERE n.{key} = {table}.{key}"
            f" AND ({old}) {'IS DISTINCT FROM' if pg else 'IS NOT'} ({new})"
        )
    ).rowcount
    added = s.execute(
        text(
            f"INSERT INTO {table} ({key}, {', '.join(cols)}) SELECT {key}, {', '.join(cols)}"
            f" FROM {stage} n WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = n.{key})"
        )
    ).rowcount
    gone = s.execute(
        text(
            f"DELETE FROM {table} WHERE NOT EXISTS"
            f" (SELECT 1 FROM {stage} n WHERE n.{key} = {table}.{key})"
        )
    ).rowcount
    s.execute(text(f"DROP TABLE {stage}"))
    if pg:
        s.execute(text("SET LOCAL enable_nestloop TO DEFAULT"))
        if (changed or 0) + (added or 0) + (gone or 0) > 10_000:
            # many rows written (the first run): the segments' plans need true statistics now,
            # not at autovacuum's next visit (planned as a few hundred rows: nested loops)
            s.execute(text(f"ANALYZE {table}"))
    return {"changed": changed or 0, "added": added or 0, "removed": gone or 0}


def days_between(s: Session, later: str, earlier: str) -> str:
    """SQL for the whole days from date expression `earlier` to `later`."""
    if s.get_bind().dialect.name == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


def capped(expr: str, cap: int) -> str:
    return f"(CASE WHEN {expr} > {cap} THEN {cap} ELSE {expr} END)"


def zone(s: Session) -> ZoneInfo:
    return ZoneInfo(tiers.settings(s).timezone)


def today(s: Session, now: datetime | None = None) -> date:
    """The chain's business day now (store-local, the loyalty programme's time zone)."""
    return tiers.today(s, now)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a store-local day begins (bounds for UTC timestamps)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def record(
    s: Session,
    kind: str,
    method: str,
    params: dict[str, Any],
    summary: dict[str, Any],
    at: datetime | None = None,
) -> AnalyticsRun:
    run = AnalyticsRun(
        kind=kind, method=method, params=params, summary=summary, computed_at=at or utcnow()
    )
    s.add(run)
    s.flush()
    return run


def last_run(s: Session, kind: str) -> AnalyticsRun | None:
    return s.scalars(
        select(AnalyticsRun).where(AnalyticsRun.kind == kind).order_by(AnalyticsRun.id.desc())
    ).first()


def provenance(s: Session, kind: str) -> dict[str, Any]:
    """`computed_at` and `method` for a list built from `kind`'s newest run."""
    run = last_run(s, kind)
    if run is None:
        return {"computed_at": None, "method": "not computed yet", "params": {}}
    return {"computed_at": run.computed_at.isoformat(), "method": run.method, "params": run.params}
