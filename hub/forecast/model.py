"""The forecast model: one weighted, lightly ridged least-squares regression per series, solved
for all series of a chunk at once (numpy, no loop over series).

For series s and day t (demand in milli-units, zero-filled):

    y[s,t] = a_s + b_s·t/365 + Σ_d w_{s,d}·weekday_d(t) + Σ_h c_{s,h}·holiday_h(t)
             + g_s·promo[s,t] + ε[s,t]

- weekday: six dummies (Monday is the base), the weekly seasonality;
- holiday: calendar columns shared by every series (calendar.py: any public holiday, the
  Spring Festival block, the National Day golden week, the eve of a holiday);
- trend: linear in time;
- promo: 1 when a promotion covering the SKU in that store is valid that day (per series, so it
  is partialled out first, Frisch–Waugh: the per-series coefficient is then a ratio of sums);
- weights: exponential decay with a half-life (recent days count more), the same for every
  series, so one (X'WX + λI)⁻¹X'W serves all of them.

Prediction interval: mean ± z·σ_s, σ_s the weighted residual standard deviation of the
series, the lower bound clipped at zero. Means are clipped at zero too (no negative demand)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HALF_LIFE_DAYS = 240.0
RIDGE = 1e-3  # relative to the weight sum: keeps columns never seen (no holiday yet) at zero
Z_80 = 1.2816  # an 80 % interval


@dataclass
class Forecast:
    mean: np.ndarray  # (series, horizon) milli-units per day, ≥ 0
    low: np.ndarray
    high: np.ndarray
    sigma: np.ndarray  # (series,) the daily residual standard deviation


def design(days: np.ndarray, calendar: np.ndarray) -> np.ndarray:
    """Columns shared by every series: intercept, trend (years), six weekday dummies, the
    holiday columns. `days`: numpy datetime64[D]; `calendar`: (len(days), holiday columns)."""
    t = (days - days[0]).astype(np.float64) / 365.0
    wd = ((days.astype("datetime64[D]").view("int64") - 4) % 7).astype(int)  # 0 = Monday
    dummies = (wd[:, None] == np.arange(1, 7)[None, :]).astype(np.float64)
    return np.column_stack([np.ones_like(t), t, dummies, calendar.astype(np.float64)])


def fit_predict(
    y: np.ndarray,
    x_hist: np.ndarray,
    x_future: np.ndarray,
    promo_hist: np.ndarray | None = None,
    promo_future: np.ndarray | None = None,
    half_life: float = HALF_LIFE_DAYS,
    z: float = Z_80,
) -> Forecast:
    """`y` (series, T) history; `x_hist` (T, k), `x_future` (H, k) from `design`; promo
    indicators (series, T) and (series, H) or None."""
    y = np.asarray(y, dtype=np.float64)
    n_t = y.shape[1]
    w = 0.5 ** ((n_t - 1 - np.arange(n_t)) / half_life)
    xw = x_hist * w[:, None]
    gram = x_hist.T @ xw
    gram += RIDGE * w.sum() * np.eye(gram.shape[0])
    solve = np.linalg.solve(gram, xw.T)  # (k, T): coefficients = solve @ y_s
    g = np.zeros(y.shape[0])
    if promo_hist is not None and promo_hist.any():
        p = np.asarray(promo_hist, dtype=np.float64)
        p_res = p - (p @ solve.T) @ x_hist.T
        y_res = y - (y @ solve.T) @ x_hist.T
        den = (p_res * p_res * w).sum(axis=1)
        g = np.where(den > 1e-9, (p_res * y_res * w).sum(axis=1) / np.maximum(den, 1e-9), 0.0)
        y_adj = y - g[:, None] * p
    else:
        y_adj = y
    beta = y_adj @ solve.T  # (series, k)
    fitted = beta @ x_hist.T
    if promo_hist is not None:
        fitted = fitted + g[:, None] * promo_hist
    resid = y - fitted
    sigma = np.sqrt((resid * resid * w).sum(axis=1) / w.sum())
    mean = beta @ x_future.T
    if promo_future is not None:
        mean = mean + g[:, None] * promo_future
    mean = np.maximum(mean, 0.0)
    band = z * sigma[:, None]
    return Forecast(mean, np.maximum(mean - band, 0.0), mean + band, sigma)


def seasonal_naive(y: np.ndarray, horizon: int, season: int = 7) -> np.ndarray:
    """Each future day is the same weekday of the last week seen."""
    last = np.asarray(y, dtype=np.float64)[:, -season:]
    reps = -(-horizon // season)
    return np.tile(last, reps)[:, :horizon]
