"""Loose inputs at the gateway (issue 8, part 3): a real gateway process over HTTP. Each answer
that is not a success is JSON; a hostile body is a 400, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from protocols import coupons
from tests.conftest import Broker, Edge, sale_body

DEEP = b"[" * 200_000 + b"]" * 200_000
BAD_UTF8 = b'{"cashier": "\xff\xfe", "lines": [], "payments": []}'

# every route that parses a body
BODY_ROUTES = [
    "/api/lanes/1/sales",
    "/api/lanes/1/refunds",
    "/api/lanes/1/shifts/close",
    "/api/members",
    "/api/coupons/check",
    "/api/lanes/1/payments",
    "/api/lanes/1/points/reserve",
    "/api/lanes/1/points/rsv-00000001/commit",
    "/api/lanes/1/weigh",
]


@pytest.fixture
def edge(broker: Broker, tmp_path: Path) -> Iterator[Edge]:
    e = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    e.start()
    yield e
    e.stop()


def _json_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_a_reused_idempotency_key_with_another_body_is_refused(edge: Edge):
    first = edge.sell(0, key="till-1-0001")
    assert first.status_code == 201
    again = edge.sell(0, key="till-1-0001")  # a retry: the same sale, not booked twice
    assert again.status_code == 200 and again.json()["sale_id"] == first.json()["sale_id"]
    other = edge.sell(1, key="till-1-0001")  # another sale under the same key
    assert "another request" in _json_error(other, 422)["error"]
    elsewhere = edge.http.post(
        "/api/lanes/2/sales", json=sale_body(0), headers={"Idempotency-Key": "till-1-0001"}
    )
    _json_error(elsewhere, 422)  # the same body on another lane is another request too
    assert edge.journal()["last_seq"] == 1
    # spacing and key order do not make a retry "different"
    body = sale_body(2)
    raw = httpx.Request("POST", "/", json=dict(reversed(list(body.items())))).content
    a = edge.http.post("/api/lanes/1/sales", json=body, headers={"Idempotency-Key": "k-2"})
    b = edge.http.post(
        "/api/lanes/1/sales",
        content=raw.replace(b",", b", "),
        headers={"Idempotency-Key": "k-2", "Content-Type": "application/json"},
    )
    assert (a.status_code, b.status_code) == (201, 200)
    _json_error(edge.sell(0, key="no spaces\tor tabs"), 400)


def test_lane_ids_outside_the_pattern_are_refused(edge: Edge):
    for lane in ("1'%20OR%20'1'='1", "a" * 33, "%00", "l%2Fx", "..%2F..", "车道1"):
        for route in ("sales", "payments", "weigh", "points/reserve", "events"):
            method = "GET" if route == "events" else "POST"
            r = edge.http.request(method, f"/api/lanes/{lane}/{route}", json=sale_body(0))
            assert "lane id" in _json_error(r, 400)["error"], (lane, route)
    assert edge.journal()["last_seq"] == 0
    assert edge.http.post("/api/lanes/Lane_07-b/sales", json=sale_body(0)).status_code == 201


def test_garbage_member_ids_and_coupon_codes_in_a_sale_are_refused(edge: Edge):
    for member in ("1' OR '1'='1", "m" * 65, "wa\x00ter", "", " M1", "<script>"):
        r = edge.http.post("/api/lanes/1/sales", json={**sale_body(0), "member_id": member})
        assert "member_id" in _json_error(r, 400)["error"], member
    for code in ("FREE-BEER", "Z" * 16, "", "a" * 100):
        r = edge.http.post("/api/lanes/1/sales", json={**sale_body(0), "coupons": [code]})
        assert "coupons" in _json_error(r, 400)["error"], code
    # a well-formed code (any case, with dashes) passes the format check and meets the claim
    # rule: a lane grants only a coupon it has reserved at the hub
    good = coupons.new_code()
    unclaimed = edge.http.post(
        "/api/lanes/1/sales",
        json={
            **sale_body(0, member="0192f3a4-5b6c-7d8e-9f01-23456789abcd"),
            "coupons": [coupons.pretty(good).lower()],
        },
    )
    assert "not reserved" in _json_error(unclaimed, 409)["error"], unclaimed.text
    assert good in unclaimed.json()["error"].replace("-", "")  # named in its canonical form
    sale = edge.http.post(
        "/api/lanes/1/sales", json=sale_body(1, member="M000042")
    )  # the card system's ids, as the simulated cashiers send them
    assert sale.status_code == 201, sale.text
    assert edge.journal()["last_seq"] == 1


def test_hostile_bodies_get_a_json_400_on_every_route(edge: Edge):
    headers = {"Content-Type": "application/json"}
    for route in BODY_ROUTES:
        deep = edge.http.post(route, content=DEEP, headers=headers)
        _json_error(deep, 400)  # typed routes stop at the first bracket; others at the depth
        bad = edge.http.post(route, content=BAD_UTF8, headers=headers)
        assert _json_error(bad, 400)["error"] == "body is not valid UTF-8", route
        garbage = edge.http.post(route, content=b"\x00{]", headers=headers)
        _json_error(garbage, 400)
    for route in ("/api/members", "/api/coupons/check", "/api/lanes/1/payments"):
        deep = edge.http.post(route, content=DEEP, headers=headers)
        assert _json_error(deep, 400)["error"] == "body is nested too deeply", route
    assert edge.http.get("/health").status_code == 200
    assert edge.journal()["last_seq"] == 0


def test_every_error_the_gateway_gives_is_json(edge: Edge):
    _json_error(edge.http.get("/api/nothing/here"), 404)
    r = _json_error(edge.http.get("/api/lanes/1/sales"), 405)
    assert r["error"] == "Method Not Allowed"
    big = edge.http.post(
        "/api/lanes/1/sales",
        content=b'{"cashier": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    _json_error(big, 413)
    anon = httpx.post(f"http://127.0.0.1:{edge.port}/api/lanes/1/sales", json={})
    _json_error(anon, 401)
