"""Classification of a store's SKUs, over arrays (numpy, no loop per SKU):

- ABC by revenue over the window: sorted by revenue, A while the revenue before the item is
  under 80 % of the total, B under 95 %, C the rest (and anything that earned nothing);
- XYZ by demand variability: the coefficient of variation (σ / mean) of weekly demand over the
  window: X ≤ 0.5, Y ≤ 1.0, Z above (or never sold);
- movers over the window: dead (not sold at all), fast (the top 20 % by units among those
  sold), slow (sold on fewer than a quarter of the days), else medium;
- seasonal: with a year of history, the best three of twelve 30-day blocks hold at least half
  of the year's demand (an even year would give a quarter)."""

from __future__ import annotations

import numpy as np

WINDOW_DAYS = 91  # thirteen weeks
A_SHARE, B_SHARE = 0.80, 0.95
X_CV, Y_CV = 0.5, 1.0
FAST_SHARE = 0.20
SLOW_DAYS_SHARE = 0.25
SEASON_BLOCKS, SEASON_TOP, SEASON_SHARE = 12, 3, 0.5


def abc(revenue: np.ndarray) -> np.ndarray:
    revenue = np.maximum(np.asarray(revenue, dtype=np.float64), 0)
    order = np.argsort(-revenue, kind="stable")
    total = revenue.sum()
    before = np.empty_like(revenue)
    before[order] = (np.cumsum(revenue[order]) - revenue[order]) / (total or 1)
    out = np.where(before < A_SHARE, "A", np.where(before < B_SHARE, "B", "C"))
    return np.where(revenue > 0, out, "C")


def xyz(daily: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classes and the weekly CV (nan when never sold) over the last whole weeks."""
    weeks = daily.shape[1] // 7
    w = daily[:, daily.shape[1] - 7 * weeks :].reshape(daily.shape[0], weeks, 7).sum(axis=2)
    mean = w.mean(axis=1)
    cv = np.divide(w.std(axis=1), mean, out=np.full(mean.shape, np.nan), where=mean > 0)
    cls = np.where(mean <= 0, "Z", np.where(cv <= X_CV, "X", np.where(cv <= Y_CV, "Y", "Z")))
    return cls, cv


def movers(daily: np.ndarray) -> np.ndarray:
    units = daily.sum(axis=1)
    sold = units > 0
    days_sold = (daily > 0).mean(axis=1)
    cut = np.quantile(units[sold], 1 - FAST_SHARE) if sold.any() else np.inf
    return np.where(
        ~sold,
        "dead",
        np.where(units >= cut, "fast", np.where(days_sold < SLOW_DAYS_SHARE, "slow", "medium")),
    )


def seasonal(year: np.ndarray) -> np.ndarray:
    """`year`: (series, ≥ 360 days) of demand, the last 360 days read in 30-day blocks."""
    if year.shape[1] < SEASON_BLOCKS * 30:
        return np.zeros(year.shape[0], dtype=bool)
    blocks = year[:, -SEASON_BLOCKS * 30 :].reshape(year.shape[0], SEASON_BLOCKS, 30).sum(axis=2)
    total = blocks.sum(axis=1)
    top = np.sort(blocks, axis=1)[:, -SEASON_TOP:].sum(axis=1)
    return (total > 0) & (top >= SEASON_SHARE * np.maximum(total, 1e-9))
