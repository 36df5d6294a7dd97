"""The store's stock page on the gateway (/admin/stock, the manager's and technician's log-in) in
headless Chromium, against the real chain (Mosquitto, the hub and the gateway as processes):
the store's levels asked of the hub, the alerts arriving live over MQTT — stock below zero after
a sale, then a reorder alert from the hub's replenishment run, one alert per item — the
troubled items first, named from the store's catalog snapshot beside their SKU, what to do for
each, in Chinese and English, on a laptop and a 360 px phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.browser import PHONE, outside_requests, screenshot
from tests.conftest import Broker, Edge, Hub, wait_until
from tests.edge.admin.conftest import log_in, set_up, url

# rig.samples.sale_body(1): 2 bottles of water, 1 cola, ~1 kg of apples, 3 noodles, 1 Oreo
WATER, COLA, APPLE, NOODLES = "6901028075015", "6920459905012", "2000123", "6902538004045"
OREO = "6934502301851"


@pytest.fixture
def chain(
    tmp_path: Path, broker: Broker, hub_db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Hub, Edge]]:
    monkeypatch.setenv("STOREGW_STOCK_JOB_S", "0.2")  # alerts reach the store promptly
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    try:
        # (idempotent, so asked again if a loaded machine drops the first connection)
        wait_until(
            lambda: hub.http.put("/api/stores/s1", json={"id": "s1", "name": "一店"}).is_success,
            60,
            what="the store at the hub",
        )
        sup = hub.http.put(
            "/api/suppliers/water",
            json={
                "name": "水厂",
                "lead_time_days": 2,
                "items": [{"sku": WATER, "cost_fen": 150, "pack_milli": 12_000}],
            },
        )
        assert sup.status_code == 200, sup.text
        # no sales history yet: a fixed safety stock of 20 bottles is the reorder point
        fixed = hub.http.put(
            f"/api/replenishment/stores/s1/skus/{WATER}/setting",
            json={"fixed_safety_milli": 20_000},
        )
        assert fixed.status_code == 200, fixed.text
        # the catalog names two of the items; the store's snapshot carries them to the page
        for sku, name in ((WATER, "农夫山泉 550ml"), (APPLE, "富士苹果")):
            item = hub.http.put(f"/api/catalog/items/{sku}", json={"name": name, "price_fen": 200})
            assert item.status_code == 200, item.text
        assert hub.http.post("/api/catalog/publish", json={"stores": ["s1"]}).status_code == 200
        edge.start()
        wait_until(
            lambda: "catalog" in edge.http.get("/api/snapshots").json()["snapshots"],
            30,
            what="the catalog snapshot at the gateway",
        )
        yield hub, edge
    finally:
        edge.stop()
        hub.stop()


def _alerts(edge: Edge) -> set[tuple[str, str]]:
    return {(a["sku"], a["kind"]) for a in edge.http.get("/api/stock/alerts").json()["alerts"]}


def test_the_store_sees_its_stock_and_alerts_arriving_live(page, browser, chain) -> None:
    hub, edge = chain
    got = edge.http.post(
        "/api/lanes/back/stock/receipts",
        json={"received_by": "王强", "lines": [{"sku": WATER, "qty_milli": 10_000}]},
    )
    assert got.status_code == 201, got.text
    assert edge.sell(1).status_code == 201  # 2 bottles and ~1 kg of apples never received
    wait_until(lambda: (APPLE, "negative") in _alerts(edge), 30, what="the stock alert")

    host = f"127.0.0.1:{edge.port}"
    outside = outside_requests(page, host)
    page.goto(url(edge, "/admin/stock"))
    assert page.url.endswith("/admin/setup")  # nobody logged in: no stock shown
    set_up(page, edge)
    log_in(page, edge)
    page.wait_for_url("**/admin/overview")
    page.goto(url(edge, "/admin/stock"))
    wait_until(
        lambda: page.reload() and page.locator(f"#levels tr[data-sku='{WATER}']").count() == 1,
        30,
        what="the levels from the hub",
    )
    rows = page.locator("#levels tbody tr")
    # the sale's four never-received items are below zero: first (the lowest first), marked
    order = [r.get_attribute("data-sku") for r in rows.all()]
    assert order == [NOODLES, APPLE, COLA, OREO, WATER], order
    assert [r.get_attribute("class") for r in rows.all()] == ["bad"] * 4 + [""]
    assert "库存为负" in page.inner_text(f"#alerts li[data-sku='{APPLE}']")
    assert "富士苹果" in page.inner_text(f"#alerts li[data-sku='{APPLE}']")
    # the catalog's name beside the SKU; an item the catalog lacks says so
    assert page.inner_text(f"#levels tr[data-sku='{WATER}'] .name") == "农夫山泉 550ml"
    assert WATER in page.inner_text(f"#levels tr[data-sku='{WATER}'] td:first-child")
    assert "目录中没有" in page.inner_text(f"#levels tr[data-sku='{COLA}'] td:first-child")
    assert "盘点" in page.inner_text(f"#alerts li[data-sku='{APPLE}']")  # what to do
    water = page.inner_text(f"#levels tr[data-sku='{WATER}']")
    assert "8" in water.split() and "订货点" not in water  # 10 received, 2 sold; no alert yet
    screenshot(page, "edge-stock-alert-zh-laptop")

    # the hub's replenishment run: 8 bottles is below the reorder point of 20 → a reorder
    # alert, published to the store over MQTT and shown there
    run = hub.http.post("/api/replenishment/stores/s1/run", json={})
    assert run.status_code == 200, run.text
    assert [po["supplier_id"] for po in run.json()["purchase_orders"]] == ["water"]
    wait_until(lambda: (WATER, "reorder") in _alerts(edge), 30, what="the reorder alert")
    listed = hub.http.get("/api/replenishment/alerts", params={"store": "s1"}).json()["alerts"]
    # the items below zero are below their reorder point (0) too: one condition, one alert,
    # the most severe, at the hub and at the store
    assert {a["sku"] for a in listed} == {WATER}
    assert {(s, k) for s, k in _alerts(edge) if s in (APPLE, WATER)} == {
        (APPLE, "negative"),
        (WATER, "reorder"),
    }
    page.reload()
    assert page.locator(f"#alerts li[data-sku='{APPLE}']").count() == 1
    assert page.locator(f"#levels tr[data-sku='{APPLE}'] small").count() == 1
    item = page.inner_text(f"#alerts li[data-sku='{WATER}'][data-kind='reorder']")
    assert "低于订货点" in item and "8 / 订货点 20" in item and "补货" in item
    assert page.get_attribute(f"#levels tr[data-sku='{WATER}']", "class") == "low"
    order = [r.get_attribute("data-sku") for r in rows.all()]
    assert order == [NOODLES, APPLE, COLA, OREO, WATER], order  # all troubled: lowest first
    screenshot(page, "edge-stock-reorder-zh-laptop")
    assert outside == []

    phone = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    try:
        p = phone.new_page()
        p.set_default_timeout(10_000)
        log_in(p, edge)
        p.wait_for_url("**/admin/overview")
        p.goto(url(edge, "/admin/lang/en?next=/admin/stock"))
        p.wait_for_url("**/admin/stock")
        assert "This store’s stock" in p.inner_text("h1")
        item = p.inner_text(f"#alerts li[data-sku='{WATER}'][data-kind='reorder']")
        assert "below the reorder point" in item and "What to do" in item
        assert "农夫山泉 550ml" in item
        assert "(not in the catalog)" in p.inner_text(f"#levels tr[data-sku='{COLA}']")
        width = p.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the stock page is {width} px wide on a phone"
        screenshot(p, "edge-stock-en-phone")
    finally:
        phone.close()
