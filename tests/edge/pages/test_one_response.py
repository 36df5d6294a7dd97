"""The cashier page is one response (edge/pages/assets.py): its stylesheet and scripts inside
it under a CSP that allows exactly those inline blocks by hash, compressed, with the lane's
basket, so a cold browser shows the total with no request for an asset or the basket; the
scripts run under that policy (a blocked script would leave the total empty), and an inline
script the policy does not name is refused."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
from playwright.sync_api import expect

from rig.browser import LAPTOP, outside_requests, screenshot
from tests.conftest import Edge


def test_the_cashier_page_comes_whole_and_shows_its_basket(edge: Edge, browser) -> None:
    base = f"http://127.0.0.1:{edge.port}"
    code = edge.http.post("/api/lanes/1/pairing").json()["code"]
    screen = httpx.Client(base_url=base, timeout=10)
    assert screen.post("/lane/pair", data={"code": code}).status_code == 302
    edge.http.post("/api/lanes/1/basket/scan", json={"code": "6901028075015"})

    r = screen.get("/lane/1/", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    html = r.text
    assert "/pages/static/" not in html and '"total_fen": 200' in html
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    for script in re.findall(r"<script>(.*?)</script>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp

    ctx = browser.new_context(viewport=LAPTOP)
    ctx.add_cookies([{"name": "storegw_lane", "value": screen.cookies["storegw_lane"],
                      "url": base}])  # fmt: skip
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url.removeprefix(base)))
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    outside = outside_requests(page, f"127.0.0.1:{edge.port}")
    try:
        page.goto(f"{base}/lane/1/")
        expect(page.locator("#total")).to_have_text("¥2.00")
        expect(page.locator("#lines tbody tr")).to_have_count(1)
        # a scan still arrives (the page's scripts run and listen)
        page.fill("#code", "6901028075015")
        page.press("#code", "Enter")
        expect(page.locator("#total")).to_have_text("¥4.00")
        assert not [u for u in asked if u.startswith("/pages/static/") or u == "/lane/1/basket"]
        assert refused == [] and outside == []
        # an inline script the policy does not name is refused
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = 1'; document.body.appendChild(s); }"
        )
        assert page.evaluate("window.injected") is None
        screenshot(page, "lane-cashier-one-response")
    finally:
        ctx.close()
