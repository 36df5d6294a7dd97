"""A real hub process (and its Mosquitto) shared by a module's console tests, with one account
per role made through the accounts API with the first HQ token, as an operator would, and two
sales rung up at a real gateway of store sh1 and ingested, so the home chart has a bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hub.accounts.roles import ROLES
from tests.conftest import Broker, Edge, Hub, sale_body, wait_until

PASSWORD = "correct-horse-battery"


@dataclass
class ConsoleHub:
    hub: Hub
    sales_fen: int  # today's net sales at sh1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.hub.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.hub.port}"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleHub]:
    root = tmp_path_factory.mktemp("console")
    broker = Broker(root / "broker")
    broker.start()
    hub = Hub(root / "hub", broker.url)
    hub.start()
    try:
        http = hub.http
        assert http.put("/api/stores/sh1", json={"name": "上海一店"}).status_code == 200
        assert http.put("/api/stores/bj1", json={"name": "北京一店"}).status_code == 200
        for role in ROLES:
            stores = ["sh1"] if role == "store_manager" else []
            r = http.post(
                "/api/accounts",
                json={"username": role, "password": PASSWORD, "role": role, "stores": stores},
            )
            assert r.status_code == 201, r.text
        edge = Edge(root / "gw", "sh1", "g1", broker.url)
        edge.start()
        try:
            for n in (0, 1):
                assert edge.http.post("/api/lanes/1/sales", json=sale_body(n)).status_code == 201
            wait_until(lambda: len(hub.sale_ids("sh1")) == 2, 30, what="the sales at the hub")
        finally:
            edge.stop()
        sales = http.get("/api/stores/sh1/sales").json()["sales"]
        yield ConsoleHub(hub, sum(s["total_fen"] for s in sales))
    finally:
        hub.stop()
        broker.stop()


def sign_in(page, console: ConsoleHub, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
