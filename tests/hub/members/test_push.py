"""The members push at the hub (hub/members/push.py) on both databases: a store's set is its
recent buyers and home members, hashed under the store's own key with no phone or card in
clear; an unchanged member makes no new version; a change goes out after what the store's
gateways report holding; an erased member is a removal for every store; the set is bounded."""

from __future__ import annotations

from typing import Any

from hub.catalog import service as catalog
from hub.db import Database
from hub.loyalty.service import Ledger
from hub.members import privacy, push
from hub.members.service import Members, Registration
from protocols import members_push, topics
from tests.hub.till import Till, register

P1, P2, P3 = "13812345678", "13900001111", "13700002222"
CFG = push.Settings()


class Sent:
    def __init__(self) -> None:
        self.messages: dict[str, members_push.Push] = {}
        self.raw: list[bytes] = []

    def __call__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        assert qos == 1 and retain
        store = topic.split("/")[2]
        assert topic == topics.config(store, "members")
        self.raw.append(payload)
        self.messages[store] = members_push.parse(payload, store)


def run(db: Database, members: Members, cfg: push.Settings = CFG) -> tuple[dict, Sent]:
    sent = Sent()
    return push.run(db, members, sent, cfg), sent


def by_id(p: members_push.Push) -> dict[str, Any]:
    return {e.member_id: e for e in p.upserts}


def test_push_set_changes_erasure_and_bound(db: Database, members: Members) -> None:
    m1 = register(db, members, P1, name="周杰")
    m2 = register(db, members, P2, name="Lee")
    with db.transaction() as s:  # a member whose home store is s1, who never bought
        m3 = members.register(
            s, Registration(phone=P3, channel="lane", origin_store="s1")
        ).member.id
    a, b = Till(db, "s1"), Till(db, "s2")
    a.send(a.sale(member=m1), a.sale(member=m2))
    b.send(b.sale())

    got, sent = run(db, members)
    assert got == {"changed": 3, "published": 1}  # s2 has no members: nothing to send
    p = sent.messages["s1"]
    assert (p.since, p.version) == (0, 1) and p.removes == []
    assert set(by_id(p)) == {m1, m2, m3}
    key = members.vault.store_key("s1")
    e1 = by_id(p)[m1]
    assert e1.name == "周*" and e1.phone_mac == members_push.phone_mac(key, "138 1234 5678")
    with db.transaction() as s:
        card = members.get(s, m1).card_no
    assert e1.card_mac == members_push.card_mac(key, card)
    assert e1.points == 100  # 100 yuan bought
    assert p.key_id == push.key_id(key) == push.cache_key(members, "s1")["key_id"]
    # another store's key differs: s2's gateway cannot test phones against s1's cache
    assert members.vault.store_key("s2") != key
    for personal in (P1, P2, P3, card, "周杰"):
        assert personal.encode() not in sent.raw[0]

    # nothing changed: no new version, nothing sent
    assert run(db, members)[0] == {"changed": 0, "published": 0}

    # s1's gateway holds v1; m1's points change: v2 holds m1 alone
    with db.transaction() as s:
        catalog.record_held(s, "s1", "g1", b'{"members": 1}')
        led = Ledger(s)
        led.lock([m1])
        led.credit(m1, "adjust_in", 5, source_type="manual", source_id="x")
    got, sent = run(db, members)
    p = sent.messages["s1"]
    assert (p.since, p.version, list(by_id(p))) == (1, 2, [m1])
    assert by_id(p)[m1].points == 105

    # a second gateway appears holding nothing: the whole set again, from 0
    with db.transaction() as s:
        catalog.record_held(s, "s1", "g2", b'{"catalog": 1}')
    p = run(db, members)[1].messages["s1"]
    assert (p.since, p.version, set(by_id(p))) == (0, 2, {m1, m2, m3})

    # m2 is erased: a removal for every store (s2's gateways may have looked them up)
    with db.transaction() as s:
        privacy.erase(members, s, m2)
    got, sent = run(db, members)
    assert sent.messages["s1"].removes == [m2] and m2 not in by_id(sent.messages["s1"])
    assert sent.messages["s2"].removes == [m2] and sent.messages["s2"].upserts == []
    assert run(db, members)[0] == {"changed": 0, "published": 0}  # sent once

    # bounded: at most max_members; the last buyer first, who drops out is removed
    with db.transaction() as s:
        catalog.record_held(s, "s1", "g1", b'{"members": 3}')
        catalog.record_held(s, "s1", "g2", b'{"members": 3}')
    a.send(a.sale(member=m1))
    got, sent = run(db, members, push.Settings(max_members=1))
    p = sent.messages["s1"]
    assert p.since == 3 and p.removes == [m3] and set(by_id(p)) == {m1}
    with db.transaction() as s:
        held = push.message(s, "s1", 0, p.version, p.key_id, p.created_at)
    assert [e.member_id for e in members_push.parse(held, "s1").upserts] == [m1]
