"""The replenishment arithmetic over arrays of store × SKU rows (numpy, no loop per row).
Quantities in milli-units per day; lead time L and review period R in days.

    safety stock  SS = z(service level) · σ_day · √L          (or a fixed quantity)
    reorder point ROP = Σ forecast over the next L days + SS
    target        = Σ forecast over the next L + R days + SS
    need          = target − (available + on order + in transit)
    suggested     = need rounded up to whole packs, at least the minimum order; 0 if need ≤ 0

σ_day is the forecast's residual standard deviation of the series; demand over L days is taken
as L independent days (σ·√L)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass
class Plan:
    safety: np.ndarray
    reorder_point: np.ndarray
    target: np.ndarray
    need: np.ndarray  # before rounding, ≥ 0
    suggested: np.ndarray  # whole packs, ≥ minimum, or 0


def z_of(service_level_pm: np.ndarray) -> np.ndarray:
    """The standard normal quantile of each service level (per mille)."""
    levels = np.asarray(service_level_pm)
    out = np.empty(levels.shape, dtype=np.float64)
    for lv in np.unique(levels):  # a handful of distinct levels, not one per row
        out[levels == lv] = NormalDist().inv_cdf(float(lv) / 1000)
    return out


def demand_over(mean: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Σ mean[i, :days[i]] for every row at once (days ≤ the forecast's horizon)."""
    cum = np.concatenate([np.zeros((mean.shape[0], 1)), np.cumsum(mean, axis=1)], axis=1)
    return np.take_along_axis(cum, np.minimum(days, mean.shape[1])[:, None], axis=1)[:, 0]


def plan(
    mean: np.ndarray,
    sigma: np.ndarray,
    lead_days: np.ndarray,
    review_days: np.ndarray,
    service_level_pm: np.ndarray,
    fixed_safety: np.ndarray,  # milli-units, negative where the service level decides
    available: np.ndarray,
    on_order: np.ndarray,
    pack: np.ndarray,
    min_order: np.ndarray,
) -> Plan:
    lead = np.asarray(lead_days, dtype=np.int64)
    review = np.asarray(review_days, dtype=np.int64)
    safety = np.where(
        fixed_safety >= 0, fixed_safety, z_of(service_level_pm) * sigma * np.sqrt(lead)
    )
    safety = np.ceil(np.maximum(safety, 0)).astype(np.int64)
    rop = np.ceil(demand_over(mean, lead)).astype(np.int64) + safety
    target = np.ceil(demand_over(mean, lead + review)).astype(np.int64) + safety
    need = np.maximum(target - (np.asarray(available) + np.asarray(on_order)), 0).astype(np.int64)
    pack = np.maximum(np.asarray(pack, dtype=np.int64), 1)
    packs = -(-need // pack) * pack
    at_least = -(-np.asarray(min_order, dtype=np.int64) // pack) * pack
    suggested = np.where(need > 0, np.maximum(packs, at_least), 0)
    return Plan(safety, rop, target, need, suggested)


def transfers(
    stores: list[str], need: np.ndarray, excess: np.ndarray, unit: int = 1000
) -> list[tuple[str, str, int]]:
    """For one SKU across stores: (from, to, qty) moving excess (stock above a store's own
    target) to stores in need, the largest excess first, in whole units."""
    give = (np.maximum(excess, 0) // unit * unit).astype(np.int64)
    take = (-(-np.maximum(need, 0) // unit) * unit).astype(np.int64)
    givers = [int(j) for j in np.argsort(-give, kind="stable") if give[j] > 0]
    out = []
    for i in np.argsort(-take, kind="stable"):
        for j in givers:
            if take[i] <= 0:
                break
            if j == i or give[j] <= 0:
                continue
            q = int(min(take[i], give[j]))
            out.append((stores[j], stores[i], q))
            take[i] -= q
            give[j] -= q
    return out
