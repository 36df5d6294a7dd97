"""Lifetime value on the hub's own books: BG/NBD + Gamma-Gamma (hub/analytics/ltv_model.py)
fitted for the chain and for each segment, and each member's P(alive), expected purchases and
expected value over a horizon from the chain's fit.

A member's calibration summary (first and last purchase day, repeat purchases, average repeat
value) is computed in the database, one row per member: purchases of one day are one
transaction (as in the CLI), net of refunds; no sale row comes into Python. With
`holdout_days`, calibration ends that many days before `as_of` and the purchases after it are
the holdout the prediction is checked against."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.analytics import common, ltv_model
from hub.analytics.models import LtvFit, MemberLtv, Segment, SegmentMembership
from hub.db import bulk_insert, utcnow

PERIOD_DAYS = {"day": 1, "week": 7}
MIN_CUSTOMERS = 20  # fewer: a fit says nothing
METHOD = (
    "BG/NBD (r, α, a, b) on repeat purchases (one per member and day) and Gamma-Gamma (p, q, v)"
    " on the average repeat value, maximum likelihood (L-BFGS-B over log-parameters);"
    " expected value = E[purchases in horizon | x, t_x, T] × E[value | x, m̄]"
)


class Summaries:
    """Calibration summaries of members, as numpy columns."""

    def __init__(self, rows: list[tuple[Any, ...]], period_days: int) -> None:
        self.ids = [r[0] for r in rows]
        cols = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 6)
        self.x, t_x, age, self.mx, self.holdout, first = cols.T
        self.t_x = t_x / period_days
        self.T = age / period_days
        self.first_ordinal = first.astype(int)

    def subset(self, keep: np.ndarray) -> ltv_model.Summary:
        return ltv_model.Summary(
            [i for i, k in zip(self.ids, keep, strict=True) if k],
            self.x[keep],
            self.t_x[keep],
            self.T[keep],
            self.mx[keep],
        )


def summaries(s: Session, calibration_end: date, as_of: date, period_days: int) -> Summaries:
    """(member, x, t_x days, T days, average repeat value fen, holdout purchases, first day)
    for every member with a purchase on or before calibration_end."""
    days = common.days_between
    rows = s.execute(
        common.sql(
            f"""
            WITH d0 AS (
                SELECT s.member_id, s.business_day AS day, SUM({common.NET}) AS v
                FROM sales s
                WHERE {common.PURCHASE} AND s.business_day <= :as_of
                GROUP BY s.member_id, s.business_day
            ), d AS (
                SELECT {common.OWNER} AS member_id, day, SUM(v) AS v
                FROM d0 JOIN members m ON m.id = d0.member_id
                GROUP BY {common.OWNER}, day
            ), a AS (
                SELECT member_id, MIN(day) AS first_day, MAX(day) AS last_day,
                       COUNT(*) AS n, SUM(v) AS total
                FROM d WHERE day <= :cal GROUP BY member_id
            ), h AS (
                SELECT member_id, COUNT(*) AS n FROM d WHERE day > :cal GROUP BY member_id
            )
            SELECT a.member_id, a.n - 1, {days(s, "a.last_day", "a.first_day")},
                   {days(s, ":cal", "a.first_day")},
                   CASE WHEN a.n > 1 THEN (a.total - f.v) * 1.0 / (a.n - 1) ELSE 0 END,
                   COALESCE(h.n, 0), {days(s, "a.first_day", ":epoch")}
            FROM a JOIN d f ON f.member_id = a.member_id AND f.day = a.first_day
            LEFT JOIN h ON h.member_id = a.member_id
            ORDER BY a.member_id
            """,
            dates=("as_of", "cal", "epoch"),
        ),
        {"as_of": as_of, "cal": calibration_end, "epoch": date(1, 1, 1)},
    ).all()
    out = Summaries(list(rows), period_days)
    out.first_ordinal = out.first_ordinal + 1  # days since 0001-01-01 → date ordinal
    return out


def _fit(summary: ltv_model.Summary) -> tuple[ltv_model.BgNbd, ltv_model.GammaGamma | None]:
    bg = ltv_model.fit_bgnbd(summary.x, summary.t_x, summary.T)
    try:
        gg: ltv_model.GammaGamma | None = ltv_model.fit_gamma_gamma(summary.x, summary.mx)
    except ValueError:
        gg = None
    return bg, gg


def compute(
    s: Session,
    as_of: date,
    period: str = "week",
    horizon_days: int = 365,
    holdout_days: int = 0,
    per_segment: bool = True,
) -> dict[str, Any]:
    """Fit the chain (and each active segment), predict every member from the chain's fit."""
    if period not in PERIOD_DAYS:
        raise common.Refused(f"period must be one of {', '.join(PERIOD_DAYS)}")
    if not 1 <= horizon_days <= 3650 or not 0 <= holdout_days <= 3650:
        raise common.Refused("horizon_days must be 1..3650 and holdout_days 0..3650")
    pdays = PERIOD_DAYS[period]
    cal = as_of - timedelta(days=holdout_days)
    common.roomy(s)
    summ = summaries(s, cal, as_of, pdays)
    everyone = np.ones(len(summ.ids), dtype=bool)
    if len(summ.ids) < MIN_CUSTOMERS:
        raise common.Refused(f"{len(summ.ids)} members with purchases: at least {MIN_CUSTOMERS}")
    now = utcnow()
    fits: dict[str, Any] = {}
    chain = summ.subset(everyone)
    bg, gg = _fit(chain)
    chain_fit = _store(s, "chain", period, chain, bg, gg, summ.holdout, holdout_days, pdays, now)
    fits["chain"] = _view(chain_fit)
    if per_segment:
        for seg_id, name in s.execute(select(Segment.id, Segment.name).where(Segment.active)):
            ids = set(
                s.scalars(
                    select(SegmentMembership.member_id).where(
                        SegmentMembership.segment_id == seg_id, SegmentMembership.left_at.is_(None)
                    )
                )
            )
            keep = np.array([i in ids for i in summ.ids], dtype=bool)
            if keep.sum() < MIN_CUSTOMERS:
                fits[f"segment:{name}"] = {"skipped": f"{int(keep.sum())} members with purchases"}
                continue
            sub = summ.subset(keep)
            sbg, sgg = _fit(sub)
            f = _store(
                s,
                f"segment:{name}",
                period,
                sub,
                sbg,
                sgg,
                summ.holdout[keep],
                holdout_days,
                pdays,
                now,
            )
            fits[f"segment:{name}"] = _view(f)
    _predict(s, chain_fit, bg, gg, summ, horizon_days / pdays, horizon_days, now)
    params = {
        "as_of": as_of.isoformat(),
        "calibration_end": cal.isoformat(),
        "period": period,
        "horizon_days": horizon_days,
        "holdout_days": holdout_days,
    }
    common.record(s, "ltv", METHOD, params, {"fits": list(fits), "members": len(summ.ids)}, now)
    return {**params, "fits": fits}


def _store(
    s: Session,
    scope: str,
    period: str,
    summary: ltv_model.Summary,
    bg: ltv_model.BgNbd,
    gg: ltv_model.GammaGamma | None,
    holdout: np.ndarray,
    holdout_days: int,
    pdays: int,
    now: Any,
) -> LtvFit:
    check = None
    if holdout_days:
        check = ltv_model.holdout_check(bg, summary, holdout, holdout_days / pdays)
    fit = LtvFit(
        scope=scope,
        period=period,
        customers=len(summary.customers),
        bgnbd=bg.as_dict(),
        gamma_gamma=gg.as_dict() if gg else None,
        holdout=check,
        computed_at=now,
    )
    s.add(fit)
    s.flush()
    return fit


def _predict(
    s: Session,
    fit: LtvFit,
    bg: ltv_model.BgNbd,
    gg: ltv_model.GammaGamma | None,
    summ: Summaries,
    horizon: float,
    horizon_days: int,
    now: Any,
) -> None:
    alive = ltv_model.p_alive(bg, summ.x, summ.t_x, summ.T)
    purchases = ltv_model.expected_purchases(bg, horizon, summ.x, summ.t_x, summ.T)
    if gg is not None and gg.q > 1:
        value = ltv_model.expected_value(gg, summ.x, summ.mx)
    else:  # no spend model: the member's own average, else the chain's
        mean = float(summ.mx[summ.x > 0].mean()) if (summ.x > 0).any() else 0.0
        value = np.where(summ.x > 0, summ.mx, mean)
    fen = np.rint(np.nan_to_num(purchases * value)).astype(np.int64)
    s.execute(delete(MemberLtv))
    rows = []
    for i, member in enumerate(summ.ids):
        rows.append(
            {
                "member_id": member,
                "fit_id": fit.id,
                "x": int(summ.x[i]),
                "t_x": float(summ.t_x[i]),
                "age": float(summ.T[i]),
                "p_alive": float(alive[i]),
                "expected_purchases": float(purchases[i]),
                "expected_value_fen": int(fen[i]),
                "horizon_days": horizon_days,
                "first_purchase": date.fromordinal(int(summ.first_ordinal[i])),
                "computed_at": now,
            }
        )
        if len(rows) == 5000:
            bulk_insert(s, MemberLtv.__table__, rows)
            rows = []
    bulk_insert(s, MemberLtv.__table__, rows)


def _view(f: LtvFit) -> dict[str, Any]:
    return {
        "id": f.id,
        "scope": f.scope,
        "period": f.period,
        "customers": f.customers,
        "bgnbd": f.bgnbd,
        "gamma_gamma": f.gamma_gamma,
        "holdout": f.holdout,
        "computed_at": f.computed_at.isoformat(),
    }


def newest_fits(s: Session) -> list[dict[str, Any]]:
    newest = select(func.max(LtvFit.id)).group_by(LtvFit.scope)
    return [
        _view(f)
        for f in s.scalars(select(LtvFit).where(LtvFit.id.in_(newest)).order_by(LtvFit.scope))
    ]


def by_acquisition_month(s: Session) -> list[dict[str, Any]]:
    """Members, mean P(alive) and predicted value per month of their first purchase."""
    if s.get_bind().dialect.name == "sqlite":
        month = func.strftime("%Y-%m", MemberLtv.first_purchase)
    else:
        month = func.to_char(MemberLtv.first_purchase, "YYYY-MM")
    rows = s.execute(
        select(
            month, func.count(), func.sum(MemberLtv.expected_value_fen), func.avg(MemberLtv.p_alive)
        )
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        {
            "month": m,
            "members": n,
            "expected_value_fen": int(v or 0),
            "mean_expected_value_fen": int((v or 0) // n) if n else 0,
            "mean_p_alive": round(float(p or 0), 4),
        }
        for m, n, v, p in rows
    ]
