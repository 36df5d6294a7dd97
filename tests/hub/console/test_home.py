"""The home page's figures on a real database: net sales (total less refunds, integer fen)
per business day over the last 14 days, the chain's for HQ and a store manager's own stores'
only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.accounts.service import Account
from hub.console.home import DAYS, figures
from hub.db import Database
from hub.sales.models import Sale
from hub.stores.models import Store

TODAY = date(2026, 11, 28)


def _account(role: str, stores: tuple[str, ...] = ()) -> Account:
    return Account(1, role, "", role, False, stores, None)


def _sale(n: int, store: str, day: date, total: int, refunded: int = 0) -> Sale:
    return Sale(
        id=f"s{n}",
        store_id=store,
        gateway_id="g1",
        seq=n,
        lane="1",
        cashier="c",
        receipt_no=str(n),
        business_day=day,
        occurred_at=datetime(day.year, day.month, day.day, 4, tzinfo=UTC),
        total_fen=total,
        refunded_fen=refunded,
    )


def test_net_sales_per_day_for_the_chain_and_for_a_manager(tmp_path, hub_db_url) -> None:
    db = Database(hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}")
    db.migrate()
    try:
        with db.transaction() as s:
            s.add_all([Store(id="sh1", name="a"), Store(id="bj1", name="b")])
            s.flush()
            s.add_all(
                [
                    _sale(1, "sh1", TODAY, 1999, refunded=500),
                    _sale(2, "bj1", TODAY, 10000),
                    _sale(3, "sh1", date(2026, 11, 15), 300),  # the first of the 14 days
                    _sale(4, "sh1", date(2026, 11, 14), 777),  # a day before them
                ]
            )
        with db.transaction() as s:
            chain = figures(s, _account("hq_analyst"), TODAY)
            mine = figures(s, _account("store_manager", ("sh1",)), TODAY)
        assert len(chain["days"]) == DAYS and chain["days"][-1] == "2026-11-28"
        assert chain["net_fen"][-1] == 1499 + 10000 and chain["net_fen"][0] == 300
        assert sum(chain["net_fen"]) == 1499 + 10000 + 300
        assert chain["stores"] == 2
        assert mine["net_fen"][-1] == 1499 and mine["stores"] == 1
        assert all(isinstance(v, int) for v in chain["net_fen"])
    finally:
        db.engine.dispose()
