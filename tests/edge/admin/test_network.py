"""The network page against a real hub: the ping goes through the broker to the hub and back,
and the overview says nothing is wrong while the hub is up; then the hub stops and the
overview says so in plain words, with the sales waiting."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import expect

from rig.browser import screenshot
from rig.processes import Broker, Edge, Hub
from rig.waiting import wait_until
from tests.edge.admin.conftest import log_in, set_up, url


def test_ping_through_the_broker_to_the_hub(page, tmp_path: Path, broker: Broker, edge: Edge):
    hub = Hub(tmp_path / "hub", broker.url)
    hub.start()
    try:
        set_up(page, edge)
        log_in(page, edge)
        page.goto(url(edge, "/admin/overview"))
        expect(page.locator("#problems")).to_contain_text("一切正常", timeout=20_000)
        page.goto(url(edge, "/admin/network"))
        page.click("#ping")
        result = page.locator('[data-result="ping"]')
        expect(result).to_contain_text("hub_rtt_ms", timeout=15_000)
        answer = json.loads(result.inner_text())
        assert answer["hub_rtt_ms"] > 0 and answer["broker_tcp_ms"] > 0
        assert "pairing" in page.inner_text("#pairing").lower() or "配对" in page.inner_text(
            "#pairing"
        )
        assert page.locator("#pairing button").count() == 1  # a technician may pair
        screenshot(page, "admin-network-laptop")
    finally:
        hub.stop()
    # the hub's last words say offline: sales taken now wait, and the page says so
    edge.sell(1, key="net-a")
    page.goto(url(edge, "/admin/overview"))
    expect(page.locator("#problems")).to_contain_text("1 笔销售待上传，不会丢失", timeout=20_000)
    page.click("a.lang")
    expect(page.locator("#problems")).to_contain_text("1 sales waiting, nothing lost")
    page.goto(url(edge, "/admin/network"))
    page.click("#ping")
    expect(page.locator('[data-result="ping"]')).to_contain_text("hub_error", timeout=15_000)
    wait_until(lambda: "network.ping" in edge.log.read_text(), 10, what="the ping audited")
