"""The gateway's journal on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge.journal import Journal, JournalFull


def body(env: dict) -> dict:
    return {"n": env["seq"]}


def test_seq_is_gap_free_and_survives_reopen(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")
    for _ in range(5):
        j.record("x.y", body)
    j.close()
    j = Journal(tmp_path / "j.db", "s1", "g1")
    rec = j.record("x.y", body)
    assert rec.envelope["seq"] == 6 and rec.envelope["body"] == {"n": 6}
    assert [s for s, _ in j.pending(0, 100, 10**6)] == [1, 2, 3, 4, 5, 6]


def test_pragmas_are_wal_and_full(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")
    assert j.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_client_ref_books_once(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")
    first = j.record("x.y", body, client_ref="lane1-0001")
    again = j.record("x.y", body, client_ref="lane1-0001")
    assert again.duplicate and again.envelope["id"] == first.envelope["id"]
    assert j.last_seq == 1


def test_a_failing_hook_rolls_the_event_back(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")

    def hook(db, env):
        db.execute("CREATE TABLE IF NOT EXISTS jobs(id TEXT)")
        db.execute("INSERT INTO jobs VALUES (?)", [env["id"]])
        raise RuntimeError("printer queue broke")

    with pytest.raises(RuntimeError):
        j.record("x.y", body, hooks=[hook])
    assert j.last_seq == 0 and j.pending(0, 10, 10**6) == []
    ok = j.record("x.y", body)
    assert ok.envelope["seq"] == 1  # the failed attempt did not burn a seq


def test_pending_respects_count_and_bytes(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")
    for _ in range(10):
        j.record("x.y", body)
    assert len(j.pending(0, 4, 10**6)) == 4
    one = len(j.pending(0, 1, 10**6)[0][1])
    assert len(j.pending(0, 10, one * 3 + 2)) == 3
    assert len(j.pending(0, 10, 1)) == 1  # always at least one, however large
    assert [s for s, _ in j.pending(7, 10, 10**6)] == [8, 9, 10]


def test_acks_mark_rows_and_only_acked_old_rows_are_pruned(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1", retention_s=0)
    for _ in range(6):
        j.record("x.y", body)
    assert j.ack(99) == 0  # beyond what was journaled: not ours
    assert j.ack(4) == 4
    assert j.ack(3) == 0  # acks only move forward
    assert j.prune() == 4
    stats = j.stats()
    assert stats["backlog"] == 2 and stats["last_acked_seq"] == 4 and stats["rows"] == 2
    assert [s for s, _ in j.pending(j.last_acked, 10, 10**6)] == [5, 6]


def test_retention_keeps_acked_rows_for_a_while(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1", retention_s=3600)
    j.record("x.y", body)
    j.ack(1)
    assert j.prune() == 0


def test_backlog_alarm_is_raised_and_cleared(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    j = Journal(tmp_path / "j.db", "s1", "g1", alarm_backlog=3)
    for _ in range(3):
        j.record("x.y", body)
    assert "backlog 3" in j.stats()["alarm"]
    assert "journal alarm" in caplog.text
    j.ack(3)
    assert j.stats()["alarm"] is None


def test_sales_are_refused_when_the_disk_is_full(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1", min_free_bytes=2**62)
    with pytest.raises(JournalFull):
        j.record("x.y", body)
    assert j.last_seq == 0


def test_the_envelope_is_stored_as_sent(tmp_path: Path):
    j = Journal(tmp_path / "j.db", "s1", "g1")
    rec = j.record("sale.completed", body)
    raw = sqlite3.connect(tmp_path / "j.db").execute("SELECT envelope FROM events").fetchone()[0]
    assert json.loads(raw) == rec.envelope
    assert rec.envelope["occurred_at"].endswith("Z")
