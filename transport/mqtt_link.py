"""One MQTT 5 connection that keeps itself up: paho-mqtt's network loop in its own thread,
reconnecting with exponential backoff and full jitter (a chain's gateways must not all hit the
broker in the same second after an outage), callbacks handed to the asyncio loop.

Used by the gateway's uplink and the hub's ingest, both through transport/channel.py."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None  # a client certificate (the broker's identity for us) …
    key_file: str | None = None  # … and its key: the gateway's after pairing, the hub's own
    mqtt5: bool = True  # ?protocol=3.1.1 for brokers without MQTT 5 (the demo's fallback)
    # ?keepalive=S: a half-open link (a broker frozen, its TCP still open) is noticed within
    # 2 × S at most and the link reconnects (docs/reliability.md, scenario 3)
    keepalive: int = 20

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """mqtt://[user[:pass]@]host[:1883] or mqtts://…[:8883]?ca=/path/ca.pem, with optional
        &cert=/path/client.crt&key=/path/client.key (a client certificate instead of a
        password), &password_file=/path, &protocol=3.1.1 and &keepalive=SECONDS. The password
        may also come from STOREGW_MQTT_PASSWORD, so it need not sit in a unit file or a command
        line."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"MQTT URL must be mqtt://host:port or mqtts://host:port, got {url!r}")
        tls = parts.scheme == "mqtts"
        query = parse_qs(parts.query)
        password = unquote(parts.password) if parts.password else None
        password_file = query.get("password_file", [None])[0]
        if password is None and password_file:
            # the whole file is the password, but for the newline an editor or echo leaves
            password = Path(password_file).read_text().rstrip("\r\n")
        if password is None:
            password = os.environ.get("STOREGW_MQTT_PASSWORD")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=password,
            ca_file=query.get("ca", [None])[0],
            cert_file=query.get("cert", [None])[0],
            key_file=query.get("key", [None])[0],
            mqtt5=query.get("protocol", ["5"])[0] != "3.1.1",
            keepalive=_keepalive(query.get("keepalive", ["20"])[0]),
        )


def _keepalive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3600:
        raise ValueError(f"MQTT keepalive must be 1..3600 seconds, got {text!r}")
    return int(text)


def url_with(
    url: str,
    *,
    ca_file: str | None = None,
    username: str | None = None,
    password_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> str:
    """Fold the CLI's --mqtt-ca-file / --mqtt-username / --mqtt-password-file (and
    --mqtt-cert-file / --mqtt-key-file) into the URL.
    A username such as "store/gateway" is percent-encoded; the password itself never enters
    the URL, only the path of its file."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if username:
        netloc = f"{quote(username, safe='')}@{netloc.rpartition('@')[2]}"
    query = parse_qs(parts.query)
    if ca_file:
        query["ca"] = [ca_file]
    if password_file:
        query["password_file"] = [password_file]
    if cert_file:
        query["cert"] = [cert_file]
    if key_file:
        query["key"] = [key_file]
    return urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, doseq=True), parts.fragment)
    )


Handler = Callable[[str, bytes], None]
Route = tuple[str, Handler]  # (topic filter, handler)


def route(routes: list[Route], topic: str, payload: bytes) -> bool:
    """Hand a message to the first handler whose filter matches; False when none does.
    A failing handler is logged and the message counts as handled."""
    for topic_filter, handler in routes:
        if mqtt.topic_matches_sub(topic_filter, topic):
            try:
                handler(topic, payload)
            except Exception:
                log.exception("handler for %s failed", topic)
            return True
    return False


class MqttLink:
    def __init__(
        self,
        url: str,
        client_id: str,
        loop: asyncio.AbstractEventLoop,
        *,
        subscriptions: list[tuple[str, int]] = (),  # type: ignore[assignment]
        on_message: Handler | None = None,
        on_up: Callable[[bool], None] | None = None,  # session_present
        on_down: Callable[[], None] | None = None,
        will: tuple[str, bytes] | None = None,  # retained, QoS 1
        session_expiry_s: int = 7 * 24 * 3600,
        max_inflight: int = 32,
        backoff: tuple[float, float] = (0.5, 30.0),
        stable_after_s: float = 10.0,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.loop = loop
        self.subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_up = on_up
        self._on_down = on_down
        self._backoff = backoff
        self._session_expiry = session_expiry_s
        self.connected = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down_logged = False
        self._last_reason = "connection closed"
        # a connection counts as up (and resets the backoff) only once it has lasted this long,
        # so a broker that drops us right after CONNACK is retried ever more slowly
        self._stable_after = stable_after_s
        self.connects = 0
        # refusals by the broker (PUBACK/SUBACK reason >= 0x80), counted per topic; each topic
        # is logged once. The broker's ACL refusing a topic is configuration, not a link
        # failure: the link stays up and nothing is retried.
        self.denied: dict[str, int] = {}
        self._sent: dict[int, str] = {}  # mid -> topic (or filter) until the broker answers

        if self.address.mqtt5:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        else:  # MQTT 3.1.1: the persistent session is clean_session=False
            c = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        if self.address.username:
            c.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            c.tls_set(
                ca_certs=self.address.ca_file,
                certfile=self.address.cert_file,
                keyfile=self.address.key_file,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_message = self._message
        c.on_publish = self._published
        c.on_subscribe = self._subscribed
        # Every socket write on the link's own thread. Without a write callback, paho writes a
        # publish or subscribe straight from the caller's thread while this thread may be
        # reading; two threads on one TLS socket corrupt its records ("bad record mac") and
        # the broker drops the connection. With one, paho only queues the packet and wakes
        # this thread's select through its socket pair.
        c.on_socket_register_write = lambda *_: None
        self.client = c

    # --- paho thread -----------------------------------------------------------------------
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the event loop is closed: the process is shutting down
            self._stop.set()

    def _connected(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker %s refused the connection: %s", self.address.host, rc)
            client.disconnect()
            return
        self.connects += 1
        for topic, qos in self.subscriptions:
            _rc, mid = client.subscribe(topic, qos)
            if mid is not None:
                self._sent[mid] = topic
        self.connected = True
        if self._down_logged:
            log.info("broker %s:%s reachable again", self.address.host, self.address.port)
        self._down_logged = False
        if self._on_up:
            self._post(self._on_up, bool(flags.session_present))

    def _disconnected(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connected = False
        self._last_reason = str(rc)  # the broker's reason (MQTT 5) or the client's error
        if self._on_down:
            self._post(self._on_down)

    def _refused(self, what: str, topic: str, reason: Any) -> None:
        count = self.denied.get(topic, 0)
        self.denied[topic] = count + 1
        if count == 0:
            log.error(
                "broker %s refused %s %s: %s (logged once per topic; check the broker ACL)",
                self.address.host,
                what,
                topic,
                reason,
            )

    def _published(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        topic = self._sent.pop(mid, None)
        if getattr(reason, "is_failure", False):
            self._refused("publish on", topic or f"(message id {mid})", reason)

    def _subscribed(self, _c: Any, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        topic = self._sent.pop(mid, None) or f"(message id {mid})"
        for reason in reasons:
            if getattr(reason, "is_failure", False):
                self._refused("subscription to", topic, reason)

    def _message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self._on_message:
            self._post(self._on_message, msg.topic, bytes(msg.payload))

    def _run(self) -> None:
        delay = self._backoff[0]
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry
        while not self._stop.is_set():
            try:
                if self.address.mqtt5:
                    self.client.connect(
                        self.address.host,
                        self.address.port,
                        keepalive=self.address.keepalive,
                        clean_start=False,
                        properties=props,
                    )
                else:
                    self.client.connect(
                        self.address.host, self.address.port, keepalive=self.address.keepalive
                    )
                up_since: float | None = None
                while not self._stop.is_set():
                    rc = self.client.loop(timeout=0.2)
                    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        break
                    if not self.connected:
                        up_since = None
                    elif up_since is None:
                        up_since = time.monotonic()
                    elif time.monotonic() - up_since >= self._stable_after:
                        delay = self._backoff[0]
            except (OSError, ssl.SSLError) as err:
                if not self._down_logged:
                    log.warning(
                        "broker %s:%s unreachable: %s", self.address.host, self.address.port, err
                    )
                    self._down_logged = True
            if self.connected:
                self.connected = False
                if self._on_down:
                    self._post(self._on_down)
            if not self._down_logged:
                log.warning(
                    "lost the broker %s:%s: %s",
                    self.address.host,
                    self.address.port,
                    self._last_reason,
                )
                self._down_logged = True
            # full jitter: sleep uniformly in [min, delay], then double the ceiling
            self._stop.wait(random.uniform(self._backoff[0], delay))
            delay = min(delay * 2, self._backoff[1])

    # --- any thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            # recorded after the fact: a PUBACK that beats us here is logged by message id
            self._sent[info.mid] = topic

    def stop(self, last_words: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly; `last_words` (retained) replace the will, which a clean
        disconnect does not send."""
        if last_words and self.connected:
            info = self.client.publish(last_words[0], last_words[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        try:
            self.client.disconnect()
            # the link's thread has ended: write the DISCONNECT from here (paho only queues it)
            self.client.loop_write()
        except OSError:
            pass
