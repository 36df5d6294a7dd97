"""The print queue: every receipt is a job in the gateway's SQLite (`print_jobs`), inserted
inside the transaction that journals its sale, so a booked sale always has its receipt queued
and an unbooked one never does. Each job has an id and a state; the printer driver
(edge/devices/printer.py) takes them in order. A refund's slip and a shift's Z report are jobs
the same way, inserted in the transaction that journals them (`sale_id` holds the refund's id,
the shift's id)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from transport.ids import new_id

if TYPE_CHECKING:
    from edge.journal import JournalDb

SCHEMA = """
CREATE TABLE IF NOT EXISTS print_jobs (
    id TEXT PRIMARY KEY,
    printer TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('receipt', 'reprint', 'test', 'refund', 'report')),
    sale_id TEXT,
    receipt_no TEXT,
    copy INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL,
    envelope TEXT,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'sending', 'printed', 'failed', 'interrupted')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    printed_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS print_jobs_one_receipt
    ON print_jobs(printer, sale_id) WHERE kind = 'receipt';
CREATE UNIQUE INDEX IF NOT EXISTS print_jobs_one_document
    ON print_jobs(printer, kind, sale_id) WHERE kind IN ('refund', 'report');
CREATE INDEX IF NOT EXISTS print_jobs_pending ON print_jobs(printer, state);
"""
# a table from before refund slips and reports: SQLite changes a CHECK only by rebuilding
WIDEN_KINDS = f"""
BEGIN IMMEDIATE;
DROP INDEX IF EXISTS print_jobs_one_receipt;
DROP INDEX IF EXISTS print_jobs_pending;
ALTER TABLE print_jobs RENAME TO print_jobs_before_kinds;
{SCHEMA}
INSERT INTO print_jobs SELECT * FROM print_jobs_before_kinds;
DROP TABLE print_jobs_before_kinds;
COMMIT;
"""
PENDING = ("queued", "failed")


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- the queue -------------------------------------------------------------------------------
class PrintQueue:
    """The `print_jobs` table. Writes commit at once unless they run inside a sale's
    transaction (the hook), which commits with the sale."""

    def __init__(self, db: JournalDb) -> None:
        self.db = db
        self.conn = db.conn
        row = self.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'print_jobs'"
        ).fetchone()
        try:
            self.conn.executescript(WIDEN_KINDS if row and "'report'" not in row[0] else SCHEMA)
        except sqlite3.Error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        self.conn.execute(sql, params)
        if self.conn.in_transaction and self.conn.isolation_level is not None:
            self.conn.commit()  # a connection in implicit-transaction mode

    def add(
        self,
        printer: str,
        kind: str,
        data: bytes,
        *,
        sale_id: str | None = None,
        receipt_no: str | None = None,
        envelope: dict[str, Any] | None = None,
        copy: bool = False,
        in_transaction: bool = False,
    ) -> str | None:
        """The new job's id, or None when this sale's receipt is already queued."""
        job = new_id()
        sql = (
            "INSERT OR IGNORE INTO print_jobs (id, printer, kind, sale_id, receipt_no, copy, data,"
            " envelope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        params = (
            job, printer, kind, sale_id, receipt_no, int(copy), data,
            json.dumps(envelope, ensure_ascii=False) if envelope else None, time.time(),
        )  # fmt: skip
        cur = self.conn.execute(sql, params)
        if (
            not in_transaction
            and self.conn.in_transaction
            and self.conn.isolation_level is not None
        ):
            self.conn.commit()
        return job if cur.rowcount else None

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM print_jobs WHERE id=?", (job_id,)).fetchone()
        return self._row(row)

    def _row(self, row: Any) -> dict[str, Any] | None:
        if row is None:
            return None
        cols = [
            "id", "printer", "kind", "sale_id", "receipt_no", "copy", "data", "envelope",
            "state", "attempts", "error", "created_at", "printed_at",
        ]  # fmt: skip
        return dict(zip(cols, row, strict=True))

    def pending(self, printer: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM print_jobs WHERE printer=? AND state IN ('queued', 'failed') "
            "ORDER BY created_at, id",
            (printer,),
        ).fetchall()
        return [r for r in map(self._row, rows) if r]

    def by_sale(self, sale_id: str, printer: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT * FROM print_jobs WHERE sale_id=? AND kind='receipt'"
        params: tuple[Any, ...] = (sale_id,)
        if printer:
            sql, params = sql + " AND printer=?", (sale_id, printer)
        return self._row(self.conn.execute(sql + " LIMIT 1", params).fetchone())

    def recent(self, printer: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM print_jobs WHERE printer=? ORDER BY created_at DESC LIMIT ?",
            (printer, limit),
        ).fetchall()
        return [public(r) for r in map(self._row, rows) if r]

    def set_state(self, job_id: str, state: str, error: str | None = None) -> None:
        if state == "sending":
            self._write(
                "UPDATE print_jobs SET state='sending', attempts=attempts+1, error=NULL WHERE id=?",
                (job_id,),
            )
        elif state == "printed":
            self._write(
                "UPDATE print_jobs SET state='printed', error=NULL, printed_at=? WHERE id=?",
                (time.time(), job_id),
            )
        else:
            self._write("UPDATE print_jobs SET state=?, error=? WHERE id=?", (state, error, job_id))

    def interrupted(self, printer: str) -> int:
        """Jobs a crash left mid-send: they may be half printed, so never resent by themselves."""
        cur = self.conn.execute(
            "UPDATE print_jobs SET state='interrupted', "
            "error='the gateway stopped while sending; reprint if the customer has no receipt' "
            "WHERE printer=? AND state='sending'",
            (printer,),
        )
        if self.conn.in_transaction and self.conn.isolation_level is not None:
            self.conn.commit()
        return cur.rowcount

    def counts(self, printer: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT state, count(*) FROM print_jobs WHERE printer=? GROUP BY state", (printer,)
        ).fetchall()
        return {state: n for state, n in rows}


def public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (no bytes)."""
    return {k: v for k, v in job.items() if k not in ("data", "envelope")} | {
        "copy": bool(job["copy"])
    }
