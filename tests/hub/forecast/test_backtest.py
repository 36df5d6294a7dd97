"""The forecast against seasonal naive on a generated chain with known weekly, holiday and
promotion patterns: over origins that take in the Spring Festival and the golden week, it must
win on WAPE and MASE."""

from __future__ import annotations

from datetime import date

import numpy as np

from hub.forecast.backtest import backtest
from hub.forecast.model import design, fit_predict
from rig.demand import chain


def test_beats_seasonal_naive_over_spring_festival() -> None:
    # two years up to a few weeks after the Spring Festival of 2026 (Feb 17)
    c = chain(300, date(2024, 3, 1), 748)
    r = backtest(c.demand, c.days, c.calendar, c.promo, origins=8)
    assert r["model"]["wape"] < 0.9 * r["seasonal_naive"]["wape"], r
    assert r["model"]["mase"] < 0.9 * r["seasonal_naive"]["mase"], r


def test_beats_seasonal_naive_over_golden_week() -> None:
    c = chain(300, date(2023, 10, 20), 730, seed=11)  # ends 2025-10-19
    r = backtest(c.demand, c.days, c.calendar, c.promo, origins=6)
    assert r["model"]["wape"] < r["seasonal_naive"]["wape"], r
    assert r["model"]["mase"] < r["seasonal_naive"]["mase"], r


def test_learns_the_week_and_the_promotion() -> None:
    """Without noise the model recovers a weekly profile and a promotion's uplift exactly."""
    c = chain(2, date(2024, 1, 1), 400)
    week = np.array([1, 1, 1, 1, 2, 3, 3], dtype=float) * 1000
    wd = (c.days.view("int64") - 4) % 7
    promo = np.zeros((2, 407))
    promo[1, 100:110] = promo[1, 403:405] = 1
    y = np.vstack([week[wd], week[wd]]) + 5000 * promo[:, :400]
    x_all = design(np.concatenate([c.days, c.days[-1] + 1 + np.arange(7)]), np.zeros((407, 0)))
    f = fit_predict(y, x_all[:400], x_all[400:], promo[:, :400], promo[:, 400:])
    future_wd = (wd[-1] + 1 + np.arange(7)) % 7
    np.testing.assert_allclose(f.mean[0], week[future_wd], atol=30)
    np.testing.assert_allclose(f.mean[1], week[future_wd] + 5000 * promo[1, 400:], atol=60)
    assert (f.low <= f.mean).all() and (f.mean <= f.high).all()
