"""A generated chain's daily demand with known patterns, for the forecast's tests and bench:
per store × SKU a level, a weekly profile (weekends busier), a trend, CN public holidays
(Spring Festival: most shops quieter, some items much busier; golden week busier; the eve of a
holiday busier), promotions lifting demand, and Poisson noise. Milli-units (pieces × 1000)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from hub.forecast.calendar import days_between, holiday_matrix

WEEK = np.array([0.85, 0.8, 0.85, 0.95, 1.15, 1.45, 1.35])  # Monday … Sunday


@dataclass
class Chain:
    days: np.ndarray  # datetime64[D]
    calendar: np.ndarray  # holiday_matrix(days)
    demand: np.ndarray  # (series, days) milli-units
    promo: np.ndarray  # (series, days) 0/1


def chain(series: int, first: date, n_days: int, seed: int = 7, promo_share: float = 0.2) -> Chain:
    rng = np.random.default_rng(seed)
    days = days_between(first, n_days)
    cal = holiday_matrix(days)
    wd = (days.view("int64") - 4) % 7
    level = rng.lognormal(1.0, 0.9, series)  # pieces per day
    weekly = WEEK[wd][None, :] * rng.uniform(0.8, 1.2, (series, 1)) ** (WEEK[wd] > 1)[None, :]
    trend = 1 + rng.normal(0.0, 0.15, (series, 1)) * np.arange(n_days)[None, :] / 365
    spring_effect = rng.choice([0.5, 2.5], size=(series, 1), p=[0.7, 0.3])
    lift = (
        1
        + 0.3 * cal[None, :, 0]
        + (spring_effect - 1) * cal[None, :, 1]
        + 0.4 * cal[None, :, 2]
        + 0.5 * cal[None, :, 3]
    )
    promo = np.zeros((series, n_days))
    for s in np.flatnonzero(rng.random(series) < promo_share):
        for start in rng.integers(0, n_days - 7, 4):
            promo[s, start : start + 7] = 1
    rate = level[:, None] * weekly * np.maximum(trend, 0.2) * lift * (1 + 0.6 * promo)
    return Chain(days, cal, rng.poisson(rate) * 1000.0, promo)
