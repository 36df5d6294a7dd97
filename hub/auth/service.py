"""Bearer tokens for the hub API. The first HQ token comes from STOREGW_HUB_TOKEN or is
generated at first start into `<data dir>/admin-token` (0600)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from hub.auth.models import ApiToken
from hub.db import Database
from transport import token_file


class TokenRefused(Exception):
    """No bearer token, or not one of ours."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._valid: set[str] = set()

    def bootstrap(self, data_dir: Path) -> str:
        """Make sure the first HQ token exists; returns it (for the demo and the operator)."""
        first = token_file.load_or_create(data_dir, "STOREGW_HUB_TOKEN", "admin-token")
        with self.db.transaction() as s:
            if (
                s.execute(select(ApiToken.id).where(ApiToken.token_sha256 == digest(first))).first()
                is None
            ):
                s.add(ApiToken(name="first HQ token", token_sha256=digest(first), role="hq"))
        self.reload()
        return first

    def reload(self) -> None:
        with self.db.transaction() as s:
            self._valid = set(
                s.scalars(select(ApiToken.token_sha256).where(ApiToken.revoked_at.is_(None)))
            )

    def check(self, authorization: str) -> None:
        """`authorization` is the request's Authorization header ("" when there is none)."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or digest(value.strip()) not in self._valid:
            raise TokenRefused("missing or wrong bearer token")
