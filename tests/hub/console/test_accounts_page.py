"""The hq_admin's account page in the browser: make an account with the form, give it a store
and another role, disable it; bad input answered on the page; the new account signs in with
what the form set."""

from __future__ import annotations

from rig.browser import screenshot
from tests.hub.console.conftest import ConsoleHub, sign_in


def test_admin_makes_and_changes_an_account(page, console: ConsoleHub) -> None:
    sign_in(page, console, "hq_admin")
    page.click("nav a[href='/console/accounts']")
    form = page.locator("form.new-account")
    form.locator("input[name=username]").fill("zhang.wei")
    form.locator("input[name=display_name]").fill("张伟")
    form.locator("input[name=password]").fill("zhang-wei-pass")
    form.locator("select[name=role]").select_option("store_manager")
    form.locator("input[name=stores]").fill("sh1")
    form.locator("button[type=submit]").click()
    row = page.locator("tr[data-user='zhang.wei']")
    assert row.locator("select[name=role]").input_value() == "store_manager"
    assert row.locator("input[name=stores]").input_value() == "sh1"
    screenshot(page, "console-accounts-zh")

    # the same name again: refused on the page with the database's reason
    form = page.locator("form.new-account")
    form.locator("input[name=username]").fill("zhang.wei")
    form.locator("input[name=password]").fill("another-pass")
    form.locator("button[type=submit]").click()
    assert "already taken" in page.inner_text("[role=alert]")

    # a store that does not exist: refused, nothing changed
    row = page.locator("tr[data-user='zhang.wei']")
    row.locator("input[name=stores]").fill("nowhere")
    row.locator("button[type=submit]").click()
    assert "does not exist" in page.inner_text("[role=alert]")
    row = page.locator("tr[data-user='zhang.wei']")
    assert row.locator("input[name=stores]").input_value() == "sh1"

    # another role, then disabled
    row.locator("select[name=role]").select_option("technician")
    row.locator("button[type=submit]").click()
    row = page.locator("tr[data-user='zhang.wei']")
    assert row.locator("select[name=role]").input_value() == "technician"
    got = console.hub.http.post(
        "/api/auth/token",
        data={"grant_type": "password", "username": "zhang.wei", "password": "zhang-wei-pass"},
    )
    assert got.status_code == 200 and got.json()["role"] == "technician"
    row.locator("input[name=disabled]").check()
    row.locator("button[type=submit]").click()
    assert page.locator("tr[data-user='zhang.wei'] input[name=disabled]").is_checked()
    refused = console.hub.http.post(
        "/api/auth/token",
        data={"grant_type": "password", "username": "zhang.wei", "password": "zhang-wei-pass"},
    )
    assert refused.status_code == 400 and refused.json()["detail"] == "this account is disabled"


def test_admin_cannot_lock_themselves_out(page, console: ConsoleHub) -> None:
    sign_in(page, console, "hq_admin")
    page.goto(f"{console.base}/console/accounts")
    row = page.locator("tr[data-user='hq_admin']")
    row.locator("input[name=disabled]").check()
    row.locator("button[type=submit]").click()
    assert "cannot disable yourself" in page.inner_text("[role=alert]")
    assert not page.locator("tr[data-user='hq_admin'] input[name=disabled]").is_checked()
