"""Local accounts: scrypt hashes, no account without the set-up code, one first account even
when two set-ups race, sessions that only the cookie's value opens, the lock-out."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from edge.admin import accounts as acc
from edge.admin.accounts import AccountError, Accounts
from tests.edge.admin.conftest import run


def make(tmp_path: Path) -> Accounts:
    return Accounts(
        sqlite3.connect(tmp_path / "journal.db", isolation_level=None, check_same_thread=False),
        tmp_path,
    )


def test_password_hashes_are_salted_scrypt() -> None:
    a, b = acc.hash_password("Kasse-2026-sicher"), acc.hash_password("Kasse-2026-sicher")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert acc.check_password("Kasse-2026-sicher", a)
    assert not acc.check_password("Kasse-2026-sichex", a)
    assert not acc.check_password("anything", "not-a-hash")


def test_set_up_needs_the_code_and_only_one_first_account_wins(tmp_path: Path) -> None:
    accounts = make(tmp_path)
    code = (tmp_path / "admin-setup-code").read_text().strip()
    assert (
        code == accounts.setup_code and (tmp_path / "admin-setup-code").stat().st_mode & 0o077 == 0
    )

    async def scenario() -> list[object]:
        with pytest.raises(AccountError, match="wrong set-up code"):
            await accounts.set_up("00000000" if code != "00000000" else "1", "x1", "Long-enough-1")
        return await asyncio.gather(
            accounts.set_up(code, "tech-a", "Long-enough-1"),
            accounts.set_up(code, "tech-b", "Long-enough-2"),
            return_exceptions=True,
        )

    results = run(scenario())
    assert sum(r is None for r in results) == 1
    assert [getattr(r, "status", None) for r in results if r is not None] == [409]
    assert len(accounts.list()) == 1 and not (tmp_path / "admin-setup-code").exists()


def test_five_wrong_set_up_codes_draw_a_new_code(tmp_path: Path) -> None:
    accounts = make(tmp_path)
    first = accounts.setup_code
    for _ in range(5):
        with pytest.raises(AccountError):
            run(accounts.set_up("x", "tech-a", "Long-enough-1"))
    assert accounts.setup_code != first


def test_weak_or_bad_accounts_are_refused(tmp_path: Path) -> None:
    accounts = make(tmp_path)
    for name, pw, role, why in [
        ("t", "Long-enough-1", "technician", "user name"),
        ("tech-a", "short", "technician", "at least 10"),
        ("tech-a", "Long-enough-1", "root", "role"),
        ("password12", "password12", "manager", "guess"),
    ]:
        with pytest.raises(AccountError, match=why):
            run(accounts.add(name, pw, role))


def test_sessions_lock_out_and_log_out(tmp_path: Path) -> None:
    accounts = make(tmp_path)
    run(accounts.add("mgr-li", "Long-enough-1", "manager"))
    token, session = run(accounts.log_in("mgr-li", "Long-enough-1"))
    assert session.role == "manager" and accounts.session(token) == session
    # the table holds only the hash of the cookie's value
    stored = accounts.conn.execute("SELECT token_hash FROM admin_sessions").fetchone()[0]
    assert stored != token and accounts.session(stored) is None
    accounts.log_out(token)
    assert accounts.session(token) is None
    for i in range(4):
        with pytest.raises(AccountError) as err:
            run(accounts.log_in("mgr-li", f"wrong-{i}"))
        assert err.value.status == 401
    with pytest.raises(AccountError, match="locked") as err:
        run(accounts.log_in("mgr-li", "wrong-5"))
    assert err.value.status == 429
    with pytest.raises(AccountError, match="locked"):
        run(accounts.log_in("mgr-li", "Long-enough-1"))
    # the lock-out is time-limited: once it has passed, the right password works again
    accounts.conn.execute("UPDATE admin_accounts SET locked_until = 0")
    run(accounts.log_in("mgr-li", "Long-enough-1"))
    assert accounts.list()[0]["failures"] == 0
