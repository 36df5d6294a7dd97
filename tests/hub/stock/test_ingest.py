"""Sales and refunds move stock in the transaction that books them, exactly once."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.db import Database
from hub.stock import ledger
from hub.stock.models import DailyDemand, StockMove
from tests.hub.stock.conftest import Till, line


def _on_hand(db: Database, store: str, sku: str) -> int | None:
    with db.transaction() as s:
        b = ledger.balances(s, [(store, sku)]).get((store, sku))
        return b.on_hand_milli if b else None


def test_a_sale_moves_stock_once_and_a_replay_moves_nothing(db: Database, till: Till) -> None:
    sale = till.sale([line("A", 300, qty_milli=2000), line("W", 1280, qty_milli=1234)])
    assert till.send(sale).applied == 1
    assert _on_hand(db, "s1", "A") == -2000
    assert _on_hand(db, "s1", "W") == -1234  # weighed goods: grams
    again = Till(db)  # the same event again, as a rewind resends it
    again.seq = 0
    again.send(sale)
    till.send(sale)
    assert _on_hand(db, "s1", "A") == -2000
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StockMove)) == 2
        assert ledger.verify(s) == []
        alerts = ledger.open_alerts(s, "s1")
        assert {(a["sku"], a["kind"]) for a in alerts} == {("A", "negative"), ("W", "negative")}
        day = s.scalars(select(DailyDemand).where(DailyDemand.sku == "A")).one()
        assert day.sold_milli == 2000


def test_a_refund_brings_the_goods_back_and_clears_the_alert(db: Database, till: Till) -> None:
    sale = till.sale([line("A", 300, qty_milli=1000)])
    till.send(sale)
    refund = till.refund(sale)
    refund["body"]["lines"][0]["qty_milli"] = 1000
    assert till.send(refund).applied == 1
    assert _on_hand(db, "s1", "A") == 0
    with db.transaction() as s:
        assert ledger.open_alerts(s, "s1") == []
        assert ledger.verify(s) == []
