"""Which checkout lanes this gateway has. A lane is declared in the gateway's configuration
(`--lanes` / `STOREGW_LANES`, e.g. `1-4,express`) or by a manager (`PUT /api/lanes/{lane}`,
with the gateway's token); both land in the `lanes` table of the gateway's SQLite. A sale,
refund, shift or basket for a lane not declared is refused (404, "unknown lane"): it never
draws receipt numbers of its own."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from edge import http_errors
from edge.http_errors import LANE_ID

log = logging.getLogger(__name__)

MAX_RANGE = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS lanes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL CHECK (source IN ('config', 'manager')),
    declared_at TEXT NOT NULL
)
"""


class UnknownLane(LookupError):
    status = 404

    def __init__(self, lane: str) -> None:
        super().__init__(
            f"unknown lane {lane!r}: declare it first (gateway --lanes, or PUT /api/lanes/{lane})"
        )


def parse_spec(spec: str) -> list[str]:
    """`1-4,express` → ['1', '2', '3', '4', 'express']; a range only between two numbers."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep and lo.isdigit() and hi.isdigit():
            a, b = int(lo), int(hi)
            if not 0 <= b - a < MAX_RANGE:
                raise ValueError(f"lane range {part!r}: at most {MAX_RANGE} lanes, low to high")
            out += [str(n) for n in range(a, b + 1)]
        elif LANE_ID.match(part):
            out.append(part)
        else:
            raise ValueError(f"lane id {part!r} must match {LANE_ID.pattern}")
    return out


class DeclaredLanes:
    def __init__(self, conn: sqlite3.Connection, configured: Iterable[str] = ()) -> None:
        self.conn = conn
        conn.execute(SCHEMA)
        now = datetime.now(UTC).isoformat()
        conn.executemany(  # a manager's declaration of the same id stays the manager's
            "INSERT OR IGNORE INTO lanes (id, source, declared_at) VALUES (?, 'config', ?)",
            [(lane, now) for lane in configured],
        )
        self._known = {r[0] for r in conn.execute("SELECT id FROM lanes")}

    def known(self, lane: str) -> bool:
        return lane in self._known

    def check(self, lane: str) -> None:
        if lane not in self._known:
            log.warning("lane %r refused: not declared", lane)
            raise UnknownLane(lane)

    def declare(self, lane: str, name: str) -> bool:
        """True when the lane is new."""
        cur = self.conn.execute(
            "INSERT INTO lanes (id, name, source, declared_at) VALUES (?, ?, 'manager', ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            (lane, name, datetime.now(UTC).isoformat()),
        )
        new = lane not in self._known
        self._known.add(lane)
        return bool(cur.rowcount) and new

    def all(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, name, source, declared_at FROM lanes ORDER BY id")
        return [dict(zip(("id", "name", "source", "declared_at"), r, strict=True)) for r in rows]

    # --- manager routes ----------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/lanes", self._list), web.put("/api/lanes/{lane}", self._put)]

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"lanes": self.all()})

    async def _put(self, request: web.Request) -> web.Response:
        lane = request.match_info["lane"]
        body = await http_errors.read_object(request, empty={})
        name = body.get("name", "")
        if not isinstance(name, str) or len(name) > 64 or not name.isprintable():
            return web.json_response({"error": "name: up to 64 printable characters"}, status=400)
        new = self.declare(lane, name)
        log.info("lane %s declared by a manager (%s)", lane, "new" if new else "renamed")
        return web.json_response({"id": lane, "name": name, "new": new}, status=201 if new else 200)
