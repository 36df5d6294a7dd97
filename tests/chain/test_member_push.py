"""The members push end to end (issue 12), with real processes: Mosquitto, the hub and two
gateways through the CLI. Members who bought at store s1 reach s1's gateway; with the hub
stopped, s1's lane identifies them offline by phone, card and member QR (masked, marked
offline), s2's lane does not; an erased member disappears from s1's cache with the next
increment; the gateway's cache holds neither a phone nor a card number in clear."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker, Edge, Hub, wait_until

pytestmark = pytest.mark.slow

P1, P2 = "13812345678", "13900001111"


def members_held(edge: Edge) -> dict[str, Any]:
    return edge.http.get("/api/snapshots").json().get("members", {})


def identify(edge: Edge, **q: str) -> Any:
    return edge.http.post("/api/lanes/1/basket/member", json=q)


def test_recent_members_found_offline_at_their_store_only(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
) -> None:
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    a = Edge(tmp_path / "a", "s1", "g1", broker.url)
    b = Edge(tmp_path / "b", "s2", "g1", broker.url)
    try:
        hub.start()
        api = hub.http
        for store in ("s1", "s2"):
            assert api.put(f"/api/stores/{store}", json={"id": store, "name": store}).is_success
        m1 = api.post("/api/members", json={"phone": P1, "name": "周杰"}).json()
        m2 = api.post("/api/members", json={"phone": P2, "name": "Lee"}).json()
        a.start()
        b.start()
        for n, m in enumerate((m1, m2)):
            assert a.sell(n, member=m["id"]).status_code == 201
        wait_until(lambda: len(hub.sale_ids("s1")) == 2, 30, what="s1's sales at the hub")

        def pushed(version: int, rows: int) -> bool:
            api.post("/api/loyalty/jobs/members/run")
            held = members_held(a)
            return held.get("version", 0) >= version and held["rows"]["push"] == rows

        wait_until(lambda: pushed(1, 2), 30, what="s1's members pushed")
        first = members_held(a)
        assert first["key_id"] and first["refused"] == 0
        assert members_held(b)["version"] == 0  # s2 has no members of its own

        # m2 is erased at the hub: the next increment takes them out of s1's cache
        assert api.post(f"/api/members/{m2['id']}/erase").is_success
        wait_until(lambda: pushed(first["version"] + 1, 1), 30, what="the erasure pushed")

        hub.stop()
        for edge in (a, b):  # the hub's last word (retained offline status) reached them
            wait_until(lambda e=edge: e.journal()["uplink"]["hub_online"] is False, 20)
        # offline: s1 finds m1 by phone, card and QR, masked and marked offline
        r = identify(a, phone="138 1234 5678")
        assert r.status_code == 200, r.text
        got = r.json()["member"]
        assert got["member_id"] == m1["id"] and got["online"] is False
        assert got["name"] == "周*" and got["points_as_of"]
        assert "phone" not in got and "card_no" not in got
        assert identify(a, card_no=m1["card"]["no"]).json()["member"]["member_id"] == m1["id"]
        assert identify(a, qr=f"M:{m1['id']}").json()["member"]["member_id"] == m1["id"]
        # the erased member is gone; s2 never had s1's members
        assert identify(a, qr=f"M:{m2['id']}").status_code == 503
        assert identify(a, phone=P2).status_code == 503
        r = identify(b, phone=P1)
        assert r.status_code == 503 and "recent" in r.json()["error"]

        with sqlite3.connect(tmp_path / "a" / "journal.db") as c:
            rows = repr(c.execute("SELECT * FROM member_cache").fetchall())
        assert m1["id"] in rows and m2["id"] not in rows
        for clear in (P1, P2, m1["card"]["no"], m2["card"]["no"], "周杰"):
            assert clear not in rows
    finally:
        a.stop()
        b.stop()
        hub.stop()
