"""Backups and restores of a gateway's journal and of the hub's database.

SQLite files are copied with SQLite's online backup API in one step: in WAL mode the copy reads
one consistent snapshot while the gateway or the hub keeps writing (nothing stops), and the copy
is checked (PRAGMA integrity_check) before it replaces the target. PostgreSQL goes through
pg_dump / pg_restore (custom format). Keys are not in a backup: the hub's member key
(<data dir>/member-key or STOREGW_MEMBER_KEY) is kept apart, on purpose (docs/backup.md).

A gateway restored from a backup taken before its last sales must not number new sales with
seqs the hub already holds: `--resume-after` is the hub's last seq for that gateway (GET
/api/stores/{store}/gateways); the restored journal continues after it."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

JOURNAL = "journal.db"
HUB_DB = "hub.db"


class BackupError(RuntimeError):
    pass


def sqlite_copy(src: Path, dest: Path) -> None:
    """Copy a live SQLite database to `dest` (replaced only once the copy is whole and sound)."""
    if not src.exists():
        raise BackupError(f"no database at {src}")
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)  # all pages in one step: one snapshot, no restart on writes
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy of {src} fails its integrity check: {check}")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def _fresh(data_dir: Path, name: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / name
    if target.exists():
        raise BackupError(f"{target} exists: restore into a new data dir")
    return target


# --- the gateway ---------------------------------------------------------------------------
def edge_backup(data_dir: Path, to: Path) -> dict[str, int]:
    sqlite_copy(data_dir / JOURNAL, to)
    return journal_position(to)


def journal_position(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    return {
        "last_seq": int(meta.get("last_seq", 0)),
        "last_acked": int(meta.get("last_acked", 0)),
        "events": int(events),
    }


def edge_restore(backup: Path, data_dir: Path, resume_after: int | None) -> dict[str, int]:
    """The backup becomes `data_dir`'s journal; with `resume_after` (the hub's last seq of the
    gateway) above the backup's last seq, the journal's numbering jumps past it, and the seqs
    the hub holds count as acknowledged (the hub has them, the gateway need not resend)."""
    target = _fresh(data_dir, JOURNAL)
    sqlite_copy(backup, target)
    pos = journal_position(target)
    if resume_after is None:
        log.warning(
            "journal restored without --resume-after: if the hub holds seqs above %s, the "
            "gateway's next sales will conflict with them",
            pos["last_seq"],
        )
        return pos
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        if resume_after > pos["last_seq"]:
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_seq', ?)", (resume_after,)
            )
        acked = resume_after  # the hub applies gap-free: it holds every seq up to this one
        if acked > pos["last_acked"]:
            conn.execute(
                "UPDATE events SET acked_at = ? WHERE seq <= ? AND acked_at IS NULL",
                (time.time(), acked),
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_acked', ?)", (acked,)
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return journal_position(target)


# --- the hub -------------------------------------------------------------------------------
def _pg(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def hub_backup(data_dir: Path, database_url: str | None, to: Path) -> None:
    if database_url and database_url.startswith("postgresql"):
        tmp = to.with_name(to.name + ".part")
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={tmp}", _pg(database_url)])
        os.replace(tmp, to)
        return
    sqlite_copy(data_dir / HUB_DB, to)


def hub_restore(backup: Path, data_dir: Path, database_url: str | None) -> None:
    """Into a new, empty database (PostgreSQL) or a data dir without a hub.db (SQLite)."""
    if not backup.exists():
        raise BackupError(f"no backup at {backup}")
    if database_url and database_url.startswith("postgresql"):
        url = _pg(database_url)
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", url, str(backup)])
        return
    target = _fresh(data_dir, HUB_DB)
    sqlite_copy(backup, target)


def _run(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} is not installed (PostgreSQL client tools)")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} failed: {done.stderr.strip()[-500:]}")
