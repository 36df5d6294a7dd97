"""The technician's pages in headless Chromium against the real gateway process: first-run
set-up and log-in, every page on a laptop and on a 360 px phone with nothing loaded from
elsewhere, a simulated scale's weight changing live, a test page at the simulated printer, a
setting that survives a gateway restart, CSRF refusals and the lock-out."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from playwright.sync_api import expect

from rig.browser import PHONE, outside_requests, screenshot
from rig.processes import Edge
from rig.waiting import wait_until
from tests.edge.admin.conftest import PASSWORD, USER, Sims, log_in, set_up, url

PAGES = ("overview", "devices", "config", "network", "logs", "receipts")


def test_first_run_set_up_log_in_and_every_page_on_laptop_and_phone(page, browser, edge: Edge):
    host = f"127.0.0.1:{edge.port}"
    outside = outside_requests(page, host)
    # no account yet: every admin page leads to the set-up, and the lanes' token opens nothing
    page.goto(url(edge, "/admin/logs"))
    assert page.url.endswith("/admin/setup")
    screenshot(page, "admin-setup-laptop")
    set_up(page, edge)
    assert not (edge.data_dir / "admin-setup-code").exists()  # the code is spent
    page.goto(url(edge, "/admin/setup"))
    assert page.url.endswith("/admin/login")  # set-up is closed once an account exists
    screenshot(page, "admin-login-laptop")
    log_in(page, edge)
    page.wait_for_url("**/admin/overview")
    cookie = next(c for c in page.context.cookies() if c["name"] == "storegw_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # the "what is wrong" summary: no hub runs in this test, so it says so, in plain words
    assert "总部服务器离线" in page.inner_text("#problems")
    for name in PAGES:
        page.goto(url(edge, f"/admin/{name}"))
        assert page.locator("h1").first.is_visible()
        screenshot(page, f"admin-{name}-laptop")
    # English, by the switch
    page.click("a.lang")
    page.wait_for_url("**/admin/receipts")
    assert "The last receipts" in page.inner_text("h1")
    page.goto(url(edge, "/admin/overview"))
    assert "hub unreachable" in page.inner_text("#problems")
    screenshot(page, "admin-overview-laptop-en")
    # logs by filter: the log-in line of the accounts logger, and no INFO line at ERROR
    page.goto(url(edge, "/admin/logs?logger=edge.admin.accounts&text=FIRST+account"))
    lines = page.locator(".log .line").all_inner_texts()
    assert len(lines) == 1 and f"first account {USER} created" in lines[0]
    page.goto(url(edge, "/admin/logs?level=ERROR&logger=edge.admin"))
    assert page.locator(".log .line").count() == 0
    # the diagnostics bundle from the gateway itself: the lanes' token is not in it
    bundle = page.request.get(url(edge, "/admin/logs/bundle.zip"))
    assert bundle.status == 200 and bundle.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bundle.body())) as z:
        text = "\n".join(z.read(n).decode() for n in z.namelist())
    assert "test-lane-token" not in text
    assert '"gateway": "G1"' in text and "admin log-in: tech-wang" in text
    # the audit holds the set-up and the log-in, and its chain verifies
    page.goto(url(edge, "/admin/logs"))
    assert page.get_attribute("[data-audit]", "data-audit") == "ok"
    assert "account.setup" in page.inner_text("table.audit")
    assert outside == []

    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        p = phone.new_page()
        p.set_default_timeout(10_000)
        outside_phone = outside_requests(p, host)
        log_in(p, edge)
        p.wait_for_url("**/admin/overview")
        for name in PAGES:
            p.goto(url(edge, f"/admin/{name}"))
            width = p.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} is {width} px wide on a 360 px phone"
            screenshot(p, f"admin-{name}-phone")
        # the navigation works by touch
        p.click("nav >> text=设备")
        p.wait_for_url("**/admin/devices")
        assert outside_phone == []
    finally:
        phone.close()


def test_live_weight_test_print_and_a_setting_that_survives_a_restart(
    page, edge_with_devices: Edge, sims: Sims
):
    edge = edge_with_devices
    outside = outside_requests(page, f"127.0.0.1:{edge.port}")
    set_up(page, edge)
    log_in(page, edge)
    page.goto(url(edge, "/admin/devices"))
    weight = page.locator('[data-device="sc1"] [data-field="weight"]')
    expect(page.locator('[data-device="sc1"] [data-field="state"]')).to_have_text("online")
    # the scale's weight changes on the platter; the open page follows it without a reload
    sims.soon(sims.scale.set, "1.234")
    expect(weight).to_have_text("1234 g")
    sims.soon(sims.scale.set, "0.456")
    expect(weight).to_have_text("456 g")
    screenshot(page, "admin-devices-live-laptop")
    # read the scale through its action (the registry's, as the device API runs it)
    page.click('button[data-device="sc1"][data-action="read"]')
    expect(page.locator('[data-result="sc1"]')).to_contain_text('"grams": 456')
    # a test page, printed through the registry's action, comes out of the simulated printer
    wait_until(lambda: edge.http.get("/api/devices/p1").json()["state"] == "online", 20)
    page.click('button[data-device="p1"][data-action="test-print"]')
    wait_until(lambda: sims.printer.receipts, 20, what="the test page at the printer")
    assert "打印测试 TEST" in sims.printer.receipts[0].text
    expect(page.locator('[data-result="p1"]')).to_contain_text('"printed"')
    # a scan test: a weighed-goods label broken down
    page.fill("#scan-test input[name=code]", "]E0 6901234567892".replace(" ", ""))
    page.click("#scan-test button")
    expect(page.locator('[data-result="scan-test"]')).to_contain_text('"gtin"')
    assert '"symbology"' in page.inner_text('[data-result="scan-test"]')
    # a GS1 code with a net weight, broken down into its element strings
    page.fill("#scan-test input[name=code]", "]C101069012345678923103001234")
    page.click("#scan-test button")
    expect(page.locator('[data-result="scan-test"]')).to_contain_text('"net_weight_g": 1234')
    screenshot(page, "admin-devices-scan-test-laptop")
    # paper out shows on the overview with what to do
    sims.soon(sims.printer.set_state, paper_out=True)
    page.goto(url(edge, "/admin/overview"))
    expect(page.locator("#problems")).to_contain_text("缺纸 — 装纸", timeout=15_000)
    screenshot(page, "admin-overview-problems-laptop")
    sims.soon(sims.printer.set_state, paper_out=False)

    # configuration: the printer's store name, saved and its driver restarted at once
    pid = edge.proc.pid if edge.proc else None
    page.goto(url(edge, "/admin/config"))
    options = page.locator('[data-config="p1"] textarea[name=options]')
    assert 'store_name = "好邻居便利店"' in options.input_value()
    options.fill(options.input_value().replace("好邻居便利店", "新街口便利店"))
    page.click('[data-config="p1"] form.device-form button[type=submit]')
    page.wait_for_url("**/admin/config?saved=p1")
    screenshot(page, "admin-config-saved-laptop")
    assert 'store_name = "新街口便利店"' in (edge.data_dir / "devices.toml").read_text("utf-8")
    wait_until(lambda: edge.http.get("/api/devices/p1").json()["state"] == "online", 20)
    receipts_before = len(sims.printer.receipts)
    sale = edge.sell(1, key="admin-a").json()
    wait_until(lambda: len(sims.printer.receipts) > receipts_before, 20, what="the receipt")
    assert "新街口便利店" in sims.printer.receipts[-1].text
    assert sale["receipt_no"] in sims.printer.receipts[-1].text
    assert edge.proc and edge.proc.pid == pid  # the gateway itself was not restarted

    # a real restart of the gateway process: the setting (and the session) are still there.
    # The devices page is open meanwhile: its event stream must not hold the stop up
    page.goto(url(edge, "/admin/devices"))
    expect(page.locator('[data-device="p1"] [data-field="state"]')).to_have_text("online")
    edge.stop()
    assert edge.proc and edge.proc.returncode == 0  # a clean stop, not the rig's SIGKILL
    edge.start()
    assert edge.proc and edge.proc.pid != pid
    page.goto(url(edge, "/admin/config"))
    assert 'store_name = "新街口便利店"' in options.input_value()
    wait_until(lambda: edge.http.get("/api/devices/p1").json()["state"] == "online", 20)
    n = len(sims.printer.receipts)
    edge.sell(2, key="admin-b")
    wait_until(lambda: len(sims.printer.receipts) > n, 20, what="a receipt after the restart")
    assert "新街口便利店" in sims.printer.receipts[-1].text
    # the receipt previews show what was printed
    page.goto(url(edge, "/admin/receipts"))
    img = page.locator("figure.receipt img").first
    img.wait_for()
    wait_until(lambda: img.evaluate("i => i.complete && i.naturalWidth") > 100, 20)
    screenshot(page, "admin-receipts-previews-laptop")
    # every action is in the audit, with before and after of the configuration
    page.goto(url(edge, "/admin/logs"))
    audit = page.inner_text("table.audit")
    assert "device.test-print" in audit and "config.devices" in audit
    assert page.get_attribute("[data-audit]", "data-audit") == "ok"
    assert outside == []


def test_csrf_refusals_and_the_lock_out(page, edge: Edge):
    set_up(page, edge)
    log_in(page, edge)
    page.wait_for_url("**/admin/overview")
    toml = edge.data_dir / "devices.toml"
    # a form posted without its token (as a forged page would) is refused, and changes nothing
    page.goto(url(edge, "/admin/config"))
    page.fill('form.device-form input[name="id"]', "p9")
    page.fill('form.device-form input[name="profile"]', "epson-tm-t88")
    page.fill('form.device-form input[name="port"]', "127.0.0.1:9100")
    page.evaluate("document.querySelector('form.device-form input[name=csrf]').remove()")
    with page.expect_response("**/admin/config/devices") as answer:
        page.click("form.device-form button[type=submit]")
    assert answer.value.status == 403
    assert "CSRF" in json.loads(page.inner_text("body"))["error"]
    assert not toml.exists()
    # a fetch without the header, and one with a wrong token: both refused
    for headers in ("{}", "{'X-CSRF-Token': 'forged'}"):
        status = page.evaluate(
            f"fetch('/admin/network/ping', {{method: 'POST', headers: {headers}}})"
            ".then(r => r.status)"
        )
        assert status == 403
    # with the token the same form is taken
    page.goto(url(edge, "/admin/config"))
    page.fill('form.device-form input[name="id"]', "p9")
    page.fill('form.device-form input[name="profile"]', "epson-tm-t88")
    page.fill('form.device-form input[name="port"]', "127.0.0.1:9")
    page.click("form.device-form button[type=submit]")
    page.wait_for_url("**/admin/config?saved=p9")
    assert 'id = "p9"' in toml.read_text("utf-8")
    # bad input: an unknown profile is refused with the reason, the file stays as it was
    before = toml.read_text("utf-8")
    page.fill('[data-config="p9"] input[name="profile"]', "no-such-printer")
    with page.expect_response("**/admin/config/devices") as answer:
        page.click('[data-config="p9"] form.device-form button[type=submit]')
    assert answer.value.status == 400
    assert "no-such-printer" in page.inner_text("p.error")
    assert toml.read_text("utf-8") == before

    # five wrong passwords lock the account, and then even the right one is refused
    other = page.context.browser.new_context(locale="zh-CN")
    try:
        p = other.new_page()
        p.set_default_timeout(10_000)
        for i in range(5):
            log_in(p, edge, USER, f"wrong-password-{i}")
            p.wait_for_selector("p.error")
        assert "locked" in p.inner_text("p.error")
        screenshot(p, "admin-locked-laptop")
        log_in(p, edge, USER, PASSWORD)
        p.wait_for_selector("p.error")
        assert "locked" in p.inner_text("p.error")
        assert "/admin/login" in p.url
    finally:
        other.close()
    assert "admin account tech-wang locked" in edge.log.read_text()


@pytest.mark.parametrize("path", ["/admin/overview", "/admin/logs/bundle.zip"])
def test_pages_need_a_session_not_the_lane_token(edge: Edge, path: str):
    anon = edge.http.get(path, follow_redirects=False)  # the lanes' bearer token is no key here
    assert anon.status_code == 303 and "/admin/login" in anon.headers["location"]
    assert edge.http.post("/admin/network/ping").status_code in (401, 403)


def test_a_manager_sees_the_pages_but_may_not_configure(edge: Edge, page):
    set_up(page, edge)
    log_in(page, edge)
    page.goto(url(edge, "/admin/config"))
    form = page.locator('form[action="/admin/accounts"]')
    form.locator("input[name=username]").fill("mgr-li")
    form.locator("input[name=password]").fill("Laden-2026-chef")
    form.locator("select[name=role]").select_option("manager")
    form.locator("button").click()
    page.wait_for_url("**/admin/config?saved=mgr-li")
    page.click("header button.link")  # log out
    page.wait_for_url("**/admin/login")
    log_in(page, edge, "mgr-li", "Laden-2026-chef")
    page.wait_for_url("**/admin/overview")
    assert "mgr-li" in page.inner_text("header")
    page.goto(url(edge, "/admin/logs"))
    assert page.locator("a[href$='bundle.zip']").count() == 0
    assert page.request.get(url(edge, "/admin/logs/bundle.zip")).status == 403
    page.goto(url(edge, "/admin/config"))
    page.fill('form.device-form input[name="id"]', "p9")
    page.fill('form.device-form input[name="profile"]', "epson-tm-t88")
    with page.expect_response("**/admin/config/devices") as answer:
        page.click("form.device-form button[type=submit]")
    assert answer.value.status == 403
    assert "technician" in json.loads(page.inner_text("body"))["error"]
    assert not (edge.data_dir / "devices.toml").exists()


def test_a_test_payment_at_the_aggregator_and_its_key_never_on_a_page(
    page, tmp_path, broker, sims: Sims
):
    from edge.sim.aggregator import AggregatorSim
    from tests.edge.rig import CODE, agg_toml

    agg = AggregatorSim()
    sims.call(agg.start())
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(agg_toml(agg), "utf-8")
    edge = Edge(data, "S001", "G1", broker.url)
    edge.start()
    try:
        set_up(page, edge)
        log_in(page, edge)
        page.goto(url(edge, "/admin/devices"))
        expect(page.locator('[data-device="agg"] [data-field="state"]')).to_have_text("online")
        page.fill('input[data-param="auth_code"][data-device="agg"]', CODE)
        page.click('button[data-device="agg"][data-action="test-payment"]')
        result = page.locator('[data-result="agg"]')
        expect(result).to_contain_text('"state": "reversed"', timeout=15_000)
        assert agg.api_key not in page.content()
        page.goto(url(edge, "/admin/config"))
        assert agg.api_key not in page.content()
        assert 'api_key = "********"' in page.locator('[data-config="agg"] textarea').input_value()
        screenshot(page, "admin-config-payment-laptop")
        # saved with the key left masked: the stored key is kept, and payments still work
        page.click('[data-config="agg"] form.device-form button[type=submit]')
        page.wait_for_url("**/admin/config?saved=agg")
        assert f'api_key = "{agg.api_key}"' in (data / "devices.toml").read_text("utf-8")
        page.goto(url(edge, "/admin/devices"))
        expect(page.locator('[data-device="agg"] [data-field="state"]')).to_have_text("online")
    finally:
        edge.stop()
        sims.call(agg.stop())
