"""Bearer tokens (the gateway's API token, the hub's first HQ token): from the environment, or
generated once and kept in a 0600 file in the data dir — never in the repo. Shared by both
sides; the gateway's aiohttp middleware that checks them is in edge/token.py."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path


def load_or_create(data_dir: Path, env_var: str, filename: str) -> str:
    token = os.environ.get(env_var)
    if token:
        return token
    path = data_dir / filename
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a reader never sees half a token
    return token


def bearer_ok(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())
