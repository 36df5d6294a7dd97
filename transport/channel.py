"""A side's one MQTT channel: the gateway's uplink and the hub's ingest worker each own one
connection that the side's other services share (they route topic filters through it and
publish on it), and announce their status on it — retained "online" once connected, and
"offline" as the will and as last words on a clean stop, so the other side knows when to
resend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

from transport.mqtt_link import Handler, MqttLink, Route, route


def status_payload(state: str) -> bytes:
    at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return json.dumps({"state": state, "at": at}).encode()


class Channel:
    def __init__(self, url: str, client_id: str, status_topic: str) -> None:
        self.url = url
        self.client_id = client_id
        self.status_topic = status_topic
        self.routes: list[Route] = []
        self.link: MqttLink | None = None
        self._task: asyncio.Task[None] | None = None  # the owner's main loop, if any

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Route messages matching `topic_filter` to `handler` (on the event loop; do blocking
        work with asyncio.to_thread). Call before start()."""
        self.routes.append((topic_filter, handler))

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        assert self.link, f"{type(self).__name__} not started"
        self.link.publish(topic, payload, qos=qos, retain=retain)

    def connect(
        self,
        subscriptions: list[tuple[str, int]],
        on_message: Handler,
        on_up: Callable[[bool], None],
        on_down: Callable[[], None] | None = None,
        max_inflight: int = 32,
    ) -> MqttLink:
        """Make the link (not started yet): the owner's subscriptions, then the routed ones;
        the will says offline."""
        loop = asyncio.get_running_loop()

        def make(url: str) -> MqttLink:
            return MqttLink(
                url,
                self.client_id,
                loop,
                subscriptions=subscriptions + [(f, 1) for f, _ in self.routes],
                on_message=on_message,
                on_up=on_up,
                on_down=on_down,
                will=(self.status_topic, status_payload("offline")),
                max_inflight=max_inflight,
            )

        self._make_link = make
        self.link = make(self.url)
        return self.link

    async def relink(self, url: str) -> None:
        """Move to another broker address or identity (a gateway just paired, or renewed its
        certificate): the old connection ends cleanly, a new one with the same subscriptions
        and callbacks starts. The owner's on_up/on_down see it as a reconnect."""
        assert self.link, f"{type(self).__name__} not started"
        old = self.link
        self.url = url
        self.link = self._make_link(url)
        await asyncio.to_thread(old.stop)
        self.link.start()

    def announce_online(self) -> None:
        assert self.link
        self.link.publish(self.status_topic, status_payload("online"), retain=True)

    def dispatch(self, topic: str, payload: bytes) -> bool:
        """Hand a message to a routed service; False when it is the owner's own."""
        return route(self.routes, topic, payload)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.link:
            last_words = (self.status_topic, status_payload("offline"))
            await asyncio.to_thread(self.link.stop, last_words)
