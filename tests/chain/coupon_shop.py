"""A shop for the basket's coupon and margin-floor tests (tests/chain/test_basket_coupon*.py):
water (¥2.00, cost ¥1.20) at half price, so the margin floor holds it at its cost; rice
(¥50.00, cost ¥30.00); two members, each with a ¥10 coupon; a manager account of the gateway.
`open_shop` runs the hub and the gateway with all of it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from edge.admin.accounts import Accounts
from rig.chain_setup import held
from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until

WATER, RICE = "6901028075015", "6920000000017"
PHONES = {"mine": "13812345678", "theirs": "13900001111"}
MANAGER, PASSWORD = "wang", "correct horse battery"


def shop(hub: Hub) -> dict[str, str]:
    """The shop at the hub, published; returns each member's coupon code by "mine"/"theirs"."""
    api = hub.http
    api.timeout = httpx.Timeout(60)  # the hub's first answers, on a busy 2-core test machine
    assert api.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
    water = {"name": "农夫山泉 550ml", "category": "drinks", "price_fen": 200,
             "cost_fen": 120, "barcodes": [WATER]}  # fmt: skip
    rice = {"name": "五常大米 5kg", "category": "grain", "price_fen": 5000,
            "cost_fen": 3000, "barcodes": [RICE]}  # fmt: skip
    assert api.put(f"/api/catalog/items/{WATER}", json=water).is_success
    assert api.put(f"/api/catalog/items/{RICE}", json=rice).is_success
    half = {"name": "水五折", "kind": "percent_off",
            "rule": {"skus": [WATER], "percent_off": 50}}  # fmt: skip
    assert api.post("/api/promotions", json=half).status_code == 201
    assert api.post("/api/catalog/publish", json={}).json()["connected"]
    tpl = api.post(
        "/api/coupons/templates",
        json={"name": "立减10元", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7},
    )
    assert tpl.status_code == 201, tpl.text
    codes = {}
    for who, phone in PHONES.items():
        name = "周杰" if who == "mine" else "李雷"
        m = api.post("/api/members", json={"phone": phone, "name": name})
        assert m.status_code in (200, 201), m.text
        got = api.post(f"/api/coupons/templates/{tpl.json()['id']}/issue",
                       json={"member_ids": [m.json()["id"]]})  # fmt: skip
        assert got.status_code == 201, got.text
        codes[who] = str(got.json()["issued"][0]["code"])
    return codes


def add_manager(data: Path) -> None:
    """A manager account in the gateway's database before it starts, as a technician adds one
    on the admin pages (edge/admin/accounts.py)."""
    data.mkdir(parents=True, exist_ok=True)

    async def add() -> None:
        conn = sqlite3.connect(data / "journal.db", isolation_level=None)
        try:
            await Accounts(conn, data).add(MANAGER, PASSWORD, "manager")
        finally:
            conn.close()

    # on a thread of its own: the browser's tests run an event loop on this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add()).result()


@contextmanager
def open_shop(
    tmp_path: Path, broker: Broker, hub_db_url: str | None = None
) -> Iterator[tuple[Hub, Edge, dict[str, str]]]:
    """The hub with the shop and gateway s1/g1 with its manager, started, the gateway holding
    the shop's snapshots; yields them and each member's coupon code (`shop`); stops both."""
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    data = tmp_path / "edge"
    add_manager(data)
    edge = Edge(data, "s1", "g1", broker.url)
    try:
        hub.start()
        codes = shop(hub)
        edge.start()
        wait_until(lambda: {"catalog", "prices", "promotions"} <= set(held(edge)), 30,
                   what=f"the shop's snapshots\n{edge.tail()}")  # fmt: skip
        yield hub, edge, codes
    finally:
        edge.stop()
        hub.stop()
