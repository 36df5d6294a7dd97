"""Rolling-origin backtest: at each origin (one a week, the last `origins` weeks) fit on what
came before, forecast the next `horizon` days, and score against what happened, beside the
seasonal-naive forecast (same weekday last week) over the same days.

- WAPE = Σ|actual − forecast| / Σ actual, over every series, origin and day;
- MASE = mean over series of MAE / (in-sample mean |y[t] − y[t−7]|), the scale taken from the
  history before the first origin; series whose scale is 0 (never sold) are left out."""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.forecast.model import design, fit_predict, seasonal_naive


def backtest(
    y: np.ndarray,
    days: np.ndarray,
    calendar: np.ndarray,
    promo: np.ndarray | None = None,
    origins: int = 8,
    horizon: int = 7,
) -> dict[str, Any]:
    y = np.asarray(y, dtype=np.float64)
    n_t = y.shape[1]
    first_origin = n_t - origins * horizon
    if first_origin < 28:
        raise ValueError(f"{n_t} days of history are too few for {origins} origins")
    x = design(days, calendar)
    err_m = np.zeros(y.shape[0])
    err_n = np.zeros(y.shape[0])
    abs_m = abs_n = total = 0.0
    for o in range(first_origin, n_t, horizon):
        end = min(o + horizon, n_t)
        p_h = promo[:, :o] if promo is not None else None
        p_f = promo[:, o:end] if promo is not None else None
        f = fit_predict(y[:, :o], x[:o], x[o:end], p_h, p_f).mean
        naive = seasonal_naive(y[:, :o], end - o)
        actual = y[:, o:end]
        em, en = np.abs(actual - f).sum(axis=1), np.abs(actual - naive).sum(axis=1)
        err_m += em
        err_n += en
        abs_m, abs_n, total = abs_m + em.sum(), abs_n + en.sum(), total + actual.sum()
    scale = np.abs(y[:, 7:first_origin] - y[:, : first_origin - 7]).mean(axis=1)
    days_scored = n_t - first_origin
    ok = scale > 0

    def mase(err: np.ndarray) -> float:
        return float((err[ok] / days_scored / scale[ok]).mean()) if ok.any() else float("nan")

    return {
        "series": int(y.shape[0]),
        "origins": origins,
        "horizon": horizon,
        "model": {"wape": float(abs_m / total) if total else float("nan"), "mase": mase(err_m)},
        "seasonal_naive": {
            "wape": float(abs_n / total) if total else float("nan"),
            "mase": mase(err_n),
        },
    }
