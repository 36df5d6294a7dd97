"""What the forecast reads from the hub's own rows: the promotion days per series from the
catalog's promotions (scoped by category, by SKU, to another store, inactive), the fit kept for
the same read only while its promotion days stay the same, and the packed history of a SKU
whose blocks have gaps (the read joins each SKU's blocks in the database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from hub.catalog.models import CatalogItem, Promotion
from hub.db import Database
from hub.forecast import packed
from hub.forecast import service as forecasting
from hub.forecast.calendar import days_between
from hub.forecast.models import BLOCK_DAYS
from hub.stores.models import Store
from tests.hub.forecast.two_stores import s1_packed_s2_not

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 3, 1)


def _at(d: date) -> datetime:  # a store-local midnight
    return datetime(d.year, d.month, d.day, tzinfo=SHANGHAI)


def _days(first: date, last: date) -> np.ndarray:
    out = np.zeros(37)  # 30 days of history, 7 ahead
    out[(first - FIRST).days : (last - FIRST).days + 1] = 1
    return out


def _shop(db: Database) -> None:
    with db.transaction() as s:
        s.add(Store(id="s1", name="门店一", tz="Asia/Shanghai"))
        s.add_all(
            [
                CatalogItem(sku="A", name="绿茶", category="tea", price_fen=300),
                CatalogItem(sku="B", name="咖啡", category="coffee", price_fen=900),
                CatalogItem(sku="C", name="牛奶", category="dairy", price_fen=500),
            ]
        )
        s.add_all(
            [
                Promotion(
                    name="茶饮周",
                    kind="percent",
                    rule={"categories": ["tea"], "percent": 10},
                    valid_from=_at(date(2026, 3, 5)),
                    valid_until=_at(date(2026, 3, 11)),
                ),
                Promotion(  # runs on past the history: it lifts the forecast too
                    name="牛奶",
                    kind="percent",
                    rule={"skus": ["C"], "percent": 20},
                    valid_from=_at(date(2026, 3, 28)),
                    valid_until=_at(date(2026, 4, 2)),
                ),
                Promotion(
                    name="咖啡 (另一家店)",
                    kind="percent",
                    rule={"categories": ["coffee"], "percent": 10},
                    stores=["s2"],
                ),
                Promotion(
                    name="咖啡 (已停)",
                    kind="percent",
                    rule={"categories": ["coffee"], "percent": 10},
                    active=False,
                ),
            ]
        )


def test_promotion_days_per_series_from_the_catalog(db: Database) -> None:
    _shop(db)
    keys = [("s1", "A"), ("s1", "B"), ("s1", "C")]
    h = forecasting.History(keys, days_between(FIRST, 30), np.zeros((3, 30)))
    with db.transaction() as s:
        _, _, promo = forecasting._inputs(s, h, 7)
    np.testing.assert_array_equal(promo[0], _days(date(2026, 3, 5), date(2026, 3, 11)))
    np.testing.assert_array_equal(promo[1], np.zeros(37))  # another store's, an inactive one
    np.testing.assert_array_equal(promo[2], _days(date(2026, 3, 28), date(2026, 4, 2)))


def test_the_fit_is_kept_for_the_same_read_while_its_promotion_days_stay(db: Database) -> None:
    _shop(db)
    rng = np.random.default_rng(2)
    y = rng.poisson(5000, (2, 30)).astype(np.float64)
    y[0, 4:11] += 4000  # the tea week sold more
    h = forecasting.History([("s1", "A"), ("s1", "B")], days_between(FIRST, 30), y)
    with db.transaction() as s:
        first = forecasting.forecast(s, h, 7)
        again = forecasting.forecast(s, h, 7)
        np.testing.assert_array_equal(again.mean, first.mean)
        # coffee on promotion in the history's last week: B's fit is made again, with it
        s.add(
            Promotion(
                name="咖啡周",
                kind="percent",
                rule={"categories": ["coffee"], "percent": 10},
                valid_from=_at(date(2026, 3, 24)),
                valid_until=_at(date(2026, 3, 30)),
            )
        )
        s.flush()
        moved = forecasting.forecast(s, h, 7)
    np.testing.assert_array_equal(moved.mean[0], first.mean[0])
    assert not np.array_equal(moved.mean[1], first.mean[1])


def test_the_packed_read_of_a_sku_with_gaps_between_its_blocks(db: Database) -> None:
    until = date(2026, 6, 30)
    first = until - timedelta(days=729)
    b0 = packed.day_number(first) // BLOCK_DAYS
    # A: two blocks far apart; B: one, the last: each SKU's blocks joined by the database
    blocks = {
        ("A", b0 + 2): 1000,
        ("A", b0 + 7): 2000,
        ("B", packed.day_number(until) // BLOCK_DAYS): 3,
    }
    data = np.array([np.arange(BLOCK_DAYS) + v for v in blocks.values()], dtype=np.int64)
    with db.transaction() as s:
        s.add(Store(id="s1", name="门店一"))
        s.flush()
        packed.write_blocks(s, "s1", [k[0] for k in blocks], np.array([k[1] for k in blocks]), data)
        packed.pack(s, "s1", until)  # nothing in the daily rows: `through` moves on
    with db.transaction() as s:
        h = forecasting.history(s, ["s1"], until, 730)
    truth = np.zeros((2, 730))
    d0 = packed.day_number(first)
    for (sku, b), row in zip(blocks, data, strict=True):
        days = b * BLOCK_DAYS + np.arange(BLOCK_DAYS) - d0
        inside = (days >= 0) & (days < 730)
        truth[0 if sku == "A" else 1, days[inside]] = row[inside]
    assert h.keys == [("s1", "A"), ("s1", "B")]
    np.testing.assert_array_equal(h.demand, truth)
    assert truth[0].sum() > 0 and truth[1].sum() > 0


def test_stores_named_read_the_days_after_each_ones_through_as_every_store_does(
    db: Database,
) -> None:
    """s1 packed a month back, s2 never: named, each store's days after its `through` are
    one range of the daily rows; the same history as the read of every store."""
    until = date(2026, 6, 30)
    with db.transaction() as s:
        s1_packed_s2_not(s, until, trend_milli=10, stores=True)
    with db.transaction() as s:
        named = forecasting.history(s, ["s1", "s2"], until, 120)
        every = forecasting.history(s, None, until, 120)
        recent = forecasting.history(s, ["s1"], until, 10)  # begins after s1's `through`
    assert named.keys == every.keys == [("s1", "A"), ("s2", "A")]
    np.testing.assert_array_equal(named.demand, every.demand)
    np.testing.assert_array_equal(named.demand[0, 30:], 3000 + 10 * np.arange(89, -1, -1))
    np.testing.assert_array_equal(recent.demand[0], 3000 + 10 * np.arange(9, -1, -1))
