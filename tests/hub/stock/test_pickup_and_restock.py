"""Pickup holds (reserve, hand over, expire with time as an argument) and back-in-stock
notices (each member told once per restock, consent and quiet hours respected)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.members.service import Members
from hub.notify import outbox
from hub.notify.channels import simulators
from hub.notify.models import Notification
from hub.pickup import service as pickup
from hub.purchasing import service as purchasing
from hub.stock import ledger, restock
from hub.stock.ledger import Move, StockError
from hub.stores.models import Store
from tests.hub.stock.conftest import Till, line, register

NOON = datetime(2026, 11, 28, 4, tzinfo=UTC)  # 12:00 in Shanghai


def _stocked(db: Database, qty: int = 3_000) -> None:
    with db.transaction() as s:
        s.add(Store(id="s1", name="一店"))
        s.flush()
        ledger.post(s, [Move("s1", "A", "received", qty)], NOON)


def _balance(db: Database) -> ledger.Balance:
    with db.transaction() as s:
        return ledger.balances(s, [("s1", "A")])[("s1", "A")]


def test_a_pickup_holds_stock_until_the_lane_hands_it_over(db: Database) -> None:
    _stocked(db)
    with db.transaction() as s:
        o = pickup.reserve(s, "o1", "s1", {"A": 2_000}, NOON)
    assert o["state"] == "held"
    assert _balance(db).available_milli == 1_000
    with pytest.raises(StockError, match="1000 available"), db.transaction() as s:
        pickup.reserve(s, "o2", "s1", {"A": 1_500}, NOON)
    with pytest.raises(StockError, match="no pickup order o1 in s2"), db.transaction() as s:
        pickup.complete(s, "o1", "s2", NOON, "s2/g1")
    with db.transaction() as s:
        assert pickup.complete(s, "o1", "s1", NOON, "s1/g1")["state"] == "picked_up"
        assert pickup.complete(s, "o1", "s1", NOON, "s1/g1")["state"] == "picked_up"  # retry
    b = _balance(db)
    assert (b.on_hand_milli, b.reserved_milli) == (1_000, 0)
    with db.transaction() as s:
        assert ledger.verify(s) == []


def test_an_expired_hold_releases_the_stock_once(db: Database) -> None:
    _stocked(db)
    with db.transaction() as s:
        pickup.reserve(s, "o1", "s1", {"A": 2_000}, NOON, hold_s=3600)
    with db.transaction() as s:
        assert pickup.expire(s, NOON + timedelta(minutes=59)) == 0
    assert _balance(db).reserved_milli == 2_000
    with db.transaction() as s:
        assert pickup.expire(s, NOON + timedelta(hours=1)) == 1
        assert pickup.expire(s, NOON + timedelta(hours=2)) == 0
    b = _balance(db)
    assert (b.on_hand_milli, b.reserved_milli) == (3_000, 0)
    with pytest.raises(StockError, match="is expired"), db.transaction() as s:
        pickup.complete(s, "o1", "s1", NOON + timedelta(hours=2), "s1/g1")


def test_back_in_stock_tells_each_member_once(db: Database, members: Members, till: Till) -> None:
    asked = register(db, members, "13800000001")  # asked; no marketing consent needed
    buyer = register(db, members, "13800000002", marketing_consent=True)
    silent = register(db, members, "13800000003")  # bought it, gave no consent
    for m in (buyer, silent, buyer):
        till.send(till.sale([line("A", 500)], member=m))  # the store is out: -3 pieces
    with db.transaction() as s:
        restock.subscribe(s, asked, "s1", "A", "wechat", NOON)
    rid = str(uuid.uuid4())
    with db.transaction() as s:
        purchasing.receive(
            s, rid, "s1", [{"sku": "A", "qty_milli": 2_000}], received_by="王", at=NOON
        )
    assert _balance(db).available_milli == -1_000  # not available yet: nobody told
    with db.transaction() as s:
        assert s.scalars(select(Notification)).all() == []
        purchasing.receive(
            s,
            str(uuid.uuid4()),
            "s1",
            [{"sku": "A", "qty_milli": 5_000}],
            received_by="王",
            at=NOON,
        )
        purchasing.receive(
            s,
            str(uuid.uuid4()),
            "s1",
            [{"sku": "A", "qty_milli": 5_000}],
            received_by="王",
            at=NOON,
        )
    with db.transaction() as s:
        queued = {n.member_id: n.channel for n in s.scalars(select(Notification))}
    assert queued == {asked: "wechat", buyer: "sms", silent: "sms"}  # once each, one restock

    channels = simulators()
    night = datetime(2026, 11, 28, 14, tzinfo=UTC)  # 22:00 in Shanghai: quiet
    with db.transaction() as s:
        assert outbox.dispatch(s, channels, night) == {"sent": 0, "skipped": 1, "deferred": 2}
    with db.transaction() as s:
        assert outbox.dispatch(s, channels, night + timedelta(hours=1)) == {
            "sent": 0,
            "skipped": 0,
            "deferred": 0,
        }
    morning = datetime(2026, 11, 29, 0, tzinfo=UTC)  # 08:00 in Shanghai
    with db.transaction() as s:
        assert outbox.dispatch(s, channels, morning) == {"sent": 2, "skipped": 0, "deferred": 0}
        assert outbox.dispatch(s, channels, morning) == {"sent": 0, "skipped": 0, "deferred": 0}
    sent = [(x.channel, x.member_id) for ch in channels.values() for x in ch.sent]  # type: ignore[attr-defined]
    assert sorted(sent) == sorted([("wechat", asked), ("sms", buyer)])
    with db.transaction() as s:
        skipped = s.scalars(select(Notification).where(Notification.member_id == silent)).one()
        assert (skipped.state, skipped.reason) == ("skipped", "no marketing consent")
        # the subscription was one-shot: the next restock tells only recent buyers
        assert s.get(restock.RestockSubscription, (asked, "s1", "A")) is None


def test_the_same_notice_is_queued_once(db: Database) -> None:
    n = {
        "key": "restock:1:m1",
        "member_id": "m1",
        "store_id": "s1",
        "channel": "sms",
        "template": "t",
        "params": {},
    }
    with db.transaction() as s:
        outbox.enqueue(s, [n], NOON)
        outbox.enqueue(s, [n, {**n, "key": "restock:2:m1"}], NOON)
    with db.transaction() as s:
        assert len(s.scalars(select(Notification)).all()) == 2
