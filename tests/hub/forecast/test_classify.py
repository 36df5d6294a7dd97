"""The classification rules on arrays worked by hand."""

from __future__ import annotations

import numpy as np

from hub.replenishment import classify


def test_abc_by_cumulative_revenue() -> None:
    # 700 + 200 + 60 + 40 = 1000: before each: 0, 70 %, 90 %, 96 %
    got = classify.abc(np.array([60, 700, 40, 200, 0]))
    assert got.tolist() == ["B", "A", "C", "A", "C"]


def test_xyz_movers_and_seasonal() -> None:
    steady = np.full(91, 1000.0)
    lumpy = np.zeros(91)
    lumpy[::30] = 40_000  # 160 pieces on 4 days: the most units, sold rarely
    rare = np.zeros(91)
    rare[[3, 50]] = 1000
    none = np.zeros(91)
    cls, cv = classify.xyz(np.vstack([steady, lumpy, rare, none]))
    assert cls.tolist() == ["X", "Z", "Z", "Z"] and cv[0] == 0 and np.isnan(cv[3])
    assert classify.movers(np.vstack([steady, lumpy, rare, none])).tolist() == [
        "medium",
        "fast",
        "slow",
        "dead",
    ]
    year = np.full((2, 360), 1000.0)
    year[1, :270] = 100  # a summer item: the last quarter of the year holds most of it
    assert classify.seasonal(year).tolist() == [False, True]
    assert classify.seasonal(year[:, :200]).tolist() == [False, False]  # under a year: never
