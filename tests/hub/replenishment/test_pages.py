"""The stock and forecast pages in headless Chromium against a real hub: a store short of milk
shows it below its reorder point with a drafted PO; the manager approves it (CSRF form) and the
PO is sent; the forecast chart is drawn by the vendored ECharts with its interval and the
golden-week holidays marked; CSV exports; another store's page is refused; a 360 px phone."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from hub.db import Database, bulk_insert
from hub.members.overview import today
from hub.stock.models import DailyDemand
from rig.browser import PHONE, outside_requests, screenshot
from tests.hub.console.conftest import ConsoleHub, console, sign_in  # noqa: F401 - the fixture

MILK_PER_DAY = 10_000


def _prepare(console: ConsoleHub) -> str:  # noqa: F811 - the fixture's value
    """History, a supplier, stock, and the nightly step run once: returns the draft PO's id."""
    http = console.hub.http
    if getattr(console, "draft", None):
        return console.draft  # type: ignore[attr-defined]
    db = Database(f"sqlite:///{console.hub.data_dir / 'hub.db'}")
    with db.reading() as s:  # the chain's business day, not the machine's: the fit reads to its eve
        last = today(s) - timedelta(days=1)
    rows = [
        {"day": last - timedelta(days=i), "sold_milli": MILK_PER_DAY * (2 if i % 7 == 1 else 1)}
        for i in range(120)
    ]
    with db.transaction() as s:
        bulk_insert(
            s,
            DailyDemand.__table__,
            rows,
            same={"store_id": "sh1", "sku": "milk", "refunded_milli": 0},
        )
    db.engine.dispose()
    assert (
        http.put(
            "/api/suppliers/dairy",
            json={
                "name": "光明乳业",
                "lead_time_days": 2,
                "items": [{"sku": "milk", "cost_fen": 350, "pack_milli": 6_000}],
            },
        ).status_code
        == 200
    )
    r = http.post(
        "/api/stock/stores/sh1/stocktakes",
        json={"counted_by": "t", "lines": [{"sku": "milk", "counted_milli": 4_000}]},
    )
    assert r.status_code == 201, r.text
    run = http.post("/api/replenishment/stores/sh1/run", json={})
    assert run.status_code == 200, run.text
    [po] = run.json()["purchase_orders"]
    console.draft = po["id"]  # type: ignore[attr-defined]
    return po["id"]


def test_stock_page_approve_and_export(page, console: ConsoleHub) -> None:  # noqa: F811
    po_id = _prepare(console)
    outside = outside_requests(page, console.host)
    sign_in(page, console, "store_manager")
    page.goto(f"{console.base}/console/stock")
    assert page.inner_text("h1") == "门店库存"
    assert page.inner_text("#below tr[data-sku=milk] td:first-child") == "milk"
    row = page.locator("#levels tr[data-sku=milk] td")
    assert row.nth(1).inner_text() == "4"  # on hand, in pieces
    suggested = int(row.nth(7).inner_text())
    assert suggested > 0 and suggested % 6 == 0  # whole packs of six
    assert page.locator(f"#drafts tr[data-po='{po_id}']").count() == 1
    screenshot(page, "stock-page-zh")

    got = page.request.get(f"{console.base}/console/stock.csv?store=sh1&table=plan")
    assert got.status == 200 and "text/csv" in got.headers["content-type"]
    plan = {r["sku"]: r for r in csv.DictReader(io.StringIO(got.text().lstrip("\ufeff")))}
    assert int(plan["milk"]["suggested_milli"]) == suggested * 1000
    got = page.request.get(f"{console.base}/console/stock.csv?store=sh1&table=drafts")
    assert po_id in got.text()
    # another store's page, and a form without its token, are refused
    assert page.request.get(f"{console.base}/console/stock?store=bj1").status == 403
    assert page.request.post(
        f"{console.base}/console/stock/approve", form={"po_id": po_id}
    ).status in (403, 422)

    page.click(f"#drafts tr[data-po='{po_id}'] button")
    page.wait_for_url("**/console/stock?store=sh1")
    assert page.locator("#drafts tr[data-po]").count() == 0
    assert console.hub.http.get(f"/api/purchase-orders/{po_id}").json()["state"] == "sent"
    on_order = page.locator("#levels tr[data-sku=milk] td").nth(3).inner_text()
    assert int(on_order) == suggested
    page.click("form.lang button[value=en]")
    assert page.inner_text("h1") == "Store stock"
    screenshot(page, "stock-page-en")
    assert outside == []


def test_forecast_chart(page, console: ConsoleHub) -> None:  # noqa: F811
    _prepare(console)
    sign_in(page, console, "hq_analyst")
    page.goto(f"{console.base}/console/forecast?store=sh1&sku=milk")
    page.wait_for_selector("#forecast-chart[data-drawn=true] canvas")
    opt = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('forecast-chart')).getOption()"
    )
    history, low, band, mean = (s["data"] for s in opt["series"])
    assert len(history) == 56 and len(mean) == 63 and mean[:56] == [None] * 56
    # ten a day, twice that on one weekday: the forecast follows the week
    ahead = [m for m in mean[56:]]
    # (within 15 %: the fit's trend and holiday terms move a flat history's forecast by a
    # little, and by how much depends on which holidays the 120 days before today hold)
    *usual, peak = sorted(ahead)
    assert all(8.5 <= m <= 11.5 for m in usual) and 17 <= peak <= 23, ahead
    assert all(lo <= m <= lo + b for lo, b, m in zip(low[56:], band[56:], ahead, strict=True))
    # every holiday in view is marked on the axis and named in the list below the chart
    line = opt["series"][0]["markLine"]
    marks = [m["xAxis"] for m in (line[0] if isinstance(line, list) else line)["data"]]
    axis = opt["xAxis"][0]["data"]
    listed = [li.split()[0] for li in page.locator("ul.holidays li").all_inner_texts()]
    assert marks == [d for d in listed if d in axis]
    screenshot(page, "forecast-chart-zh")
    got = page.request.get(f"{console.base}/console/forecast.csv?store=sh1&sku=milk")
    assert len(list(csv.DictReader(io.StringIO(got.text().lstrip("\ufeff"))))) == 7


def test_stock_page_on_a_phone(browser, console: ConsoleHub) -> None:  # noqa: F811
    _prepare(console)
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, console, "store_manager")
        page.goto(f"{console.base}/console/stock")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "stock-page-phone")
        page.goto(f"{console.base}/console/forecast")
        page.wait_for_selector("#forecast-chart[data-drawn=true] canvas")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "forecast-chart-phone")
    finally:
        context.close()
