"""The console's analytics pages in headless Chromium against a real hub process: the RFM
grid, the heat distribution and the week's churn warnings, segment sizes, predicted value by
acquisition month, one member's card; Chinese and English; on a 360 px phone; nothing
fetched from outside the hub; who may see them; and the churn warning at the home store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from hub.analytics import common
from hub.db import Database
from protocols import topics
from rig.browser import PHONE, outside_requests, screenshot
from rig.waiting import wait_until
from tests.hub.console.conftest import ConsoleHub, console, sign_in  # noqa: F401 - fixture
from tests.hub.till import Till


@pytest.fixture(scope="module")
def chain(console: ConsoleHub) -> dict[str, str]:  # noqa: F811
    """Members with sales over the past months in the hub's own database (through the real
    ingest), a segment, and the jobs run through the API: a churn warning among them."""
    http = console.hub.http
    db = Database(f"sqlite:///{console.hub.data_dir / 'hub.db'}")
    till = Till(db, "sh1", "g-an")
    now = datetime.now(UTC)
    ids = []
    envs = []
    for i in range(30):
        r = http.post(
            "/api/members",
            json={"phone": f"1355555{i:04d}", "channel": "api", "origin_store": "sh1"},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        for k in range(1 + i % 5):
            day = now - timedelta(days=20 + 37 * k + i)
            fen = (i + 1) * 1000
            line = {
                "sku": "T",
                "name": "tea",
                "qty_milli": 1000,
                "unit_price_fen": fen,
                "total_fen": fen,
                "category": "tea",
            }
            envs.append(till.sale([line], member=ids[-1], at=day))
    with db.transaction() as s:
        monday = common.monday(common.today(s))
    falling = ids[0]
    for k in (5, 4, 3):  # two visits in each of three weeks, then none: heat 30, 20, 10
        for d in (0, 2):
            day = monday - timedelta(weeks=k) + timedelta(days=d)
            at = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)
            envs.append(till.sale(member=falling, at=at, day=day))
    till.send(*envs)
    db.engine.dispose()
    r = http.post("/api/analytics/segments", json={"name": "茶客", "rule": "category has 'tea'"})
    assert r.status_code == 201, r.text
    daily = http.post("/api/analytics/jobs/daily")
    assert daily.status_code == 200, daily.text
    for k in (2, 1, 0):
        week = (monday - timedelta(weeks=k)).isoformat()
        assert http.post("/api/analytics/jobs/heat", params={"week": week}).status_code == 200
    churn = http.get("/api/analytics/churn").json()["rows"]
    assert [c["member_id"] for c in churn] == [falling]
    return {"falling": falling, "heats": churn[0]["heats"].replace(">", "→")}


def test_overview_zh_en_and_phone(page, console: ConsoleHub, chain) -> None:  # noqa: F811
    outside = outside_requests(page, console.host)
    sign_in(page, console, "hq_marketing")
    page.goto(f"{console.base}/console/analytics")
    for chart in ("rfm", "heat", "segments", "ltv"):
        page.wait_for_selector(f"#{chart}-chart[data-drawn=true] canvas")
    assert page.inner_text("h1") == "会员分析"
    cells = page.locator("table.cells tbody tr")
    assert cells.count() == 7
    assert page.inner_text("table.cells tr[data-cell=champions] td") == "高价值"
    churn = page.locator("table.churn tbody tr")
    assert churn.count() == 1 and chain["heats"] in churn.inner_text()
    assert "计算于" in page.inner_text("#rfm")
    screenshot(page, "analytics-overview-zh")
    page.click("form.lang button[value=en]")
    page.wait_for_selector("#rfm-chart[data-drawn=true] canvas")
    assert page.inner_text("h1") == "Member analytics"
    assert page.inner_text("table.cells tr[data-cell=champions] td") == "Champions"
    screenshot(page, "analytics-overview-en")
    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_selector("#ltv-chart[data-drawn=true] canvas")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the phone
    screenshot(page, "analytics-overview-phone")
    assert outside == []


def test_member_card(page, console: ConsoleHub, chain) -> None:  # noqa: F811
    sign_in(page, console, "hq_analyst")
    page.goto(f"{console.base}/console/analytics")
    page.click("table.churn tbody a")
    page.wait_for_selector("#heat-weeks-chart[data-drawn=true] canvas")
    assert page.url.endswith(f"/console/analytics/members/{chain['falling']}")
    assert page.inner_text("#heat-now") == chain["heats"].split(" → ")[-1]
    assert page.inner_text("#predicted") != "—"
    assert page.inner_text("#p-alive").endswith("%")
    screenshot(page, "analytics-member-zh")
    missing = page.goto(f"{console.base}/console/analytics/members/nobody")
    assert missing is not None and missing.status == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("hq_marketing", 200), ("hq_analyst", 200), ("store_manager", 403), ("technician", 403)],
)
def test_who_may_see_it(page, console: ConsoleHub, role: str, status: int) -> None:  # noqa: F811
    sign_in(page, console, role)
    page.wait_for_selector("nav")
    assert ("会员分析" in page.inner_text("nav")) == (status == 200)
    response = page.goto(f"{console.base}/console/analytics")
    assert response is not None and response.status == status


def test_churn_warning_reaches_the_home_store(console: ConsoleHub, chain) -> None:  # noqa: F811
    """The heat job pushed the week's warnings over the real broker, retained: a gateway that
    subscribes now still gets them."""
    url = console.hub.args[console.hub.args.index("--mqtt-url") + 1]
    host, port = url.removeprefix("mqtt://").split(":")
    got: list[dict] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, msg: got.append(
        {"retain": msg.retain, **json.loads(msg.payload)}
    )
    client.connect(host, int(port))
    client.subscribe(topics.notices("sh1", "churn"), qos=1)
    client.loop_start()
    try:
        wait_until(lambda: got, 10, what="the retained churn notice")
    finally:
        client.loop_stop()
        client.disconnect()
    assert got[0]["retain"] is True and got[0]["store"] == "sh1"
    assert [m["member_id"] for m in got[0]["members"]] == [chain["falling"]]
