"""The gateway's side: snapshots validated, persisted and swapped; lane calls answered, timed
out or refused plainly — over a real Mosquitto where MQTT is involved."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.journal import Journal
from edge.rpc import HubCallError, HubCalls
from edge.snapshots import Snapshots
from edge.uplink import Uplink
from protocols import rpc, snapshots, topics
from rig.waiting import until, wait_until
from tests.conftest import Broker

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def snap(version: int, price: int = 300, store: str = "s1") -> bytes:
    data = {"prices": {"COLA": price}}
    return snapshots.encode(snapshots.build(store, "prices", version, data, NOW))


def test_snapshots_are_validated_persisted_and_only_move_forward(tmp_path: Path):
    async def go() -> None:
        held = Snapshots(tmp_path, "s1", None)
        assert await held.receive("prices", snap(2))
        assert held.get("prices") == {"prices": {"COLA": 300}}
        assert not await held.receive("prices", snap(1, 999))  # older: ignored
        assert not await held.receive("prices", snap(2, 999))  # same version: ignored
        assert held.get("prices") == {"prices": {"COLA": 300}}
        doc = json.loads(snap(3, 500))
        doc["data"]["prices"]["COLA"] = 1  # tampered: digest no longer matches
        bad = [
            json.dumps(doc).encode(),
            snap(4, store="s2"),  # another store's
            b"{not json",
            json.dumps({**json.loads(snap(5)), "version": 0}).encode(),
        ]
        for payload in bad:
            assert not await held.receive("prices", payload)
        assert held.refused == 4 and held.versions() == {"prices": 2}
        assert await held.receive("prices", snap(3, 500))
        assert held.get("prices") == {"prices": {"COLA": 500}}

    asyncio.run(go())
    assert not list((tmp_path / "snapshots").glob("*.tmp"))
    again = Snapshots(tmp_path, "s1", None)  # a restart: from disk, before any hub
    assert again.versions() == {"prices": 3} and again.received_at["prices"] == "from disk"


def test_a_corrupt_snapshot_file_is_ignored_at_start(tmp_path: Path):
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "prices.json").write_bytes(b'{"half a file')
    assert Snapshots(tmp_path, "s1", None).versions() == {}


def test_lane_calls_without_a_hub_answer_plainly(tmp_path: Path, broker: Broker):
    async def go() -> None:
        journal = Journal(tmp_path / "journal.db", "s1", "g1")
        uplink = Uplink(journal, broker.url)
        calls = HubCalls(uplink, timeout_s=0.5)
        with pytest.raises(HubCallError) as err:
            await calls.call("member.lookup", {"phone": "13800138000"})
        assert err.value.status == 503  # not connected yet: no waiting at all
        await uplink.start()
        await until(lambda: uplink.connected, what="the uplink connected")
        # a stranger's garbage and a reply nobody waits for are ignored
        calls.on_reply(rpc.reply_topic("s1", "g1"), b"garbage")
        calls.on_reply(rpc.reply_topic("s1", "g1"), b'{"id": "nobody", "ok": true}')
        with pytest.raises(HubCallError) as err:
            await calls.call("member.lookup", {"phone": "13800138000"})
        assert err.value.status == 504 and calls.timeouts == 1 and not calls.pending
        await uplink.stop()
        journal.close()

    asyncio.run(go())


def test_a_reply_is_matched_to_its_request_by_correlation_id(tmp_path: Path, broker: Broker):
    """A stand-in hub on the real broker answers requests out of order."""
    seen: list[dict] = []
    hub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-hub", protocol=mqtt.MQTTv5)

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        req = json.loads(msg.payload)
        seen.append(req)
        if len(seen) == 2:  # answer the second first
            for r in reversed(seen):
                reply = {"id": r["id"], "ok": True, "result": {"echo": r["params"]["phone"]}}
                c.publish(rpc.reply_topic("s1", "g1"), json.dumps(reply), qos=1)

    subscribed = threading.Event()
    hub.on_message = on_message
    hub.on_subscribe = lambda *_: subscribed.set()
    hub.connect("127.0.0.1", broker.port)
    hub.subscribe(rpc.REQUESTS_ALL, qos=1)
    hub.loop_start()
    # requests published before the broker has the subscription would reach nobody
    wait_until(subscribed.is_set, 10, what="the stand-in hub subscribed")

    async def go() -> list[dict]:
        journal = Journal(tmp_path / "journal.db", "s1", "g1")
        uplink = Uplink(journal, broker.url)
        calls = HubCalls(uplink, timeout_s=5)
        await uplink.start()
        await until(lambda: uplink.connected, what="the uplink connected")
        out = await asyncio.gather(
            calls.call("member.lookup", {"phone": "13800000001"}, lane="1"),
            calls.call("member.lookup", {"phone": "13800000002"}, lane="2"),
        )
        await uplink.stop()
        journal.close()
        return out

    try:
        a, b = asyncio.run(go())
    finally:
        hub.loop_stop()
        hub.disconnect()
    assert a == {"echo": "13800000001"} and b == {"echo": "13800000002"}
    assert {r["lane"] for r in seen} == {"1", "2"} and all(r["deadline"] for r in seen)
    assert topics.ROOT in rpc.request_topic("s1", "g1")
