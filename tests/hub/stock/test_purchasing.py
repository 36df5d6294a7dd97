"""Purchase orders along their lifecycle, partial receipts, discrepancies, the moving-average
cost; receiving by API and by the store's stock.received event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.purchasing import service as purchasing
from hub.purchasing.models import PurchaseOrder
from hub.stock import ledger
from hub.stock.ledger import StockError
from hub.stock.service import variance
from hub.stores.models import Store
from tests.hub.stock.conftest import Till

NOW = datetime(2026, 11, 28, 3, tzinfo=UTC)


def _setup(db: Database) -> str:
    with db.transaction() as s:
        s.add(Store(id="s1", name="一店"))
        s.flush()
        purchasing.save_supplier(
            s,
            "milk-co",
            "蒙牛",
            2,
            10_000,
            [
                {"sku": "M", "cost_fen": 300, "pack_milli": 12_000, "min_order_milli": 24_000},
                {"sku": "Y", "cost_fen": 450, "pack_milli": 6_000, "min_order_milli": 0},
            ],
            NOW,
        )
        po = purchasing.create_po(
            s,
            "milk-co",
            "s1",
            [{"sku": "M", "qty_milli": 48_000}, {"sku": "Y", "qty_milli": 6_000}],
            NOW,
        )
    return po["id"]


def _receive(db: Database, po: str | None, lines: list[dict], store: str = "s1") -> dict:
    with db.transaction() as s:
        return purchasing.receive(
            s, str(uuid.uuid4()), store, lines, received_by="王", at=NOW, po_id=po
        )


def test_a_po_is_sent_received_in_parts_then_closed(db: Database) -> None:
    po = _setup(db)
    with pytest.raises(StockError, match="is draft"):  # not sent: nothing to receive
        _receive(db, po, [{"sku": "M", "qty_milli": 12_000}])
    with db.transaction() as s:
        assert purchasing.move_po(s, po, "sent", NOW)["state"] == "sent"
    with pytest.raises(StockError, match="is sent: it cannot become sent"), db.transaction() as s:
        purchasing.move_po(s, po, "sent", NOW)

    r1 = _receive(db, po, [{"sku": "M", "qty_milli": 24_000, "damaged_milli": 1_000}])
    assert r1["discrepancies"] == [
        {"receipt_id": r1["id"], "sku": "M", "kind": "damaged", "qty_milli": 1_000}
    ]
    with db.transaction() as s:
        view = purchasing.po_view(s, po)
    assert view["state"] == "partly_received"
    assert {ln["sku"]: ln["received_milli"] for ln in view["lines"]} == {"M": 24_000, "Y": 0}

    r2 = _receive(db, po, [{"sku": "M", "qty_milli": 30_000}, {"sku": "Z", "qty_milli": 1_000}])
    kinds = {(d["sku"], d["kind"], d["qty_milli"]) for d in r2["discrepancies"]}
    assert kinds == {("M", "over", 6_000), ("Z", "not_ordered", 1_000)}
    with db.transaction() as s:
        assert purchasing.po_view(s, po)["state"] == "partly_received"  # Y still missing
        closed = purchasing.close_short(s, po, NOW)
    assert closed["state"] == "received"
    assert ("Y", "short", 6_000) in {
        (d["sku"], d["kind"], d["qty_milli"]) for d in closed["discrepancies"]
    }
    with (
        pytest.raises(StockError, match="is received: it cannot become cancelled"),
        db.transaction() as s,
    ):
        purchasing.move_po(s, po, "cancelled", NOW)
    with db.transaction() as s:
        b = ledger.balances(s, [("s1", "M"), ("s1", "Z")])
        assert b[("s1", "M")].on_hand_milli == 54_000
        assert b[("s1", "Z")].on_hand_milli == 1_000
        assert ledger.verify(s) == []


def test_the_database_refuses_a_state_without_its_history(db: Database) -> None:
    po = _setup(db)
    with pytest.raises(IntegrityError), db.transaction() as s:  # received, never sent
        s.execute(
            update(PurchaseOrder)
            .where(PurchaseOrder.id == po)
            .values(state="received", closed_at=NOW)
        )
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(update(PurchaseOrder).where(PurchaseOrder.id == po).values(state="shipped"))


def test_order_rules_packs_minimums_and_the_suppliers_minimum(db: Database) -> None:
    _setup(db)
    with pytest.raises(StockError, match="whole packs"), db.transaction() as s:
        purchasing.create_po(s, "milk-co", "s1", [{"sku": "M", "qty_milli": 30_000}], NOW)
    with pytest.raises(StockError, match="below the minimum"), db.transaction() as s:
        purchasing.create_po(s, "milk-co", "s1", [{"sku": "M", "qty_milli": 12_000}], NOW)
    with db.transaction() as s:
        small = purchasing.create_po(s, "milk-co", "s1", [{"sku": "Y", "qty_milli": 6_000}], NOW)
    assert small["value_fen"] == 2_700
    with (
        pytest.raises(StockError, match="below milk-co's minimum order 10000"),
        db.transaction() as s,
    ):
        purchasing.move_po(s, small["id"], "sent", NOW)


def test_moving_average_cost_rounds_half_up(db: Database) -> None:
    with db.transaction() as s:
        s.add(Store(id="s1", name="一店"))
    _receive(db, None, [{"sku": "C", "qty_milli": 3_000, "unit_cost_fen": 100}])
    _receive(db, None, [{"sku": "C", "qty_milli": 1_000, "unit_cost_fen": 101}])
    with db.transaction() as s:
        # (100 × 3000 + 101 × 1000) / 4000 = 100.25 → 100
        assert purchasing.avg_cost(s, "s1", "C") == 100
    _receive(db, None, [{"sku": "C", "qty_milli": 4_000, "unit_cost_fen": 101}])
    with db.transaction() as s:
        # (100 × 4000 + 101 × 4000) / 8000 = 100.5 → 101 (half up)
        assert purchasing.avg_cost(s, "s1", "C") == 101


def test_goods_received_by_event_against_the_po_exactly_once(db: Database, till: Till) -> None:
    po = _setup(db)
    with db.transaction() as s:
        purchasing.move_po(s, po, "sent", NOW)
    rid = str(uuid.uuid4())
    body = {
        "receipt_id": rid,
        "received_by": "王",
        "po_id": po,
        "lines": [{"sku": "M", "qty_milli": 48_000}, {"sku": "Y", "qty_milli": 6_000}],
    }
    ev = till._env("stock.received", body, None)
    assert till.send(ev).applied == 1
    assert till.send(ev).applied == 0  # replayed: a duplicate
    with db.transaction() as s:
        assert purchasing.po_view(s, po)["state"] == "received"
        assert ledger.balances(s, [("s1", "M")])[("s1", "M")].on_hand_milli == 48_000
        assert purchasing.avg_cost(s, "s1", "M") == 300


def test_a_stocktake_by_event_books_the_variance(db: Database, till: Till) -> None:
    till.send(
        till.sale(
            [{"sku": "A", "name": "a", "qty_milli": 2_000, "unit_price_fen": 100, "total_fen": 200}]
        )
    )
    cid = str(uuid.uuid4())
    ev = till._env(
        "stock.counted",
        {"count_id": cid, "counted_by": "李", "lines": [{"sku": "A", "counted_milli": 5_000}]},
        None,
    )
    assert till.send(ev).applied == 1
    with db.transaction() as s:
        assert [
            (r["expected_milli"], r["counted_milli"], r["variance_milli"]) for r in variance(s, cid)
        ] == [(-2_000, 5_000, 7_000)]
        assert ledger.balances(s, [("s1", "A")])[("s1", "A")].on_hand_milli == 5_000
        assert ledger.open_alerts(s, "s1") == []  # the negative alert cleared
        assert ledger.verify(s) == []
