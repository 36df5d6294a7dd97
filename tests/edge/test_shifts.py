"""A shift on a real `storegw edge`: opened with a float, the X report from the journal (no side
effects), closed with the cashier's count: the Z report with over/short, journaled as
`shift.closed`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rig.lane_store import write_snapshots
from tests.conftest import Broker, Edge

WATER = "6901028075015"


def test_open_x_report_close_z_report(tmp_path: Path, broker: Broker):
    write_snapshots(tmp_path / "edge", "s1")
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    edge.start()
    try:
        http = edge.http
        assert http.get("/api/lanes/1/shifts/current").status_code == 404
        opened = http.post("/api/lanes/1/shifts/open", json={"cashier": "张丽", "float_fen": 10000})
        assert opened.status_code == 201 and opened.json()["expected_cash_fen"] == 10000
        again = http.post("/api/lanes/1/shifts/open", json={"cashier": "李娜"})
        assert again.status_code == 409
        assert http.post("/api/lanes/1/shifts/open", json={"cashier": 7}).status_code == 400
        assert http.post("/api/lanes/zz/shifts/open", json={"cashier": "x"}).status_code == 404

        for _ in range(2):
            http.post("/api/lanes/1/basket/scan", json={"code": WATER})
        paid = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 500})
        assert paid.json()["sale"]["change_fen"] == 100
        http.post("/api/lanes/2/basket/scan", json={"code": WATER})  # another lane's sale
        http.post("/api/lanes/2/basket/pay", json={"tender": "cash", "tendered_fen": 200})

        x = http.get("/api/lanes/1/shifts/current").json()
        assert (x["sales_count"], x["sales_fen"], x["tenders"]) == (1, 400, {"cash": 400})
        assert x["expected_cash_fen"] == 10400
        assert http.get("/api/lanes/1/shifts/current").json() == x  # reading changes nothing

        z = http.post("/api/lanes/1/shifts/current/close", json={"counted": {"cash": 10350}})
        assert z.status_code == 201, z.text
        assert z.json()["over_short_fen"] == {"cash": -50}
        assert http.get("/api/lanes/1/shifts/current").status_code == 404
        seq = z.json()["journal"]["seq"]
    finally:
        edge.stop()
    with sqlite3.connect(tmp_path / "edge" / "journal.db") as db:
        row = db.execute("SELECT envelope FROM events WHERE seq = ?", (seq,)).fetchone()
    env = json.loads(row[0])
    body = env["body"]
    assert env["type"] == "shift.closed" and body["lane"] == "1" and body["sales_fen"] == 400
    assert body["tenders"] == [{"tender": "cash", "expected_fen": 10400, "counted_fen": 10350}]
