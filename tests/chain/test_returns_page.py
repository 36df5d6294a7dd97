"""The returns screen of store B, in headless Chromium, returning a sale store A made: Mosquitto,
the hub and both gateways as processes. The sale id typed at B's screen is not in B's journal,
so B asks the hub (RPC sale.lookup): the lines, the store that sold it and the tender come back,
one cup is returned in cash through the hub's claim, and the hub books it. With the hub gone,
the screen says in plain words (zh and en) that the receipt is another store's and the hub
cannot be asked now."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from rig.browser import outside_requests, pair_screen, screenshot
from tests.conftest import Broker, Edge, Hub, wait_until
from tests.hub.sales.refund_events import sale_request

pytestmark = pytest.mark.slow


def test_store_bs_screen_returns_store_as_sale_and_says_when_the_hub_is_away(
    tmp_path: Path, broker: Broker, hub_db_url: str | None, page
):
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    a = Edge(tmp_path / "sa", "sa", "g1", broker.url)
    b = Edge(tmp_path / "sb", "sb", "g1", broker.url)
    hub.start()
    a.start()
    b.start()
    try:
        for edge in (a, b):
            wait_until(lambda e=edge: e.journal()["uplink"]["hub_online"], 30, what="hub seen")
        sold = a.http.post("/api/lanes/1/sales", json=sale_request())  # ¥60.00 in cash
        assert sold.status_code == 201, sold.text
        sale_id = sold.json()["sale_id"]
        wait_until(lambda: hub.last_seq("sa", "g1") == a.journal()["last_seq"], 30,
                   what="sa's sale at the hub")  # fmt: skip

        base = f"http://127.0.0.1:{b.port}"
        outside = outside_requests(page, f"127.0.0.1:{b.port}")
        code = b.http.post("/api/lanes/1/pairing").json()["code"]
        pair_screen(page, base, code, "/lane/1/")
        page.goto(f"{base}/lane/1/returns")
        page.fill("#receipt", sale_id)
        page.press("#receipt", "Enter")
        expect(page.locator("#sale-head")).to_contain_text("售出门店 sa")
        expect(page.locator("#sale-head")).to_contain_text("已付 ¥60.00")
        cups = page.locator("#ret-lines tr[data-line='2']")
        expect(cups.locator("td.name")).to_have_text("保温杯盖")
        expect(cups.locator("td.left")).to_have_text("2")
        cups.locator("input.ret-qty").fill("1")
        cups.locator("input.ret-qty").dispatch_event("change")
        expect(page.locator("#refund-total")).to_have_text("¥10.00")
        expect(page.locator("#refund-tenders li")).to_have_text(["现金¥10.00"])
        screenshot(page, "lane-returns-other-store-zh")
        page.click("#confirm")
        expect(page.locator("#done")).to_contain_text("¥10.00")
        expect(cups.locator("td.left")).to_have_text("1")
        wait_until(lambda: hub.last_seq("sb", "g1") == b.journal()["last_seq"], 30,
                   what="sb's refund at the hub")  # fmt: skip
        at_hub = hub.http.get(f"/api/sales/{sale_id}").json()
        assert at_hub["refunded_fen"] == 1000 and [r["store"] for r in at_hub["refunds"]] == ["sb"]

        page.goto(f"{base}/lane/1/returns?lang=en")
        page.fill("#receipt", sale_id)
        page.press("#receipt", "Enter")
        expect(page.locator("#sale-head")).to_contain_text("Sold at store sa")
        expect(page.locator("#sale-head")).to_contain_text("Returned ¥10.00")
        expect(page.locator("#problem")).to_be_hidden()

        hub.stop()  # the hub away: its will (or the call's timeout) says so
        wait_until(lambda: not b.journal()["uplink"]["hub_online"], 30, what="hub gone")
        page.fill("#receipt", sale_id)
        page.press("#receipt", "Enter")
        expect(page.locator("#problem")).to_have_text(
            "This receipt was not sold at this gateway, maybe at another store, and the hub "
            "cannot be asked now: it cannot be refunded yet."
        )
        expect(page.locator("#sale")).to_be_hidden()
        screenshot(page, "lane-returns-hub-away-en")
        page.goto(f"{base}/lane/1/returns?lang=zh")
        page.fill("#receipt", sale_id)
        page.press("#receipt", "Enter")
        expect(page.locator("#problem")).to_have_text(
            "这张小票不是本机售出的，可能来自其他门店；现在无法连接总部查询，暂时不能退款。"
        )
        assert outside == []
    finally:
        b.stop()
        a.stop()
        hub.stop()
