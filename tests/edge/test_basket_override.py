"""The margin floor and a manager's override, and coupons without the hub, on a real
`storegw edge` (a broker, no hub; the shop's snapshots are the files the gateway holds).
Water costs ¥1.20 and sells at ¥2.00; its 50 % promotion would take it to ¥1.00, so the floor
holds it at ¥1.20 until a manager of the gateway (edge/admin accounts) overrides: only a manager,
only with the right password; any change to the basket ends the override; the sale journals
who, when and which lines, and the gateway's audit log has it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.admin.accounts import Accounts
from protocols import coupons
from rig.lane_store import shop_data, write_snapshots
from tests.conftest import Broker, Edge

WATER = "6901028075015"
HALF = [{"id": 1, "name": "水五折", "kind": "percent_off",
         "rule": {"skus": [WATER], "percent_off": 50}}]  # fmt: skip
PASSWORD = "correct horse battery"


@pytest.fixture
def edge(tmp_path: Path, broker: Broker):
    data = tmp_path / "edge"
    write_snapshots(data, "s1", shop_data(promotions=HALF))
    conn = sqlite3.connect(data / "journal.db", isolation_level=None)
    accounts = Accounts(conn, data)  # the gateway's own accounts, as a technician adds them
    asyncio.run(accounts.add("wang", PASSWORD, "manager"))
    asyncio.run(accounts.add("tech", PASSWORD, "technician"))
    conn.close()
    e = Edge(data, "s1", "g1", broker.url)
    e.start()
    yield e
    e.stop()


def sales(edge: Edge) -> list[dict]:
    with sqlite3.connect(edge.data_dir / "journal.db") as db:
        rows = db.execute("SELECT envelope FROM events WHERE type = 'sale.completed'")
        return [json.loads(r[0])["body"] for r in rows]


def test_only_a_manager_overrides_the_floor_and_the_sale_journals_it(edge: Edge):
    http = edge.http
    b = http.post("/api/lanes/1/basket/scan", json={"code": WATER}).json()
    line = b["lines"][0]
    assert line["total_fen"] == 120 and line["floor"] == "held" and line["floor_fen"] == 120
    assert b["floor"] == {"held_fen": 20, "lines": [1]} and b["override"] is None

    def override(user: object, password: object) -> dict:
        r = http.post("/api/lanes/1/basket/override", json={"username": user,
                                                            "password": password})  # fmt: skip
        return {"status": r.status_code, **r.json()}

    assert override("wang", None)["status"] == 400
    tech = override("tech", PASSWORD)
    assert (tech["status"], tech["why"]) == (403, "not_manager"), tech
    wrong = override("wang", "not the password")
    assert (wrong["status"], wrong["why"]) == (401, "bad_login"), wrong
    nobody = override("nobody", PASSWORD)
    assert (nobody["status"], nobody["why"]) == (401, "bad_login")
    assert http.get("/api/lanes/1/basket").json()["total_fen"] == 120  # nothing changed

    ok = override("wang", PASSWORD)
    assert ok["status"] == 200, ok
    assert ok["override"]["by"] == "wang" and ok["override"]["lines"] == [1]
    assert ok["total_fen"] == 100 and ok["lines"][0]["floor"] == "below"
    assert ok["floor"]["lines"] == []

    # a second bottle: the basket the manager approved is gone, the floor holds again
    b = http.post("/api/lanes/1/basket/lines/1", json={"qty_milli": 2000}).json()
    assert b["override"] is None and b["total_fen"] == 240 and b["floor"]["held_fen"] == 40
    again = override("wang", PASSWORD)
    assert again["status"] == 200 and again["total_fen"] == 200

    done = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 200})
    assert done.status_code == 200, done.text
    assert done.json()["sale"]["total_fen"] == 200
    [sale] = sales(edge)
    how = sale["pricing"]
    assert how["override"] is True and how["override_by"] == "wang"
    assert how["override_lines"] == [1]
    at = datetime.fromisoformat(how["override_at"])  # a UTC instant, of the sale's minutes
    assert at.utcoffset() == timedelta(0) and datetime.now(UTC) - at < timedelta(minutes=10)
    assert sale["lines"][0]["total_fen"] == 200 and sale["lines"][0]["cost_fen"] == 120

    # a fresh basket without a held line: nothing to approve
    http.post("/api/lanes/1/basket/scan", json={"code": "2000123x"})
    nothing = override("wang", PASSWORD)
    assert (nothing["status"], nothing["why"]) == (409, "no_floor")

    with sqlite3.connect(edge.data_dir / "journal.db") as db:
        audit = db.execute(
            "SELECT who, target FROM admin_audit WHERE action = 'price.override' ORDER BY seq"
        ).fetchall()
    assert [who for who, _ in audit] == ["wang", "wang"]
    assert all(t.startswith("lane 1 basket ") for _, t in audit)


def test_coupons_refused_in_plain_words_without_the_hub(edge: Edge):
    http = edge.http
    empty = http.post("/api/lanes/1/basket/coupons", json={"code": coupons.new_code()})
    assert (empty.status_code, empty.json()["why"]) == (409, "empty")
    http.post("/api/lanes/1/basket/scan", json={"code": WATER})
    code = coupons.new_code()
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    bad = http.post("/api/lanes/1/basket/coupons", json={"code": typo})
    assert (bad.status_code, bad.json()["why"]) == (400, "bad_code")
    assert "check character" in bad.json()["error"]
    not_str = http.post("/api/lanes/1/basket/coupons", json={"code": 12})
    assert not_str.status_code == 400
    # a broker and no hub: the claim waits for the hub's answer, then the store's policy
    # (refuse by default) says no — nothing is granted
    away = http.post("/api/lanes/1/basket/coupons", json={"code": code})
    assert (away.status_code, away.json()["why"]) == (503, "offline"), away.text
    b = http.get("/api/lanes/1/basket").json()
    assert b["coupons"] == [] and b["total_fen"] == 120
    # scanned as a code at the lane: the same refusal, not "not in the catalog"
    scanned = http.post("/api/lanes/1/basket/scan", json={"code": code})
    assert scanned.status_code == 503 and scanned.json()["why"] == "offline"
    gone = http.delete(f"/api/lanes/1/basket/coupons/{code}")
    assert gone.status_code == 404
