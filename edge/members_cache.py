"""Who the customer at the till is: a member identified by phone, member QR or card. Online the
hub answers (`member.lookup` over the RPC) and the answer is kept in the gateway's SQLite; with
the hub unreachable the gateway answers from those recent members, marked `online: false` so
the cashier sees it (points shown may be stale; redeeming points needs the hub).

The cache never holds a phone number: only an HMAC of its digits under a key of this gateway
(a copied database file does not list the store's customers' phones)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from edge.rpc import HubCallError, HubCalls

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS member_cache (
        member_id TEXT PRIMARY KEY,
        phone_mac TEXT,
        card_no TEXT,
        summary TEXT NOT NULL,
        seen_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS member_cache_phone ON member_cache (phone_mac)",
    "CREATE INDEX IF NOT EXISTS member_cache_card ON member_cache (card_no)",
    "CREATE TABLE IF NOT EXISTS member_cache_key (k INTEGER PRIMARY KEY CHECK (k = 1), key TEXT)",
]
KEEP = 5000  # recent members kept for offline look-ups
QR_PREFIX = "M:"  # the member QR in the app: "M:<member id>"


class MemberNotFound(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class MemberDesk:
    def __init__(self, conn: sqlite3.Connection, hub: HubCalls | None) -> None:
        self.conn, self.hub = conn, hub
        for sql in SCHEMA:
            conn.execute(sql)
        conn.execute(
            "INSERT OR IGNORE INTO member_cache_key (k, key) VALUES (1, ?)",
            (secrets.token_hex(32),),
        )
        self._key = bytes.fromhex(conn.execute("SELECT key FROM member_cache_key").fetchone()[0])

    def _mac(self, phone: str) -> str:
        digits = re.sub(r"\D", "", phone)[-11:]
        return hmac.new(self._key, digits.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def query(raw: dict[str, str]) -> dict[str, str]:
        """phone | card_no | qr (the member QR) → the hub's look-up parameters."""
        if raw.get("qr"):
            qr = raw["qr"].strip()
            return {"member_id": qr.removeprefix(QR_PREFIX)}
        for k in ("phone", "card_no", "member_id"):
            if raw.get(k):
                return {k: str(raw[k]).strip()}
        raise MemberNotFound(400, "give a phone, a card number or the member's QR code")

    def online(self) -> bool:
        """The hub can answer now: connected, and its retained status says online."""
        up = self.hub.uplink if self.hub is not None else None
        return up is not None and up.connected and up.hub_online is True

    async def identify(self, raw: dict[str, str]) -> dict[str, Any]:
        q = self.query(raw)
        if self.online():
            try:
                found = await self.hub.call("member.lookup", q)  # type: ignore[union-attr]
            except HubCallError as err:
                if err.status not in (503, 504):
                    raise MemberNotFound(err.status, err.reason) from None
                log.info("member look-up offline (%s): the gateway's cache answers", err.reason)
            else:
                self._remember(found, q.get("phone"))
                return {**found, "online": True}
        cached = self._cached(q)
        if cached is None:
            raise MemberNotFound(
                503, "the hub is unreachable and this member is not among the store's recent ones"
            )
        return {**cached, "online": False}

    def _remember(self, found: dict[str, Any], phone: str | None) -> None:
        now = datetime.now(UTC).isoformat()
        self.conn.execute(
            "INSERT INTO member_cache (member_id, phone_mac, card_no, summary, seen_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET "
            "phone_mac = COALESCE(excluded.phone_mac, phone_mac), card_no = excluded.card_no, "
            "summary = excluded.summary, seen_at = excluded.seen_at",
            (
                found["member_id"],
                self._mac(phone) if phone else None,
                found.get("card_no"),
                json.dumps(found, ensure_ascii=False),
                now,
            ),
        )
        self.conn.execute(
            "DELETE FROM member_cache WHERE member_id NOT IN "
            "(SELECT member_id FROM member_cache ORDER BY seen_at DESC LIMIT ?)",
            (KEEP,),
        )

    def _cached(self, q: dict[str, str]) -> dict[str, Any] | None:
        if "phone" in q:
            where, arg = "phone_mac = ?", self._mac(q["phone"])
        elif "card_no" in q:
            where, arg = "card_no = ?", q["card_no"]
        else:
            where, arg = "member_id = ?", q["member_id"]
        row = self.conn.execute(
            f"SELECT summary FROM member_cache WHERE {where} ORDER BY seen_at DESC", (arg,)
        ).fetchone()
        return json.loads(row[0]) if row else None
