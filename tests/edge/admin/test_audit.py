"""The technician audit: append-only (the gateway cannot change a row), hash-chained, and
`verify` names the row someone changed or deleted behind the gateway's back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.admin.audit import Audit


def filled(tmp_path: Path) -> tuple[sqlite3.Connection, Audit]:
    conn = sqlite3.connect(tmp_path / "journal.db", isolation_level=None)
    audit = Audit(conn)
    audit.record("tech-wang", "login", "technician")
    audit.record("tech-wang", "config.devices", "p1", {"lane": "1"}, {"lane": "2"})
    audit.record("tech-wang", "device.test-print", "p1", {"state": "online"}, {"state": "online"})
    return conn, audit


def test_the_chain_verifies_and_keeps_before_and_after(tmp_path: Path) -> None:
    _, audit = filled(tmp_path)
    verdict = audit.verify()
    assert verdict.ok and verdict.rows == 3 and verdict.problem is None
    change = next(r for r in audit.recent() if r["action"] == "config.devices")
    assert (change["before"], change["after"]) == ('{"lane": "1"}', '{"lane": "2"}')


def test_rows_cannot_be_changed_or_deleted_through_sqlite(tmp_path: Path) -> None:
    conn, audit = filled(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE admin_audit SET who = 'someone' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM admin_audit WHERE seq = 2")
    assert audit.verify().ok


def test_verify_finds_an_edited_row(tmp_path: Path) -> None:
    conn, audit = filled(tmp_path)
    conn.execute("DROP TRIGGER admin_audit_no_update")  # someone editing the file by hand
    conn.execute("""UPDATE admin_audit SET after = '{"lane": "9"}' WHERE seq = 2""")
    verdict = audit.verify()
    assert not verdict.ok and verdict.problem == "row 2 was changed after it was written"


def test_verify_finds_a_deleted_row(tmp_path: Path) -> None:
    conn, audit = filled(tmp_path)
    conn.execute("DROP TRIGGER admin_audit_no_delete")
    conn.execute("DELETE FROM admin_audit WHERE seq = 2")
    verdict = audit.verify()
    assert not verdict.ok and verdict.problem == "row 2 is missing (next is 3)"


def test_verify_finds_a_row_rehashed_to_hide_an_edit(tmp_path: Path) -> None:
    """Recomputing the edited row's own hash does not help: the next row's link breaks."""
    from edge.admin.audit import FIELDS, row_hash

    conn, audit = filled(tmp_path)
    conn.execute("DROP TRIGGER admin_audit_no_update")
    row = dict(
        zip(
            (*FIELDS, "hash"),
            conn.execute(
                f"SELECT {', '.join(FIELDS)}, hash FROM admin_audit WHERE seq = 2"
            ).fetchone(),
            strict=True,
        )
    )
    row["who"] = "someone-else"
    conn.execute(
        "UPDATE admin_audit SET who = ?, hash = ? WHERE seq = 2", (row["who"], row_hash(row))
    )
    verdict = audit.verify()
    assert not verdict.ok and verdict.problem == "row 3 does not link to the row before"
