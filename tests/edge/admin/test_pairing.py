"""Pairing from the gateway's network page, for real: Mosquitto from the shipped config with the
hub's CA, the hub on its own certificate, an unpaired gateway that cannot reach the broker. The
technician enters the hub's URL; the page shows the code (and the printer prints it); HQ enters
the code at the hub's API; the page turns to "paired" by itself, the gateway's sales reach the
hub over TLS with its new certificate, and after a restart too. Its key never left it (0600,
only in its data dir). Renewal: with the clock moved to within the renewal window, the gateway
gets a new certificate for the same key and identity."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from playwright.sync_api import expect

from edge.pairing import Pairing
from rig.browser import PHONE, screenshot
from rig.processes import Edge
from rig.shipped_broker import ShippedBroker
from rig.waiting import wait_until
from tests.edge.admin.conftest import Sims, log_in, run, set_up, url

pytestmark = pytest.mark.slow


def drained(edge: Edge) -> bool:
    j = edge.journal()
    return bool(j["last_seq"] and j["last_acked_seq"] == j["last_seq"])


def test_pair_from_the_network_page_then_sell_over_tls(
    page, browser, tmp_path: Path, ca_broker: ShippedBroker, sims: Sims
) -> None:
    broker = ca_broker
    broker.start()
    hub = broker.cert_hub(tmp_path / "hub")
    data = tmp_path / "edge"
    data.mkdir()
    (data / "devices.toml").write_text(sims.devices_toml(), "utf-8")
    # out of the box: the broker's address and CA, but no certificate yet
    edge = Edge(data, "S001", "G1", f"mqtts://127.0.0.1:{broker.cert_port}?ca={broker.pki['ca']}")
    try:
        hub.start()
        assert hub.http.put("/api/stores/S001", json={"name": "S001"}).is_success
        edge.start()
        assert edge.sell(1, key="before-pairing").status_code == 201  # sold, waiting
        assert not edge.journal()["uplink"]["connected"]

        set_up(page, edge)
        log_in(page, edge)
        page.goto(url(edge, "/admin/network"))
        expect(page.locator("#pairing")).to_contain_text("未配对")
        page.fill("#pair-form input[name=hub_url]", f"http://127.0.0.1:{hub.port}")
        page.click("#pair-form button[type=submit]")
        code = page.locator("#pairing-code").inner_text().strip()
        assert len(code) == 8, code
        expect(page.locator("#pairing")).to_contain_text("等待总部确认")
        screenshot(page, "admin-pairing-code-laptop")
        # the code on the printer too, for the technician on the phone to HQ
        wait_until(
            lambda: any(code in r.text for r in sims.printer.receipts), 20, what="code printed"
        )
        assert stat.S_IMODE((data / "tls" / "pending.key").stat().st_mode) == 0o600

        # HQ (a technician account) enters the code at the hub's console; the gateway's page
        # sees the certificate arrive by itself
        account = {"username": "hq-tech", "password": "correct-horse-battery"}
        made = hub.http.post("/api/accounts", json={**account, "role": "technician"})
        assert made.status_code == 201, made.text
        hq = browser.new_context(locale="zh-CN")
        try:
            console = hq.new_page()
            console.goto(f"http://127.0.0.1:{hub.port}/console/login")
            console.fill("input[name=username]", account["username"])
            console.fill("input[name=password]", account["password"])
            console.click("form.login button[type=submit]")
            console.goto(f"http://127.0.0.1:{hub.port}/console/pairing")
            expect(console.locator("table.pending")).to_contain_text("S001/G1")
            assert code not in console.content()  # the code comes from the gateway only
            console.fill("#pair input[name=code]", code.lower())
            console.click("#pair button[type=submit]")
            expect(console.locator("#paired")).to_contain_text("S001/G1")
            screenshot(console, "console-pairing-done-laptop")
        finally:
            hq.close()
        assert "user S001/G1\n" in broker.acl.read_text()  # the hook's ACL block
        expect(page.locator("#pairing")).to_contain_text("已配对", timeout=20_000)
        expect(page.locator("#pairing-code")).to_have_count(0)
        key = data / "tls" / "client.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate((data / "tls" / "client.pem").read_bytes())
        assert cert.subject.rfc4514_string() == "CN=S001/G1"
        key_text = key.read_text()
        assert key_text not in hub.log.read_text()

        # the sale taken before pairing and one after reach the hub over TLS
        assert edge.sell(2, key="after-pairing").status_code == 201
        wait_until(lambda: drained(edge), 30, what="sales acked over TLS")
        assert len(hub.sale_ids("S001")) == 2
        page.click("a.lang")
        expect(page.locator("#pairing")).to_contain_text("paired")
        phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
        try:
            p = phone.new_page()
            log_in(p, edge)
            p.goto(url(edge, "/admin/network"))
            expect(p.locator("#pairing")).to_contain_text("已配对")
            assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            screenshot(p, "admin-pairing-paired-phone")
        finally:
            phone.close()

        # after a restart the stored certificate is used
        edge.stop()
        edge.start()
        assert edge.sell(3, key="after-restart").status_code == 201
        wait_until(lambda: drained(edge), 30, what="sale acked after the restart")
        assert len(hub.sale_ids("S001")) == 3
        assert broker.log().count("u'S001/G1'") >= 2

        # renewal: a copy of the gateway's files, the clock moved near the end
        copy = tmp_path / "renewal"
        (copy / "tls").mkdir(parents=True)
        for f in (data / "tls").iterdir():
            (copy / "tls" / f.name).write_bytes(f.read_bytes())
        p = Pairing("S001", "G1", copy, renew_days=30)
        assert run(p.renew_if_due(datetime.now(UTC))) is False  # 90 days left: not yet
        assert run(p.renew_if_due(datetime.now(UTC) + timedelta(days=61))) is True
        new = p.certificate()
        assert new is not None and new.serial_number != cert.serial_number
        assert new.subject == cert.subject and new.public_key() == cert.public_key()
        assert p.mqtt_url() and "cert=" in p.mqtt_url()  # type: ignore[operator]
    finally:
        edge.stop()
        hub.stop()
