"""The cashier page end to end, in headless Chromium, with every part real: Mosquitto, the hub
and the gateway as processes, the scanner and the scale on ptys, the receipt printer on TCP and
the QR aggregator over HTTPS (edge/sim). A screen is paired with lane 1 by a manager's code;
water is scanned on the scanner, apples (a PLU) are weighed on the scale, the member is
identified by phone, 满30减5 applies, the customer's payment code is scanned and paid on the
aggregator, the receipt comes out of the printer, and the hub books the sale with the page's
total and the points the page promised."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from edge.sim.aggregator import AggregatorSim
from edge.sim.printer import PrinterSim
from edge.sim.scales import ScaleSim
from edge.sim.scanners import SerialScannerSim
from rig.browser import outside_requests, screenshot
from rig.sim_loop import SimLoop
from tests.conftest import Broker, Edge, Hub, wait_until
from tests.edge.rig import CODE, agg_toml

pytestmark = pytest.mark.slow

WATER = "6901028075015"
APPLE_PLU = "2000123"


def shop(hub: Hub) -> None:
    api = hub.http
    assert api.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
    tier = {"name": "普通", "rank": 0, "discount_pct": 100, "spend_threshold_fen": 0}
    assert api.put("/api/tiers/normal", json=tier).is_success
    water = {"name": "农夫山泉 550ml", "category": "drinks", "price_fen": 200,
             "cost_fen": 120, "barcodes": [WATER]}  # fmt: skip
    apple = {"name": "富士苹果", "category": "fresh", "unit": "kg", "price_fen": 1280}
    assert api.put(f"/api/catalog/items/{WATER}", json=water).is_success
    assert api.put(f"/api/catalog/items/{APPLE_PLU}", json=apple).is_success
    promo = {"name": "满30减5", "kind": "spend_save",
             "rule": {"threshold_fen": 3000, "save_fen": 500}}  # fmt: skip
    assert api.post("/api/promotions", json=promo).status_code == 201
    assert api.post("/api/catalog/publish", json={}).json()["connected"]


def test_scan_weigh_member_promotion_qr_receipt_hub(tmp_path: Path, broker: Broker, page):
    sims = SimLoop()
    scanner = SerialScannerSim()
    scale = ScaleSim("toledo", weight="2.000")
    printer = PrinterSim(columns=48)
    agg = AggregatorSim()
    sims.run(scanner.start())
    sims.run(scale.start())
    host, port = sims.run(printer.start())
    sims.run(agg.start())
    hub = Hub(tmp_path / "hub", broker.url)
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(
        f'[[device]]\nid = "scanner"\nkind = "scanner"\nprofile = "newland-cdc"\n'
        f'port = "{scanner.port}"\nlane = "1"\n'
        f'[[device]]\nid = "scale"\nkind = "scale"\nprofile = "mettler-toledo-8217"\n'
        f'port = "{scale.port}"\nlane = "1"\n'
        f'[[device]]\nid = "printer"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "{host}:{port}"\nlane = "1"\nstore_name = "一号店"\npoll_interval_s = 0.05\n'
        + agg_toml(agg),
        "utf-8",
    )
    edge = Edge(data, "s1", "g1", broker.url)
    try:
        hub.start()
        shop(hub)
        edge.start()
        gw = edge.http

        def ready() -> bool:
            snaps = gw.get("/api/snapshots").json()["snapshots"]
            states = {d["id"]: d["state"] for d in gw.get("/api/devices").json()["devices"]}
            return {"catalog", "prices", "promotions", "tiers"} <= set(snaps) and all(
                states.get(d) == "online" for d in ("scanner", "scale", "printer")
            )

        wait_until(ready, 30, what=f"snapshots and devices\n{edge.tail()}")
        reg = gw.post("/api/members", json={"phone": "13812345678", "name": "周杰"})
        assert reg.status_code == 201, reg.text
        member = reg.json()["member_id"]

        # a manager pairs the lane's screen once
        code = gw.post("/api/lanes/1/pairing").json()["code"]
        base = f"http://127.0.0.1:{edge.port}"
        outside = outside_requests(page, f"127.0.0.1:{edge.port}")
        page.goto(f"{base}/lane/1/")  # not paired yet: sent to the pairing form
        assert page.url == f"{base}/lane/"
        page.fill("input[name=code]", code)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/lane/1/")
        page.wait_for_selector("#hub.ok")

        # three bottles on the scanner, then apples by PLU, weighed on the lane's scale
        for _ in range(3):
            sims.call(scanner.scan, WATER)
        expect(page.locator("#lines td.qty").first).to_have_text("−3+")
        sims.call(scanner.scan, APPLE_PLU)
        page.wait_for_selector("text=2.000 kg")
        # 3 × ¥2.00 + 2 kg × ¥12.80 = ¥31.60, 满30减5: ¥26.60
        page.wait_for_selector("#savings >> text=满30减5")
        assert page.text_content("#total") == "¥26.60"

        page.fill("#who", "13812345678")
        page.click("#identify button")
        page.wait_for_selector("#member.member >> text=周杰")
        assert page.text_content("#points") == "26"  # 1 point per yuan, rounded down
        screenshot(page, "lane-cashier-basket")

        # the customer shows a WeChat code; the scanner reads it; the aggregator is paid
        page.click("#qr")
        sims.call(scanner.scan, CODE)
        page.wait_for_selector("#done:not([hidden])", timeout=30_000)
        done = page.text_content("#done")
        screenshot(page, "lane-cashier-paid")
        assert agg.charged_fen == 2660
        receipt_no = done.split("小票号")[1].split("·")[0].strip()
        wait_until(lambda: printer.receipts, 20, what="the receipt at the printer")
        text = printer.receipts[0].text
        assert receipt_no in text and "富士苹果" in text
        assert "满30减5 已省" in text  # the promotion and what it saved, on the receipt
        points_line = next(x for x in text.splitlines() if "本次积分" in x)
        assert points_line.split()[-1] == "26"  # the estimate, printed
        assert outside == []

        # the hub has the sale with the page's total, and the points the page promised
        def booked() -> dict | None:
            sales = hub.http.get("/api/stores/s1/sales").json()["sales"]
            return sales[0] if sales else None

        wait_until(booked, 30, what="the sale at the hub")
        sale = hub.http.get(f"/api/sales/{booked()['id']}").json()
        assert sale["total_fen"] == 2660 and sale["member_id"] == member
        wait_until(
            lambda: hub.http.get(f"/api/members/{member}/points").json()["balance"] == 26,
            30,
            what="points earned at the hub",
        )
    finally:
        edge.stop()
        hub.stop()
        for sim in (scanner, scale):
            sims.run(sim.close())
        sims.run(printer.stop())
        sims.run(agg.stop())
        sims.stop()
