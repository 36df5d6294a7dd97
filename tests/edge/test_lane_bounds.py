"""The lane refuses what the contract bounds, with a 400 that says what is wrong, before
anything is journaled: money and totals beyond the bound (two lines of 9e18 fen), control
characters, and every text longer than the hub's column. A real gateway process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Broker, Edge, sale_body
from transport.ids import new_id

SALE = "/api/lanes/1/sales"
REFUND = "/api/lanes/1/refunds"
SHIFT = "/api/lanes/1/shifts/close"


def _sale(**over: Any) -> dict[str, Any]:
    return {**sale_body(1), **over}


def _line(**over: Any) -> dict[str, Any]:
    body = sale_body(1)
    body["lines"][0].update(over)
    return body


def _refund(**over: Any) -> dict[str, Any]:
    return {
        "cashier": "c",
        "sale_id": new_id(),
        "lines": [{"sku": "x", "qty_milli": 1000, "amount_fen": 100}],
        "payments": [{"tender": "cash", "amount_fen": 100}],
        **over,
    }


def _shift(**over: Any) -> dict[str, Any]:
    return {
        "cashier": "c",
        "shift_id": "sh1",
        "opened_at": "2026-11-23T01:00:00Z",
        "closed_at": "2026-11-23T12:00:00Z",
        **over,
    }


gold = {"sku": "gold", "name": "gold", "qty_milli": 1000, "unit_price_fen": 9 * 10**18}
CASES = [
    ("two lines of 9e18 fen", SALE, _sale(lines=[gold, gold]), "<= 1000000000000"),
    (
        "lines within the bound, total beyond it",
        SALE,
        _sale(lines=[{**gold, "unit_price_fen": 9 * 10**11}] * 2),
        "outside 0..1000000000000",
    ),
    ("NUL in a name", SALE, _line(name="wa\u0000ter"), "U+0000"),
    ("newline in a cashier", SALE, _sale(cashier="a\nb"), "U+000A"),
    ("sku 201", SALE, _line(sku="9" * 201), "length <= 200"),
    ("name 201", SALE, _line(name="n" * 201), "length <= 200"),
    ("category 201", SALE, _line(category="c" * 201), "length <= 200"),
    ("cashier 201", SALE, _sale(cashier="c" * 201), "length <= 200"),
    ("member_id 65", SALE, _sale(member_id="m" * 65), "member_id"),
    (
        "payment ref 201",
        SALE,
        _sale(payments=[{"tender": "wechat", "amount_fen": 6100, "ref": "r" * 201}]),
        "length <= 200",
    ),
    ("coupon 33", SALE, _sale(coupons=["K" * 33]), "coupon code"),
    ("qty beyond the bound", SALE, _line(qty_milli=10**7 + 1), "<= 10000000"),
    ("refund sale_id 37", REFUND, _refund(sale_id="s" * 37), "sale_id"),
    ("refund reason 501", REFUND, _refund(reason="r" * 501), "length <= 500"),
    ("NUL in a refund reason", REFUND, _refund(reason="a\u0000"), "U+0000"),
    ("shift_id 201", SHIFT, _shift(shift_id="s" * 201), "length <= 200"),
]


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """One gateway for all the cases (each checks the journal did not move)."""
    root = tmp_path_factory.mktemp("lane")
    broker = Broker(root / "broker")
    broker.start()
    e = Edge(root / "edge", "s1", "g1", broker.url)
    e.start()
    yield e
    e.stop()
    broker.stop()


@pytest.mark.parametrize(
    ("path", "body", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_lane_refuses_what_the_contract_bounds(edge: Edge, path: str, body: dict, reason: str):
    before = edge.journal()["last_seq"]
    logged = edge.log.read_text().count("refused")
    r = edge.http.post(path, json=body)
    assert r.status_code == 400, r.text
    assert reason in r.json()["error"], r.json()
    assert edge.journal()["last_seq"] == before  # nothing was journaled
    assert edge.sell(1).status_code == 201  # and the lane goes on
    assert edge.log.read_text().count("refused") > logged  # the refusal is logged
