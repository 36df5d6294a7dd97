"""The gateway holds the promotions snapshot typed: the lane's engine gets them with their
version; a snapshot carrying a rule the engine cannot evaluate is refused whole."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from edge.snapshots import Snapshots
from protocols import snapshots

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def snap(version: int, rule: dict, kind: str = "spend_save") -> bytes:
    data = {
        "promotions": [{"id": 7, "name": "满100减20", "kind": kind, "rule": rule, "group": "a"}]
    }
    return snapshots.encode(snapshots.build("s1", "promotions", version, data, NOW))


def test_the_engine_gets_the_held_promotions_and_their_version(tmp_path: Path):
    async def go() -> None:
        held = Snapshots(tmp_path, "s1", None)
        assert held.promotions() == (None, [])
        assert await held.receive("promotions", snap(1, {"threshold_fen": 10000, "save_fen": 2000}))
        version, promos = held.promotions()
        assert version == 1 and [(p.id, p.kind, p.group) for p in promos] == [
            (7, "spend_save", "a")
        ]
        assert promos[0].rule.save_fen == 2000
        assert held.promotions()[1] is promos  # decoded once per version
        # a hub that sent a rule the engine cannot evaluate (forged, or an older hub): refused
        doc = json.loads(snap(2, {"threshold_fen": 10000, "save_fen": 2000}))
        doc["data"]["promotions"][0]["rule"]["save_fen"] = 20000
        doc["sha256"] = snapshots.digest(doc["data"])
        assert not await held.receive("promotions", json.dumps(doc).encode())
        assert held.refused == 1 and held.promotions()[0] == 1

    asyncio.run(go())
