"""The hub app in-process (TestClient) on a real database, two stores, and an account per role
made when a test first asks for its access token (got through the OAuth2 password grant): a
password hash is a quarter second, so each test pays only for the accounts it uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app

PASSWORD = "correct-horse-battery"


@dataclass
class Hub:
    client: TestClient
    data_dir: Path
    admin_token: str
    made: dict[str, str] = field(default_factory=dict)  # role → access token

    def token(self, role: str) -> str:
        """An access token of the account named after `role` (made at the first call)."""
        if role not in self.made:
            r = self.client.post(
                "/api/accounts",
                json={
                    "username": role,
                    "password": PASSWORD,
                    "role": role,
                    "stores": ["sh1"] if role == "store_manager" else [],
                },
                headers=self.admin(),
            )
            assert r.status_code == 201, r.text
            got = self.sign_in(role)
            assert got["status"] == 200, got
            self.made[role] = got["access_token"]
        return self.made[role]

    def as_(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def admin(self) -> dict[str, str]:
        return self.as_(self.admin_token)

    def sign_in(self, username: str, password: str = PASSWORD) -> dict:
        r = self.client.post(
            "/api/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        return {"status": r.status_code, **r.json()}


def make_hub(data_dir: Path, database_url: str | None = None) -> Iterator[Hub]:
    app = create_app(data_dir, database_url)
    with TestClient(app) as client:
        hub = Hub(client, data_dir, (data_dir / "admin-token").read_text().strip())
        for store in ("sh1", "bj1"):
            r = client.put(f"/api/stores/{store}", json={"name": store}, headers=hub.admin())
            assert r.status_code == 200, r.text
        yield hub


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_db_url: str | None) -> Iterator[Hub]:
    monkeypatch.delenv("STOREGW_HUB_TOKEN", raising=False)
    monkeypatch.delenv("STOREGW_HUB_AUTH_KEY", raising=False)
    yield from make_hub(tmp_path / "hub", hub_db_url)


@pytest.fixture(scope="module")
def sqlite_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    mp = pytest.MonkeyPatch()
    mp.delenv("STOREGW_HUB_TOKEN", raising=False)
    mp.delenv("STOREGW_HUB_AUTH_KEY", raising=False)
    try:
        yield from make_hub(tmp_path_factory.mktemp("matrix") / "hub")
    finally:
        mp.undo()
