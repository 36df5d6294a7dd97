"""Who the customer at the till is: a member identified by phone, member QR or card. Online the
hub answers (`member.lookup` over the RPC); with the hub unreachable the gateway answers from
its cache of the store's recent members, marked `online: false` (and `points_as_of`) so the
cashier sees it: points shown may be stale, redeeming points follows the store's offline
policy, registering a member needs the hub (docs/lanes.md, "Offline").

The cache holds two kinds of rows:
- `push`: the store's recent members the hub pushes (issue 12; protocols/members_push.py),
  retained on the store's `config/members` topic, applied in version order (a whole set when
  `since` is 0, else the changes after it); a removal (a member who left the set, or was
  erased) deletes the member whatever kind of row holds them;
- `lookup`: members this gateway looked up online itself (the newest `KEEP`).

Neither holds a phone or a card number in clear: only HMACs under the store's member key,
which the gateway fetches from the hub over its own RPC reply topic (`members.cache_key`) and
keeps in its SQLite; before it has one, its own random key (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from edge.rpc import HubCallError, HubCalls
from protocols import members_push, topics

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS member_cache (
        member_id TEXT PRIMARY KEY,
        phone_mac TEXT,
        card_mac TEXT,
        summary TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('push', 'lookup')),
        seen_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS member_cache_phone ON member_cache (phone_mac)",
    "CREATE INDEX IF NOT EXISTS member_cache_card ON member_cache (card_mac)",
    "CREATE TABLE IF NOT EXISTS member_cache_key (k INTEGER PRIMARY KEY CHECK (k = 1), key TEXT)",
    """CREATE TABLE IF NOT EXISTS member_push_state (
        k INTEGER PRIMARY KEY CHECK (k = 1),
        version INTEGER NOT NULL DEFAULT 0,
        key_id TEXT,
        store_key TEXT
    )""",
]
KEEP = 1000  # members looked up online, kept beside the pushed ones
QR_PREFIX = "M:"  # the member QR in the app: "M:<member id>"
# what a cached member shows the lane: the push entry's fields but the hashes
SHOWN = ("member_id", "name", "tier", "tier_name", "discount_pct", "points", "points_available",
         "points_as_of", "card_valid")  # fmt: skip


class MemberNotFound(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class MemberDesk:
    def __init__(
        self, conn: sqlite3.Connection, hub: HubCalls | None, store: str | None = None
    ) -> None:
        self.conn, self.hub, self.store = conn, hub, store
        cols = {r[1] for r in conn.execute("PRAGMA table_info(member_cache)")}
        if cols and "source" not in cols:  # the look-ups-only cache held card numbers in clear
            conn.execute("DROP TABLE member_cache")
        for sql in SCHEMA:
            conn.execute(sql)
        conn.execute(
            "INSERT OR IGNORE INTO member_cache_key (k, key) VALUES (1, ?)",
            (secrets.token_hex(32),),
        )
        conn.execute("INSERT OR IGNORE INTO member_push_state (k) VALUES (1)")
        own = bytes.fromhex(conn.execute("SELECT key FROM member_cache_key").fetchone()[0])
        version, key_id, store_key = conn.execute(
            "SELECT version, key_id, store_key FROM member_push_state"
        ).fetchone()
        self.version: int = version
        self.key_id: str | None = key_id
        self._key = bytes.fromhex(store_key) if store_key else own
        self.refused = 0
        self.on_change: Callable[[], None] | None = None  # the gateway reports versions held
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        up = hub.uplink if hub is not None else None
        if up is not None and store is not None:
            # before the snapshots' config/+ : the first matching route takes a message
            up.subscribe(topics.config(store, members_push.KIND), self.on_message)

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

    def held(self) -> dict[str, int]:
        """The push version held, for the gateway's report to the hub (none before the first)."""
        return {members_push.KIND: self.version} if self.version else {}

    def status(self) -> dict[str, Any]:
        """For GET /api/snapshots: the push version, rows by kind, the key's id, refusals."""
        rows = self.conn.execute("SELECT source, COUNT(*) FROM member_cache GROUP BY source")
        return {
            "version": self.version,
            "rows": {"push": 0, "lookup": 0, **dict(rows.fetchall())},
            "key_id": self.key_id,
            "refused": self.refused,
        }

    # --- the hub's push ----------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message: keep what we hold
        task = asyncio.get_running_loop().create_task(self.receive(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, payload: bytes) -> bool:
        """Check and apply a push; True when its changes are now held."""
        assert self.store is not None
        try:
            push = members_push.parse(payload, self.store)
        except members_push.PushError as err:
            self.refused += 1
            log.error("members push refused: %s", err)
            return False
        async with self._lock:
            if push.key_id != self.key_id:  # (also retried when a held version comes again)
                await self._fetch_key(push.key_id)
            if push.version <= self.version:
                self._changed()  # (re)connected: tell the hub what we hold
                return False
            if push.since > self.version:
                # the hub's next push starts at what we report holding
                log.warning(
                    "members push v%s starts after v%s, we hold v%s: asking for the rest",
                    push.version, push.since, self.version,
                )  # fmt: skip
                self._changed()
                return False
            self._apply(push)
        log.info(
            "members push v%s in use (%s in, %s out)",
            push.version, len(push.upserts), len(push.removes),
        )  # fmt: skip
        self._changed()
        return True

    async def _fetch_key(self, want: str) -> None:
        if self.hub is None:
            return
        try:
            got = await self.hub.call("members.cache_key", {})
            key, key_id = bytes.fromhex(got["key"]), str(got["key_id"])
        except (HubCallError, KeyError, ValueError, TypeError) as err:
            # card and QR still work from the push; phones wait for the key
            log.error("the store's member key could not be fetched: %s", err)
            return
        if key_id != want:
            log.error("the hub's member key %s is not the push's %s", key_id, want)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            # look-ups hashed under the old key would never match again
            self.conn.execute("DELETE FROM member_cache WHERE source = 'lookup'")
            self.conn.execute(
                "UPDATE member_push_state SET key_id = ?, store_key = ?", (key_id, key.hex())
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._key, self.key_id = key, key_id

    def _apply(self, push: members_push.Push) -> None:
        now = datetime.now(UTC).isoformat()
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if push.since == 0:  # the whole set: pushed members it does not list are gone
                c.execute("DELETE FROM member_cache WHERE source = 'push'")
            c.executemany(
                "INSERT OR REPLACE INTO member_cache "
                "(member_id, phone_mac, card_mac, summary, source, seen_at) "
                "VALUES (?, ?, ?, ?, 'push', ?)",
                [
                    (
                        e.member_id,
                        e.phone_mac,
                        e.card_mac,
                        json.dumps(
                            {k: msgspec.to_builtins(getattr(e, k)) for k in SHOWN},
                            ensure_ascii=False,
                        ),
                        now,
                    )
                    for e in push.upserts
                ],
            )
            c.executemany(
                "DELETE FROM member_cache WHERE member_id = ?", [(m,) for m in push.removes]
            )
            c.execute("UPDATE member_push_state SET version = ?", (push.version,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self.version = push.version

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # --- look-ups ------------------------------------------------------------------------------
    def _remember(self, found: dict[str, Any], phone: str | None) -> None:
        now = datetime.now(UTC).isoformat()
        shown = {
            **{k: found.get(k) for k in SHOWN},
            "name": members_push.mask_name(found.get("name")),
            "points_as_of": now,
        }
        card = found.get("card_no")
        self.conn.execute(
            "INSERT INTO member_cache (member_id, phone_mac, card_mac, summary, source, seen_at) "
            "VALUES (?, ?, ?, ?, 'lookup', ?) ON CONFLICT (member_id) DO UPDATE SET "
            "phone_mac = COALESCE(excluded.phone_mac, phone_mac), card_mac = excluded.card_mac, "
            "summary = excluded.summary, seen_at = excluded.seen_at",
            (
                found["member_id"],
                members_push.phone_mac(self._key, phone) if phone else None,
                members_push.card_mac(self._key, card) if card else None,
                json.dumps(shown, ensure_ascii=False),
                now,
            ),
        )
        self.conn.execute(
            "DELETE FROM member_cache WHERE source = 'lookup' AND member_id NOT IN "
            "(SELECT member_id FROM member_cache WHERE source = 'lookup' "
            "ORDER BY seen_at DESC LIMIT ?)",
            (KEEP,),
        )

    def _cached(self, q: dict[str, str]) -> dict[str, Any] | None:
        if "phone" in q:
            where, arg = "phone_mac = ?", members_push.phone_mac(self._key, q["phone"])
        elif "card_no" in q:
            where, arg = "card_mac = ?", members_push.card_mac(self._key, q["card_no"])
        else:
            where, arg = "member_id = ?", q["member_id"]
        row = self.conn.execute(
            f"SELECT summary FROM member_cache WHERE {where} ORDER BY seen_at DESC", (arg,)
        ).fetchone()
        return json.loads(row[0]) if row else None
