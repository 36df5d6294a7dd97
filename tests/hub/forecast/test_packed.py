"""The forecast's packed demand (hub/forecast/packed.py) reads exactly what `stock_daily_demand`
holds: before any pack, after one, with sales booked late for packed days (through real ingest),
and after the next pack folds them in, when the blocks alone hold the history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import delete, func, select

from hub.db import Database, bulk_insert
from hub.forecast import packed
from hub.forecast import service as forecasting
from hub.forecast.models import BLOCK_DAYS, DemandLate, DemandPacked
from hub.stock.models import DailyDemand
from tests.hub.forecast.two_stores import s1_packed_s2_not
from tests.hub.till import Till, line

DAYS = 300


def _truth(db: Database, skus: list[str], first: date, until: date) -> np.ndarray:
    out = np.zeros((len(skus), (until - first).days + 1))
    with db.transaction() as s:
        for r in s.scalars(select(DailyDemand).where(DailyDemand.store_id == "s1")):
            if first <= r.day <= until:
                out[skus.index(r.sku), (r.day - first).days] = r.sold_milli - r.refunded_milli
    return out  # net: the history reads a negative day as 0


def _history(db: Database, until: date) -> forecasting.History:
    with db.transaction() as s:
        return forecasting.history(s, ["s1"], until, 730)


def _blocks(first: date, last: date) -> int:
    return packed.day_number(last) // BLOCK_DAYS - packed.day_number(first) // BLOCK_DAYS + 1


def test_packed_history_equals_the_daily_rows_through_packs_and_late_sales(
    db: Database, till: Till
) -> None:
    until = datetime.now(UTC).date() - timedelta(days=1)
    start = until - timedelta(days=DAYS - 1)
    rng = np.random.default_rng(3)
    with db.transaction() as s:
        for sku in ("A", "B"):
            sold = rng.integers(0, 9, DAYS) * 1000
            refunded = rng.integers(0, 2, DAYS) * 4000  # some days more refunded than sold
            rows = [
                {"day": start + timedelta(days=i), "sold_milli": int(a), "refunded_milli": int(b)}
                for i, (a, b) in enumerate(zip(sold, refunded, strict=True))
            ]
            bulk_insert(s, DailyDemand.__table__, rows, same={"store_id": "s1", "sku": sku})
    first = until - timedelta(days=729)
    net = _truth(db, ["A", "B"], first, until)
    assert (net[:, -DAYS:] < 0).any() and (net[:, :-DAYS] == 0).all()
    truth = np.maximum(net, 0)

    h = _history(db, until)  # nothing packed yet: every row read as it is
    assert h.keys == [("s1", "A"), ("s1", "B")]
    np.testing.assert_array_equal(h.demand, truth)

    with db.transaction() as s:
        written = packed.pack(s, "s1", until - timedelta(days=5))
    assert written == 2 * _blocks(start, until - timedelta(days=5))
    np.testing.assert_array_equal(_history(db, until).demand, truth)  # blocks + the last 5 days

    # a sale for a day already packed (a gateway back from days offline), and one for today
    late_day = until - timedelta(days=100)
    till.send(
        till.sale([line("A", 300, qty_milli=7000)], day=late_day),
        till.sale([line("B", 300, qty_milli=2000)]),
    )
    with db.transaction() as s:
        late = s.execute(select(DemandLate.sku, DemandLate.day)).all()
    assert late == [("A", late_day)]
    net_now = _truth(db, ["A", "B"], first, until)
    assert net_now[0, (late_day - first).days] == net[0, (late_day - first).days] + 7000
    truth_now = np.maximum(net_now, 0)
    np.testing.assert_array_equal(_history(db, until).demand, truth_now)

    with db.transaction() as s:
        written = packed.pack(s, "s1", until)
        assert s.scalar(select(func.count()).select_from(DemandLate)) == 0
        assert s.get(DemandPacked, "s1").through == until
    # only the blocks of the 5 new days, per SKU, and the late day's block
    assert written == 2 * _blocks(until - timedelta(days=4), until) + 1
    np.testing.assert_array_equal(_history(db, until).demand, truth_now)

    # the blocks alone hold the two years: without the daily rows the read is the same
    with db.transaction() as s:
        s.execute(delete(DailyDemand).where(DailyDemand.store_id == "s1", DailyDemand.day <= until))
    np.testing.assert_array_equal(_history(db, until).demand, truth_now)


def test_a_store_never_packed_reads_its_rows_beside_a_packed_one(db: Database) -> None:
    until = date(2026, 6, 30)
    with db.transaction() as s:
        s1_packed_s2_not(s, until)
    with db.transaction() as s:
        h = forecasting.history(s, None, until, 120)
    assert h.keys == [("s1", "A"), ("s2", "A")]
    assert (h.demand[:, :30] == 0).all()
    assert (h.demand[0, 30:] == 3000).all() and (h.demand[1, 30:] == 5000).all()
