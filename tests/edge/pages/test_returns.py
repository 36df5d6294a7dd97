"""The returns screen on a real `storegw edge` in headless Chromium, with the receipt printer
simulated on TCP: a screen paired with lane 1 goes from the cashier page to returns, finds a
split-tender sale by its receipt number, returns one bottle (the refund per original tender
and the points taken back are shown before confirming), the slip prints; asking for more than
is left, a receipt already fully returned, and an unknown receipt with the hub unreachable
each show a plain reason; Chinese by default, English on the switch."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from edge.sim.printer import PrinterSim
from rig.browser import PHONE, outside_requests, pair_screen, screenshot
from rig.lane_store import write_snapshots
from rig.sim_loop import SimLoop
from tests.conftest import Broker, Edge, wait_until
from tests.edge.rig import sale


@pytest.fixture
def shop(tmp_path: Path, broker: Broker):
    sims = SimLoop()
    printer = PrinterSim(columns=48)
    _, port = sims.run(printer.start())
    data = tmp_path / "edge"
    write_snapshots(data, "s1")
    (data / "devices.toml").write_text(
        f'[[device]]\nid = "p1"\nkind = "printer"\nprofile = "epson-tm-t88"\n'
        f'port = "127.0.0.1:{port}"\nlane = "1"\nstore_name = "一号店"\npoll_interval_s = 0.05\n',
        "utf-8",
    )
    (data / "payments.toml").write_text('external_tenders = ["card"]\n', "utf-8")
    edge = Edge(data, "s1", "g1", broker.url)
    edge.start()
    yield edge, printer
    edge.stop()
    sims.run(printer.stop())
    sims.stop()


def test_a_partial_return_through_the_screen(shop, page):
    edge, printer = shop
    http = edge.http
    wait_until(lambda: http.get("/api/devices").json()["devices"][0]["state"] == "online",
               10, what="printer online")  # fmt: skip
    assert http.post("/api/lanes/1/shifts/open", json={"cashier": "张丽"}).status_code == 201
    # 2 bottles at ¥2.00 and 1.25 kg of apples: ¥20.00, half cash, half card; 20 points earned
    sold = http.post(
        "/api/lanes/1/sales",
        json=sale([{"tender": "cash", "amount_fen": 1000}, {"tender": "card", "amount_fen": 1000}]),
    )
    assert sold.status_code == 201, sold.text
    receipt_no, sale_id = sold.json()["receipt_no"], sold.json()["sale_id"]
    wait_until(lambda: len(printer.receipts) == 1, 10, what="the sale's receipt")

    base = f"http://127.0.0.1:{edge.port}"
    outside = outside_requests(page, f"127.0.0.1:{edge.port}")
    code = http.post("/api/lanes/1/pairing").json()["code"]
    pair_screen(page, base, code, "/lane/1/")
    page.click("#to-returns")
    page.wait_for_url(f"{base}/lane/1/returns")
    expect(page.locator("header strong")).to_have_text("收银台 1 · 退货退款")

    # an unknown receipt, and no hub to ask: a plain reason, nothing refunded
    page.fill("#receipt", "20200101-1-9999")
    page.press("#receipt", "Enter")
    expect(page.locator("#problem")).to_have_text(
        "这张小票不是本机售出的，可能来自其他门店；现在无法连接总部查询，暂时不能退款。"
    )

    # a keyboard-wedge scanner types the receipt's barcode into the page, then Enter
    page.locator("#receipt").fill("")
    page.locator("header strong").click()  # the focus away from the field
    page.keyboard.type(receipt_no)
    page.keyboard.press("Enter")
    water = page.locator("#ret-lines tr[data-line='1']")
    expect(water.locator("td.left")).to_have_text("2")
    water.locator("input.ret-qty").fill("1")
    water.locator("input.ret-qty").dispatch_event("change")
    # ¥2.00 back the way it came: ¥1.00 cash, ¥1.00 card; 2 of the 20 points taken back
    expect(page.locator("#refund-total")).to_have_text("¥2.00")
    expect(page.locator("#refund-tenders li")).to_have_text(["现金¥1.00", "银行卡¥1.00"])
    expect(page.locator("#points-back")).to_have_text("扣回积分: 2")
    page.fill("#reason", "破损")
    screenshot(page, "lane-returns-quote-zh")
    page.click("#confirm")
    expect(page.locator("#done")).to_contain_text("¥2.00")
    expect(water.locator("td.left")).to_have_text("1")
    wait_until(lambda: len(printer.receipts) == 2, 10, what="the refund slip")
    slip = printer.receipts[1].text
    assert "退货单" in slip and receipt_no in slip and "农夫山泉" in slip and "破损" in slip

    # more than is left of the bottles: refused in plain words, no refund
    water.locator("input.ret-qty").fill("2")
    water.locator("input.ret-qty").dispatch_event("change")
    expect(page.locator("#problem")).to_have_text("退货数量超过这件商品剩余可退的数量。")
    expect(page.locator("#quote")).to_be_hidden()

    # the rest: the last bottle and the apples (weighed: whole) complete the sale
    water.locator("input.ret-qty").fill("1")
    water.locator("input.ret-qty").dispatch_event("change")
    page.locator("#ret-lines tr[data-line='2'] input.ret-qty").check()
    expect(page.locator("#refund-total")).to_have_text("¥18.00")
    expect(page.locator("#points-back")).to_have_text("扣回积分: 18")
    page.click("#confirm")
    expect(page.locator("#done")).to_contain_text("¥18.00")
    expect(page.locator("#problem")).to_have_text("这张小票的商品已全部退货。")
    wait_until(lambda: len(printer.receipts) == 3, 10, what="the second slip")

    page.goto(f"{base}/lane/1/returns?lang=en")
    page.fill("#receipt", receipt_no)
    page.press("#receipt", "Enter")
    expect(page.locator("#problem")).to_have_text(
        "Everything on this receipt was already returned.")  # fmt: skip
    expect(page.locator("#sale-head")).to_contain_text("Returned ¥20.00")
    screenshot(page, "lane-returns-all-returned-en")
    page.set_viewport_size(PHONE)  # a phone-sized lane screen: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.locator("#ret-lines tr[data-line='1'] td.left")).to_be_visible()
    screenshot(page, "lane-returns-phone-en")
    assert outside == []

    # the journal: two refunds in the shift's cashier's name, nothing left of the sale
    left = http.get(f"/api/sales/by-receipt/{receipt_no}").json()
    assert left["fen_left"] == 0 and left["sale"]["sale_id"] == sale_id
    x = http.get("/api/lanes/1/shifts/current").json()
    assert (x["refunds_count"], x["refunds_fen"]) == (2, 2000)
    assert x["tenders"] == {"card": 0, "cash": 0}


def test_the_screens_calls_refuse_bad_input_and_unpaired_screens(shop):
    """Each of the returns screen's calls: a clear 4xx with a reason, nothing booked."""
    edge, _ = shop
    http = edge.http
    sold = http.post("/api/lanes/1/sales", json=sale())
    assert sold.status_code == 201, sold.text
    sale_id, receipt_no = sold.json()["sale_id"], sold.json()["receipt_no"]
    base = f"http://127.0.0.1:{edge.port}"
    anon = httpx.Client(base_url=base, timeout=10)
    assert anon.post("/lane/1/returns/quote", json={}).status_code == 403  # not paired
    code = http.post("/api/lanes/1/pairing").json()["code"]
    screen = httpx.Client(base_url=base, timeout=10, headers={"X-Storegw": "1"})
    assert screen.post("/lane/pair", data={"code": code}).status_code == 302
    assert screen.post("/lane/2/returns/quote", json={}).status_code == 403  # another lane
    assert screen.get("/lane/1/returns/receipt", params={"q": ""}).status_code == 400
    found = screen.get("/lane/1/returns/receipt", params={"q": receipt_no})
    assert found.status_code == 200 and found.json()["tenders"] == {"cash": 2000}
    by_id = screen.get("/lane/1/returns/receipt", params={"q": sale_id.upper()})
    assert by_id.json()["receipt_no"] == receipt_no  # the sale id typed from a receipt
    bad = [
        ({"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 1.5}]}, 400, "bad_request"),
        ({"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 1000}] * 2}, 400, "bad_request"),
        ({"sale_id": sale_id, "picks": "all"}, 400, "bad_request"),
        ({"sale_id": sale_id, "picks": [{"line": 9, "qty_milli": 1000}]}, 422, "no_line"),
        ({"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 3000}]}, 409, "over_qty"),
        ({"sale_id": sale_id, "picks": [{"line": 2, "qty_milli": 250}]}, 422, "weighed_whole"),
        ({"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 0}]}, 422, "nothing_picked"),
        ({"sale_id": "20200101-1-0001", "picks": []}, 503, "unknown_offline"),
    ]
    for body, status, why in bad:
        for route in ("quote", "refund"):
            r = screen.post(f"/lane/1/returns/{route}", json=body)
            assert (r.status_code, r.json()["why"]) == (status, why), (route, body, r.text)
    r = screen.post("/lane/1/returns/refund", content=b"{nope", headers={"X-Storegw": "1"})
    assert r.status_code == 400
    too_long = {"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 1000}], "reason": "x" * 501}
    assert screen.post("/lane/1/returns/refund", json=too_long).status_code == 400
    assert http.get("/api/lanes/1/shifts/current").status_code == 404  # no shift: lane's name
    ok = {"sale_id": sale_id, "picks": [{"line": 1, "qty_milli": 2000}]}
    key = {"Idempotency-Key": "screen-refund-1"}
    first = screen.post("/lane/1/returns/refund", json=ok, headers=key)
    assert first.status_code == 201 and first.json()["total_fen"] == 400, first.text
    again = screen.post("/lane/1/returns/refund", json=ok, headers=key)  # a retried click
    assert again.status_code == 200 and again.json()["refund_id"] == first.json()["refund_id"]
    left = http.get(f"/api/sales/by-receipt/{receipt_no}").json()
    assert left["fen_left"] == 1600  # one refund of 400, not two
