"""The store's journal: every event a lane commits, in a local SQLite file (WAL,
synchronous=FULL), numbered by a gap-free per-gateway sequence.

A row is deleted only after the hub has acknowledged it *and* the retention window has passed.
Growth is never bounded by dropping unacked rows: past `alarm_backlog` rows or
`alarm_age_s` of the oldest unacked row the journal raises an alarm (log + /api/journal), and
when free disk falls below `min_free_bytes` it refuses new sales, since it can no longer
promise durability (docs/architecture.md, "Journal growth")."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocols.envelope import iso, utc_now
from transport.ids import new_id

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,            -- per gateway, gap-free, never reused
    id TEXT NOT NULL UNIQUE,            -- UUIDv7
    type TEXT NOT NULL,
    envelope TEXT NOT NULL,             -- the JSON sent to the hub, byte for byte
    client_ref TEXT UNIQUE,             -- a lane's idempotency key, so a retried POST books once
    created_at REAL NOT NULL,           -- unix time of the commit
    acked_at REAL                       -- when the hub acknowledged it
);
CREATE INDEX IF NOT EXISTS events_acked ON events(acked_at) WHERE acked_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class KeyReused(Exception):
    """An idempotency key already booked a different request."""


class JournalFull(Exception):
    """Not enough disk left to promise a sale is durable."""


class JournalCorrupt(Exception):
    """The journal file fails SQLite's integrity check at start: the gateway must not sell
    on top of it (docs/reliability.md, "A corrupted journal": `storegw edge recover`)."""


class Refused(Exception):
    """A transaction hook refuses the event (a payment it cannot take up, …): nothing is
    written, and the lane is answered 409 with the reason."""


@dataclass
class Recorded:
    envelope: dict[str, Any]
    duplicate: bool  # the client_ref had been booked before: this is the original


@dataclass(frozen=True)
class JournalDb:
    """The journal's SQLite connection as lent to the devices (print queue, payment attempts)
    and to the hooks that run inside a sale's transaction. (It was a sqlite_utils.Database, of
    which only `.conn` was ever used: 13 MiB of imports in the gateway for one attribute.)"""

    conn: sqlite3.Connection

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """A statement inside the caller's transaction (the name hooks used on sqlite_utils)."""
        return self.conn.execute(sql, tuple(params))


TxnHook = Callable[[JournalDb, dict[str, Any]], None]


class Journal:
    def __init__(
        self,
        path: Path,
        store: str,
        gateway: str,
        *,
        retention_s: float = 7 * 24 * 3600,
        alarm_backlog: int = 200_000,
        alarm_age_s: float = 24 * 3600,
        min_free_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.path = path
        self.store, self.gateway = store, gateway
        self.retention_s = retention_s
        self.alarm_backlog = alarm_backlog
        self.alarm_age_s = alarm_age_s
        self.min_free_bytes = min_free_bytes
        # autocommit mode: transactions are explicit BEGIN IMMEDIATE … COMMIT below
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        _check_integrity(conn, path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        # 512 KiB of page cache, not SQLite's 2 MiB (-1 MiB resident with a backlog): rows and
        # their seq / UUIDv7 keys append at the end of their b-trees and the uplink reads
        # forward once; the OS's file cache holds the rest (bench/lane_commit.py unchanged)
        conn.execute("PRAGMA cache_size=-512")
        conn.executescript(SCHEMA)
        cols = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
        if "request_hash" not in cols:  # journals from before the column: their rows keep NULL
            conn.execute("ALTER TABLE events ADD COLUMN request_hash TEXT")
        self.db = JournalDb(conn)
        self.conn = conn
        self.last_seq = int(self._meta("last_seq", "0"))
        self.last_acked = int(self._meta("last_acked", "0"))
        self.alarm: str | None = None
        self._free_checked = 0.0
        self._full: str | None = None  # why sales are refused for want of disk, if they are

    def _meta(self, key: str, default: str) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: object) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, str(value)),
        )

    def next_counter(self, key: str, by: int = 1) -> int:
        """A durable counter (receipt numbers, shift totals); call inside record()'s
        transaction so it moves if and only if the event is committed."""
        n = int(self._meta(key, "0")) + by
        self._set_meta(key, n)
        return n

    def take_counter(self, key: str) -> int:
        """Read a counter and reset it to zero, inside record()'s transaction."""
        n = int(self._meta(key, "0"))
        self._set_meta(key, 0)
        return n

    def _check_disk(self) -> None:
        now = time.monotonic()
        if now - self._free_checked > 5:
            self._free_checked = now
            free = shutil.disk_usage(self.path.parent).free
            self._full = (
                None
                if free >= self.min_free_bytes
                else f"less than {self.min_free_bytes // 2**20} MiB free for the journal"
            )
        if self._full:
            raise JournalFull(self._full)

    def record(
        self,
        type_: str,
        make_body: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        client_ref: str | None = None,
        hooks: Iterable[TxnHook] = (),
        version: int = 1,
        request_hash: str | None = None,
    ) -> Recorded:
        """Commit one event durably. `make_body(envelope)` runs inside the transaction (it may draw
        receipt numbers); `hooks` too, after the row is written and before COMMIT. A hook claims
        what the event uses up (a payment, …) with a conditional UPDATE whose rowcount it checks,
        and raises Refused when the claim fails: the whole transaction rolls back.
        `request_hash` is kept with `client_ref`: the same key with another request is
        KeyReused, not a duplicate (a row without a hash, from before, cannot tell)."""
        self._check_disk()
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if client_ref is not None:
                row = c.execute(
                    "SELECT envelope, request_hash FROM events WHERE client_ref=?", (client_ref,)
                ).fetchone()
                if row:
                    c.execute("ROLLBACK")
                    if row[1] and request_hash and row[1] != request_hash:
                        raise KeyReused(
                            f"idempotency key {client_ref!r} was used for another request"
                        )
                    return Recorded(json.loads(row[0]), duplicate=True)
            seq = self.last_seq + 1
            now = utc_now()
            env = {
                "id": new_id(),
                "seq": seq,
                "store": self.store,
                "gateway": self.gateway,
                "type": type_,
                "v": version,
                "occurred_at": iso(now),
                "body": {},
            }
            env["body"] = make_body(env)
            text = json.dumps(env, ensure_ascii=False, separators=(",", ":"))
            try:
                c.execute(
                    "INSERT INTO events(seq, id, type, envelope, client_ref, request_hash,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seq, env["id"], type_, text, client_ref, request_hash, time.time()),
                )
                self._set_meta("last_seq", seq)
                for hook in hooks:
                    hook(self.db, env)
                c.execute("COMMIT")
            except sqlite3.OperationalError as err:
                # ENOSPC below our free-space floor (another writer, a small card): SQLite
                # rolls back cleanly; the lane gets 507 with the reason, not a 500
                if not _disk_full(err):
                    raise
                # refused at once for the next few seconds, not each sale failing its write
                self._full = f"the journal's disk is full: {err}"
                self._free_checked = time.monotonic()
                raise JournalFull(self._full) from err
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        self.last_seq = seq
        return Recorded(env, duplicate=False)

    def pending(self, after_seq: int, max_events: int, max_bytes: int) -> list[tuple[int, str]]:
        """Unacked envelopes after `after_seq`, in order, at most max_events / ~max_bytes."""
        out: list[tuple[int, str]] = []
        size = 0
        for seq, text in self.conn.execute(
            "SELECT seq, envelope FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, max_events),
        ):
            if out and size + len(text) > max_bytes:
                break
            out.append((seq, text))
            size += len(text) + 1
        return out

    def ack(self, upto: int) -> int:
        """The hub has committed everything up to `upto`: mark it. Returns rows newly acked.
        An ack beyond what was journaled is refused: it cannot be ours."""
        if upto <= self.last_acked:
            return 0
        if upto > self.last_seq:
            log.error("ack %s is beyond the journal's last seq %s: ignored", upto, self.last_seq)
            return 0
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            n = c.execute(
                "UPDATE events SET acked_at=? WHERE seq > ? AND seq <= ? AND acked_at IS NULL",
                (time.time(), self.last_acked, upto),
            ).rowcount
            self._set_meta("last_acked", upto)
            c.execute("COMMIT")
        except sqlite3.OperationalError as err:
            if c.in_transaction:
                c.execute("ROLLBACK")
            if not _disk_full(err):
                raise
            # nothing is lost: the rows stay unacked, a later ack (or a resend) covers them
            log.warning("ack %s not recorded, the journal's disk is full", upto)
            return 0
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        self.last_acked = upto
        return n

    def prune(self) -> int:
        """Delete acked rows older than the retention window; never an unacked one."""
        cutoff = time.time() - self.retention_s
        n = self.conn.execute(
            "DELETE FROM events WHERE acked_at IS NOT NULL AND acked_at < ? AND seq <= ?",
            (cutoff, self.last_acked),
        ).rowcount
        return n

    def stats(self) -> dict[str, Any]:
        backlog = self.last_seq - self.last_acked
        oldest = self.conn.execute(
            "SELECT created_at FROM events WHERE seq = ?", (self.last_acked + 1,)
        ).fetchone()
        age = round(time.time() - oldest[0], 3) if oldest and backlog else 0.0
        alarm = None
        if backlog >= self.alarm_backlog:
            alarm = f"backlog {backlog} events >= {self.alarm_backlog}"
        elif age >= self.alarm_age_s:
            alarm = f"oldest unacked event is {age:.0f} s old"
        if alarm != self.alarm:
            if alarm:
                log.warning("journal alarm: %s (the hub is not acknowledging)", alarm)
            else:
                log.info("journal alarm cleared")
            self.alarm = alarm
        rows = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return {
            "store": self.store,
            "gateway": self.gateway,
            "last_seq": self.last_seq,
            "last_acked_seq": self.last_acked,
            "backlog": backlog,
            "oldest_unacked_age_s": age,
            "rows": rows,
            "alarm": alarm,
        }

    def close(self) -> None:
        self.conn.close()


def _disk_full(err: sqlite3.Error) -> bool:
    return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """PRAGMA quick_check before anything is written: a damaged journal is refused whole,
    with the way out, instead of selling on top of it (quick_check reads every page in well
    under a second for a week's journal; bench-free, it runs once per start)."""
    try:
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as err:
        problems = [str(err)]
    if problems != ["ok"]:
        conn.close()
        raise JournalCorrupt(
            f"the journal {path} is damaged ({'; '.join(problems)}); the gateway will not "
            f"sell on it. Recover: storegw edge recover --data-dir {path.parent} "
            "(salvages every readable row into a new journal, keeps the damaged file aside)"
        )
