"""The role × route matrix, walked over every route of the hub's OpenAPI: each has a row in
hub/auth/policy.py; each role is let in where its row allows (neither 401 nor 403) and refused
with 403 elsewhere; no credential is a 401 except on public routes; a store manager is refused
another store's routes; an API key passes with its route's scope only. A new route without a
row fails here."""

from __future__ import annotations

import re

import pytest

from hub.accounts.roles import ROLES, STORE_MANAGER
from hub.auth import policy
from tests.hub.auth.conftest import Hub


def _operations(hub: Hub) -> list[tuple[str, str, dict]]:
    spec = hub.client.app.openapi()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]


def _url(path: str, op: dict, store: str = "sh1") -> str:
    kinds = {
        p["name"]: p.get("schema", {}).get("type")
        for p in op.get("parameters", [])
        if p["in"] == "path"
    }

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in policy.STORE_PARAMS:
            return store
        # ids of nothing: an allowed call must not change what the walk stands on
        return "999999" if kinds.get(name) == "integer" else "nosuch"

    return re.sub(r"\{([^}]+)\}", value, path)


def _call(hub: Hub, method: str, url: str, token: str | None) -> int:
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return hub.client.request(method, url, headers=hub.as_(token), **body).status_code


def test_every_route_has_a_row(sqlite_hub: Hub) -> None:
    missing = [f"{m} {p}" for m, p, _ in _operations(sqlite_hub) if policy.rule(m, p) is None]
    assert missing == [], f"add these routes to hub/auth/policy.py: {missing}"
    stale = set(policy.POLICY) - {(m, p) for m, p, _ in _operations(sqlite_hub)}
    assert stale == set(), f"rows for routes that do not exist: {stale}"


def test_no_credential_is_401_except_public_routes(sqlite_hub: Hub) -> None:
    wrong = []
    for method, path, op in _operations(sqlite_hub):
        rule = policy.rule(method, path)
        assert rule is not None
        got = _call(sqlite_hub, method, _url(path, op), None)
        if (got == 401) == rule.public or got >= 500:
            wrong.append(f"{method} {path}: {got}")
        forged = _call(sqlite_hub, method, _url(path, op), "at1.e30.forged")
        if not rule.public and forged != 401:
            wrong.append(f"{method} {path} with a forged token: {forged}")
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_its_rows_allow(sqlite_hub: Hub, role: str) -> None:
    wrong = []
    for method, path, op in _operations(sqlite_hub):
        rule = policy.rule(method, path)
        assert rule is not None
        if rule.public:
            continue
        got = _call(sqlite_hub, method, _url(path, op), sqlite_hub.token(role))
        allowed = rule.allows_role(role)
        if got >= 500 or (got in (401, 403)) == allowed or (not allowed and got != 403):
            wrong.append(f"{method} {path}: {got} ({'allowed' if allowed else 'denied'})")
    assert wrong == []


def test_store_manager_is_refused_other_stores(sqlite_hub: Hub) -> None:
    token = sqlite_hub.token(STORE_MANAGER)
    checked = 0
    for method, path, op in _operations(sqlite_hub):
        rule = policy.rule(method, path)
        assert rule is not None
        if rule.public or not rule.allows_role(STORE_MANAGER) or "{store_id}" not in path:
            continue
        assert _call(sqlite_hub, method, _url(path, op, store="bj1"), token) == 403, path
        assert _call(sqlite_hub, method, _url(path, op, store="sh1"), token) not in (401, 403)
        checked += 1
    assert checked >= 4


def test_api_keys_pass_with_their_scope_only(sqlite_hub: Hub) -> None:
    scopes = sorted({r.scope for r in policy.POLICY.values() if not r.public})
    keys = {}
    for scope in scopes:
        r = sqlite_hub.client.post(
            "/api/api-keys", json={"name": scope, "scopes": [scope]}, headers=sqlite_hub.admin()
        )
        assert r.status_code == 201, r.text
        keys[scope] = r.json()["key"]
    other = {s: next(o for o in scopes if o != s) for s in scopes}
    wrong = []
    for method, path, op in _operations(sqlite_hub):
        rule = policy.rule(method, path)
        assert rule is not None
        if rule.public:
            continue
        url = _url(path, op)
        own = _call(sqlite_hub, method, url, keys[rule.scope])
        foreign = _call(sqlite_hub, method, url, keys[other[rule.scope]])
        if own in (401, 403) or own >= 500:
            wrong.append(f"{method} {path} with {rule.scope}: {own}")
        if not rule.signed_in and foreign != 403:
            wrong.append(f"{method} {path} with {other[rule.scope]}: {foreign}")
    assert wrong == []


def test_the_docs_show_this_matrix() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "security.md").read_text(encoding="utf-8")
    assert policy.markdown() in doc, "regenerate the table: python -m hub.auth.policy"
