"""The MQTT side of ingest: subscribe (shared, so more hub workers can join), hand batches of
messages to the Ingest service one transaction at a time, publish each gateway's ack only
after COMMIT, and announce the hub's own status (retained; the will says offline) so the
gateways resend whatever the hub may have missed while it was away."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from sqlalchemy import update

from edge.mqtt_link import Handler, MqttLink, Route, route
from hub.db import Database, utcnow
from hub.ingest.service import Ingest
from hub.stores.models import Gateway
from protocols import topics
from protocols.envelope import iso

log = logging.getLogger(__name__)

HUB_STATUS = f"{topics.ROOT}/hub/status"
STATUS_ALL = f"{topics.ROOT}/+/+/status"


class IngestWorker:
    def __init__(
        self,
        db: Database,
        mqtt_url: str,
        *,
        shared: bool = True,
        max_messages_per_pass: int = 64,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.ingest = Ingest(db)
        self.url = mqtt_url
        self.shared = shared
        self.max_messages = max_messages_per_pass
        self.worker_id = worker_id or f"hub-ingest-{os.environ.get('STOREGW_HUB_WORKER', '1')}"
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.link: MqttLink | None = None
        self._task: asyncio.Task[None] | None = None
        # other hub contexts (RPC from the lanes, snapshot publishing) share the connection
        self.routes: list[Route] = []
        self.passes = 0
        self.applied = 0

    def _status(self, state: str) -> bytes:
        return json.dumps({"state": state, "at": iso(utcnow())}).encode()

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Route messages matching `topic_filter` to `handler` (on the event loop; do blocking
        work with asyncio.to_thread). Call before start()."""
        self.routes.append((topic_filter, handler))

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        assert self.link, "ingest worker not started"
        self.link.publish(topic, payload, qos=qos, retain=retain)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.link = MqttLink(
            self.url,
            self.worker_id,
            loop,
            subscriptions=[(STATUS_ALL, 1)] + [(f, 1) for f, _ in self.routes],
            on_message=self._message,
            on_up=self._up,
            will=(HUB_STATUS, self._status("offline")),
            max_inflight=64,
        )
        # shared subscriptions are MQTT 5; a 3.1.1 broker gets the plain one (a single worker)
        shared = self.shared and self.link.address.mqtt5
        events = topics.EVENTS_SHARED if shared else topics.EVENTS_ALL
        self.link.subscriptions.insert(0, (events, 1))
        self.link.start()
        self._task = asyncio.create_task(self._run(), name="ingest")

    def _up(self, _session_present: bool) -> None:
        assert self.link
        self.link.publish(HUB_STATUS, self._status("online"), retain=True)

    def _message(self, topic: str, payload: bytes) -> None:
        if route(self.routes, topic, payload):
            return
        self.queue.put_nowait((topic, payload))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.link:
            await asyncio.to_thread(self.link.stop, (HUB_STATUS, self._status("offline")))

    def _gateway_status(self, topic: str, payload: bytes) -> None:
        try:
            t = topics.parse_gateway_topic(topic)
            state = json.loads(payload).get("state")
        except (ValueError, AttributeError) as err:
            log.warning("unreadable status on %s: %s", topic, err)
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

    async def _run(self) -> None:
        # two stages: the next messages are decoded while the database commits the last ones
        decoded: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        applier = asyncio.create_task(self._apply_loop(decoded))
        try:
            while True:
                msgs = [await self.queue.get()]
                while len(msgs) < self.max_messages and not self.queue.empty():
                    msgs.append(self.queue.get_nowait())
                events = [m for m in msgs if m[0].endswith("/events")]
                for topic, payload in msgs:
                    if topic.endswith("/status"):
                        await asyncio.to_thread(self._gateway_status, topic, payload)
                if events:
                    await decoded.put(await asyncio.to_thread(self.ingest.decode, events))
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
            except Exception:  # database down: keep the batch, retry; nothing is acked
                log.exception("applying a pass failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        self.passes += 1
        self.applied += result.applied
        assert self.link
        for (store, gateway), upto in result.acks.items():
            self.link.publish(topics.acks(store, gateway), json.dumps({"upto": upto}).encode())

    def stats(self) -> dict[str, Any]:
        return {
            "connected": bool(self.link and self.link.connected),
            "queued_messages": self.queue.qsize(),
            "passes": self.passes,
            "applied": self.applied,
            "buffered": {f"{k[0]}/{k[1]}": len(v) for k, v in self.ingest.buffered.items() if v},
        }
