"""A lane's screen (or a staff phone) is paired once by a manager: the manager, holding the
gateway's token, asks for a one-time code (`POST /api/lanes/{lane}/pairing`, or
`POST /api/pairing/staff` for a staff phone); the screen opens `/lane/`, types the code and
gets a cookie bound to that lane (or to the staff order page). The code is claimed by one
`DELETE … RETURNING` (two screens cannot both use it), is valid 10 minutes, and only its
SHA-256 is stored; so is the cookie's. A paired screen stays paired (the cookie lives 10
years) until a manager unpairs it (`DELETE /api/paired/{id}`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

COOKIE = "storegw_lane"
CODE_TTL = timedelta(minutes=10)
STAFF = "~staff"  # the "lane" of a staff phone's pairing
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS lane_pairing_codes (
        code_hash TEXT PRIMARY KEY,
        lane TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS paired_screens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash TEXT NOT NULL UNIQUE,
        lane TEXT NOT NULL,
        paired_at TEXT NOT NULL
    )""",
]


def _h(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Pairing:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        for sql in SCHEMA:
            conn.execute(sql)

    def new_code(self, lane: str) -> str:
        code = f"{secrets.randbelow(10**8):08d}"
        expires = datetime.now(UTC) + CODE_TTL
        self.conn.execute(
            "INSERT OR REPLACE INTO lane_pairing_codes (code_hash, lane, expires_at) "
            "VALUES (?, ?, ?)",
            (_h(code), lane, expires.isoformat()),
        )
        log.info("pairing code issued for %s", lane)
        return code

    def pair(self, code: str) -> tuple[str, str] | None:
        """(cookie token, lane) when the code is good: the code is used up in the claim."""
        now = datetime.now(UTC).isoformat()
        row = self.conn.execute(
            "DELETE FROM lane_pairing_codes WHERE code_hash = ? AND expires_at > ? RETURNING lane",
            (_h(code.strip()), now),
        ).fetchone()
        if row is None:
            return None
        token = secrets.token_urlsafe(32)
        self.conn.execute(
            "INSERT INTO paired_screens (token_hash, lane, paired_at) VALUES (?, ?, ?)",
            (_h(token), row[0], now),
        )
        log.info("a screen was paired with %s", row[0])
        return token, row[0]

    def lane_of(self, request: web.Request) -> tuple[int, str] | None:
        """(screen id, lane) of the paired screen making the request."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        row = self.conn.execute(
            "SELECT id, lane FROM paired_screens WHERE token_hash = ?", (_h(token),)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def all(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, lane, paired_at FROM paired_screens ORDER BY id")
        return [{"id": r[0], "lane": r[1], "paired_at": r[2]} for r in rows]

    def unpair(self, screen_id: int) -> bool:
        cur = self.conn.execute("DELETE FROM paired_screens WHERE id = ?", (screen_id,))
        return cur.rowcount == 1
