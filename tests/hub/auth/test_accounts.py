"""Accounts, the OAuth2 token endpoint and API keys, on SQLite and PostgreSQL: sign-in,
refresh rotation with reuse detection, lock-out, disabling, role changes, API keys' life
cycle, bad input refused with reasons, secrets stored only as hashes."""

from __future__ import annotations

from hub.accounts import service as accounts
from hub.accounts.service import MAX_FAILURES, AccountError
from rig.race import race
from tests.hub.auth.conftest import PASSWORD, Hub


def _refresh(hub: Hub, token: str) -> dict:
    r = hub.client.post(
        "/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )
    return {"status": r.status_code, **r.json()}


def _id(hub: Hub, username: str) -> int:
    listing = hub.client.get("/api/accounts", headers=hub.admin()).json()["accounts"]
    return next(a["id"] for a in listing if a["username"] == username)


def test_password_grant_refresh_rotation_and_reuse(hub: Hub) -> None:
    hub.token("hq_marketing")
    first = hub.sign_in("hq_marketing")
    assert first["status"] == 200 and first["token_type"] == "bearer"
    assert first["expires_in"] == 900
    me = hub.client.get("/api/auth/me", headers=hub.as_(first["access_token"])).json()
    assert (me["kind"], me["name"], me["role"]) == ("user", "hq_marketing", "hq_marketing")

    second = _refresh(hub, first["refresh_token"])
    assert second["status"] == 200 and second["refresh_token"] != first["refresh_token"]
    assert (
        hub.client.get("/api/auth/me", headers=hub.as_(second["access_token"])).status_code == 200
    )
    # the spent token shown again: refused, and its successor dies with it (a copy exists)
    again = _refresh(hub, first["refresh_token"])
    assert again["status"] == 400 and again["error"] == "invalid_grant"
    assert _refresh(hub, second["refresh_token"])["status"] == 400


def test_a_refresh_token_is_spent_once_under_a_race(hub: Hub) -> None:
    hub.token("hq_analyst")
    token = hub.sign_in("hq_analyst")["refresh_token"]
    db = hub.client.app.state.db
    results = race(6, lambda _: accounts.spend_refresh(db, token))
    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1, results
    assert all(isinstance(r, AccountError) for r in results if r not in won)


def test_revoke_ends_a_refresh_token(hub: Hub) -> None:
    hub.token("technician")
    token = hub.sign_in("technician")["refresh_token"]
    assert hub.client.post("/api/auth/revoke", data={"token": token}).status_code == 200
    assert _refresh(hub, token)["status"] == 400


def test_lock_out_after_repeated_failures(hub: Hub) -> None:
    hub.token("hq_analyst")
    for _ in range(MAX_FAILURES):
        got = hub.sign_in("hq_analyst", "wrong-password")
        assert got["status"] == 400 and got["detail"] == "wrong user name or password"
    locked = hub.sign_in("hq_analyst")  # the right password, now too late
    assert locked["status"] == 400 and "try again later" in locked["detail"]
    view = hub.client.get(f"/api/accounts/{_id(hub, 'hq_analyst')}", headers=hub.admin()).json()
    assert view["locked_until"] is not None
    # an unknown name answers like a wrong password
    assert hub.sign_in("nobody", "whatever")["detail"] == "wrong user name or password"
    # hq_admin sets a new password: the lock is lifted
    r = hub.client.patch(
        f"/api/accounts/{_id(hub, 'hq_analyst')}",
        json={"password": "a-new-password"},
        headers=hub.admin(),
    )
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert hub.sign_in("hq_analyst", "a-new-password")["status"] == 200


def test_parallel_failures_all_count(hub: Hub) -> None:
    hub.token("technician")
    db = hub.client.app.state.db
    results = race(MAX_FAILURES, lambda _: accounts.attempt(db, "technician", "bad-guess"))
    assert all(isinstance(r, AccountError) for r in results)
    assert "try again later" in hub.sign_in("technician")["detail"]


def test_disabling_and_role_changes_end_sessions(hub: Hub) -> None:
    hub.token("hq_marketing")
    uid = _id(hub, "hq_marketing")
    got = hub.sign_in("hq_marketing")
    r = hub.client.patch(f"/api/accounts/{uid}", json={"role": "hq_analyst"}, headers=hub.admin())
    assert r.status_code == 200 and r.json()["role"] == "hq_analyst"
    assert _refresh(hub, got["refresh_token"])["status"] == 400
    assert hub.sign_in("hq_marketing")["role"] == "hq_analyst"
    hub.client.patch(f"/api/accounts/{uid}", json={"disabled": True}, headers=hub.admin())
    refused = hub.sign_in("hq_marketing")
    assert refused["status"] == 400 and refused["detail"] == "this account is disabled"


def test_accounts_bad_input_is_refused_with_reasons(hub: Hub) -> None:
    post = lambda body: hub.client.post("/api/accounts", json=body, headers=hub.admin())  # noqa: E731
    base = {"username": "li", "password": PASSWORD, "role": "hq_analyst"}
    assert post({**base, "role": "king"}).json()["detail"].startswith("unknown role")
    assert post({**base, "password": "short"}).status_code == 422
    assert post({**base, "username": "a b"}).status_code == 422
    assert post({**base, "role": "store_manager", "stores": ["nowhere"]}).status_code == 422
    assert post(base).status_code == 201
    assert post(base).status_code == 409  # the name is taken
    assert hub.client.get("/api/accounts/999999", headers=hub.admin()).status_code == 404
    bad = hub.client.post("/api/auth/token", data={"grant_type": "client_credentials"})
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    assert hub.client.post("/api/auth/token", data={}).status_code == 422


def test_api_keys_life_cycle(hub: Hub) -> None:
    r = hub.client.post(
        "/api/api-keys", json={"name": "BI export", "scopes": ["stores:read"]}, headers=hub.admin()
    )
    assert r.status_code == 201
    made = r.json()
    key, kid = made["key"], made["id"]
    assert made["scopes"] == ["stores:read"] and key.startswith(made["hint"])
    listing = hub.client.get("/api/api-keys", headers=hub.admin()).json()["keys"]
    assert key not in str(listing) and any(k["id"] == kid for k in listing)
    assert hub.client.get("/api/stores/sh1/sales", headers=hub.as_(key)).status_code == 200
    assert hub.client.get("/api/members?phone=1", headers=hub.as_(key)).status_code == 403

    rotated = hub.client.post(f"/api/api-keys/{kid}/rotate", headers=hub.admin()).json()
    assert hub.client.get("/api/stores/sh1/sales", headers=hub.as_(key)).status_code == 401
    new = rotated["key"]
    assert hub.client.get("/api/stores/sh1/sales", headers=hub.as_(new)).status_code == 200
    assert hub.client.post(f"/api/api-keys/{kid}/rotate", headers=hub.admin()).status_code == 409

    assert hub.client.post(f"/api/api-keys/{rotated['id']}/revoke", headers=hub.admin()).json()[
        "revoked_at"
    ]
    assert hub.client.get("/api/stores/sh1/sales", headers=hub.as_(new)).status_code == 401
    bad = hub.client.post(
        "/api/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=hub.admin()
    )
    assert bad.status_code == 422


def test_the_first_hq_token_acts_as_hq_admin(hub: Hub) -> None:
    me = hub.client.get("/api/auth/me", headers=hub.admin()).json()
    assert me["kind"] == "key" and me["scopes"] == ["*"]
    assert hub.client.get("/api/accounts", headers=hub.admin()).status_code == 200
    # its value lives in the environment or the admin-token file: not revocable here
    for action in ("revoke", "rotate"):
        r = hub.client.post(f"/api/api-keys/{me['id']}/{action}", headers=hub.admin())
        assert r.status_code == 409 and "admin-token" in r.json()["detail"]
    assert hub.client.get("/api/accounts", headers=hub.admin()).status_code == 200


def test_expired_or_tampered_access_tokens_are_401(hub: Hub) -> None:
    signer = hub.client.app.state.gate.signer
    claims = {"sub": 1, "name": "x", "role": "hq_admin", "stores": []}
    expired = signer.issue(claims, ttl=-1)
    assert hub.client.get("/api/stores", headers=hub.as_(expired)).status_code == 401
    good = hub.token("hq_analyst")
    _, sig = good[4:].split(".")
    forged_claims = signer.issue(claims)[4:].split(".")[0]  # an admin's claims, analyst's mac
    tampered = f"at1.{forged_claims}.{sig}"
    assert hub.client.get("/api/accounts", headers=hub.as_(tampered)).status_code == 401


def test_secrets_are_stored_as_hashes_only(hub: Hub) -> None:
    hub.token("store_manager")
    from sqlalchemy import text

    got = hub.sign_in("store_manager")
    with hub.client.app.state.db.transaction() as s:
        dump = str(s.execute(text("SELECT * FROM auth_sessions")).all())
        dump += str(s.execute(text("SELECT * FROM users")).all())
    assert got["refresh_token"] not in dump and PASSWORD not in dump
    assert "$argon2id$" in dump
    assert (hub.data_dir / "auth-key").stat().st_mode & 0o777 == 0o600


def test_a_change_that_keeps_role_and_password_keeps_the_sessions(hub: Hub) -> None:
    hub.token("hq_analyst")
    uid = _id(hub, "hq_analyst")
    got = hub.sign_in("hq_analyst")
    r = hub.client.patch(
        f"/api/accounts/{uid}",
        json={"display_name": "李分析", "role": "hq_analyst", "disabled": False},
        headers=hub.admin(),
    )
    assert r.status_code == 200 and r.json()["display_name"] == "李分析"
    assert _refresh(hub, got["refresh_token"])["status"] == 200
