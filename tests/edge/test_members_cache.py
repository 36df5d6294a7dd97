"""The gateway's side of the members push (edge/members_cache.py) on a real SQLite file: pushes
apply in version order (an increment from what is held, a whole set replacing the pushed rows),
one past a gap waits, a removal deletes a member looked up online too, a push for another
store or beyond the contract's size is refused with a log line and nothing changes; the
version held survives a restart; look-ups by phone and card match the hub's hashes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.members_cache import MemberDesk
from protocols import members_push

KEY = bytes(range(32))
KEY_ID = "k1"


def entry(mid: str, phone: str | None = None, card: str | None = None, points: int = 0) -> dict:
    return {
        "member_id": mid,
        "name": "周*",
        "tier": "silver",
        "points": points,
        "points_available": points,
        "points_as_of": datetime.now(UTC).isoformat(),
        "phone_mac": members_push.phone_mac(KEY, phone) if phone else None,
        "card_mac": members_push.card_mac(KEY, card) if card else None,
    }


def push(
    since: int, version: int, up: list[dict] | None = None, rm: list[str] | None = None,
    store: str = "s1",
) -> bytes:  # fmt: skip
    return json.dumps(
        {
            "store": store,
            "since": since,
            "version": version,
            "key_id": KEY_ID,
            "created_at": datetime.now(UTC).isoformat(),
            "upserts": up or [],
            "removes": rm or [],
        }
    ).encode()


def desk(path: Path) -> MemberDesk:
    conn = sqlite3.connect(path, isolation_level=None)
    MemberDesk(conn, None, "s1")  # its tables
    # the key as the hub's `members.cache_key` answer would have left it
    conn.execute("UPDATE member_push_state SET key_id = ?, store_key = ?", (KEY_ID, KEY.hex()))
    return MemberDesk(conn, None, "s1")


def offline(d: MemberDesk, **q: str) -> dict[str, Any] | None:
    try:
        return asyncio.run(d.identify(q))
    except Exception:
        return None


def test_pushes_apply_in_order_and_removals_reach_lookups(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = desk(tmp_path / "j.db")
    recv = lambda payload: asyncio.run(d.receive(payload))  # noqa: E731
    card = "8800000000000017"
    assert recv(push(0, 1, [entry("m1", "13812345678", card), entry("m2", "13900001111")]))
    assert d.status()["rows"] == {"push": 2, "lookup": 0} and d.held() == {"members": 1}
    found = offline(d, phone="138-1234-5678")
    assert found and found["member_id"] == "m1" and found["online"] is False
    assert "phone_mac" not in found and "card_mac" not in found
    assert offline(d, card_no="8800 0000 0000 0017")["member_id"] == "m1"  # type: ignore[index]
    assert offline(d, qr="M:m2")["member_id"] == "m2"  # type: ignore[index]

    # a member looked up online (remembered as a look-up), later erased at the hub
    d._remember({"member_id": "m9", "name": "王五", "card_no": "8800000000000025"}, "13700000000")
    assert offline(d, phone="13700000000")["name"] == "王*"  # type: ignore[index]
    # an increment from v1: m1's points, m2 left, m9 erased
    assert recv(push(1, 2, [entry("m1", "13812345678", card, points=50)], ["m2", "m9"]))
    assert offline(d, qr="M:m1")["points"] == 50  # type: ignore[index]
    assert offline(d, qr="M:m2") is None and offline(d, phone="13700000000") is None

    # older, equal, or past a gap: nothing changes
    assert not recv(push(0, 2, [entry("m7")]))
    assert not recv(push(3, 4, [entry("m7")]))
    assert "starts after v3" in caplog.text and offline(d, qr="M:m7") is None
    # refused: another store's, or beyond the contract's bound
    assert not recv(push(2, 3, [entry("m7")], store="s2"))
    big = [entry(f"m{i}") for i in range(members_push.MAX_ENTRIES + 1)]
    assert not recv(push(2, 3, big))
    assert not recv(b"not json")
    assert d.status()["refused"] == 3 and d.version == 2

    # a whole set (since 0) replaces the pushed rows; the version survives a restart
    assert recv(push(0, 5, [entry("m3")]))
    again = desk(tmp_path / "j.db")
    assert again.version == 5 and again.status()["rows"]["push"] == 1
    assert offline(again, qr="M:m1") is None and offline(again, qr="M:m3")
