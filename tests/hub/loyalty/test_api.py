"""The HQ API of the loyalty contexts, through the real app (its routers, token, errors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.db import Database
from tests.hub.till import Till, line

H = {"Authorization": "Bearer api-test-token"}


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "api-test-token")
    monkeypatch.delenv("STOREGW_MEMBER_KEY", raising=False)
    app = create_app(tmp_path / "hub-data", db.url)
    with TestClient(app, headers=H) as client:
        yield client


def test_members_api_register_search_change_merge_view(api: TestClient, db: Database):
    assert api.get("/api/members", headers={"Authorization": ""}).status_code == 401
    assert api.get("/api/members/x/360", headers={"Authorization": "Bearer no"}).status_code == 401
    r = api.post(
        "/api/members",
        json={
            "name": "陈晨",
            "phone": "13911112222",
            "channel": "mini_program",
            "tags": ["vip", "vip"],
        },
    )
    assert r.status_code == 201 and r.json()["tags"] == ["vip"]
    a = r.json()["id"]
    again = api.post("/api/members", json={"phone": "+86 139 1111 2222"})
    assert again.status_code == 200 and again.json()["id"] == a
    # a member needs a way to be found (issue 11): a profile with nothing to find it by is refused
    assert api.post("/api/members", json={"name": "陈晨", "channel": "api"}).status_code == 422
    b = api.post("/api/members", json={"name": "陈晨", "phone": "13911113333"}).json()["id"]
    assert api.get("/api/members", params={"phone": "13911112222"}).json()["members"][0]["id"] == a
    bad = api.post("/api/members", json={"phone": "abc"})
    assert bad.status_code == 422 and "phone" in bad.json()["detail"]
    assert (
        api.post("/api/members", json={"phone": "13911112223", "channel": "x"}).status_code == 422
    )
    # b takes a's phone: the same person, merged into the older profile
    merged = api.patch(f"/api/members/{b}", json={"phone": "13911112222"})
    assert merged.status_code == 200 and merged.json()["id"] == a
    assert api.get(f"/api/members/{b}").json()["id"] == a
    assert api.get(f"/api/members/{a}/contact").json()["phone"] == "+8613911112222"
    renewed = api.post(f"/api/members/{a}/card/renew", json={"days": 30})
    assert renewed.status_code == 200
    assert api.get(f"/api/members/{a}/360").json()["merged_from"] == [b]
    kinds = [h["kind"] for h in api.get(f"/api/members/{a}/history").json()["history"]]
    assert "card_renewed" in kinds and "merged_in" in kinds
    assert api.get("/api/members/nobody/360").status_code == 404


def test_points_api_adjust_ledger_reservations_reports(api: TestClient, db: Database):
    m = api.post("/api/members", json={"phone": "13922223333"}).json()["id"]
    for _ in range(2):
        r = api.post(
            f"/api/members/{m}/points/adjust",
            json={"points": 500, "reason": "apology", "key": "k1"},
        )
        assert r.status_code == 200
    assert api.get(f"/api/members/{m}/points").json()["balance"] == 500
    over = api.post(
        f"/api/members/{m}/points/adjust", json={"points": -501, "reason": "fix", "key": "k2"}
    )
    assert over.status_code == 409 and "available" in over.json()["detail"]
    rsv = api.post(
        "/api/points/reservations",
        json={"member_id": m, "points": 200, "reservation_id": "api-rsv-0001"},
    )
    assert rsv.status_code == 201 and rsv.json()["status"] == "held"
    assert api.get(f"/api/members/{m}/points").json()["available"] == 300
    assert api.post("/api/points/reservations/api-rsv-0001/release").json()["status"] == "released"
    assert api.post("/api/points/reservations/nope/commit", json={}).status_code == 404
    page = api.get(f"/api/members/{m}/points/ledger", params={"limit": 1}).json()
    assert len(page["entries"]) == 1 and page["next_cursor"]
    rest = api.get(f"/api/members/{m}/points/ledger", params={"before": page["next_cursor"]}).json()
    assert rest["entries"] == []
    rep = api.get("/api/points/liability").json()
    assert rep["outstanding_points"] == 500 and rep["outstanding_value_fen"] == 500
    assert api.get("/api/points/books").json() == {"balanced": True, "problems": []}
    assert (
        api.patch("/api/points/settings", json={"point_value_milli_fen": 500}).json()[
            "point_value_milli_fen"
        ]
        == 500
    )
    assert api.get("/api/points/liability").json()["outstanding_value_fen"] == 250
    assert api.patch("/api/points/settings", json={"timezone": "Mars/Base"}).status_code == 422
    rule = api.post(
        "/api/points/rules", json={"name": "fresh ×2", "category": "fresh", "rate_milli": 2000}
    )
    assert rule.status_code == 201
    assert [x["name"] for x in api.get("/api/points/rules").json()["rules"]] == ["fresh ×2"]
    for job in ("reservations", "expiry", "tiers", "snapshots"):
        assert api.post(f"/api/loyalty/jobs/{job}/run").status_code == 200
    assert api.post("/api/loyalty/jobs/nope/run").status_code == 404


def test_issues_are_listed_for_hq(api: TestClient, db: Database):
    till = Till(db)
    till.send(till.sale([line("A", 1000)], member="no-such-member"))
    got = api.get("/api/loyalty/issues", params={"kind": "unknown_member"}).json()["issues"]
    assert len(got) == 1 and "no-such-member" in got[0]["detail"]


def test_coupon_tier_mall_catalog_api(api: TestClient, db: Database):
    m = api.post("/api/members", json={"phone": "13933334444"}).json()["id"]
    bad = api.post(
        "/api/coupons/templates",
        json={"name": "x", "kind": "threshold", "amount_fen": 100, "valid_days": 3},
    )
    assert bad.status_code == 422
    t = api.post(
        "/api/coupons/templates",
        json={
            "name": "9折",
            "kind": "percent_off",
            "percent_off": 10,
            "cap_fen": 1000,
            "valid_days": 3,
        },
    ).json()
    out = api.post(f"/api/coupons/templates/{t['id']}/issue", json={"member_ids": [m]}).json()
    code = out["issued"][0]["code"]
    assert api.get(f"/api/members/{m}/coupons").json()["coupons"][0]["code"] == code
    chk = api.post(
        f"/api/coupons/{code}/check",
        json={"member_id": m, "lines": [{"sku": "A", "total_fen": 5000}]},
    )
    assert chk.json()["discount_fen"] == 500
    assert api.post(f"/api/coupons/{code}/redeem", json={"member_id": m}).status_code == 200
    assert api.post(f"/api/coupons/{code}/redeem", json={"member_id": m}).status_code == 409
    assert [e["kind"] for e in api.get(f"/api/coupons/{code}").json()["events"]] == [
        "issued",
        "redeemed",
    ]
    assert api.put("/api/tiers/normal", json={"name": "普通", "rank": 0}).status_code == 200
    assert (
        api.put(
            "/api/tiers/gold",
            json={"name": "金卡", "rank": 1, "discount_pct": 90, "spend_threshold_fen": 100},
        ).status_code
        == 200
    )
    assert api.put(f"/api/members/{m}/tier", json={"code": "gold"}).json()["change"]["to"] == "gold"
    assert api.get(f"/api/members/{m}/tier").json()["tier"]["code"] == "gold"
    assert (
        api.get("/api/tiers/changes", params={"member_id": m}).json()["changes"][-1]["to"] == "gold"
    )
    api.post(f"/api/members/{m}/points/adjust", json={"points": 100, "reason": "r", "key": "k"})
    item = api.post(
        "/api/mall/items", json={"name": "袋子", "kind": "goods", "points_price": 60, "stock": 1}
    ).json()
    order = api.post("/api/mall/orders", json={"item_id": item["id"], "member_id": m})
    assert order.status_code == 201
    sold_out = api.post("/api/mall/orders", json={"item_id": item["id"], "member_id": m})
    assert sold_out.status_code == 409
    assert api.post(f"/api/mall/orders/{order.json()['id']}/fulfil").json()["status"] == "fulfilled"
    assert api.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
    assert api.put("/api/catalog/items/A", json={"name": "A", "price_fen": 100}).is_success
    pub = api.post("/api/catalog/publish", json={}).json()
    assert len(pub["new_versions"]) == 4 and pub["connected"] is False  # no broker here
    snaps = api.get("/api/stores/s1/snapshots").json()["snapshots"]
    assert snaps["prices"]["version"] == 1 and snaps["prices"]["published_at"] is None
    assert api.post("/api/catalog/publish", json={}).json()["new_versions"] == []
