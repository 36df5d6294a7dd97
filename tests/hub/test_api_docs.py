"""The hub's API docs work in a store or office without internet: `/docs` is the same
self-contained page the gateway serves (protocols/api_docs.html), not Swagger UI from a CDN.
In Chromium it renders the hub's operations, loads nothing from elsewhere, and "Send" calls the
hub with the token typed into it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from rig.browser import outside_requests, screenshot
from tests.conftest import Broker, Hub


def test_the_hub_docs_page_needs_no_internet(tmp_path: Path, broker: Broker, page) -> None:
    hub = Hub(tmp_path / "hub", broker.url, None)
    hub.start()
    try:
        base = str(hub.http.base_url).rstrip("/")
        anon = httpx.Client(base_url=base, timeout=10)
        served = anon.get("/docs")
        assert served.status_code == 200 and "openapi.json" in served.text
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", served.text), "external asset"
        assert "default-src 'none'" in served.headers["content-security-policy"]
        assert anon.get("/redoc").status_code == 404  # ReDoc would come from a CDN

        outside = outside_requests(page, base.split("//", 1)[1])
        page.goto(f"{base}/docs")
        page.wait_for_selector("code:text-is('/api/stores')")
        assert page.inner_text("#title") == "storegw hub"
        page.fill("#token", "test-hq-token")
        path = page.locator("code", has_text=re.compile("^/api/stores$"))
        stores = page.locator("details", has=path).filter(has=page.locator(".m.get")).first
        stores.locator("summary").click()
        stores.locator("button", has_text="Send").click()
        page.wait_for_selector("pre:has-text('200 OK')")
        screenshot(page, "hub-api-docs", full_page=False)
        assert outside == []
    finally:
        hub.stop()
