"""Lanes and their baskets on a real `storegw edge` (no hub: the shop's snapshots are the files
the gateway holds). Undeclared lanes are refused; a basket is priced by the engine on every
change, survives a SIGKILL of the gateway, suspends and resumes, and is booked through the
lane's sale path when paid."""

from __future__ import annotations

from protocols import coupons
from tests.conftest import Edge

WATER = "6901028075015"


def test_an_undeclared_lane_is_refused_until_a_manager_declares_it(edge: Edge):
    line = {"sku": "1", "name": "水", "qty_milli": 1000, "unit_price_fen": 200}
    sale = {"cashier": "张丽", "lines": [line], "payments": [{"tender": "cash", "amount_fen": 200}]}
    shift = {"cashier": "张丽", "shift_id": "x", "opened_at": "2026-11-28T08:00:00+08:00",
             "closed_at": "2026-11-28T16:00:00+08:00"}  # fmt: skip
    refund = {"cashier": "张丽", "sale_id": "0193a000-0000-7000-8000-000000000000",
              "lines": [], "payments": []}  # fmt: skip
    for path, body in (("sales", sale), ("shifts/close", shift), ("refunds", refund)):
        r = edge.http.post(f"/api/lanes/night/{path}", json=body)
        assert r.status_code == 404 and "unknown lane 'night'" in r.json()["error"], r.text
    r = edge.http.post("/api/lanes/night/basket/scan", json={"code": WATER})
    assert r.status_code == 404 and "unknown lane" in r.json()["error"]
    assert edge.journal()["last_seq"] == 0  # nothing journaled, no receipt number drawn

    declared = edge.http.put("/api/lanes/night", json={"name": "夜间收银"})
    assert declared.status_code == 201 and declared.json()["new"]
    assert edge.http.put("/api/lanes/night", json={"name": "夜班"}).status_code == 200
    lanes = {x["id"]: x for x in edge.http.get("/api/lanes").json()["lanes"]}
    assert lanes["night"]["source"] == "manager" and lanes["night"]["name"] == "夜班"
    r = edge.http.post("/api/lanes/night/sales", json=sale)
    assert r.status_code == 201 and r.json()["receipt_no"].endswith("-night-0001")
    bad = edge.http.put("/api/lanes/night", json={"name": "x" * 65})
    assert bad.status_code == 400


def test_a_basket_priced_on_every_change_survives_a_kill_and_is_booked(edge: Edge):
    http = edge.http
    for _ in range(2):
        b = http.post("/api/lanes/1/basket/scan", json={"code": WATER}).json()
    assert [(x["sku"], x["qty_milli"]) for x in b["lines"]] == [(WATER, 2000)]
    assert b["total_fen"] == 400 and b["savings"] == []
    missing = http.post("/api/lanes/1/basket/scan", json={"code": "4006381333931"})
    assert missing.status_code == 404 and "not in the catalog" in missing.json()["error"]
    no_scale = http.post("/api/lanes/1/basket/scan", json={"code": "2000123"})  # apples, by kg
    assert no_scale.status_code == 409 and "no scale" in no_scale.json()["error"]

    # 16 bottles: ¥32.00 crosses 满30减5
    b = http.post("/api/lanes/1/basket/lines/1", json={"qty_milli": 16000}).json()
    assert b["total_fen"] == 2700 and b["savings"][0]["saved_fen"] == 500
    assert sum(x["total_fen"] for x in b["lines"]) == b["total_fen"]
    bad = http.post("/api/lanes/1/basket/lines/1", json={"qty_milli": 1500})
    assert bad.status_code == 400
    assert http.post("/api/lanes/1/basket/lines/9", json={"qty_milli": 1000}).status_code == 404

    # suspend it, start another, void it, take the first back
    parked = http.post("/api/lanes/1/basket/suspend", json={"label": "张先生"}).json()
    assert parked["lines"] == [] and parked["suspended"][0]["label"] == "张先生"
    http.post("/api/lanes/1/basket/scan", json={"code": WATER})
    busy = http.post(f"/api/lanes/1/basket/resume/{parked['suspended'][0]['id']}")
    assert busy.status_code == 409  # the basket in the making is not thrown away
    assert http.delete("/api/lanes/1/basket/lines/1").json()["lines"] == []
    b = http.post(f"/api/lanes/1/basket/resume/{parked['suspended'][0]['id']}").json()
    assert b["total_fen"] == 2700 and b["suspended"] == []

    edge.kill()  # SIGKILL with a half-built basket
    edge.start()
    again = http.get("/api/lanes/1/basket").json()
    assert again["id"] == b["id"] and again["lines"] == b["lines"]

    # split tender: ¥20 now, the rest with change
    part = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "amount_fen": 2000,
                                                      "tendered_fen": 2000}).json()  # fmt: skip
    assert part["due_fen"] == 700 and "sale" not in part
    locked = http.post("/api/lanes/1/basket/scan", json={"code": WATER})
    assert locked.status_code == 409  # paid in part: the basket no longer changes
    done = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 1000})
    sale = done.json()["sale"]
    assert sale["total_fen"] == 2700 and sale["change_fen"] == 300
    assert done.json()["lines"] == []  # a fresh basket
    assert edge.journal()["last_seq"] == 1
    nothing = http.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": 100})
    assert nothing.status_code == 409

    # a return against the receipt: the sale found by its number, one bottle back in cash
    found = http.get(f"/api/sales/by-receipt/{sale['receipt_no']}").json()
    assert found["sale"]["sale_id"] == sale["sale_id"] and found["fen_left"] == 2700
    line = found["sale"]["lines"][0]
    back = line["total_fen"] * 1000 // line["qty_milli"]  # what one bottle was sold for
    refund = {"cashier": "张丽", "sale_id": sale["sale_id"], "reason": "破损",
              "lines": [{"sku": WATER, "qty_milli": 1000, "amount_fen": back}],
              "payments": [{"tender": "cash", "amount_fen": back}]}  # fmt: skip
    assert http.post("/api/lanes/1/refunds", json=refund).status_code == 201
    after = http.get(f"/api/sales/by-receipt/{sale['receipt_no']}").json()
    assert after["left"][0]["qty_milli"] == 15000 and after["fen_left"] == 2700 - back
    assert http.get("/api/sales/by-receipt/20991231-1-9999").status_code == 404


def test_a_coupon_code_scanned_is_taken_as_a_coupon_not_an_item(edge: Edge):
    """The scan hands a code no item has that reads as a coupon's to the basket's coupons
    (edge/basket_coupons.py): claimed at the hub, which is away here, so refused as offline
    under the store's default policy, and the basket stays as it was."""
    http = edge.http
    code = coupons.new_code()
    empty = http.post("/api/lanes/1/basket/scan", json={"code": code})
    assert empty.status_code == 409 and empty.json()["why"] == "empty", empty.text
    b = http.post("/api/lanes/1/basket/scan", json={"code": WATER}).json()
    r = http.post("/api/lanes/1/basket/scan", json={"code": code.lower()})  # as typed
    assert r.status_code == 503 and r.json()["why"] == "offline", r.text
    assert http.get("/api/lanes/1/basket").json()["lines"] == b["lines"]
    # its check character wrong: no coupon's, so an unknown item
    typo = code[:-1] + next(ch for ch in coupons.ALPHABET if ch != code[-1])
    r = http.post("/api/lanes/1/basket/scan", json={"code": typo})
    assert r.status_code == 404 and "not in the catalog" in r.json()["error"], r.text
