"""The gateway's own accounts for its admin pages: technicians and managers, each with a password
hashed by scrypt (hashlib, no extra dependency), sessions held in the gateway's SQLite, a lock-out
after repeated wrong passwords, and a first-run set-up guarded by a one-time code.

There is no default password: while no account exists, the gateway prints a set-up code in its
log (and in `<data dir>/admin-setup-code`, 0600), and the set-up page creates the first account
only with that code. Five wrong codes draw a new one. The first account is created by one
conditional INSERT (… WHERE NOT EXISTS), so two set-ups racing cannot both win.

The session cookie holds a random value; the table keeps only its SHA-256, so a copied database
file opens no session. Each session has its own CSRF token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROLES = ("technician", "manager")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
MAX_FAILURES = 5  # wrong passwords in a row before the account locks
LOCKOUT_S = 15 * 60
SESSION_IDLE_S = 30 * 60  # a session unused this long is over
SESSION_MAX_S = 12 * 3600  # and none outlives a working day
# scrypt: 16 MiB and ~0.1 s a check (measured on the shared 2-core dev box); the cost is
# stored with each hash, so it can be raised later without locking anyone out
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('technician', 'manager')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS admin_sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES admin_accounts(username) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


class AccountError(ValueError):
    """A refusal to show the technician (bad name, weak password, taken, locked…)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            maxmem=64 << 20,
        )  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(got, base64.b64decode(key))


# a hash to check against when the name is unknown, so the answer takes as long either way
_DUMMY = hash_password(secrets.token_hex(8))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    username: str
    role: str
    csrf: str


def validate_new(username: str, password: str, role: str) -> None:
    if not USERNAME.match(username):
        raise AccountError("user name: 2-32 letters, digits, . _ - (starting with a letter/digit)")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if password.lower() in (username.lower(), "password12", "1234567890"):
        raise AccountError("password: too easy to guess")


class Accounts:
    def __init__(self, conn: sqlite3.Connection, data_dir: Path) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self.code_file = data_dir / "admin-setup-code"
        self.setup_code: str | None = None
        self._setup_failures = 0
        if self.exist():
            self.code_file.unlink(missing_ok=True)
        else:
            self.new_setup_code()

    # --- first run ----------------------------------------------------------------------------
    def exist(self) -> bool:
        return self.conn.execute("SELECT 1 FROM admin_accounts LIMIT 1").fetchone() is not None

    def new_setup_code(self) -> None:
        self.setup_code = f"{secrets.randbelow(10**8):08d}"
        self._setup_failures = 0
        fd = os.open(self.code_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.setup_code + "\n")
        # WARNING so it shows on the console at the default level; useless once set up
        log.warning(
            "no admin account yet: open /admin/setup on this gateway and enter the set-up "
            "code %s (also in %s)", self.setup_code, self.code_file,
        )  # fmt: skip

    async def set_up(self, code: str, username: str, password: str) -> None:
        """Create the first account (a technician), only with the set-up code."""
        if self.setup_code is None or self.exist():
            raise AccountError("the gateway is already set up: log in", 409)
        if not hmac.compare_digest(code.strip().encode(), self.setup_code.encode()):
            self._setup_failures += 1
            log.warning("admin set-up: wrong set-up code (%s)", self._setup_failures)
            if self._setup_failures >= MAX_FAILURES:
                self.new_setup_code()
                raise AccountError("wrong set-up code 5 times: a new code is in the log", 403)
            raise AccountError("wrong set-up code", 403)
        validate_new(username, password, "technician")
        hashed = await asyncio.to_thread(hash_password, password)
        cur = self.conn.execute(
            "INSERT INTO admin_accounts (username, role, password_hash, created_at) "
            "SELECT ?, 'technician', ?, ? WHERE NOT EXISTS (SELECT 1 FROM admin_accounts)",
            (username, hashed, time.time()),
        )
        if cur.rowcount != 1:
            raise AccountError("the gateway is already set up: log in", 409)
        self.setup_code = None
        self.code_file.unlink(missing_ok=True)
        log.info("admin set-up: first account %s created", username)

    # --- accounts ----------------------------------------------------------------------------
    async def add(self, username: str, password: str, role: str) -> None:
        validate_new(username, password, role)
        hashed = await asyncio.to_thread(hash_password, password)
        try:
            self.conn.execute(
                "INSERT INTO admin_accounts (username, role, password_hash, created_at) "
                "VALUES (?, ?, ?, ?)",
                (username, role, hashed, time.time()),
            )
        except sqlite3.IntegrityError:
            raise AccountError(f"user {username} already exists", 409) from None

    def list(self) -> list[dict[str, object]]:
        rows = self.conn.execute(
            "SELECT username, role, failures, locked_until FROM admin_accounts ORDER BY username"
        ).fetchall()
        now = time.time()
        return [
            {"username": u, "role": r, "failures": f, "locked": lu > now} for u, r, f, lu in rows
        ]

    def role_of(self, username: str) -> str | None:
        row = self.conn.execute(
            "SELECT role FROM admin_accounts WHERE username = ?", (username,)
        ).fetchone()
        return row[0] if row else None

    # --- log in / out ------------------------------------------------------------------------
    async def log_in(self, username: str, password: str) -> tuple[str, Session]:
        """A new session's cookie value and the session; AccountError when refused."""
        role = await self.verify(username, password)
        now = time.time()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        self.conn.execute(
            "INSERT INTO admin_sessions (token_hash, username, csrf, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), username, csrf, now, now + SESSION_IDLE_S),
        )
        self.conn.execute("DELETE FROM admin_sessions WHERE expires_at < ?", (now,))
        log.info("admin log-in: %s (%s)", username, role)
        return token, Session(username, role, csrf)

    async def verify(self, username: str, password: str, purpose: str = "admin log-in") -> str:
        """The account's role if the password is right (with the lock-out), else AccountError:
        the log-in's check, and a manager's approval at a lane (edge/margin_override.py)."""
        now = time.time()
        row = self.conn.execute(
            "SELECT role, password_hash, locked_until FROM admin_accounts WHERE username = ?",
            (username,),
        ).fetchone()
        if row is None:
            await asyncio.to_thread(check_password, password, _DUMMY)
            log.warning("%s refused: unknown user %r", purpose, username[:40])
            raise AccountError("wrong user name or password", 401)
        role, stored, locked_until = row
        if locked_until > now:
            log.warning("%s refused: %s is locked", purpose, username)
            raise AccountError(locked_message(locked_until - now), 429)
        if not await asyncio.to_thread(check_password, password, stored):
            # one statement: concurrent wrong guesses all count, the fifth locks
            self.conn.execute(
                "UPDATE admin_accounts SET failures = failures + 1, locked_until = CASE "
                "WHEN failures + 1 >= ? THEN ? ELSE locked_until END WHERE username = ?",
                (MAX_FAILURES, now + LOCKOUT_S, username),
            )
            failures, locked = self.conn.execute(
                "SELECT failures, locked_until FROM admin_accounts WHERE username = ?",
                (username,),
            ).fetchone()
            log.warning("%s refused: wrong password for %s (%s)", purpose, username, failures)
            if locked > now:
                log.warning("admin account %s locked for %s min", username, LOCKOUT_S // 60)
                raise AccountError(locked_message(locked - now), 429)
            raise AccountError("wrong user name or password", 401)
        # the right password counts only if no lock-out landed meanwhile (claim, then grant)
        cur = self.conn.execute(
            "UPDATE admin_accounts SET failures = 0, locked_until = 0 "
            "WHERE username = ? AND locked_until <= ?",
            (username, now),
        )
        if cur.rowcount != 1:
            raise AccountError(locked_message(LOCKOUT_S), 429)
        return str(role)

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = time.time()
        row = self.conn.execute(
            "SELECT s.username, a.role, s.csrf, s.created_at FROM admin_sessions s "
            "JOIN admin_accounts a USING (username) WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash(token), now),
        ).fetchone()
        if row is None or now - row[3] > SESSION_MAX_S:
            return None
        self.conn.execute(
            "UPDATE admin_sessions SET expires_at = ? WHERE token_hash = ?",
            (now + SESSION_IDLE_S, token_hash(token)),
        )
        return Session(row[0], row[1], row[2])

    def log_out(self, token: str | None) -> None:
        if token:
            self.conn.execute(
                "DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash(token),)
            )


def locked_message(seconds_left: float) -> str:
    minutes = max(1, round(seconds_left / 60))
    return f"too many wrong passwords: locked, try again in {minutes} min"
