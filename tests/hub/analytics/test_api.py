"""The analytics API through the real app (routers, token, errors) on a small chain's books:
the daily job, every list with its provenance and as CSV, segments, LTV, refusals."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.db import Database

H = {"Authorization": "Bearer analytics-test-token"}


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "analytics-test-token")
    monkeypatch.delenv("STOREGW_MEMBER_KEY", raising=False)
    with TestClient(create_app(tmp_path / "hub-data", db.url), headers=H) as client:
        yield client


def _chain(api: TestClient, till, n: int = 40) -> list[str]:
    """n members, each buying a few times over the last 300 days (some more, some stopped)."""
    rnd = random.Random(5)
    ids = []
    now = datetime.now(UTC)
    envs = []
    for i in range(n):
        r = api.post("/api/members", json={"phone": f"1391234{i:04d}", "channel": "api"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        first = rnd.randint(60, 300)
        for k in range(rnd.randint(1, 6)):
            ago = max(0, first - k * rnd.randint(5, 40))
            fen = rnd.randint(10, 300) * 100
            line = {
                "sku": "T",
                "name": "tea",
                "qty_milli": 1000,
                "unit_price_fen": fen,
                "total_fen": fen,
                "category": "tea" if i % 2 else "rice",
            }
            envs.append(till.sale([line], member=ids[-1], at=now - timedelta(days=ago)))
    for k in range(0, len(envs), 50):
        till.send(*envs[k : k + 50])
    return ids


def test_daily_job_and_every_list(api: TestClient, till) -> None:
    ids = _chain(api, till)
    seg = api.post(
        "/api/analytics/segments",
        json={"name": "tea lovers", "rule": "category has 'tea' and visits_total >= 1"},
    )
    assert seg.status_code == 201, seg.text
    out = api.post("/api/analytics/jobs/daily")
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["facts"] == 40
    assert sum(body["rfm"]["cells"].values()) == 40
    assert body["segments"]["tea lovers"]["size"] == 20
    assert body["ltv"]["fits"]["chain"]["customers"] == 40

    cells = api.get("/api/analytics/rfm/cells").json()
    assert cells["computed_at"] and "quintiles" in cells["method"]
    assert sum(c["members"] for c in cells["rows"]) == 40
    assert {c["cell"] for c in cells["rows"]} >= {"champions", "dormant"}
    grid = api.get("/api/analytics/rfm/grid").json()["rows"]
    assert sum(g["members"] for g in grid) == 40

    as_csv = api.get("/api/analytics/rfm/members", params={"format": "csv", "limit": 100})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["x-computed-at"] == cells["computed_at"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 40 and set(rows[0]) >= {"member_id", "cell", "r", "f", "m"}
    page = api.get(
        "/api/analytics/rfm/members", params={"limit": 10, "after": rows[9]["member_id"]}
    )
    assert [r["member_id"] for r in page.json()["rows"]] == [r["member_id"] for r in rows[10:20]]
    champions = api.get("/api/analytics/rfm/members", params={"cell": "champions"}).json()
    counted = next(c["members"] for c in cells["rows"] if c["cell"] == "champions")
    assert len(champions["rows"]) == counted and {r["cell"] for r in champions["rows"]} == {
        "champions"
    }

    members = api.get(f"/api/analytics/segments/{seg.json()['id']}/members").json()
    assert len(members["rows"]) == 20 and members["method"].startswith("rule")
    sizes = api.get(f"/api/analytics/segments/{seg.json()['id']}/sizes").json()["rows"]
    assert len(sizes) == 30 and sizes[-1]["members"] == 20

    fits = api.get("/api/analytics/ltv/fits").json()["fits"]
    chain = next(f for f in fits if f["scope"] == "chain")
    assert set(chain["bgnbd"]) >= {"r", "alpha", "a", "b", "loglik"}
    ltv = api.get("/api/analytics/ltv/members").json()["rows"]
    assert len(ltv) == 40
    assert all(0 <= v["p_alive"] <= 1 and v["expected_value_fen"] >= 0 for v in ltv)
    months = api.get("/api/analytics/ltv/acquisition").json()["rows"]
    assert sum(m["members"] for m in months) == 40

    card = api.get(f"/api/analytics/members/{ids[0]}").json()
    assert card["rfm"]["cell"] in {c["cell"] for c in cells["rows"]}
    assert card["ltv"]["horizon_days"] == 365
    assert card["intimacy"]["score"] >= 0

    view = api.get(f"/api/members/{ids[0]}/360").json()["analytics"]  # on the 360° view
    assert view["predicted_value_fen"] == card["ltv"]["expected_value_fen"]
    assert view["rfm_cell"] == card["rfm"]["cell"] and view["intimacy"] == card["intimacy"]["score"]

    week = api.post("/api/analytics/jobs/heat").json()
    assert week["members"] >= 0 and "week" in week
    dist = api.get("/api/analytics/heat").json()
    assert len(dist["rows"]) == 10 and dist["weights"]["visits"] == [5, 8]
    assert api.get("/api/analytics/churn", params={"format": "csv"}).status_code == 200
    assert api.get("/api/analytics/intimacy/members").json()["computed_at"]


def test_ltv_holdout(api: TestClient, till) -> None:
    _chain(api, till)
    got = api.post("/api/analytics/jobs/ltv", params={"holdout_days": 60, "period": "day"})
    assert got.status_code == 200, got.text
    hold = got.json()["fits"]["chain"]["holdout"]
    assert hold["length"] == 60 and hold["buckets"]
    assert hold["actual"] == sum(b["actual"] for b in hold["buckets"])


def test_refusals(api: TestClient, db: Database) -> None:
    bad = api.post("/api/analytics/segments", json={"name": "x", "rule": "heat > > 3"})
    assert bad.status_code == 422 and "at 8" in bad.json()["detail"]
    ok = api.post("/api/analytics/segments", json={"name": "x", "rule": "heat > 3"})
    assert ok.status_code == 201
    again = api.post("/api/analytics/segments", json={"name": "x", "rule": "heat > 3"})
    assert again.status_code == 409
    assert api.get("/api/analytics/segments/999/members").status_code == 404
    assert api.patch("/api/analytics/segments/999", json={"active": False}).status_code == 404
    assert api.get("/api/analytics/rfm/members", params={"cell": "vip"}).status_code == 422
    assert api.post("/api/analytics/jobs/nope").status_code == 422
    few = api.post("/api/analytics/jobs/ltv")
    assert few.status_code == 422 and "at least 20" in few.json()["detail"]
    inter = {"member_id": "nobody", "kind": "online", "at": "2026-06-01T10:00:00+08:00"}
    assert api.post("/api/analytics/interactions", json=inter).status_code == 404
    assert (
        api.post(
            "/api/analytics/interactions", json={**inter, "at": "2026-06-01T10:00:00"}
        ).status_code
        == 422
    )


def test_interactions_count_once(api: TestClient) -> None:
    m = api.post("/api/members", json={"phone": "13912340000", "channel": "api"}).json()["id"]
    body = {"member_id": m, "kind": "review", "at": "2026-06-01T10:00:00+08:00", "key": "rv-1"}
    assert api.post("/api/analytics/interactions", json=body).status_code == 201
    again = api.post("/api/analytics/interactions", json=body)
    assert again.status_code == 200 and again.json()["created"] is False
