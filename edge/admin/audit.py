"""Every technician action on the gateway, in an append-only, hash-chained table: who, what, on
what, when, and the state before and after.

Each row's hash is SHA-256 over the previous row's hash and the row's own fields (canonical
JSON), so editing a row breaks its hash and deleting one breaks the next row's link; `verify`
walks the chain and names the first row that does not hold. Triggers refuse UPDATE and DELETE, so
only someone bypassing the gateway (editing the file) can change it — which `verify` then shows.
Each append is also logged with its seq and hash, so a deleted tail is caught against the log.
The chain itself is protocols/audit_chain.py, shared with the hub's audit log."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any

from protocols.audit_chain import GENESIS, Verdict, canonical_json, chain_hash, walk

log = logging.getLogger(__name__)

__all__ = ["FIELDS", "GENESIS", "Audit", "Verdict", "row_hash"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER IF NOT EXISTS admin_audit_no_update BEFORE UPDATE ON admin_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS admin_audit_no_delete BEFORE DELETE ON admin_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

FIELDS = ("seq", "at", "who", "action", "target", "before", "after", "prev_hash")


def row_hash(row: dict[str, Any]) -> str:
    return chain_hash([row[f] for f in FIELDS])


_json = canonical_json


class Audit:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    def record(
        self, who: str, action: str, target: str = "", before: Any = None, after: Any = None
    ) -> int:
        """Append one entry; runs on the event loop thread, so no other append interleaves
        (and the seq primary key refuses a second row for the same place in the chain)."""
        last = self.conn.execute(
            "SELECT seq, hash FROM admin_audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        row = {
            "seq": (last[0] + 1) if last else 1,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "who": who,
            "action": action,
            "target": target,
            "before": _json(before),
            "after": _json(after),
            "prev_hash": last[1] if last else GENESIS,
        }
        row["hash"] = row_hash(row)
        self.conn.execute(
            f"INSERT INTO admin_audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )
        log.info("audit #%s %s %s %s (%s)", row["seq"], who, action, target, row["hash"][:16])
        return int(row["seq"])

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT seq, at, who, action, target, before, after FROM admin_audit "
            "ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def verify(self) -> Verdict:
        """Walk the chain from the first row: every hash recomputes, every row links to the one
        before, and seqs have no gap."""
        cur = self.conn.execute(f"SELECT {', '.join(FIELDS)}, hash FROM admin_audit ORDER BY seq")
        return walk((dict(zip((*FIELDS, "hash"), v, strict=True)) for v in cur), row_hash)
