"""The cashier page applies a coupon and a manager overrides the margin floor, in headless
Chromium, with the real processes (Mosquitto, the hub, the gateway): goods are typed in, the
member identified, another member's coupon is refused in Chinese, the member's own coupon shows
as a line of saving, the floor's notice appears and a manager's account lifts it, the cash
payment books the sale, and the hub has it with the page's total. English too."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from rig.browser import outside_requests, pair_screen, screenshot
from tests.chain.coupon_shop import MANAGER, PASSWORD, PHONES, RICE, WATER, open_shop
from tests.conftest import Broker, wait_until

pytestmark = pytest.mark.slow


def test_the_cashier_applies_a_coupon_and_a_manager_overrides_the_floor(
    tmp_path: Path, broker: Broker, page
):
    with open_shop(tmp_path, broker) as (hub, edge, c):
        gw = edge.http
        code = gw.post("/api/lanes/1/pairing").json()["code"]
        base = f"http://127.0.0.1:{edge.port}"
        outside = outside_requests(page, f"127.0.0.1:{edge.port}")
        page.set_default_timeout(20_000)
        pair_screen(page, base, code, "/lane/1/")
        page.wait_for_selector("#hub.ok")

        for item in (WATER, WATER, WATER, WATER, WATER, RICE):  # typed, as a wedge scanner
            page.fill("#code", item)
            page.press("#code", "Enter")
            expect(page.locator("#lines tbody tr").last).to_contain_text(
                "五常大米" if item == RICE else "农夫山泉"
            )
        # water at half price would be ¥5.00: the floor holds it at its cost, ¥6.00
        expect(page.locator("#total")).to_have_text("¥56.00")
        expect(page.locator("#floor")).to_be_visible()
        expect(page.locator("#floor-text")).to_contain_text("¥1.00")
        expect(page.locator("#lines tbody tr.at-floor")).to_have_count(1)

        page.fill("#who", PHONES["mine"])
        page.click("#identify button")
        page.wait_for_selector("#member.member >> text=周杰")

        # another member's coupon: refused, in the page's own words
        page.fill("#coupon-code", c["theirs"])
        page.click("#coupon button")
        expect(page.locator("#problem")).to_have_text("这张券属于其他会员，请先识别券的会员")
        expect(page.locator("#coupons li")).to_have_count(0)
        # the member's own coupon: a line of saving
        page.fill("#coupon-code", c["mine"].lower())  # typed in lower case: still the code
        page.click("#coupon button")
        expect(page.locator("#coupons li")).to_contain_text("立减10元")
        expect(page.locator("#coupons li")).to_contain_text("-¥10.00")
        expect(page.locator("#savings")).to_contain_text("立减10元")
        expect(page.locator("#total")).to_have_text("¥46.00")
        expect(page.locator("#problem")).to_be_hidden()

        # a wrong password changes nothing; the manager's lifts the floor
        page.fill("#mgr-user", MANAGER)
        page.fill("#mgr-pass", "not the password")
        page.click("#override button")
        expect(page.locator("#problem")).to_have_text("店长账号或密码错误")
        expect(page.locator("#total")).to_have_text("¥46.00")
        screenshot(page, "lane-basket-coupon-floor")
        page.fill("#mgr-user", MANAGER)
        page.fill("#mgr-pass", PASSWORD)
        page.click("#override button")
        expect(page.locator("#override-note")).to_contain_text(MANAGER)
        expect(page.locator("#floor")).to_be_hidden()
        expect(page.locator("#lines tbody tr.below-floor")).to_have_count(1)
        assert page.input_value("#mgr-pass") == ""  # the password never stays on screen
        total = page.text_content("#total")
        assert total not in ("¥46.00", None)
        screenshot(page, "lane-basket-override")

        page.goto(f"{base}/lane/1/?lang=en")
        expect(page.locator("#override-note")).to_contain_text("Manager override")
        expect(page.locator("#coupons li")).to_contain_text("Remove")
        screenshot(page, "lane-basket-override-en")

        page.click("#cash button")  # no amount typed: exactly what is due
        page.wait_for_selector("#done:not([hidden])", timeout=30_000)
        expect(page.locator("#coupons li")).to_have_count(0)  # a fresh basket
        assert outside == []

        def booked() -> list[dict]:
            return hub.http.get("/api/stores/s1/sales").json()["sales"]

        wait_until(booked, 30, what="the sale at the hub")
        sale = hub.http.get(f"/api/sales/{booked()[0]['id']}").json()
        assert f"¥{sale['total_fen'] // 100}.{sale['total_fen'] % 100:02d}" == total
