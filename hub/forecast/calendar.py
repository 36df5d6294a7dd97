"""The calendar the forecast reads: Chinese public holidays (the `holidays` package's CN
calendar, with the official days off) as columns shared by every series, and promotions as a
per-series indicator."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays
import numpy as np

HOLIDAY_COLUMNS = ("holiday", "spring_festival", "golden_week", "eve")


def days_between(first: date, n: int) -> np.ndarray:
    return np.datetime64(first, "D") + np.arange(n)


def cn_holidays(first: date, last: date, language: str = "en_US") -> dict[date, str]:
    """The CN public holidays and official days off (names in `language`: en_US, zh_CN; the
    model reads the English names)."""
    cal = holidays.country_holidays("CN", years=range(first.year, last.year + 2), language=language)
    return {d: name for d, name in cal.items() if first <= d <= last + timedelta(days=1)}


def holiday_matrix(days: np.ndarray) -> np.ndarray:
    """(len(days), 4): a public holiday (day off); within the Spring Festival block (the days
    off from New Year's Eve to the last substituted day: any holiday within 8 days of the
    Spring Festival); within the National Day golden week (Oct 1–8); the day before a holiday
    that is not one itself (shopping ahead)."""
    if len(days) == 0:
        return np.zeros((0, len(HOLIDAY_COLUMNS)))
    first = days[0].astype("datetime64[D]").astype(date)
    if np.array_equal(days, days_between(first, len(days))):  # consecutive: the usual case
        return _holiday_matrix(first, len(days)).copy()
    return _holiday_rows(days.astype("datetime64[D]").astype(date))


@functools.lru_cache(maxsize=8)
def _holiday_matrix(first: date, n: int) -> np.ndarray:
    """Cached: every store of a nightly run asks for the same days."""
    return _holiday_rows(days_between(first, n).astype(date))


def _holiday_rows(ds: np.ndarray) -> np.ndarray:
    hol = cn_holidays(ds[0], ds[-1])
    spring = [d for d, name in hol.items() if "Spring Festival" in name]
    out = np.zeros((len(ds), len(HOLIDAY_COLUMNS)))
    for i, d in enumerate(ds):
        if d in hol:
            out[i, 0] = 1
            out[i, 1] = any(abs((d - s).days) <= 8 for s in spring)
            out[i, 2] = d.month == 10 and d.day <= 8
        elif d + timedelta(days=1) in hol:
            out[i, 3] = 1
    return out


def holidays_named(first: date, last: date, language: str = "en_US") -> list[dict[str, str]]:
    """For the charts: the holidays between two days, with their names."""
    return [
        {"day": d.isoformat(), "name": name}
        for d, name in sorted(cn_holidays(first, last, language).items())
        if d <= last
    ]


def promo_matrix(
    keys: list[tuple[str, str]],
    days: np.ndarray,
    promotions: list[dict],
    category: dict[str, str | None],
) -> np.ndarray:
    """(series, days): 1 when a promotion covering the series' SKU in its store is valid that
    day. A promotion is `{stores, skus, categories, first, last}` (empty stores: every store;
    empty skus and categories: every item); `category` maps SKU → catalog category."""
    out = np.zeros((len(keys), len(days)), dtype=np.float64)
    if not promotions:
        return out
    first = days[0].astype("datetime64[D]").astype(date)
    n = len(days)
    store_of = np.array([k[0] for k in keys], dtype=object)
    sku_of = np.array([k[1] for k in keys], dtype=object)
    cat_of = np.array([category.get(k[1]) for k in keys], dtype=object)
    for p in promotions:
        lo = max(0, (p["first"] - first).days) if p["first"] else 0
        hi = min(n, (p["last"] - first).days + 1) if p["last"] else n
        if lo >= hi:
            continue
        hit = np.ones(len(keys), dtype=bool)
        if p["stores"]:
            hit &= np.isin(store_of, list(p["stores"]))
        if p["skus"] or p["categories"]:
            hit &= np.isin(sku_of, list(p["skus"])) | np.isin(cat_of, list(p["categories"]))
        out[hit, lo:hi] = 1
    return out
