"""Short-lived signed access tokens: `at1.<claims>.<HMAC-SHA256>`, base64url, the key a random
secret kept in `<data dir>/auth-key` (0600, generated at first start; STOREGW_HUB_AUTH_KEY
overrides it so several hub processes can share one). Nothing is looked up to verify one: the
claims carry the role and stores, so a change of role takes effect at the next refresh (at
most ACCESS_TTL later); revoking refresh tokens stops the next one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from transport import token_file

ACCESS_TTL = 15 * 60  # seconds
PREFIX = "at1."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def load(cls, data_dir: Path) -> Signer:
        secret = token_file.load_or_create(data_dir, "STOREGW_HUB_AUTH_KEY", "auth-key")
        return cls(hashlib.sha256(b"storegw-hub-auth:" + secret.encode()).digest())

    def mac(self, purpose: str, text: str) -> str:
        """An HMAC of `text` for one purpose (access tokens, CSRF tokens): never interchangeable."""
        return _b64(hmac.new(self.key, f"{purpose}\x00{text}".encode(), hashlib.sha256).digest())

    def issue(self, claims: dict[str, Any], ttl: int = ACCESS_TTL) -> str:
        now = int(time.time())
        body = _b64(json.dumps({**claims, "iat": now, "exp": now + ttl}).encode())
        return f"{PREFIX}{body}.{self.mac('access', body)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        if not token.startswith(PREFIX):
            return None
        body, _, sig = token[len(PREFIX) :].partition(".")
        if not hmac.compare_digest(sig.encode(), self.mac("access", body).encode()):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(claims, dict) or int(claims.get("exp", 0)) <= time.time():
            return None
        return claims
