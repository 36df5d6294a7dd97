"""Hostile events for the ingest tests: each a (name, payload builder, what the hub's reason
must say) case, built on well-formed events so that exactly one thing is wrong with each."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rig.samples import sale_event as _envelope
from rig.samples import shift_event as shift
from transport.ids import new_id

INT64 = 2**63 - 1


def sale(seq: int, store: str, gateway: str = "g1") -> dict[str, Any]:
    return _envelope(seq, store=store, gateway=gateway)


def refund(seq: int, store: str, gateway: str = "g1", **body: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "seq": seq,
        "store": store,
        "gateway": gateway,
        "type": "sale.refunded",
        "v": 1,
        "occurred_at": "2026-11-23T03:00:00Z",
        "body": {
            "refund_id": new_id(),
            "sale_id": new_id(),
            "lane": "1",
            "cashier": "c",
            "lines": [{"sku": "x", "qty_milli": 1000, "amount_fen": 100}],
            "total_fen": 100,
            "payments": [{"tender": "cash", "amount_fen": 100}],
            **body,
        },
    }


def batch(*envs: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "events": list(envs)}, ensure_ascii=False).encode()


def huge_sale(seq: int, store: str) -> dict[str, Any]:
    """Two lines of 9e18 fen: each fits int64, their total does not."""
    env = sale(seq, store)
    line = {
        "sku": "gold",
        "name": "gold bar",
        "qty_milli": 1000,
        "unit_price_fen": 9 * 10**18,
        "total_fen": 9 * 10**18,
        "discount_fen": 0,
        "weighed": False,
        "category": None,
    }
    env["body"]["lines"] = [line, {**line, "sku": "gold2"}]
    env["body"]["total_fen"] = 18 * 10**18
    env["body"]["payments"] = [{"tender": "card", "amount_fen": 18 * 10**18}]
    return env


def _lines_of(seq: int, store: str, fen: int) -> dict[str, Any]:
    """A body whose two lines each fit the bound and whose total does not."""
    body = huge_sale(seq, store)["body"]
    for line in body["lines"]:
        line["unit_price_fen"] = line["total_fen"] = fen
    body["total_fen"] = 2 * fen
    body["payments"] = [{"tender": "card", "amount_fen": 2 * fen}]
    return body


def with_line(seq: int, store: str, **line: Any) -> dict[str, Any]:
    env = sale(seq, store)
    env["body"]["lines"][0].update(line)
    return env


def with_body(seq: int, store: str, **body: Any) -> dict[str, Any]:
    env = sale(seq, store)
    env["body"].update(body)
    return env


def with_payment_ref(seq: int, store: str, ref: str) -> dict[str, Any]:
    env = sale(seq, store)
    env["body"]["payments"][0]["ref"] = ref
    return env


@dataclass
class Case:
    name: str
    payload: Callable[[int, str], bytes]  # (seq, store) -> the message
    reason: str  # a fragment of the reason the hub records
    takes_seq: bool = True  # the seq is readable: the poison takes it, later seqs still apply


def _deep(seq: int, store: str) -> bytes:
    env = json.dumps(sale(seq, store))
    depth = 200_000
    return (
        b'{"v":1,"events":['
        + env[:-1].encode()
        + b',"extra":'
        + b"[" * depth
        + b"]" * depth
        + b"}]}"
    )


def _invalid_utf8(seq: int, store: str) -> bytes:
    return batch(with_line(seq, store, name="WATER")).replace(b"WATER", b"wa\xff\xfeter")


CASES: list[Case] = [
    Case("total beyond int64", lambda q, st: batch(huge_sale(q, st)), "<= 1000000000000"),
    Case(
        "lines beyond the money bound",
        lambda q, st: batch(huge_sale(q, st) | {"body": _lines_of(q, st, 9 * 10**11)}),
        "<= 1000000000000 - at `$.total_fen`",
    ),
    Case("200,000-deep nesting", _deep, "levels are allowed", takes_seq=False),
    Case("invalid UTF-8 in a string", _invalid_utf8, "not UTF-8", takes_seq=False),
    Case(
        "NUL in a product name",
        lambda q, st: batch(with_line(q, st, name="wa\u0000ter")),
        "U+0000",
    ),
    Case(
        "control character in a cashier",
        lambda q, st: batch(with_body(q, st, cashier="a\u0085b")),
        "U+0085",
    ),
    Case("sku 201", lambda q, st: batch(with_line(q, st, sku="9" * 201)), "length <= 200"),
    Case("name 201", lambda q, st: batch(with_line(q, st, name="n" * 201)), "length <= 200"),
    Case(
        "category 201", lambda q, st: batch(with_line(q, st, category="c" * 201)), "length <= 200"
    ),
    Case("lane 201", lambda q, st: batch(with_body(q, st, lane="l" * 201)), "length <= 200"),
    Case("cashier 201", lambda q, st: batch(with_body(q, st, cashier="c" * 201)), "length <= 200"),
    Case("receipt_no 201", lambda q, st: batch(with_body(q, st, receipt_no="r" * 201)), "<= 200"),
    Case("member_id 65", lambda q, st: batch(with_body(q, st, member_id="m" * 65)), "<= 36"),
    Case("payment ref 201", lambda q, st: batch(with_payment_ref(q, st, "p" * 201)), "<= 200"),
    Case("coupon 33", lambda q, st: batch(with_body(q, st, coupons=["K" * 33])), "<= 32"),
    Case("refund sale_id 37", lambda q, st: batch(refund(q, st, sale_id="s" * 37)), "<= 36"),
    Case("refund reason 501", lambda q, st: batch(refund(q, st, reason="r" * 501)), "<= 500"),
    Case("shift_id 201", lambda q, st: batch(shift(q, st, shift_id="s" * 201)), "<= 200"),
    Case(
        "shift sales_count beyond INTEGER",
        lambda q, st: batch(shift(q, st, sales_count=2**31)),
        "<= 2147483647",
    ),
    Case(
        "garbage with NUL",
        lambda q, st: b'\x00\x00garbage\x00{"seq":\x00',
        "not JSON",
        takes_seq=False,
    ),
    Case(
        "seq beyond INTEGER",
        lambda q, st: batch(sale(2**31, st)),
        "<= 2147483647",
        takes_seq=False,
    ),
]


def publish(port: int, topic: str, payload: bytes) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        c.loop_stop()
        c.disconnect()
