"""API keys for the hub API (the integrations' credentials), and the first HQ token among
them: from STOREGW_HUB_TOKEN or generated at first start into `<data dir>/admin-token` (0600),
with every scope (`*`), so it acts as hq_admin. Keys are kept as SHA-256 hashes; the valid ones
are cached in memory and reread after a change here or every RELOAD_EVERY seconds (a key
revoked through another hub process stops working within that)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.auth.models import ApiToken
from hub.auth.principal import Principal
from hub.db import Database, utcnow
from transport import token_file

log = logging.getLogger(__name__)
RELOAD_EVERY = 5.0
KEY_PREFIX = "sgk_"
FIRST = "hq"  # the role column of the first HQ token's row; other keys have "api"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyRefused(Exception):
    """A key operation refused: the key is the first HQ token, or already revoked."""


class KeyNotFound(KeyRefused):
    """No such API key."""


@dataclass(frozen=True)
class IssuedKey:
    id: int
    key: str  # shown once, never stored


def _view(k: ApiToken) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "scopes": k.scopes.split(),
        "hint": k.hint,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
    }


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._valid: dict[str, Principal] = {}
        self._loaded = 0.0

    def bootstrap(self, data_dir: Path) -> str:
        """Make sure the first HQ token exists; returns it (for the demo and the operator)."""
        first = token_file.load_or_create(data_dir, "STOREGW_HUB_TOKEN", "admin-token")
        with self.db.transaction() as s:
            if (
                s.execute(select(ApiToken.id).where(ApiToken.token_sha256 == digest(first))).first()
                is None
            ):
                s.add(
                    ApiToken(
                        name="first HQ token", token_sha256=digest(first), role=FIRST, scopes="*"
                    )
                )
        self.reload()
        return first

    def reload(self) -> None:
        with self.db.transaction() as s:
            rows = s.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
        self._valid = {
            k.token_sha256: Principal("key", k.id, k.name, scopes=frozenset(k.scopes.split()))
            for k in rows
        }
        self._loaded = time.monotonic()

    def stale(self) -> bool:
        return time.monotonic() - self._loaded > RELOAD_EVERY

    def refresh(self) -> None:
        """The periodic reload, which never fails a request: a database busy past its timeout
        (SQLite: a long writer) leaves the keys of a moment ago serving, and says so."""
        try:
            self.reload()
        except OperationalError as err:
            log.warning("API keys not reloaded, the cached ones serve: %s", err.orig)
            self._loaded = time.monotonic()  # tried again after RELOAD_EVERY

    def principal(self, token: str) -> Principal | None:
        if self.stale():
            self.refresh()
        return self._valid.get(digest(token))

    # management (hq_admin, through hub/auth/router.py)

    def listing(self, s: Session) -> list[dict[str, Any]]:
        return [_view(k) for k in s.scalars(select(ApiToken).order_by(ApiToken.id))]

    def create(self, s: Session, name: str, scopes: list[str]) -> tuple[dict[str, Any], str]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            name=name,
            token_sha256=digest(key),
            role="api",
            scopes=" ".join(sorted(set(scopes))),
            hint=key[:10],
        )
        s.add(row)
        s.flush()
        log.info("API key %d (%s) created with scopes %s", row.id, name, row.scopes)
        return _view(row), key

    def rotate(self, s: Session, key_id: int) -> tuple[dict[str, Any], str]:
        """A new key with the same name and scopes; the old one is revoked in the same
        transaction (only one caller can revoke it: a second rotation is a 409)."""
        old = s.get(ApiToken, key_id)
        if old is None:
            raise KeyNotFound(f"no API key {key_id}")
        self._revoke(s, key_id)
        return self.create(s, old.name, old.scopes.split())

    def revoke(self, s: Session, key_id: int) -> dict[str, Any]:
        if s.get(ApiToken, key_id) is None:
            raise KeyNotFound(f"no API key {key_id}")
        self._revoke(s, key_id)
        row = s.get(ApiToken, key_id)
        assert row is not None
        s.refresh(row)
        return _view(row)

    def _revoke(self, s: Session, key_id: int) -> None:
        row = s.get(ApiToken, key_id)
        if row is not None and row.role == FIRST:
            # its value lives in STOREGW_HUB_TOKEN or the admin-token file, which the API
            # cannot change: revoked here, the next start would not bring it back either
            raise KeyRefused(
                "the first HQ token is managed by STOREGW_HUB_TOKEN or <data dir>/admin-token"
                " and cannot be revoked or rotated here"
            )
        done = s.execute(
            update(ApiToken)
            .where(ApiToken.id == key_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
        if done != 1:
            raise KeyRefused(f"API key {key_id} is already revoked")
        log.info("API key %d revoked", key_id)
