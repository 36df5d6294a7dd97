"""The forecast model: one weighted, lightly ridged least-squares regression per series, solved
for all series of a chunk at once (numpy, no loop over series).

For series s and day t (demand in milli-units, zero-filled):

    y[s,t] = a_s + b_s·t/365 + Σ_d w_{s,d}·weekday_d(t) + Σ_h c_{s,h}·holiday_h(t)
             + g_s·promo[s,t] + ε[s,t]

- weekday: six dummies (Monday is the base), the weekly seasonality;
- holiday: calendar columns shared by every series (calendar.py: any public holiday, the
  Spring Festival block, the National Day golden week, the eve of a holiday);
- trend: linear in time;
- promo: 1 when a promotion covering the SKU in that store is valid that day (per series);
- weights: exponential decay with a half-life (recent days count more), and zero before the
  series' first sale (a SKU listed last month did not sell nothing for two years).

Each series has its own normal equations (X_s'W_sX_s + λI) β_s = X_s'W_s y_s, k+1 = 13
unknowns: the Gram matrices of all series are one matrix product (weights × the outer products
of the shared columns, plus the promo column's few terms) and one batched `np.linalg.solve`.

Prediction interval: mean ± z·σ_s, σ_s the weighted residual standard deviation of the
series, the lower bound clipped at zero. Means are clipped at zero too (no negative demand)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HALF_LIFE_DAYS = 240.0
# ridge on the calendar and promo columns relative to each column's own weight (a rare holiday
# is not shrunk more than a weekday), plus a little for columns never seen (no holiday yet:
# they stay at zero); the level and trend are not shrunk
RIDGE = 1e-3
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


@dataclass
class Fit:
    beta: np.ndarray  # (series, k+1): the shared columns' weights, then the promo's
    sigma: np.ndarray  # (series,) the weighted residual standard deviation


def fit(
    y: np.ndarray,
    x_hist: np.ndarray,
    promo_hist: np.ndarray | None = None,
    half_life: float = HALF_LIFE_DAYS,
) -> Fit:
    """`y` (series, T) history; `x_hist` (T, k) from `design`; promo indicators (series, T)
    or None."""
    y = np.asarray(y, dtype=np.float64)
    n_s, n_t = y.shape
    k = x_hist.shape[1]
    p = np.zeros((n_s, n_t)) if promo_hist is None else np.asarray(promo_hist, dtype=np.float64)
    # a series is listed from its first sale on: the days before weigh nothing
    sold = y != 0
    start = np.where(sold.any(axis=1), sold.argmax(axis=1), 0)
    decay = 0.5 ** ((n_t - 1 - np.arange(n_t)) / half_life)
    w = decay[None, :] * (np.arange(n_t)[None, :] >= start[:, None])  # (S, T)
    # per-series normal equations of [x, promo], all at once: (S, k+1, k+1); the shared
    # columns' Gram is symmetric, so only the upper triangle's products (78 of 144)
    upper = np.triu_indices(k)
    gram = np.zeros((n_s, k + 1, k + 1))
    g = w @ (x_hist[:, upper[0]] * x_hist[:, upper[1]])
    gram[:, upper[0], upper[1]] = g
    gram[:, upper[1], upper[0]] = g
    # the promo column's terms, for the series a promotion ever covered (the others' are 0)
    promoted = np.flatnonzero(p.any(axis=1))
    wp = np.zeros((n_s, n_t))
    wp[promoted] = w[promoted] * p[promoted]
    if promoted.size:  # over every row: BLAS sums a subset of rows in another order
        gram[:, :k, k] = gram[:, k, :k] = wp @ x_hist
    gram[promoted, k, k] = (wp[promoted] * p[promoted]).sum(axis=1)
    total = w.sum(axis=1)
    eye = np.eye(k + 1)[None]
    diag = np.diagonal(gram, axis1=1, axis2=2)
    ridge = RIDGE * diag + 1e-6 * np.maximum(total, 1e-9)[:, None]
    ridge[:, :2] = 1e-9 * np.maximum(total, 1e-9)[:, None]  # the level and trend: unshrunk
    gram += eye * ridge[:, None, :]
    rhs = np.zeros((n_s, k + 1))
    rhs[:, :k] = (w * y) @ x_hist
    rhs[promoted, k] = (wp[promoted] * y[promoted]).sum(axis=1)
    beta = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]  # (S, k+1)
    # the weighted residuals' squares, in place (four arrays of a store's size were made here)
    r = beta[:, :k] @ x_hist.T
    r[promoted] += beta[promoted, k : k + 1] * p[promoted]
    np.subtract(y, r, out=r)
    r *= r
    r *= w
    sigma = np.sqrt(r.sum(axis=1) / np.maximum(total, 1e-9))
    return Fit(beta, sigma)


def predict(
    f: Fit, x_future: np.ndarray, promo_future: np.ndarray | None = None, z: float = Z_80
) -> Forecast:
    """`x_future` (H, k) from `design`; promo indicators (series, H) or None."""
    pf = (
        np.zeros((f.beta.shape[0], x_future.shape[0]))
        if promo_future is None
        else np.asarray(promo_future, dtype=np.float64)
    )
    k = f.beta.shape[1] - 1
    mean = np.maximum(f.beta[:, :k] @ x_future.T + f.beta[:, k : k + 1] * pf, 0.0)
    band = z * f.sigma[:, None]
    return Forecast(mean, np.maximum(mean - band, 0.0), mean + band, f.sigma)


def fit_predict(
    y: np.ndarray,
    x_hist: np.ndarray,
    x_future: np.ndarray,
    promo_hist: np.ndarray | None = None,
    promo_future: np.ndarray | None = None,
    half_life: float = HALF_LIFE_DAYS,
    z: float = Z_80,
) -> Forecast:
    """`fit` then `predict`."""
    return predict(fit(y, x_hist, promo_hist, half_life), x_future, promo_future, z)


def seasonal_naive(y: np.ndarray, horizon: int, season: int = 7) -> np.ndarray:
    """Each future day is the same weekday of the last week seen."""
    last = np.asarray(y, dtype=np.float64)[:, -season:]
    reps = -(-horizon // season)
    return np.tile(last, reps)[:, :horizon]
