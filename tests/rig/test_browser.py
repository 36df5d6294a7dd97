"""The browser rig itself: Debian's Chromium starts headless, renders Chinese, and the request
recorder sees a fetch that leaves the box."""

from rig.browser import outside_requests, screenshot


def test_chromium_renders_and_records_outside_requests(page) -> None:
    page.set_content("<h1>收银 Checkout</h1>")
    assert page.inner_text("h1") == "收银 Checkout"
    seen = outside_requests(page, "127.0.0.1:1")
    page.evaluate("fetch('http://192.0.2.1:9/x').catch(() => 0)")
    page.wait_for_timeout(200)
    assert any("192.0.2.1" in u for u in seen)
    assert screenshot(page, "rig-selftest").stat().st_size > 1000
