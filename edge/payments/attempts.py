"""Payment attempts in the gateway's SQLite: one row per idempotency key with its current
state, and an append-only history of every state it passed through.

Every write commits before it returns (the journal's connection is in autocommit mode; one in
implicit-transaction mode is committed here), so a state is durable before the request it
announces goes out."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.journal import JournalDb

STATES = (
    "started",
    "awaiting_customer",
    "approved",
    "declined",
    "reversing",
    "reversed",
    "unknown",
)
FINAL = frozenset({"approved", "declined", "reversed"})
OPEN = ("started", "awaiting_customer", "unknown", "reversing")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS payment_attempts (
    key TEXT PRIMARY KEY,
    lane TEXT,
    method TEXT NOT NULL CHECK (method IN ('card', 'qr', 'cash')),
    device TEXT,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    auth_code TEXT,  -- masked: a payment code is a bearer token
    state TEXT NOT NULL CHECK (state IN ({", ".join(f"'{s}'" for s in STATES)})),
    reason TEXT,
    provider_ref TEXT,  -- aggregator transaction id / terminal receipt number
    detail TEXT NOT NULL DEFAULT '{{}}',
    sale_id TEXT,
    test INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_attempts_open ON payment_attempts(state);
-- every transaction the gateway makes with a card terminal, payments and reversals alike: written
-- before the request goes out, completed with the terminal's receipt number when it answers, so
-- that resolving a lost answer knows every receipt the gateway has already accounted for
CREATE TABLE IF NOT EXISTS card_transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order the requests were sent in
    device TEXT NOT NULL,
    key TEXT NOT NULL REFERENCES payment_attempts(key),
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'reversal')),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    of_receipt INTEGER,  -- a reversal: the receipt number of the payment it gives back
    outcome TEXT NOT NULL DEFAULT 'sent'
        CHECK (outcome IN ('sent', 'approved', 'declined', 'lost')),
    receipt_no INTEGER,  -- the terminal's, once known
    trace INTEGER,
    sent_at REAL NOT NULL,
    answered_at REAL
);
CREATE INDEX IF NOT EXISTS card_transactions_receipt ON card_transactions(device, receipt_no);
CREATE TABLE IF NOT EXISTS payment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL REFERENCES payment_attempts(key),
    state TEXT NOT NULL,
    reason TEXT,
    at REAL NOT NULL
);
"""


class AttemptConflict(ValueError):
    """The key is already used for a different payment."""


class ClaimRefused(ValueError):
    """A sale cannot take this payment up (unknown, not approved, or another sale's)."""


@dataclass
class CardTxn:
    """One row of card_transactions."""

    id: int
    device: str
    key: str
    kind: str  # payment | reversal
    amount_fen: int
    of_receipt: int | None
    outcome: str  # sent | approved | declined | lost
    receipt_no: int | None

    @property
    def in_doubt(self) -> bool:
        """Sent, and the terminal's receipt number for it is not known."""
        return self.receipt_no is None and self.outcome in ("sent", "lost")


@dataclass
class Attempt:
    key: str
    lane: str | None
    method: str
    device: str | None
    amount_fen: int
    auth_code: str | None
    state: str
    reason: str | None
    provider_ref: str | None
    detail: dict[str, Any]
    sale_id: str | None
    test: bool
    created_at: float
    updated_at: float

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def ask_cashier(self) -> str | None:
        """Why the gateway cannot tell what became of this payment: the cashier must say."""
        return self.detail.get("ask_cashier") if self.state == "unknown" else None

    @property
    def waits_for_a_person(self) -> bool:
        """Open, but the gateway will not retry it by itself: the cashier or the technician
        must say what happened (a retry could only repeat the same doubt, or the refusal)."""
        return self.state == "unknown" and bool(
            self.detail.get("ask_cashier")
            or self.detail.get("technician")
            or (self.reason or "").startswith("reversal refused")
        )

    def public(self) -> dict[str, Any]:
        return {
            "key": self.key, "lane": self.lane, "method": self.method, "device": self.device,
            "amount_fen": self.amount_fen, "auth_code": self.auth_code, "state": self.state,
            "final": self.final, "reason": self.reason, "provider_ref": self.provider_ref,
            "detail": self.detail, "sale_id": self.sale_id, "test": self.test,
            "ask_cashier": self.ask_cashier,
        }  # fmt: skip


def mask(auth_code: str) -> str:
    return auth_code[:4] + "*" * max(len(auth_code) - 8, 0) + auth_code[-4:]


class AttemptStore:
    def __init__(self, db: JournalDb) -> None:
        self.conn: sqlite3.Connection = db.conn
        self.conn.executescript(SCHEMA)

    def _commit(self) -> None:
        if self.conn.in_transaction and self.conn.isolation_level is not None:
            self.conn.commit()

    def _row(self, row: Any) -> Attempt | None:
        if row is None:
            return None
        (key, lane, method, device, amount, auth, state, reason, ref, detail, sale_id, test,
         created, updated) = row  # fmt: skip
        return Attempt(key, lane, method, device, amount, auth, state, reason, ref,
                       json.loads(detail), sale_id, bool(test), created, updated)  # fmt: skip

    def get(self, key: str) -> Attempt | None:
        return self._row(
            self.conn.execute("SELECT * FROM payment_attempts WHERE key=?", (key,)).fetchone()
        )

    def create(
        self,
        key: str,
        *,
        lane: str | None,
        method: str,
        device: str | None,
        amount_fen: int,
        auth_code: str | None = None,
        state: str = "started",
        detail: dict[str, Any] | None = None,
        test: bool = False,
    ) -> tuple[Attempt, bool]:
        """(attempt, created). The same key for the same payment returns the existing attempt;
        for a different one raises AttemptConflict."""
        now = time.time()
        masked = mask(auth_code) if auth_code else None
        try:
            self.conn.execute(
                "INSERT INTO payment_attempts (key, lane, method, device, amount_fen, auth_code,"
                " state, detail, test, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key, lane, method, device, amount_fen, masked, state,
                 json.dumps(detail or {}, ensure_ascii=False), int(test), now, now),
            )  # fmt: skip
            self.conn.execute(
                "INSERT INTO payment_events (key, state, reason, at) VALUES (?, ?, NULL, ?)",
                (key, state, now),
            )
            self._commit()
        except sqlite3.IntegrityError:
            if self.conn.in_transaction and self.conn.isolation_level is not None:
                self.conn.rollback()
            old = self.get(key)
            if old is None:
                raise
            if (old.lane, old.method, old.amount_fen) != (lane, method, amount_fen) or (
                masked and old.auth_code and old.auth_code != masked
            ):
                raise AttemptConflict(
                    f"key {key} is already a {old.method} payment of {old.amount_fen} fen "
                    f"on lane {old.lane}"
                ) from None
            return old, False
        got = self.get(key)
        assert got is not None
        return got, True

    def set_state(
        self,
        key: str,
        state: str,
        reason: str | None = None,
        *,
        provider_ref: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Attempt:
        now = time.time()
        sets, params = ["state=?", "reason=?", "updated_at=?"], [state, reason, now]
        if provider_ref is not None:
            sets.append("provider_ref=?")
            params.append(provider_ref)
        if detail is not None:
            sets.append("detail=json_patch(detail, ?)")
            params.append(json.dumps(detail, ensure_ascii=False))
        self.conn.execute(
            f"UPDATE payment_attempts SET {', '.join(sets)} WHERE key=?", (*params, key)
        )
        self.conn.execute(
            "INSERT INTO payment_events (key, state, reason, at) VALUES (?, ?, ?, ?)",
            (key, state, reason, now),
        )
        self._commit()
        got = self.get(key)
        assert got is not None
        return got

    def open(self) -> list[Attempt]:
        rows = self.conn.execute(
            f"SELECT * FROM payment_attempts WHERE state IN ({','.join('?' * len(OPEN))}) "
            "ORDER BY created_at",
            OPEN,
        ).fetchall()
        return [a for a in map(self._row, rows) if a]

    def unclaimed(self, older_than_s: float) -> list[Attempt]:
        """Approved card / QR payments no sale has taken up within older_than_s."""
        rows = self.conn.execute(
            "SELECT * FROM payment_attempts WHERE state='approved' AND sale_id IS NULL "
            "AND method != 'cash' AND test = 0 AND updated_at < ?",
            (time.time() - older_than_s,),
        ).fetchall()
        return [a for a in map(self._row, rows) if a]

    def on_lane(self, lane: str, state: str | None = None, limit: int = 50) -> list[Attempt]:
        sql, params = "SELECT * FROM payment_attempts WHERE lane=?", [lane]
        if state:
            sql, params = sql + " AND state=?", [lane, state]
        rows = self.conn.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*params, limit))
        return [a for a in map(self._row, rows.fetchall()) if a]

    def ref_taken(self, provider_ref: str, method: str, but: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM payment_attempts WHERE provider_ref=? AND method=? AND key != ?",
            (provider_ref, method, but),
        ).fetchone()
        return row is not None

    def history(self, key: str) -> list[tuple[str, str | None]]:
        rows = self.conn.execute(
            "SELECT state, reason FROM payment_events WHERE key=? ORDER BY id", (key,)
        ).fetchall()
        return [(s, r) for s, r in rows]

    def claim(self, key: str, sale_id: str, *, tender: str, amount_fen: int) -> Attempt:
        """Inside the sale's transaction: the sale takes this payment up, or ClaimRefused.
        The UPDATE itself is the check (approved, not yet taken); its rowcount decides, so two
        sales, or a sale and the sweep, can never both have it."""
        attempt = self.get(key)
        if attempt is None:
            raise ClaimRefused(f"payment {key} was not taken through this gateway")
        want = "cash" if tender == "cash" else "card" if tender == "card" else "qr"
        if attempt.method != want:
            raise ClaimRefused(f"payment {key} is a {attempt.method} payment, not {tender}")
        if attempt.method != "cash" and attempt.amount_fen != amount_fen:
            raise ClaimRefused(
                f"payment {key} took {attempt.amount_fen} fen, the sale books {amount_fen}"
            )
        if attempt.test:
            raise ClaimRefused(f"payment {key} is a terminal test payment")
        taken = self.conn.execute(
            "UPDATE payment_attempts SET sale_id=? "
            "WHERE key=? AND state='approved' AND sale_id IS NULL",
            (sale_id, key),
        ).rowcount
        if taken != 1:
            if attempt.sale_id and attempt.sale_id != sale_id:
                raise ClaimRefused(f"payment {key} already pays sale {attempt.sale_id}")
            if attempt.sale_id == sale_id:
                raise ClaimRefused(f"payment {key} is named twice in this sale")
            raise ClaimRefused(f"payment {key} is {attempt.state}, not approved"
                               + (f" ({attempt.reason})" if attempt.reason else ""))  # fmt: skip
        return attempt

    def take_for_reversal(self, key: str, reason: str) -> Attempt | None:
        """Claim an approved payment no sale has taken for giving it back: it moves to
        `reversing` in one UPDATE, so no sale can take it up any more. None when a sale (or
        another reversal) got it first."""
        now = time.time()
        taken = self.conn.execute(
            "UPDATE payment_attempts SET state='reversing', reason=?, updated_at=? "
            "WHERE key=? AND state='approved' AND sale_id IS NULL",
            (reason, now, key),
        ).rowcount
        if taken != 1:
            return None
        self.conn.execute(
            "INSERT INTO payment_events (key, state, reason, at) VALUES (?, 'reversing', ?, ?)",
            (key, reason, now),
        )
        self._commit()
        return self.get(key)

    # --- the card terminal's transactions ------------------------------------------------------
    def card_sent(
        self, device: str, key: str, kind: str, amount_fen: int, of_receipt: int | None = None
    ) -> int:
        """Record a request to the terminal before it goes out; its row id."""
        cur = self.conn.execute(
            "INSERT INTO card_transactions (device, key, kind, amount_fen, of_receipt, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (device, key, kind, amount_fen, of_receipt, time.time()),
        )
        self._commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def card_answered(
        self, row: int, outcome: str, receipt_no: int | None = None, trace: int | None = None
    ) -> None:
        self.conn.execute(
            "UPDATE card_transactions SET outcome=?, receipt_no=coalesce(?, receipt_no),"
            " trace=coalesce(?, trace), answered_at=? WHERE id=?",
            (outcome, receipt_no, trace, time.time(), row),
        )
        self._commit()

    def card_txns(self, device: str) -> list[CardTxn]:
        rows = self.conn.execute(
            "SELECT id, device, key, kind, amount_fen, of_receipt, outcome, receipt_no "
            "FROM card_transactions WHERE device=? ORDER BY id",
            (device,),
        ).fetchall()
        return [CardTxn(*r) for r in rows]
