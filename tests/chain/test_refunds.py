"""Refunds on real processes: a Mosquitto, the hub (SQLite, and PostgreSQL when configured) and
store gateways started through the CLI. A lane refuses a refund that does not fit its sale
before any cash is paid; the hub never books more than was sold, whatever the order of arrival
and however many stores refund."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Broker, Edge, Hub, free_port, wait_until
from tests.hub.sales.refund_events import FULL, LINE_B, SOLD, refund_request, sale_request

MakeEdge = Callable[..., Edge]


@pytest.fixture
def hub(tmp_path: Path, broker: Broker, hub_db_url: str | None) -> Iterator[Hub]:
    h = Hub(tmp_path / "hub", broker.url, hub_db_url)
    h.start()
    yield h
    h.stop()


@pytest.fixture
def make_edge(tmp_path: Path, broker: Broker) -> Iterator[MakeEdge]:
    started: list[Edge] = []

    def make(store: str, cap_fen: int | None = None, mqtt_url: str | None = None) -> Edge:
        e = Edge(tmp_path / store, store, "g1", mqtt_url or broker.url)
        if cap_fen is not None:
            e.env["STOREGW_OFFLINE_REFUND_CAP_FEN"] = str(cap_fen)
        e.start()
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()


def hub_seen(edge: Edge) -> None:
    wait_until(
        lambda: edge.journal()["uplink"]["hub_online"], 30, what=f"{edge.store} sees the hub"
    )


def sell(edge: Edge) -> str:
    r = edge.http.post("/api/lanes/1/sales", json=sale_request())
    assert r.status_code == 201, r.text
    return str(r.json()["sale_id"])


def refund(edge: Edge, sale_id: str, lines: list[dict[str, Any]], key: str = "") -> httpx.Response:
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return edge.http.post(
        "/api/lanes/2/refunds", json=refund_request(sale_id, lines), headers=headers
    )


def at_hub(hub: Hub, path: str) -> dict[str, Any]:
    r = hub.http.get(path)
    assert r.status_code == 200, r.text
    return dict(r.json())


def delivered(hub: Hub, edge: Edge) -> None:
    """Everything the gateway journaled is applied at the hub."""
    wait_until(
        lambda: hub.last_seq(edge.store, edge.gateway) == edge.journal()["last_seq"],
        30,
        what=f"{edge.store}'s journal at the hub",
    )


def test_another_store_refunds_while_the_selling_gateway_is_offline(hub: Hub, make_edge: MakeEdge):
    # store A sells with its gateway cut off from the broker
    a = make_edge("sa", mqtt_url=f"mqtt://127.0.0.1:{free_port()}")
    sale_id = sell(a)
    # stores B and C may refund up to 60.00 of a sale they cannot check (their policy)
    b, c = make_edge("sb", cap_fen=SOLD), make_edge("sc", cap_fen=SOLD)
    hub_seen(b)
    hub_seen(c)
    first = refund(b, sale_id, FULL)
    assert first.status_code == 201, first.text
    again = refund(b, sale_id, FULL)  # B's own journal counts what B already gave back
    assert again.status_code == 404 and "at most 6000 fen" in again.json()["error"]
    second = refund(c, sale_id, FULL)  # C cannot know: it pays, the hub must reconcile
    assert second.status_code == 201, second.text
    waiting = wait_until(
        lambda: (
            len(at_hub(hub, "/api/refunds/unmatched")["refunds"]) == 2
            and at_hub(hub, "/api/refunds/unmatched")["refunds"]
        ),
        30,
        what="both refunds held unmatched",
    )
    assert {r["store"] for r in waiting} == {"sb", "sc"}

    a.stop()  # A's gateway comes back
    a_back = make_edge("sa")
    delivered(hub, a_back)
    sale = at_hub(hub, f"/api/sales/{sale_id}")
    print(f"\nout of order: sold {sale['total_fen']} fen, refunded {sale['refunded_fen']} fen")
    assert sale["total_fen"] == SOLD and sale["refunded_fen"] == SOLD  # not 12,000
    assert [r["id"] for r in sale["refunds"]] == [first.json()["id"]]
    assert at_hub(hub, "/api/refunds/unmatched")["refunds"] == []
    issues = at_hub(hub, "/api/refunds/issues")["issues"]
    assert [(i["id"], i["store"]) for i in issues] == [(second.json()["id"], "sc")]
    assert "exceeds" in issues[0]["reason"]
    assert [(x["refunded_qty_milli"], x["refunded_fen"]) for x in sale["lines"]] == [
        (1000, 4000),
        (2000, 2000),
    ]
    # A's lane knows the sale but not B's refund: the hub does, and says no before A pays
    hub_seen(a_back)
    late = refund(a_back, sale_id, LINE_B)
    assert late.status_code == 409 and "the hub says" in late.json()["error"], late.text
    assert at_hub(hub, f"/api/sales/{sale_id}")["refunded_fen"] == SOLD


def test_lane_refuses_what_does_not_fit_before_paying(hub: Hub, make_edge: MakeEdge):
    a, b = make_edge("sa"), make_edge("sb")
    hub_seen(a)
    hub_seen(b)
    sale_id = sell(a)
    key = uuid.uuid4().hex
    once = refund(a, sale_id, LINE_B, key)
    assert once.status_code == 201, once.text
    assert refund(a, sale_id, LINE_B, key).status_code == 200  # a retry: the same refund
    seq = a.journal()["last_seq"]
    cases = [
        (LINE_B, 409, "exceeds what is left on that line"),  # line B again, a new key
        ([{"sku": "Z-99", "qty_milli": 1000, "amount_fen": 100}], 422, "Z-99 is not in the sale"),
        ([{"sku": "A-40", "qty_milli": 1000, "amount_fen": 5000}], 409, "exceeds"),
        ([{"sku": "A-40", "qty_milli": 2000, "amount_fen": 4000}], 409, "exceeds"),
    ]
    for lines, status, reason in cases:
        r = refund(a, sale_id, lines)
        assert r.status_code == status and reason in r.json()["error"], (lines, r.text)
    for bad in ("../../etc/passwd", "", "DROP TABLE sales", sale_id.upper() + "x"):
        r = refund(a, bad, [{"sku": "A-40", "qty_milli": 1000, "amount_fen": 100}])
        assert r.status_code == 400 and "not a sale id" in r.json()["error"], r.text
    assert a.journal()["last_seq"] == seq  # nothing refused was journaled

    # another store: the hub answers for the sale, and holds what it grants
    delivered(hub, a)
    r = refund(b, sale_id, LINE_B)
    assert r.status_code == 409 and "the hub says" in r.json()["error"], r.text
    r = refund(b, sale_id, [{"sku": "Z-99", "qty_milli": 1000, "amount_fen": 1}])
    assert r.status_code == 422, r.text
    rest = refund(b, sale_id, [{"sku": "A-40", "qty_milli": 1000, "amount_fen": 4000}])
    assert rest.status_code == 201, rest.text
    stranger = refund(b, str(uuid.uuid4()), LINE_B)  # a sale nobody knows; policy: refuse
    assert stranger.status_code == 404, stranger.text
    delivered(hub, b)
    sale = at_hub(hub, f"/api/sales/{sale_id}")
    assert sale["refunded_fen"] == SOLD and len(sale["refunds"]) == 2
    assert at_hub(hub, "/api/refunds/issues")["issues"] == []

    hub.stop()  # the hub is away: another store's sale cannot be checked; policy refuses
    wait_until(lambda: b.journal()["uplink"]["hub_online"] is False, 30, what="hub gone")
    r = refund(b, sale_id, [{"sku": "A-40", "qty_milli": 1000, "amount_fen": 1}])
    assert r.status_code == 503 and "unreachable" in r.json()["error"], r.text
    r = refund(a, sale_id, LINE_B)  # its own journal still knows line B is gone
    assert r.status_code == 409, r.text


def test_concurrent_lanes_of_two_stores_refund_a_sale_once(hub: Hub, make_edge: MakeEdge):
    a, b, c = make_edge("sa"), make_edge("sb"), make_edge("sc")
    for e in (a, b, c):
        hub_seen(e)
    sale_id = sell(a)
    delivered(hub, a)
    tries = [b, c] * 6
    with ThreadPoolExecutor(len(tries)) as pool:
        answers = list(pool.map(lambda e: refund(e, sale_id, FULL), tries))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 11, [r.text for r in answers]
    delivered(hub, b)
    delivered(hub, c)
    sale = at_hub(hub, f"/api/sales/{sale_id}")
    assert sale["refunded_fen"] == SOLD and len(sale["refunds"]) == 1
    assert at_hub(hub, "/api/refunds/issues")["issues"] == []


def screen_of(edge: Edge, lane: str = "1") -> httpx.Client:
    """A lane screen paired with the gateway, as a manager pairs one (the returns screen's)."""
    code = edge.http.post(f"/api/lanes/{lane}/pairing").json()["code"]
    screen = httpx.Client(
        base_url=f"http://127.0.0.1:{edge.port}", timeout=15, headers={"X-Storegw": "1"}
    )
    assert screen.post("/lane/pair", data={"code": code}).status_code == 302
    return screen


def test_store_b_returns_store_as_sale_through_its_returns_screen(hub: Hub, make_edge: MakeEdge):
    a, b = make_edge("sa"), make_edge("sb")
    hub_seen(a)
    hub_seen(b)
    reg = a.http.post("/api/members", json={"phone": "13812340012", "name": "周杰"})
    assert reg.status_code == 201, reg.text
    member = reg.json()["member_id"]
    sold = a.http.post("/api/lanes/1/sales", json={**sale_request(), "member_id": member})
    assert sold.status_code == 201, sold.text
    sale_id, receipt_no = sold.json()["sale_id"], sold.json()["receipt_no"]
    delivered(hub, a)
    points = f"/api/members/{member}/points"
    wait_until(lambda: at_hub(hub, points)["balance"] == 60, 30, what="60 points earned in sa")

    screen = screen_of(b)
    # B's journal has no such receipt; a receipt number names no store, the sale id does
    by_no = screen.get("/lane/1/returns/receipt", params={"q": receipt_no})
    assert (by_no.status_code, by_no.json()["why"]) == (404, "not_here"), by_no.text
    found = screen.get("/lane/1/returns/receipt", params={"q": sale_id.upper()})
    assert found.status_code == 200, found.text
    f = found.json()
    assert (f["sale_id"], f["store"], f["sold_here"]) == (sale_id, "sa", False)
    assert (f["total_fen"], f["fen_left"], f["tenders"]) == (SOLD, SOLD, {"cash": SOLD})
    assert f["member"]["points_earned"] == 60
    assert [(x["line"], x["sku"], x["name"], x["qty_left"]) for x in f["lines"]] == [
        (1, "A-40", "电饭煲内胆", 1000),
        (2, "B-10", "保温杯盖", 2000),
    ]
    # one of the two cups: ¥10.00 back in cash (as paid), 10 of the 60 points taken back
    pick = {"sale_id": sale_id, "picks": [{"line": 2, "qty_milli": 1000}]}
    q = screen.post("/lane/1/returns/quote", json=pick).json()
    assert (q["total_fen"], q["payments"], q["points_reversed"]) == (
        1000,
        [{"tender": "cash", "amount_fen": 1000}],
        10,
    )
    key = {"Idempotency-Key": uuid.uuid4().hex}
    made = screen.post("/lane/1/returns/refund", json={**pick, "reason": "裂了"}, headers=key)
    assert made.status_code == 201, made.text
    again = screen.post("/lane/1/returns/refund", json={**pick, "reason": "裂了"}, headers=key)
    assert again.status_code == 200 and again.json()["refund_id"] == made.json()["refund_id"]
    # counted once, whether or not the hub has booked it yet (B's journal fills the gap)
    left = screen.get("/lane/1/returns/receipt", params={"q": sale_id}).json()
    assert (left["refunded_fen"], left["fen_left"]) == (1000, SOLD - 1000)

    delivered(hub, b)
    sale = at_hub(hub, f"/api/sales/{sale_id}")
    assert sale["refunded_fen"] == 1000
    assert [(r["id"], r["store"]) for r in sale["refunds"]] == [(made.json()["refund_id"], "sb")]
    assert [(p["tender"], p["amount_fen"]) for p in sale["refunds"][0]["payments"]] == [
        ("cash", 1000)
    ]  # back to the tender it was paid with
    assert at_hub(hub, "/api/refunds/issues")["issues"] == []
    wait_until(lambda: at_hub(hub, points)["balance"] == 50, 30, what="10 points reversed")
    left = screen.get("/lane/1/returns/receipt", params={"q": sale_id}).json()
    assert (left["refunded_fen"], left["fen_left"]) == (1000, SOLD - 1000)  # not twice
    over = {"sale_id": sale_id, "picks": [{"line": 2, "qty_milli": 2000}]}
    r = screen.post("/lane/1/returns/refund", json=over)
    assert (r.status_code, r.json()["why"]) == (409, "over_qty"), r.text
    assert at_hub(hub, f"/api/sales/{sale_id}")["refunded_fen"] == 1000
