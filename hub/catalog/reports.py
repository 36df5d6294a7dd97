"""Gateways report which snapshot versions they hold (`…/snapshots` topics); the hub records
them so `GET /api/stores/{id}/snapshots` shows what each store runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.catalog import service as catalog
from hub.db import Database
from protocols import topics

log = logging.getLogger(__name__)


class HeldReports:
    """Listens on the ingest worker's connection (call `attach` before the worker starts)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # One report at a time, in arrival order (the lock is FIFO): applied side by side in
        # threads, a gateway's older report could land after its newer one and stay.
        self._in_order = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()

    def attach(self, worker: Any) -> None:
        worker.subscribe(topics.SNAPSHOTS_HELD_ALL, self._held)

    def _held(self, topic: str, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._record(topic, payload))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _record(self, topic: str, payload: bytes) -> None:
        async with self._in_order:
            await asyncio.to_thread(self._record_held, topic, payload)

    def _record_held(self, topic: str, payload: bytes) -> None:
        try:
            t = topics.parse_gateway_topic(topic)
            with self.db.transaction() as s:
                catalog.record_held(s, t.store, t.gateway, payload)
        except (ValueError, TypeError, RecursionError) as err:
            log.warning("bad snapshot report on %s: %s", topic, err)
