"""The audit log through the API, in-process on both databases: each HQ action is written with
the signed-in actor and role in the change's transaction, a refused change writes nothing, the
listing filters by actor, action and time, verify answers, and `storegw audit verify` agrees."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub.auth.conftest import Hub, make_hub
from tests.hub.auth.conftest import sqlite_hub as sqlite_hub  # a fixture


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_db_url: str | None) -> Iterator[Hub]:
    monkeypatch.delenv("STOREGW_HUB_TOKEN", raising=False)
    monkeypatch.delenv("STOREGW_HUB_AUTH_KEY", raising=False)
    yield from make_hub(tmp_path / "hub", hub_db_url)


def test_hq_actions_are_audited_with_their_actor(hub: Hub, hub_db_url: str | None) -> None:
    c, mkt = hub.client, hub.as_(hub.token("hq_marketing"))
    item = {"name": "农夫山泉 550ml", "price_fen": 200}
    assert c.put("/api/catalog/items/6901", json=item, headers=mkt).status_code == 200
    r = c.put("/api/stores/sh1/prices/6901", json={"price_fen": 180}, headers=mkt)
    assert r.status_code == 200
    assert c.put("/api/stores/sh1/prices/6901", json={"price_fen": 170}, headers=mkt).is_success
    # refused (no such item): the change and its entry both do not happen
    assert (
        c.put("/api/stores/sh1/prices/nope", json={"price_fen": 1}, headers=mkt).status_code == 404
    )

    mine = c.get("/api/audit", params={"who": "hq_marketing"}, headers=hub.admin()).json()
    acts = [(e["action"], e["target"], e["role"]) for e in mine["entries"]]
    assert acts == [
        ("catalog.store_price", "sh1/6901", "hq_marketing"),
        ("catalog.store_price", "sh1/6901", "hq_marketing"),
        ("catalog.item", "6901", "hq_marketing"),
    ]
    newest = mine["entries"][0]
    assert json.loads(newest["before"]) == {"price_fen": 180}
    assert json.loads(newest["after"]) == {"price_fen": 170}

    # the accounts the fixture made are audited too, under the first HQ token (an API key)
    made = c.get("/api/audit", params={"action": "account.create"}, headers=hub.admin()).json()
    assert [e["target"] for e in made["entries"]] == ["hq_marketing"]
    assert made["entries"][0]["who"].startswith("key:")

    later = c.get("/api/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=hub.admin())
    assert later.json()["entries"] == []
    v = c.get("/api/audit/verify", headers=hub.admin()).json()
    assert v["ok"] is True and v["rows"] == 4

    # only hq_admin reads the audit
    assert c.get("/api/audit", headers=mkt).status_code == 403

    args = ["--data-dir", str(hub.data_dir)] + (
        ["--database-url", hub_db_url] if hub_db_url else []
    )
    done = subprocess.run(
        [sys.executable, "-m", "storegw.cli", "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 4


def test_points_coupons_and_keys_are_audited(sqlite_hub: Hub) -> None:
    c, admin = sqlite_hub.client, sqlite_hub.admin()
    member = c.post("/api/members", json={"phone": "13800138000", "name": "王芳"}, headers=admin)
    mid = member.json()["id"]
    adj = {"points": 50, "reason": "goodwill", "key": "adj-1"}
    assert c.post(f"/api/members/{mid}/points/adjust", json=adj, headers=admin).status_code == 200
    assert c.post(f"/api/members/{mid}/points/adjust", json=adj, headers=admin).status_code == 200
    tpl = {
        "name": "满50减5",
        "kind": "threshold",
        "amount_fen": 500,
        "threshold_fen": 5000,
        "valid_days": 30,
    }
    t = c.post("/api/coupons/templates", json=tpl, headers=admin)
    assert t.status_code == 201, t.text
    issued = {"member_ids": [mid], "key": "iss-1"}
    r = c.post(f"/api/coupons/templates/{t.json()['id']}/issue", json=issued, headers=admin)
    assert r.status_code == 201, r.text
    k = c.post("/api/api-keys", json={"name": "erp", "scopes": ["catalog:read"]}, headers=admin)
    assert c.post(f"/api/api-keys/{k.json()['id']}/revoke", headers=admin).status_code == 200

    actions = [e["action"] for e in c.get("/api/audit", headers=admin).json()["entries"]]
    assert actions.count("points.adjust") == 1  # the retried adjustment posted nothing
    for a in ("coupon.template", "coupon.issue", "api_key.create", "api_key.revoke"):
        assert a in actions
    listed = c.get("/api/audit", params={"action": "api_key.create"}, headers=admin).text
    assert k.json()["key"] not in listed  # the hub keeps a hash of a key, the audit too
    assert c.get("/api/audit/verify", headers=admin).json()["ok"] is True
