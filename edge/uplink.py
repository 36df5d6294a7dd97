"""Streams the journal to the hub: batches of envelopes on the gateway's events topic (QoS 1),
a bounded window of unacknowledged batches, and the hub's application ack — the highest
contiguous seq it has committed — as the only thing that marks journal rows delivered.

A broker PUBACK proves nothing about the hub's database, so it is ignored. Lost batches are
recovered by rewinding to the last acked seq: when the broker session was lost, when the hub
announces it is (back) online, and when no ack came within an ack timeout that backs off while
the hub stays silent. Replays are harmless: the hub applies each event id once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

from edge.journal import Journal
from protocols import topics
from protocols.envelope import encode_batch
from transport.channel import Channel

log = logging.getLogger(__name__)


class Uplink(Channel):
    def __init__(
        self,
        journal: Journal,
        mqtt_url: str,
        *,
        batch_events: int = 500,
        batch_bytes: int = 512 * 1024,
        window: int = 16,
        ack_timeout_s: float = 10.0,
        ack_timeout_max_s: float = 300.0,
    ) -> None:
        self.journal = journal
        self.store, self.gateway = journal.store, journal.gateway
        # other edge services (snapshots, RPC replies) listen on the same single connection
        super().__init__(
            mqtt_url, f"gw-{self.store}-{self.gateway}", topics.status(self.store, self.gateway)
        )
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.ack_timeout_max_s = ack_timeout_max_s
        self._timeout = ack_timeout_s
        self.sent_upto = journal.last_acked
        self.inflight: deque[tuple[int, float]] = deque()  # (last seq of batch, sent at)
        self.connected = False
        self.hub_online: bool | None = None
        self.batches_sent = 0
        self.rewinds = 0
        self._wake = asyncio.Event()
        self.events_topic = topics.events(self.store, self.gateway)
        self.acks_topic = topics.acks(self.store, self.gateway)

    async def start(self) -> None:
        link = self.connect(
            [(self.acks_topic, 1), (topics.HUB_STATUS, 1)],
            on_message=self._message,
            on_up=self._up,
            on_down=self._down,
            max_inflight=self.window + 4,
        )
        link.start()
        self._task = asyncio.create_task(self._send_loop(), name="uplink")

    def nudge(self) -> None:
        """A new event was journaled."""
        self._wake.set()

    # --- callbacks on the event loop ---------------------------------------------------------
    def _up(self, session_present: bool) -> None:
        self.connected = True
        self.announce_online()
        if not session_present:
            self._rewind("broker session was new")
        self._wake.set()

    def _down(self) -> None:
        self.connected = False

    def _message(self, topic: str, payload: bytes) -> None:
        if self.dispatch(topic, payload):
            return
        try:
            doc = json.loads(payload)
        except ValueError:
            log.error("garbage on %s ignored: %r", topic, payload[:80])
            return
        if topic == topics.HUB_STATUS:
            online = isinstance(doc, dict) and doc.get("state") == "online"
            if online and self.hub_online is False:
                self._rewind("the hub is back online")
            self.hub_online = online
            self._wake.set()
            return
        upto = doc.get("upto") if isinstance(doc, dict) else None
        if type(upto) is not int or upto < 0:
            log.error("malformed ack on %s ignored: %r", topic, payload[:80])
            return
        self.on_ack(upto)

    def on_ack(self, upto: int) -> None:
        if upto > self.sent_upto:
            # an ack for events not sent yet: a forged event took their seq at the hub. Taking
            # it would mark a real sale delivered that the hub never saw; send, and let the hub
            # ack (or flag as a seq conflict) what it really received.
            log.warning("ack %s is beyond what was sent (%s): ignored", upto, self.sent_upto)
            return
        if self.journal.ack(upto):
            self._timeout = self.ack_timeout_s
            while self.inflight and self.inflight[0][0] <= upto:
                self.inflight.popleft()
            if self.inflight:  # the window moved: give the rest a fresh timeout
                now = time.monotonic()
                self.inflight = deque((s, now) for s, _ in self.inflight)
            self.sent_upto = max(self.sent_upto, upto)
            self._wake.set()

    def _rewind(self, why: str) -> None:
        if self.sent_upto > self.journal.last_acked:
            log.info("resending from seq %s: %s", self.journal.last_acked + 1, why)
            self.rewinds += 1
        self.sent_upto = self.journal.last_acked
        self.inflight.clear()
        self._wake.set()

    # --- the sender --------------------------------------------------------------------------
    def _fill_window(self) -> None:
        assert self.link
        while self.connected and len(self.inflight) < self.window:
            rows = self.journal.pending(self.sent_upto, self.batch_events, self.batch_bytes)
            if not rows:
                return
            self.link.publish(self.events_topic, encode_batch([t for _, t in rows]), qos=1)
            self.sent_upto = rows[-1][0]
            self.inflight.append((self.sent_upto, time.monotonic()))
            self.batches_sent += 1

    async def _send_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            self._wake.clear()
            if self.inflight and time.monotonic() - self.inflight[0][1] > self._timeout:
                self._rewind(f"no ack within {self._timeout:.0f} s")
                self._timeout = min(self._timeout * 2, self.ack_timeout_max_s)
            try:
                self._fill_window()
            except Exception:  # keep streaming whatever one bad pass did
                log.exception("uplink send failed")

    def stats(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "hub_online": self.hub_online,
            "sent_upto": self.sent_upto,
            "inflight_batches": len(self.inflight),
            "batches_sent": self.batches_sent,
            "rewinds": self.rewinds,
            # broker connections made, and publishes/subscriptions the broker refused by topic
            "connects": self.link.connects if self.link else 0,
            "denied": dict(self.link.denied) if self.link else {},
        }
