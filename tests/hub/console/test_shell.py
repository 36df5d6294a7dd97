"""The console's shell in headless Chromium against a real hub: sign in, the chart on the home
page drawn by the vendored ECharts, the language switch, the menu per role, forms without a
CSRF token refused, nothing fetched from outside the hub, usable on a 360 px phone."""

from __future__ import annotations

import httpx
import pytest

from rig.browser import PHONE, outside_requests, screenshot
from tests.hub.console.conftest import ConsoleHub, sign_in


def test_sign_in_home_chart_and_language(page, console: ConsoleHub) -> None:
    outside = outside_requests(page, console.host)
    page.goto(f"{console.base}/console/")
    assert page.url.endswith("/console/login")  # not signed in: to the sign-in page
    assert page.inner_text("h1") == "登录"  # Chinese by default
    screenshot(page, "console-login-zh")
    sign_in(page, console, "hq_admin")
    page.wait_for_selector("#sales-chart[data-drawn=true] canvas")
    assert page.inner_text("h1") == "概览"
    assert page.inner_text("#stores") == "2"
    # today's bar: the sales the gateway rang up, in yuan (integer fen up to the page)
    bars = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('sales-chart'))"
        ".getOption().series[0].data"
    )
    assert len(bars) == 14 and bars[-1] == console.sales_fen / 100 and console.sales_fen > 0
    screenshot(page, "console-home-zh")
    page.click("form.lang button[value=en]")
    page.wait_for_selector("#sales-chart[data-drawn=true] canvas")
    assert page.inner_text("h1") == "Overview"
    nav = page.inner_text("nav").split()
    assert nav[:7] == ["Home", "Accounts", "Member", "analytics", "Audit", "log", "Pairing"]
    assert nav[7:] == ["Stock", "Forecast"]
    screenshot(page, "console-home-en")
    page.click("form.logout button")
    assert page.url.endswith("/console/login") and page.inner_text("h1") == "Sign in"
    assert outside == []


def test_wrong_password_is_refused_on_the_page(page, console: ConsoleHub) -> None:
    sign_in(page, console, "hq_analyst", "not-the-password")
    assert page.url.endswith("/console/login")
    assert page.inner_text("[role=alert]") == "用户名或密码错误"


@pytest.mark.parametrize(
    ("role", "menu", "accounts_status"),
    [
        (
            "hq_admin",
            ["首页", "账号管理", "会员分析", "审计日志", "网关配对", "库存与补货", "需求预测"],
            200,
        ),
        ("hq_marketing", ["首页", "会员分析"], 403),
        ("hq_analyst", ["首页", "会员分析", "库存与补货", "需求预测"], 403),
        ("store_manager", ["首页", "库存与补货", "需求预测"], 403),
        ("technician", ["首页", "网关配对"], 403),
    ],
)
def test_menu_and_pages_follow_the_role(
    page, console: ConsoleHub, role: str, menu: list[str], accounts_status: int
) -> None:
    sign_in(page, console, role)
    page.wait_for_selector("nav")
    assert page.inner_text("nav").split() == menu
    response = page.goto(f"{console.base}/console/accounts")
    assert response is not None and response.status == accounts_status
    if accounts_status == 403:  # the error page, with the menu still there
        assert page.inner_text("[role=alert]") == "您的角色无权查看此页面。"
        assert page.inner_text("nav").split() == menu


def test_store_manager_sees_only_their_stores(page, console: ConsoleHub) -> None:
    sign_in(page, console, "store_manager")
    assert page.inner_text("#stores") == "1"


def test_forms_without_the_csrf_token_are_refused(page, console: ConsoleHub) -> None:
    # a sign-in posted without the page's token (another site's form) is refused
    anon = httpx.post(
        f"{console.base}/console/login",
        data={"username": "hq_admin", "password": "x" * 10, "csrf": "forged"},
        cookies={"storegw_csrf": "whatever"},
    )
    assert anon.status_code == 403 and "表单已过期" in anon.text  # the error page, in Chinese
    # a signed-in admin's session, a form posted with a wrong token: no account is made
    sign_in(page, console, "hq_admin")
    page.wait_for_selector("nav")
    result = page.evaluate(
        """async () => {
            const body = new URLSearchParams({csrf: "forged", username: "mallory",
                password: "long-enough-pw", role: "hq_admin"});
            const r = await fetch("/console/accounts", {method: "POST", body});
            return [r.status, await r.text()];
        }"""
    )
    assert result[0] == 403
    page.goto(f"{console.base}/console/accounts")
    assert page.locator("tr[data-user=mallory]").count() == 0


def test_usable_on_a_phone(browser, console: ConsoleHub) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, console, "hq_admin")
        page.wait_for_selector("#sales-chart[data-drawn=true] canvas")
        # nothing wider than the screen; the menu opens from its button
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert not page.is_visible("nav a[href='/console/accounts']")
        page.click("button.menu-toggle")
        assert page.is_visible("nav a[href='/console/accounts']")
        screenshot(page, "console-home-phone")
        page.click("nav a[href='/console/accounts']")
        page.wait_for_selector("form.new-account")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "console-accounts-phone")
    finally:
        context.close()
