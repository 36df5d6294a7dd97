"""Hub ingest on a real database (SQLite file, and PostgreSQL when configured), without the
broker: order, gaps, duplicates, rejections, refunds and shift closes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.app import ingest_handlers
from hub.db import Database
from hub.ingest.models import AppliedEvent, RejectedEvent
from hub.ingest.service import Ingest
from hub.sales.models import Refund, RefundIssue, Sale, ShiftClose
from protocols import topics
from rig.samples import sale_event, shift_event
from transport.ids import new_id

TOPIC = topics.events("s9", "g1")


@pytest.fixture
def db(tmp_path: Path, hub_db_url: str | None) -> Database:
    database = Database(hub_db_url or f"sqlite:///{tmp_path / 'hub.db'}")
    database.migrate()
    yield database
    database.engine.dispose()


def msg(*envs: dict) -> tuple[str, bytes]:
    return TOPIC, json.dumps({"v": 1, "events": list(envs)}).encode()


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_in_order_duplicates_and_gaps(db: Database):
    ingest = Ingest(db, ingest_handlers())
    e = [sale_event(i) for i in range(1, 8)]
    assert ingest.apply([msg(e[0], e[1])]).acks == {("s9", "g1"): 2}
    # 5 and 6 arrive before 3 and 4: they wait, the ack stays at 2
    r = ingest.apply([msg(e[4], e[5])])
    assert r.acks == {("s9", "g1"): 2} and r.applied == 0
    assert count(db, Sale) == 2
    # the gap fills: everything through 6 applies in seq order
    r = ingest.apply([msg(e[2], e[3])])
    assert r.acks == {("s9", "g1"): 6} and r.applied == 4
    # replays of anything applied are no-ops, even mixed with new events
    r = ingest.apply([msg(*e[:7])])
    assert r.acks == {("s9", "g1"): 7} and r.duplicates == 6 and r.applied == 1
    assert count(db, Sale) == 7 and count(db, AppliedEvent) == 7
    assert ingest.buffered[("s9", "g1")] == {}


def test_a_new_ingest_resumes_from_the_database(db: Database):
    e = [sale_event(i) for i in range(1, 4)]
    Ingest(db, ingest_handlers()).apply([msg(e[0])])
    # a restarted hub: state comes from gateways.last_seq
    r = Ingest(db, ingest_handlers()).apply([msg(*e)])
    assert r.applied == 2 and r.duplicates == 1 and count(db, Sale) == 3


def test_rejected_events_take_their_seq_and_are_kept(db: Database):
    bad = sale_event(2)
    bad["body"]["total_fen"] += 1
    r = Ingest(db, ingest_handlers()).apply(
        [msg(sale_event(1), bad, sale_event(3, store="s8"), sale_event(4))]
    )
    assert r.acks == {("s9", "g1"): 4} and r.rejected == 2
    with db.transaction() as s:
        rows = s.scalars(select(RejectedEvent).order_by(RejectedEvent.seq)).all()
        assert [x.seq for x in rows] == [2, 3]
        assert "!= lines" in rows[0].reason and json.loads(rows[0].raw)["seq"] == 2
    assert count(db, Sale) == 2


def test_the_same_event_id_under_another_seq_is_refused(db: Database):
    first = sale_event(1)
    clone = {**sale_event(2), "id": first["id"]}
    r = Ingest(db, ingest_handlers()).apply([msg(first, clone, sale_event(3))])
    assert r.acks[("s9", "g1")] == 3 and r.rejected == 1
    assert count(db, Sale) == 2
    with db.transaction() as s:
        assert "conflicts with applied data" in s.scalars(select(RejectedEvent.reason)).one()


def refund(seq: int, sale_id: str, amount: int, sold: list[dict] | None = None) -> dict:
    """A refund of `amount` fen, spread over the sold lines (one unit's worth each)."""
    lines = []
    for ln in sold or [{"sku": "x", "total_fen": amount}]:
        take = min(amount - sum(x["amount_fen"] for x in lines), ln["total_fen"])
        if take:
            lines.append({"sku": ln["sku"], "qty_milli": 1, "amount_fen": take})
    return {
        "id": new_id(),
        "seq": seq,
        "store": "s9",
        "gateway": "g1",
        "type": "sale.refunded",
        "v": 1,
        "occurred_at": "2026-11-23T03:00:00+00:00",
        "body": {
            "refund_id": "r",
            "sale_id": sale_id,
            "lane": "1",
            "cashier": "c",
            "lines": lines,
            "total_fen": amount,
            "payments": [{"tender": "cash", "amount_fen": amount}],
        },
    }


def test_refunds_are_bounded_by_their_sale(db: Database):
    sale = sale_event(1)
    total, sold = sale["body"]["total_fen"], sale["body"]["lines"]
    r = Ingest(db, ingest_handlers()).apply(
        [
            msg(
                sale,
                refund(2, sale["id"], total - 100, sold),
                refund(3, sale["id"], 101, sold[::-1]),  # the 100 left sit on the last line
                refund(4, sale["id"], 100, sold[::-1]),
                refund(5, new_id(), 500),  # another store's sale, not here yet: held
            )
        ]
    )
    # a refused refund is no rejected event but a refund issue: the money left a till
    assert r.acks[("s9", "g1")] == 5 and r.rejected == 0
    with db.transaction() as s:
        assert s.get(Sale, sale["id"]).refunded_fen == total
        assert s.execute(select(func.count()).select_from(Refund)).scalar_one() == 3
        assert "exceeds" in s.scalars(select(RefundIssue.reason)).one()


def test_shift_close_is_booked(db: Database):
    shift = shift_event(1)
    assert Ingest(db, ingest_handlers()).apply([msg(shift)]).applied == 1
    with db.transaction() as s:
        row = s.scalars(select(ShiftClose)).one()
        assert row.sales_fen == 4500 and row.opened_at.tzinfo is not None


def test_garbage_topics_and_payloads_do_not_stop_a_pass(db: Database):
    r = Ingest(db, ingest_handlers()).apply(
        [
            ("storegw/v1/bad+id/g1/events", b"{}"),
            (TOPIC, b"\xff\xfe"),
            msg(sale_event(1)),
        ]
    )
    assert r.acks == {("s9", "g1"): 1} and r.rejected == 2
    assert count(db, RejectedEvent) == 2
