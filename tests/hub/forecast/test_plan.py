"""The replenishment arithmetic, by hand-worked examples."""

from __future__ import annotations

import numpy as np

from hub.replenishment.plan import demand_over, plan, transfers, z_of


def test_suggested_order_by_hand() -> None:
    mean = np.array([[1000.0] * 10, [500.0] * 10, [2000.0] * 10])
    p = plan(
        mean,
        sigma=np.array([400.0, 0.0, 100.0]),
        lead_days=np.array([4, 2, 3]),
        review_days=np.array([3, 2, 7]),
        service_level_pm=np.array([950, 950, 950]),
        fixed_safety=np.array([-1, 700, -1]),
        available=np.array([1000, 5000, -3000]),
        on_order=np.array([0, 0, 6000]),
        pack=np.array([6000, 1000, 1000]),
        min_order=np.array([0, 0, 24000]),
    )
    # z(95 %) = 1.6449: 1.6449 · 400 · √4 = 1315.9 → 1316; 1.6449 · 100 · √3 = 284.9 → 285
    assert p.safety.tolist() == [1316, 700, 285]
    assert p.reorder_point.tolist() == [4000 + 1316, 1000 + 700, 6000 + 285]
    assert p.target.tolist() == [7000 + 1316, 2000 + 700, 20000 + 285]
    assert p.need.tolist() == [7316, 0, 20285 - 3000]
    # 7316 → 2 packs of 6000; none; 17285 → 18 pieces, below the minimum 24
    assert p.suggested.tolist() == [12000, 0, 24000]


def test_demand_over_and_z() -> None:
    mean = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert demand_over(mean, np.array([0, 2])).tolist() == [0.0, 9.0]
    assert demand_over(mean, np.array([9, 1])).tolist() == [6.0, 4.0]  # capped at the horizon
    np.testing.assert_allclose(z_of(np.array([500, 975])), [0.0, 1.95996], atol=1e-4)


def test_transfers_take_from_the_largest_excess() -> None:
    got = transfers(
        ["a", "b", "c"], need=np.array([0, 2500, 0]), excess=np.array([1900, -50, 5000])
    )
    assert got == [("c", "b", 3000)]
    got = transfers(["a", "b", "c"], need=np.array([0, 6500, 0]), excess=np.array([2000, 0, 5000]))
    assert got == [("c", "b", 5000), ("a", "b", 2000)]
    assert transfers(["a", "b"], need=np.array([1000, 1000]), excess=np.array([0, 0])) == []
