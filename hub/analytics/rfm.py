"""RFM: recency, frequency and monetary value scored 1-5 by quintiles over the whole chain.

Over the window (default 365 days up to and including `as_of`, store-local business days) each
member with at least one purchase gets
  recency       days from his last purchase to as_of       (fewer is better; the row keeps
                the last purchase day, so an unchanged member's row stays unchanged)
  frequency     purchases                                  (a sale not refunded in full)
  monetary_fen  what he kept: Σ (total - refunded)
and each score is 1 + ⌊5 · (rank - 1) / n⌋ where rank is the SQL RANK() among the n scored
members (computed from the counts per value), worst first: ties share a score, so 10 members
with distinct values score 1,1,2,2,…,5,5 and a chain where most buy once puts them all in F = 1.
Then the first matching cell of CELLS.
Everything runs in the database: one INSERT … SELECT into a temporary stage, then only the
rows that changed are written (`common.sync`); no sale row comes into Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.analytics import common, facts
from hub.analytics.models import MemberRfm
from hub.db import utcnow


@dataclass(frozen=True)
class Cell:
    key: str
    zh: str
    en: str
    when: str  # SQL over r, f, m; the Python twin is `rule`
    rule: Any  # (r, f, m) -> bool


# First match wins; every (r, f, m) lands in exactly one cell (the last one takes the rest).
CELLS: tuple[Cell, ...] = (
    Cell(
        "champions",
        "高价值",
        "Champions",
        "r >= 4 AND f >= 4 AND m >= 4",
        lambda r, f, m: r >= 4 and f >= 4 and m >= 4,
    ),
    Cell("new", "新客", "New", "r >= 4 AND f = 1", lambda r, f, m: r >= 4 and f == 1),
    Cell("potential", "潜力", "Potential", "r >= 4", lambda r, f, m: r >= 4),
    Cell("loyal", "忠诚", "Loyal", "r = 3 AND f >= 4", lambda r, f, m: r == 3 and f >= 4),
    Cell("steady", "一般维持", "Needs attention", "r = 3", lambda r, f, m: r == 3),
    Cell("at_risk", "流失预警", "At risk", "f >= 3 OR m >= 4", lambda r, f, m: f >= 3 or m >= 4),
    Cell("dormant", "沉睡", "Dormant", "1 = 1", lambda r, f, m: True),
)
BY_KEY = {c.key: c for c in CELLS}
METHOD = (
    "RFM quintiles per chain: score = 1 + floor(5·(RANK()-1)/n), worst first, ties share;"
    " recency = days since last purchase, frequency = purchases, monetary = net fen;"
    " cells first match: " + "; ".join(f"{c.key}: {c.when}" for c in CELLS)
)


def cell(r: int, f: int, m: int) -> str:
    return next(c.key for c in CELLS if c.rule(r, f, m))


def _scores(name: str, col: str) -> str:
    """The score of each distinct value of `col`: RANK() - 1 is how many members have less,
    so it comes from the counts per value (a few hundred days and frequencies), not from
    sorting every member's row three times (window functions over a million rows)."""
    return (
        # (cast: PostgreSQL's SUM of counts is numeric, and the division must be integral)
        f"{name} AS (SELECT {col} AS v, 1 + (5 * (CAST(SUM(COUNT(*)) OVER (ORDER BY {col})"
        f" AS BIGINT) - COUNT(*))) / (SELECT COUNT(*) FROM p) AS score FROM p GROUP BY {col}),"
    )


_SCORES = " ".join(_scores(n, c) for n, c in (("rs", "last_day"), ("fs", "freq"), ("ms", "spend")))


# The member facts of the same day already hold the 365-day purchases, spend and last day:
# read them instead of another pass over the sales (the daily job rebuilds them just before).
_FROM_FACTS = f"""
            WITH p AS (
                SELECT member_id, last_purchase AS last_day, visits_365d AS freq,
                       spend_365d_fen AS spend
                FROM member_facts WHERE visits_365d > 0
            ), {_SCORES} scored AS ("""


def compute(
    s: Session, as_of: date, window_days: int = 365, from_facts: bool = False
) -> dict[str, Any]:
    """Score every member who bought in the window; replaces the previous scores.
    `from_facts`: member_facts was just rebuilt for `as_of` (and the window is its 365 days)."""
    if window_days < 1:
        raise common.Refused("window_days must be at least 1")
    from_facts = from_facts and window_days == facts.WINDOW_DAYS
    common.roomy(s)
    now = utcnow()
    cells = " ".join(f"WHEN {c.when} THEN '{c.key}'" for c in CELLS)
    stage = common.stage(s, "member_rfm")
    source = (
        _FROM_FACTS
        if from_facts
        else f"""
            WITH p0 AS (
                SELECT s.member_id, MAX(s.business_day) AS last_day,
                       COUNT(*) AS freq, SUM({common.NET}) AS spend
                FROM sales s
                WHERE s.business_day > :since AND s.business_day <= :as_of AND {common.PURCHASE}
                GROUP BY s.member_id
            ), p AS (
                SELECT {common.OWNER} AS member_id, MAX(last_day) AS last_day,
                       SUM(freq) AS freq, SUM(spend) AS spend
                FROM p0 JOIN members m ON m.id = p0.member_id
                GROUP BY {common.OWNER}
            ), {_SCORES} scored AS ("""
    )
    s.execute(
        common.sql(
            source
            + f"""
                SELECT p.member_id, p.last_day, p.freq, p.spend,
                       rs.score AS r, fs.score AS f, ms.score AS m
                FROM p JOIN rs ON rs.v = p.last_day JOIN fs ON fs.v = p.freq
                       JOIN ms ON ms.v = p.spend
            )
            INSERT INTO {stage}
                (member_id, last_purchase, frequency, monetary_fen, r, f, m, cell, computed_at)
            SELECT member_id, last_day, freq, spend, r, f, m, CASE {cells} END, :now
            FROM scored
            """,
            dates=("since", "as_of"),
            stamps=("now",),
        ),
        {"since": as_of - timedelta(days=window_days), "as_of": as_of, "now": now},
    )
    written = common.sync(s, "member_rfm", stage, "member_id", _COMPARED, ("computed_at",))
    sizes = dict(s.execute(select(MemberRfm.cell, func.count()).group_by(MemberRfm.cell)).all())
    params = {"as_of": as_of.isoformat(), "window_days": window_days, "from_facts": from_facts}
    summary = {"cells": sizes, "members": sum(sizes.values()), "written": written}
    common.record(s, "rfm", METHOD, params, summary, now)
    return {**params, "cells": sizes, "written": written}


_COMPARED = ("last_purchase", "frequency", "monetary_fen", "r", "f", "m", "cell")


def recency_days(as_of: date, last_purchase: date) -> int:
    """Recency as of the run that scored the row (its `as_of`, in the run's params)."""
    return (as_of - last_purchase).days


def grid(s: Session) -> list[dict[str, Any]]:
    """Members and spend per (R, F) pair — the grid a marketer reads — with the cells."""
    rows = s.execute(
        select(
            MemberRfm.r,
            MemberRfm.f,
            func.count(),
            func.sum(MemberRfm.monetary_fen),
        ).group_by(MemberRfm.r, MemberRfm.f)
    ).all()
    return [{"r": r, "f": f, "members": n, "spend_fen": int(spend or 0)} for r, f, n, spend in rows]


def cells(s: Session) -> list[dict[str, Any]]:
    rows = dict(
        (c, (n, int(sp or 0)))
        for c, n, sp in s.execute(
            select(MemberRfm.cell, func.count(), func.sum(MemberRfm.monetary_fen)).group_by(
                MemberRfm.cell
            )
        ).all()
    )
    return [
        {
            "cell": c.key,
            "zh": c.zh,
            "en": c.en,
            "rule": c.when,
            "members": rows.get(c.key, (0, 0))[0],
            "spend_fen": rows.get(c.key, (0, 0))[1],
        }
        for c in CELLS
    ]
