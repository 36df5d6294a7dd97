"""A two-store demand history the packed-history tests share: s1 packed a month back, s2
never packed (its rows only in `stock_daily_demand`)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from hub.db import bulk_insert
from hub.forecast import packed
from hub.stock.models import DailyDemand
from hub.stores.models import Store


def s1_packed_s2_not(s: Session, until: date, trend_milli: int = 0, stores: bool = False) -> None:
    """90 days of SKU "A" at both stores (s1 3 a day, s2 5, plus `trend_milli` a day back);
    `stores`: add the stores' rows too."""
    for store, q in (("s1", 3000), ("s2", 5000)):
        if stores:
            s.add(Store(id=store, name=store))
        rows = [
            {"day": until - timedelta(days=i), "sold_milli": q + trend_milli * i} for i in range(90)
        ]
        same = {"store_id": store, "sku": "A", "refunded_milli": 0}
        bulk_insert(s, DailyDemand.__table__, rows, same=same)
    packed.pack(s, "s1", until - timedelta(days=30))
