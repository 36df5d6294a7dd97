"""The promotions API takes typed rules only: one schema per kind, validated by the pricing
engine's own types; a rule the engine cannot evaluate is refused with the reason. The stores'
snapshots carry the typed rules (and the items' costs, for the margin floor)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.catalog.models import ConfigSnapshot
from hub.db import Database
from protocols import pricing, snapshots

H = {"Authorization": "Bearer promo-test-token"}


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("STOREGW_HUB_TOKEN", "promo-test-token")
    with TestClient(create_app(tmp_path / "hub", db.url), headers=H) as client:
        yield client


GOOD = [
    ("percent_off", {"percent_off": 20, "categories": ["drinks"]}),
    ("spend_save", {"threshold_fen": 10000, "save_fen": 2000, "repeat": True}),
    ("gift", {"threshold_fen": 5000, "gift_sku": "towel"}),
    ("multibuy", {"n": 2, "percent_off": 25, "skus": ["cola"]}),
    (
        "bundle",
        {"items": [{"sku": "noodles", "qty": 2}, {"sku": "egg", "qty": 1}], "price_fen": 990},
    ),
    ("buy_x_get_y", {"buy": 2, "get": 1}),
]


def test_every_kind_is_stored_typed_and_reaches_the_snapshot(api: TestClient, db: Database):
    assert api.put("/api/stores/s1", json={"id": "s1", "name": "一号店"}).is_success
    assert api.put(
        "/api/catalog/items/cola", json={"name": "可乐", "price_fen": 350, "cost_fen": 210}
    ).is_success
    ids = []
    for n, (kind, rule) in enumerate(GOOD):
        body = {"name": f"{kind} 促销", "kind": kind, "rule": rule, "group": "g" if n < 2 else None}
        r = api.post("/api/promotions", json=body)
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["kind"] == kind and got["group"] == body["group"]
        assert {k: got["rule"][k] for k in rule} == rule  # defaults filled in, nothing lost
        ids.append(got["id"])
    listed = api.get("/api/promotions").json()["promotions"]
    assert [p["id"] for p in listed] == ids
    assert api.post("/api/catalog/publish", json={}).status_code == 200
    with db.transaction() as s:
        rows = {
            r.kind: r.payload
            for r in s.scalars(select(ConfigSnapshot).where(ConfigSnapshot.store_id == "s1"))
        }
    promos = pricing.promotions_from_snapshot(
        snapshots.parse(rows["promotions"].encode(), "s1", "promotions").data
    )
    assert [(p.id, p.kind, p.group) for p in promos] == [
        (i, k, "g" if n < 2 else None) for n, (i, (k, _)) in enumerate(zip(ids, GOOD, strict=True))
    ]
    items = json.loads(rows["catalog"])["data"]["items"]
    assert [(i["sku"], i["cost_fen"]) for i in items] == [("cola", 210)]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"kind": "spend_save", "rule": {"threshold_fen": 100, "save_fen": 200}},
            "must not exceed",
        ),
        ({"kind": "multibuy", "rule": {"n": 1, "percent_off": 10}}, "at `n`"),
        ({"kind": "percent_off", "rule": {"percent_off": 12.5}}, "Expected `int`"),
        ({"kind": "percent_off", "rule": {"percent_off": "12"}}, "Expected `int`"),
        ({"kind": "percent_off", "rule": {}}, "missing required field `percent_off`"),
        (
            {"kind": "gift", "rule": {"threshold_fen": 1, "gift_sku": "a", "colour": "red"}},
            "unknown field `colour`",
        ),
        (
            {"kind": "bundle", "rule": {"items": [{"sku": "a"}, {"sku": "a"}], "price_fen": 1}},
            "each sku once",
        ),
    ],
)
def test_a_rule_the_engine_cannot_evaluate_is_refused_with_the_reason(
    api: TestClient, body: dict, reason: str
):
    r = api.post("/api/promotions", json={"name": "坏的", **body})
    assert r.status_code == 422 and reason in r.json()["detail"]
    assert api.get("/api/promotions").json()["promotions"] == []


def test_unknown_kind_and_backwards_window_are_refused(api: TestClient):
    r = api.post("/api/promotions", json={"name": "x", "kind": "free_beer", "rule": {}})
    assert r.status_code == 422 and "kind" in json.dumps(r.json()["detail"])
    r = api.post(
        "/api/promotions",
        json={
            "name": "x",
            "kind": "percent_off",
            "rule": {"percent_off": 5},
            "valid_from": "2026-12-01T00:00:00Z",
            "valid_until": "2026-11-01T00:00:00Z",
        },
    )
    assert r.status_code == 422 and "valid_until" in r.json()["detail"]


def test_put_with_a_bad_rule_leaves_the_promotion_as_it_was(api: TestClient):
    made = api.post(
        "/api/promotions", json={"name": "九折", "kind": "percent_off", "rule": {"percent_off": 10}}
    ).json()
    bad = api.put(
        f"/api/promotions/{made['id']}",
        json={"name": "九折", "kind": "spend_save", "rule": {"threshold_fen": 1, "save_fen": 5}},
    )
    assert bad.status_code == 422
    [kept] = api.get("/api/promotions").json()["promotions"]
    assert (kept["kind"], kept["rule"]["percent_off"]) == ("percent_off", 10)
    ok = api.put(
        f"/api/promotions/{made['id']}",
        json={
            "name": "满50减5",
            "kind": "spend_save",
            "rule": {"threshold_fen": 5000, "save_fen": 500},
        },
    )
    assert ok.status_code == 200 and ok.json()["rule"]["save_fen"] == 500
    assert (
        api.put(
            "/api/promotions/999",
            json={"name": "x", "kind": "percent_off", "rule": {"percent_off": 1}},
        ).status_code
        == 404
    )


def test_the_openapi_has_one_rule_schema_per_kind(api: TestClient):
    schema = api.get("/openapi.json").json()["components"]["schemas"]["PromotionIn"]
    rule = schema["properties"]["rule"]
    assert [s["title"] for s in rule["anyOf"]] == list(pricing.KINDS)
    assert set(schema["properties"]["kind"]["enum"]) == set(pricing.KINDS)
