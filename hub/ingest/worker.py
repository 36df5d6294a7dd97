"""The MQTT side of ingest: subscribe (shared, so more hub workers can join), hand batches of
messages to the Ingest service one transaction at a time, publish each gateway's ack only
after COMMIT, and announce the hub's own status (retained; the will says offline) so the
gateways resend whatever the hub may have missed while it was away.

The worker's tasks are supervised (a task that dies is logged and restarted) and watched: no
finished pass for `stall_after_s` while messages wait is a stall, which /health and
/api/ingest/status report."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from sqlalchemy import update

from hub.db import Database, utcnow
from hub.ingest.handlers import Handlers
from hub.ingest.service import Ingest, is_transient
from hub.stores.models import Gateway
from protocols import bounds, topics
from transport.channel import Channel

log = logging.getLogger(__name__)


class IngestWorker(Channel):
    def __init__(
        self,
        db: Database,
        mqtt_url: str,
        handlers: Handlers,
        *,
        shared: bool = True,
        share_group: str = "hub",
        max_messages_per_pass: int = 64,
        worker_id: str | None = None,
        stall_after_s: float | None = None,
    ) -> None:
        self.db = db
        self.ingest = Ingest(db, handlers)
        self.shared = shared
        self.share_group = share_group  # secret in production (hub/app.py): who knows it joins
        self.max_messages = max_messages_per_pass
        self.worker_id = worker_id or f"hub-ingest-{os.environ.get('STOREGW_HUB_WORKER', '1')}"
        # other hub contexts (RPC from the lanes, snapshot publishing) share the connection
        super().__init__(mqtt_url, self.worker_id, topics.HUB_STATUS)
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.passes = 0
        self.applied = 0
        self.rejected = 0
        self.conflicts = 0
        self.restarts = 0
        self.stall_after_s = stall_after_s or float(os.environ.get("STOREGW_INGEST_STALL_S", 60))
        self.progress_at = time.monotonic()  # the last finished pass, or when work arrived idle
        self.working = 0  # batches taken off the queue and not yet committed
        self.last_error: str | None = None

    async def start(self) -> None:
        link = self.connect(
            [(topics.STATUS_ALL, 1)], on_message=self._message, on_up=self._up, max_inflight=64
        )
        # shared subscriptions are MQTT 5; a 3.1.1 broker gets the plain one (a single worker)
        shared = self.shared and link.address.mqtt5
        events = topics.events_shared(self.share_group) if shared else topics.EVENTS_ALL
        link.subscriptions.insert(0, (events, 1))
        link.start()
        self._task = asyncio.create_task(self._supervise(), name="ingest")

    def _up(self, _session_present: bool) -> None:
        self.announce_online()

    def _message(self, topic: str, payload: bytes) -> None:
        if self.dispatch(topic, payload):
            return
        if self.queue.empty() and not self.working:
            self.progress_at = time.monotonic()  # idle until now: the clock starts here
        self.queue.put_nowait((topic, payload))

    def _gateway_status(self, topic: str, payload: bytes) -> None:
        try:
            t = topics.parse_gateway_topic(topic)
            if bounds.depth(payload) > bounds.MAX_DEPTH:
                raise ValueError("nested too deep")
            state = json.loads(payload).get("state")
        except (ValueError, AttributeError, RecursionError) as err:
            log.warning("unreadable status on %s: %s", topic, str(err)[:200])
            return
        if state not in ("online", "offline"):
            return
        with self.db.transaction() as s:
            self.ingest.ensure_gateway(s, (t.store, t.gateway))
            s.execute(
                update(Gateway)
                .where(Gateway.store_id == t.store, Gateway.id == t.gateway)
                .values(status=state, status_at=utcnow())
            )

    async def _supervise(self) -> None:
        """Run the ingest loop; if it dies, log why and start it again (the messages it held
        are not acked, so the gateways' resend brings them back)."""
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # whatever it was, ingest must go on
                self.restarts += 1
                self.last_error = f"{type(err).__name__}: {err}"[:500]
                self.working = 0
                log.critical("ingest worker died; restarting it", exc_info=True)
                await asyncio.sleep(min(0.5 * self.restarts, 5))

    async def _run(self) -> None:
        # two stages: the next messages are decoded while the database commits the last ones
        decoded: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        applier = asyncio.create_task(self._apply_loop(decoded))
        try:
            while True:
                if applier.done():  # the applier died: end this run, the supervisor restarts
                    applier.result()
                msgs = [await self.queue.get()]
                while len(msgs) < self.max_messages and not self.queue.empty():
                    msgs.append(self.queue.get_nowait())
                events = [m for m in msgs if m[0].endswith("/events")]
                for topic, payload in msgs:
                    if topic.endswith("/status"):
                        await asyncio.to_thread(self._gateway_status, topic, payload)
                if events:
                    self.working += 1
                    work = await asyncio.to_thread(self.ingest.decode, events)
                    put = asyncio.create_task(decoded.put(work))
                    await asyncio.wait([put, applier], return_when=asyncio.FIRST_COMPLETED)
                    if not put.done():
                        put.cancel()
                        applier.result()  # raises what killed it
                else:
                    self.progress_at = time.monotonic()
        finally:
            applier.cancel()

    async def _apply_loop(self, decoded: asyncio.Queue[Any]) -> None:
        while True:
            await self._apply(await decoded.get())

    async def _apply(self, work: Any) -> None:
        delay = 0.5
        while True:
            try:
                result = await asyncio.to_thread(self.ingest.apply_decoded, *work)
                break
            except Exception as err:
                if not is_transient(err):
                    # apply_decoded isolates bad events itself; what still escapes is a bug:
                    # log it and move on (nothing was acked; the gateways resend)
                    self.working -= 1
                    self.last_error = f"{type(err).__name__}: {err}"[:500]
                    log.exception("an ingest pass failed and was dropped")
                    return
                # database down: keep the batch, retry; nothing is acked meanwhile
                self.last_error = f"{type(err).__name__}: {err}"[:500]
                log.error("applying a pass failed (%s); retrying in %.1f s", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        self.working -= 1
        self.progress_at = time.monotonic()
        self.passes += 1
        self.applied += result.applied
        self.rejected += result.rejected
        self.conflicts += result.conflicts
        assert self.link
        for (store, gateway), upto in result.acks.items():
            self.link.publish(topics.acks(store, gateway), json.dumps({"upto": upto}).encode())

    def health(self) -> tuple[bool, str]:
        """(healthy, state): 'idle', 'working', 'stalled …' or 'dead …'."""
        if self._task is None or self._task.done():
            why = "not started" if self._task is None else "its task ended"
            return False, f"dead: {why}"
        waiting = self.queue.qsize() + self.working
        if not waiting:
            return True, "idle"
        quiet = time.monotonic() - self.progress_at
        if quiet > self.stall_after_s:
            return False, (
                f"stalled: no pass finished for {quiet:.0f} s while {waiting} batches wait"
                + (f" (last error: {self.last_error})" if self.last_error else "")
            )
        return True, "working"

    def stats(self) -> dict[str, Any]:
        healthy, state = self.health()
        return {
            "healthy": healthy,
            "state": state,
            "connected": bool(self.link and self.link.connected),
            "queued_messages": self.queue.qsize(),
            "passes": self.passes,
            "applied": self.applied,
            "rejected": self.rejected,
            "conflicts": self.conflicts,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "seconds_since_progress": round(time.monotonic() - self.progress_at, 1),
            "buffered": {f"{k[0]}/{k[1]}": len(v) for k, v in self.ingest.buffered.items() if v},
        }
