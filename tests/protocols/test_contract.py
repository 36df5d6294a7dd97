"""The edge/hub contract: envelopes, bodies, money and the pricing rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import pricing, topics
from protocols.envelope import decode_batch, encode_batch, validate_event
from protocols.money import MoneyError, fen_to_yuan, yuan_to_fen
from rig.samples import sale_event
from transport.ids import new_id


def test_a_valid_sale_passes_and_keeps_its_numbers():
    env = validate_event(sale_event(3), "s9", "g1")
    assert not hasattr(env, "reason"), env
    assert env.seq == 3 and env.body["total_fen"] == sum(x["total_fen"] for x in env.body["lines"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(store="s8"), "does not match topic store"),
        (lambda e: e.update(gateway="g2"), "does not match topic gateway"),
        (lambda e: e.update(type="sale.unknown"), "unknown event type"),
        (lambda e: e.update(v=2), "unknown event type 'sale.completed' v2"),
        (lambda e: e.update(id="not-a-uuid"), "at `$.id`"),
        (lambda e: e.update(id="6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "at `$.id`"),
        (lambda e: e.update(seq=0), "at `$.seq`"),
        (lambda e: e.update(occurred_at="2026-11-23T10:00:00"), "UTC offset"),
        (lambda e: e["body"].update(total_fen=12.5), "total_fen"),
        (lambda e: e["body"].update(total_fen="1250"), "total_fen"),
        (lambda e: e["body"].update(total_fen=1), "!= lines"),
        (lambda e: e["body"]["lines"][0].update(total_fen=1), "total_fen 1 !="),
        (lambda e: e["body"]["payments"][0].update(amount_fen=True), "amount_fen"),
        (lambda e: e["body"].update(change_fen=5), "payments"),
        (lambda e: e["body"].update(extra="x"), "unknown field `extra`"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(change: Any, reason: str):
    env = sale_event(7)
    change(env)
    rej = validate_event(env, "s9", "g1")
    assert getattr(rej, "reason", None), f"accepted: {env}"
    assert reason in rej.reason
    assert rej.seq == (env["seq"] if isinstance(env["seq"], int) and env["seq"] >= 1 else None)


def test_change_is_only_given_from_cash():
    env = sale_event(1)
    total = env["body"]["total_fen"]
    env["body"]["payments"] = [{"tender": "card", "amount_fen": total + 100}]
    env["body"]["change_fen"] = 100
    assert "change is given only from cash" in validate_event(env, "s9", "g1").reason


def test_batches_round_trip_and_garbage_is_one_rejection():
    envs = [sale_event(1), sale_event(2)]
    payload = encode_batch([json.dumps(e) for e in envs])
    items = decode_batch(payload, "s9", "g1")
    assert [i.seq for i in items] == [1, 2]
    assert decode_batch(b"{not json", "s9", "g1")[0].reason.startswith("payload is not JSON")
    assert "batch" in decode_batch(b'{"v": 9, "events": []}', "s9", "g1")[0].reason
    assert "missing required field `events`" in decode_batch(b'{"v": 1}', "s9", "g1")[0].reason


def test_ids_are_time_ordered_uuid7():
    ids = [new_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50


def test_topics_refuse_wildcards_and_parse_back():
    assert topics.events("s1", "g1") == "storegw/v1/s1/g1/events"
    assert topics.parse_gateway_topic("storegw/v1/s1/g1/acks") == ("s1", "g1", "acks")
    for bad in ("s+1", "#", "a/b", "", "x" * 65):
        with pytest.raises(topics.TopicError):
            topics.events(bad, "g1")
    with pytest.raises(topics.TopicError):
        topics.parse_gateway_topic("storegw/v1/s1/config/catalog")


def test_yuan_strings_at_the_edge_only():
    assert yuan_to_fen("12.5") == 1250 and yuan_to_fen("0.07") == 7 and yuan_to_fen("-3") == -300
    for bad in ("1e3", "0.001", " 1", "1.", "¥1", "nan"):
        with pytest.raises(MoneyError):
            yuan_to_fen(bad)
    assert fen_to_yuan(-1205) == "-12.05"
    with pytest.raises(MoneyError):
        fen_to_yuan(12.0)  # type: ignore[arg-type]


@given(st.integers(0, 10_000_000), st.integers(0, 10_000_000))
def test_extension_rounds_half_up_and_never_drifts(qty: int, price: int):
    exact_milli_fen = qty * price  # in 1/1000 fen
    fen = pricing.extend(qty, price)
    assert abs(fen * 1000 - exact_milli_fen) <= 500
    assert fen * 1000 - exact_milli_fen != -500  # a half rounds up, never down


def test_weighed_price_example():
    # 1.234 kg of apples at ¥12.80/kg = ¥15.7952 → ¥15.80
    assert pricing.weighed(1234, 1280) == 1580
    with pytest.raises(ValueError):
        pricing.line_total(1000, 100, 101)
