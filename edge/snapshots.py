"""The hub's configuration snapshots as this store holds them: catalog, prices, promotions,
tiers. Each arrives retained on `storegw/v1/{store}/config/{kind}` through the uplink's one
connection; it is validated completely, written to `<data dir>/snapshots/{kind}.json` by temp
file + fsync + rename, and only then swapped in — one reference assignment, so a reader sees
the old snapshot or the new one, never a mix. Older or equal versions are ignored. At start
the files on disk are loaded, so the store sells with its last prices while the hub is away.
The versions held are reported back (retained) for the hub's overview, with the members push's
(`members`: edge/members_cache.py takes that topic itself, this reports and shows it)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.uplink import Uplink
from protocols import members_push, pricing, snapshots, topics

log = logging.getLogger(__name__)


class Snapshots:
    def __init__(self, data_dir: Path, store: str, uplink: Uplink | None) -> None:
        self.dir = data_dir / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.uplink = uplink
        self.held: dict[str, snapshots.Snapshot] = {}
        self.received_at: dict[str, str] = {}
        self.refused = 0
        self._locks = {kind: asyncio.Lock() for kind in snapshots.KINDS}
        self._tasks: set[asyncio.Task[None]] = set()
        self._promotions: tuple[int | None, list[pricing.Promotion]] = (None, [])
        self._names: tuple[int | None, dict[str, str]] = (None, {})
        self.members: Any = None  # the members push's holder (edge/members_cache.MemberDesk)
        self.load()
        if uplink is not None:
            uplink.subscribe(f"{topics.ROOT}/{store}/config/+", self.on_message)

    def load(self) -> None:
        for kind in snapshots.KINDS:
            path = self.dir / f"{kind}.json"
            if not path.exists():
                continue
            try:
                self.held[kind] = snapshots.parse(path.read_bytes(), self.store, kind)
                self.received_at[kind] = "from disk"
            except (OSError, snapshots.SnapshotError) as err:
                log.error("snapshot file %s unusable, waiting for the hub's: %s", path, err)

    def get(self, kind: str) -> dict[str, Any] | None:
        snap = self.held.get(kind)
        return snap.data if snap else None

    def item_names(self) -> dict[str, str]:
        """SKU → the item's name in the catalog held (every item, priced here or not: the
        stock page names what is on the shelf). Built once per catalog version."""
        snap = self.held.get("catalog")
        if snap is None:
            return {}
        if self._names[0] != snap.version:
            self._names = (snap.version, {it["sku"]: it["name"] for it in snap.data["items"]})
        return self._names[1]

    def promotions(self) -> tuple[int | None, list[pricing.Promotion]]:
        """The pricing engine's promotions from the snapshot held, and its version (a sale
        names it, so the hub recomputes the sale with the same rules). Decoded once per
        version."""
        snap = self.held.get("promotions")
        if snap is None:
            return None, []
        if self._promotions[0] != snap.version:
            self._promotions = (snap.version, pricing.promotions_from_snapshot(snap.data))
        return self._promotions

    def versions(self) -> dict[str, int]:
        return {k: s.version for k, s in self.held.items()}

    def on_message(self, topic: str, payload: bytes) -> None:
        kind = topic.rsplit("/", 1)[-1]
        if not payload or kind == members_push.KIND:
            return  # a cleared retained message: keep what we hold; members: not a snapshot
        task = asyncio.get_running_loop().create_task(self.receive(kind, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, kind: str, payload: bytes) -> bool:
        """Validate, persist, swap. True when the snapshot is now the one held."""
        try:
            snap = snapshots.parse(payload, self.store, kind)
        except snapshots.SnapshotError as err:
            self.refused += 1
            log.error("snapshot on %s refused: %s", kind, err)
            return False
        async with self._locks[kind]:
            have = self.held.get(kind)
            if have is not None and snap.version <= have.version:
                if snap.version < have.version:
                    log.info(
                        "older %s snapshot v%s ignored (hold v%s)", kind, snap.version, have.version
                    )
                self._report()  # (re)connected: tell the hub what we hold
                return False
            await asyncio.to_thread(self._persist, kind, payload)
            self.held[kind] = snap  # the swap: one assignment
            self.received_at[kind] = datetime.now(UTC).isoformat()
        log.info("%s snapshot v%s in use", kind, snap.version)
        self._report()
        return True

    def report(self) -> None:
        """Tell the hub what this store holds now (another part's version changed)."""
        self._report()

    def _persist(self, kind: str, payload: bytes) -> None:
        path = self.dir / f"{kind}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself survives a power cut
        finally:
            os.close(fd)

    def _report(self) -> None:
        if self.uplink is None or self.uplink.link is None:
            return
        extra = self.members.held() if self.members is not None else {}
        self.uplink.publish(
            topics.snapshots_held(self.store, self.uplink.gateway),
            json.dumps({**self.versions(), **extra}).encode(),
            qos=1,
            retain=True,
        )

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/snapshots", self.get_snapshots)]

    async def get_snapshots(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "store": self.store,
                "refused": self.refused,
                "snapshots": {
                    kind: {
                        "version": s.version,
                        "sha256": s.sha256,
                        "created_at": s.created_at.isoformat(),
                        "received_at": self.received_at.get(kind),
                    }
                    for kind, s in sorted(self.held.items())
                },
                **({"members": self.members.status()} if self.members is not None else {}),
            }
        )
