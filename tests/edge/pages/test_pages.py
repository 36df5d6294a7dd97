"""The shop-floor pages on a real `storegw edge`: a screen is paired once with a manager's code
and is then bound to its lane; the staff order page on a 360 px phone builds a basket, finds
items, and sends it to a lane, where the cashier resumes it; Chinese by default, English on
the switch; nothing is fetched from outside the gateway."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from rig.browser import PHONE, outside_requests, pair_screen, screenshot
from tests.conftest import Edge


def paired_client(edge: Edge, path: str) -> httpx.Client:
    """A screen's browser-like client (no bearer token) paired through the form."""
    code = edge.http.post(path).json()["code"]
    c = httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=10)
    r = c.post("/lane/pair", data={"code": code})
    assert r.status_code == 302, r.text
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    return c


def test_a_screen_is_paired_once_and_bound_to_its_lane(edge: Edge):
    anon = httpx.Client(base_url=f"http://127.0.0.1:{edge.port}", timeout=10)
    assert anon.get("/lane/1/basket").status_code == 403  # no pairing, no basket
    assert anon.get("/lane/1/").status_code == 302  # the page sends it to the pairing form
    assert anon.post("/lane/pair", data={"code": "00000000"}).status_code == 403
    assert edge.http.post("/api/lanes/nowhere/pairing").status_code == 404

    lane1 = paired_client(edge, "/api/lanes/1/pairing")
    hdr = {"X-Storegw": "1"}
    r = lane1.post("/lane/1/basket/scan", json={"code": "6901028075015"}, headers=hdr)
    assert r.status_code == 200 and r.json()["total_fen"] == 200
    # another lane's basket, the manager API, and a call without the header are refused
    assert lane1.get("/lane/2/basket").status_code == 403
    assert lane1.get("/api/lanes/1/basket").status_code == 401
    assert lane1.post("/lane/1/basket/scan", json={"code": "1"}).status_code == 403
    # a pairing code works once
    code = edge.http.post("/api/lanes/1/pairing").json()["code"]
    assert anon.post("/lane/pair", data={"code": code}).status_code == 302
    assert anon.post("/lane/pair", data={"code": code}).status_code == 403
    # unpaired by a manager: the screen's cookie opens nothing
    paired = edge.http.get("/api/paired").json()["paired"]
    assert [p["lane"] for p in paired] == ["1", "1"]
    assert edge.http.delete(f"/api/paired/{paired[0]['id']}").status_code == 200
    assert lane1.get("/lane/1/basket").status_code == 403


def test_staff_phone_builds_a_basket_and_sends_it_to_a_lane(edge: Edge, browser):
    base = f"http://127.0.0.1:{edge.port}"
    phone = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = phone.new_page()
    page.set_default_timeout(10_000)
    try:
        outside = outside_requests(page, f"127.0.0.1:{edge.port}")
        code = edge.http.post("/api/pairing/staff").json()["code"]
        pair_screen(page, base, code, "/order/")
        page.fill("#q", "农夫")
        page.click("#find button")
        page.click("#found button >> text=农夫山泉")
        expect(page.locator("#total")).to_have_text("¥2.00")
        page.click("#lines button >> text=+")
        expect(page.locator("#total")).to_have_text("¥4.00")
        # no horizontal scrolling at 360 px
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "lane-staff-order-phone")
        page.select_option("#to", "2")
        page.click("#send button")
        expect(page.locator("#done")).to_contain_text("2")
        expect(page.locator("#total")).to_have_text("¥0.00")
        assert outside == []
        page.goto(f"{base}/order/?lang=en")
        expect(page.locator("header strong")).to_have_text("Staff order")
    finally:
        phone.close()
    # the cashier on lane 2 finds it among the suspended sales and takes it
    waiting = edge.http.get("/api/lanes/2/basket").json()["suspended"]
    assert len(waiting) == 1 and waiting[0]["lines"] == 1
    b = edge.http.post(f"/api/lanes/2/basket/resume/{waiting[0]['id']}").json()
    assert b["total_fen"] == 400 and b["lines"][0]["qty_milli"] == 2000


def test_the_cashier_page_in_english_at_phone_width(edge: Edge, browser):
    base = f"http://127.0.0.1:{edge.port}"
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    try:
        code = edge.http.post("/api/lanes/3/pairing").json()["code"]
        page.goto(f"{base}/lane/?lang=en")
        expect(page.locator("header strong")).to_have_text("Pair this screen")
        page.fill("input[name=code]", code)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/lane/3/")
        expect(page.locator("header strong")).to_have_text("Lane 3")  # the cookie kept "en"
        page.fill("#code", "6901028075015")
        page.press("#code", "Enter")
        expect(page.locator("#total")).to_have_text("¥2.00")
        page.fill("#code", "404404")
        page.press("#code", "Enter")
        expect(page.locator("#problem")).to_contain_text("not in the catalog")
        # no hub behind this gateway: the cashier is told what that means
        expect(page.locator("#hub")).to_contain_text("Hub unreachable")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "lane-cashier-phone-en")
    finally:
        ctx.close()
