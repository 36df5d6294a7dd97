"""A damaged journal is refused at open, and `edge.recover` salvages what is readable: every
row when only an index is damaged, every row but those on a bad table page otherwise (counted,
their seqs named), and never hands a seq out twice."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from edge.journal import Journal, JournalCorrupt
from edge.recover import recover


def _journal(data: Path, n: int) -> None:
    j = Journal(data / "journal.db", "s1", "g1")
    for i in range(n):
        j.record("x.y", lambda env: {"n": env["seq"], "pad": "货" * 200}, client_ref=f"k{i}")
    j.ack(10)
    j.close()


def _garble(db: Path, page: int) -> None:
    size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(random.Random(page).randbytes(size))


def _page_holding(db: Path, needle: bytes) -> int:
    """The table leaf page (type 0x0D) whose cells hold `needle`."""
    raw = db.read_bytes()
    size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    for p in range(1, len(raw) // size):
        page = raw[p * size : (p + 1) * size]
        if page[0] == 0x0D and needle in page:
            return p + 1
    raise AssertionError(f"no leaf page holds {needle!r}")


def test_a_damaged_index_loses_nothing(tmp_path: Path):
    _journal(tmp_path, 300)
    root = (
        sqlite3.connect(tmp_path / "journal.db")
        .execute("SELECT rootpage FROM sqlite_master WHERE name='sqlite_autoindex_events_2'")
        .fetchone()[0]
    )
    _garble(tmp_path / "journal.db", root)
    with pytest.raises(JournalCorrupt, match="storegw edge recover --data-dir"):
        Journal(tmp_path / "journal.db", "s1", "g1")
    got = recover(tmp_path)
    assert got.rows["events"] == 300 and not got.missing_seqs and not any(got.unreadable.values())
    assert got.damaged.exists()
    j = Journal(tmp_path / "journal.db", "s1", "g1")
    assert (j.last_seq, j.last_acked) == (300, 10)
    # the unique key is rebuilt: a retried sale is still the original
    assert j.record("x.y", lambda env: {}, client_ref="k7").duplicate


def test_a_damaged_table_page_loses_only_its_rows(tmp_path: Path):
    _journal(tmp_path, 300)
    _garble(tmp_path / "journal.db", _page_holding(tmp_path / "journal.db", b'"seq":150,'))
    with pytest.raises(JournalCorrupt):
        Journal(tmp_path / "journal.db", "s1", "g1")
    got = recover(tmp_path)
    assert got.missing_seqs and 150 in got.missing_seqs
    assert got.rows["events"] + len(got.missing_seqs) == 300
    assert "events lost" in got.report()
    j = Journal(tmp_path / "journal.db", "s1", "g1")
    assert j.last_seq == 300  # a lost seq is never handed out again
    assert j.record("x.y", lambda env: {}).envelope["seq"] == 301
