"""Coupons and the margin floor's override in a lane's basket, with the real processes
(Mosquitto, the hub, the gateway): a coupon is claimed at the hub for the lane before the
basket grants it and priced by the engine with the hub's terms; another member's coupon is
refused in plain words; a coupon taken off is released at the hub (so it can be claimed again);
a manager overrides the floor; the hub books the sale, redeems the coupon under the lane's hold,
and its pricing job recomputes the sale to the same fen (no price difference)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.chain.coupon_shop import MANAGER, PASSWORD, PHONES, RICE, WATER, open_shop
from tests.conftest import Broker, wait_until

pytestmark = pytest.mark.slow


def test_coupon_and_override_in_the_basket_recomputed_equal_at_the_hub(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
):
    with open_shop(tmp_path, broker, hub_db_url) as (hub, edge, c):
        gw = edge.http
        wait_until(lambda: edge.journal()["uplink"]["connected"], 30, what="uplink")
        gw.post("/api/lanes/1/basket/scan", json={"code": WATER})
        gw.post("/api/lanes/1/basket/lines/1", json={"qty_milli": 5000})
        b = gw.post("/api/lanes/1/basket/scan", json={"code": RICE}).json()
        # water at half price would be ¥5.00; its floor (cost) holds it at ¥6.00
        assert b["total_fen"] == 600 + 5000 and b["floor"] == {"held_fen": 100, "lines": [1]}
        r = gw.post("/api/lanes/1/basket/member", json={"phone": PHONES["mine"]})
        assert r.status_code == 200, r.text

        theirs = gw.post("/api/lanes/1/basket/coupons", json={"code": c["theirs"]})
        assert theirs.status_code == 409 and theirs.json()["why"] == "other_member", theirs.text
        got = gw.post("/api/lanes/1/basket/coupons", json={"code": c["mine"]})
        assert got.status_code == 200, got.text
        b = got.json()
        [cp] = b["coupons"]
        assert (cp["code"], cp["saved_fen"], cp["refused"]) == (c["mine"], 1000, None)
        assert b["total_fen"] == 4600  # all of it off the rice: the water has no room
        assert any(s["kind"] == "coupon" and s["name"].startswith("立减10元") for s in b["savings"])
        twice = gw.post("/api/lanes/1/basket/coupons", json={"code": c["mine"]})
        assert twice.status_code == 409 and twice.json()["why"] == "twice"

        # taken off: released at the hub, so the next claim (even this lane's) succeeds
        off = gw.delete(f"/api/lanes/1/basket/coupons/{c['mine']}")
        assert off.status_code == 200 and off.json()["coupons"] == []
        assert hub.http.get(f"/api/coupons/{c['mine']}").json()["status"] == "issued"
        again = gw.post("/api/lanes/1/basket/coupons", json={"code": c["mine"]})
        assert again.status_code == 200 and again.json()["total_fen"] == 4600, again.text

        ov = gw.post("/api/lanes/1/basket/override",
                     json={"username": MANAGER, "password": PASSWORD})  # fmt: skip
        assert ov.status_code == 200, ov.text
        b = ov.json()
        assert b["override"]["lines"] == [1] and b["total_fen"] < 4600
        assert b["lines"][0]["floor"] == "below"
        total = b["total_fen"]

        paid = gw.post("/api/lanes/1/basket/pay", json={"tender": "cash", "tendered_fen": total})
        assert paid.status_code == 200, paid.text
        sale = paid.json()["sale"]
        assert sale["total_fen"] == total
        # the journaled sale lists each promotion and the coupon by name with what each saved
        # (what the receipt prints: protocols/escpos/receipt.py, `pricing.savings`)
        with sqlite3.connect(edge.data_dir / "journal.db") as db:
            [row] = db.execute("SELECT envelope FROM events WHERE type = 'sale.completed'")
        how = json.loads(row[0])["body"]["pricing"]
        names = {x["name"].split()[0]: x["saved_fen"] for x in how["savings"]}
        assert names["立减10元"] == 1000 and names["水五折"] > 0, how["savings"]
        assert how["override"] and how["override_by"] == MANAGER and how["override_lines"] == [1]

        api = hub.http
        wait_until(lambda: api.get(f"/api/sales/{sale['sale_id']}").status_code == 200, 30,
                   what="the sale at the hub")  # fmt: skip
        assert api.get(f"/api/sales/{sale['sale_id']}").json()["total_fen"] == total
        wait_until(
            lambda: api.get(f"/api/coupons/{c['mine']}").json()["status"] == "redeemed",
            30,
            what="the coupon redeemed under the lane's hold",
        )
        # a lane that ignores the promotion books one more sale: once the pricing job has
        # flagged it, it has checked ours (oldest first) — and found ours equal
        plain = {"cashier": "张丽", "payments": [{"tender": "cash", "amount_fen": 200}],
                 "lines": [{"sku": WATER, "name": "水", "qty_milli": 1000,
                            "unit_price_fen": 200, "cost_fen": 120}]}  # fmt: skip
        other = gw.post("/api/lanes/2/sales", json=plain)
        assert other.status_code == 201, other.text

        def flagged() -> list[dict]:
            return api.get("/api/pricing/differences", params={"store": "s1"}).json()["differences"]

        wait_until(lambda: flagged(), 60, what="the pricing job's check")
        assert [d["sale_id"] for d in flagged()] == [other.json()["sale_id"]], flagged()
