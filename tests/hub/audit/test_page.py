"""The audit page in headless Chromium on a phone: the hq_admin sees the console's own account
changes with their actor, filters by action, and reads the chain's verdict; no outside request."""

from __future__ import annotations

from rig.browser import PHONE, outside_requests, screenshot
from tests.hub.console.conftest import ConsoleHub, sign_in
from tests.hub.console.conftest import console as console  # a fixture


def test_audit_page_lists_and_filters(browser, console: ConsoleHub) -> None:
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = ctx.new_page()
    try:
        outside = outside_requests(page, console.host)
        sign_in(page, console, "hq_admin")
        page.goto(f"{console.base}/console/audit")
        assert page.locator("[data-verify=ok]").count() == 1
        actions = page.locator("table.audit tbody tr td:nth-child(4)").all_inner_texts()
        assert "account.create" in actions
        page.fill("input[name=action]", "account.create")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**action=account.create**")
        targets = page.locator("table.audit tbody tr td:nth-child(5)").all_inner_texts()
        assert "hq_marketing" in targets and set(
            page.locator("table.audit tbody tr td:nth-child(4)").all_inner_texts()
        ) == {"account.create"}
        assert "审计日志" in page.inner_text("h1")
        screenshot(page, "console-audit-phone-zh")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # no sideways scroll on a 360 px phone
        assert outside == []
    finally:
        ctx.close()
