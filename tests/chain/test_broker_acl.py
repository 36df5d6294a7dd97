"""The shipped broker configuration, for real: Mosquitto runs deploy/mosquitto/storegw.conf and
storegw.acl (only ports and file paths substituted), over TLS with a CA made by the test, with
an account per gateway made by deploy/provision-gateway.sh. The hub and two stores' gateways
(started through the CLI) sell, refund, look members up and check coupons over RPC, receive
their config and report the versions they hold. Another store's account can neither publish on
nor read store 1's topics, cannot take over its session, and a publish the broker refuses is
logged once and never turns into a reconnect loop."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from rig import chain_setup
from rig.chain_setup import drained, held
from tests.conftest import Edge, Hub, ShippedBroker, wait_until

pytestmark = pytest.mark.slow

NOT_AUTHORIZED = 0x87


@pytest.fixture
def shipped_broker() -> Iterator[ShippedBroker]:
    b = ShippedBroker()
    yield b
    b.remove()


def tls_hub(tmp_path: Path, broker: ShippedBroker, password: Path, db_url: str | None) -> Hub:
    """The hub over TLS, its account given through the CLI flags (not started yet)."""
    hub = Hub(tmp_path / "hub", f"mqtts://127.0.0.1:{broker.port}", db_url)
    hub.args += [
        "--mqtt-ca-file",
        str(broker.pki["ca"]),
        "--mqtt-username",
        "hub",
        "--mqtt-password-file",
        str(password),
    ]
    return hub


def uplink(edge: Edge) -> dict[str, Any]:
    return edge.journal()["uplink"]


class Intruder:
    """A bare MQTT 5 client over TLS with some account: what it may publish (the broker's PUBACK
    reason per message) and what it gets to read."""

    def __init__(self, broker: ShippedBroker, username: str, password: Path, client_id: str):
        self.acks: dict[int, int] = {}
        self.subacks: set[int] = set()
        self.received: list[tuple[str, bytes]] = []
        self.connects = self.disconnects = 0
        self._lock = threading.Lock()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(username, password.read_text().strip())
        c.tls_set(ca_certs=str(broker.pki["ca"]), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = lambda _c, _u, mid, _r, _p: self.subacks.add(mid)
        self.client = c
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        wait_until(lambda: self.connects == 1, 10, what=f"{username} to connect")

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        assert not rc.is_failure, rc
        self.connects += 1

    def _on_disconnect(self, *_a: Any) -> None:
        self.disconnects += 1

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self.acks[mid] = rc.value

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Publish with QoS 1 and return the broker's reason code."""
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        return int(wait_until(lambda: self.acks.get(mid), 10, what=f"PUBACK on {topic}"))

    def subscribe(self, topic_filter: str) -> None:
        mid = self.client.subscribe(topic_filter, 1)[1]
        wait_until(lambda: mid in self.subacks, 10, what=f"SUBACK for {topic_filter}")

    def topics(self) -> set[str]:
        with self._lock:
            return {t for t, _ in self.received}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_chain_over_tls_with_the_shipped_acl(
    tmp_path: Path, shipped_broker: ShippedBroker, hub_db_url: str | None
):
    broker = shipped_broker
    urls = {
        (s, g): broker.client_url(f"{s}/{g}", broker.add_gateway(s, g))
        for s, g in (("s1", "g1"), ("s2", "g1"))
    }
    stolen = broker.add_gateway("s2", "g2")  # store 2's account in the wrong hands
    hub_password = broker.add_user("hub")
    broker.start()
    hub = tls_hub(tmp_path, broker, hub_password, hub_db_url)
    a = Edge(tmp_path / "a", "s1", "g1", urls["s1", "g1"])
    b = Edge(tmp_path / "b", "s2", "g1", urls["s2", "g1"])
    intruder: Intruder | None = None
    try:
        hub.start()
        api = hub.http
        chain_setup.seed(hub, ("s1", "s2"), (("normal", 0, 100, 0),))
        chain_setup.publish(hub)
        a.start()
        b.start()

        # config reaches each store (retained, read access), and the versions each gateway
        # holds reach the hub (write access on …/snapshots)
        for edge, store in ((a, "s1"), (b, "s2")):
            wait_until(lambda e=edge: len(held(e)) == 4, 20, what=f"{store} snapshots")

            # (any kind will do: on PostgreSQL the hub can still lose one of several reports
            # arriving at once to a unique violation, issue 8 part 3, not the broker's doing)
            def reported(store: str = store) -> bool:
                snaps = api.get(f"/api/stores/{store}/snapshots").json()["snapshots"]
                return any(s["gateways"].get("g1") == s["version"] for s in snaps.values())

            wait_until(reported, 20, what=f"hub to see {store}'s held versions")

        # member registration and look-up over RPC (request and reply topics)
        reg = a.http.post("/api/members", json={"phone": "13812345678", "name": "周杰"})
        assert reg.status_code == 201, reg.text
        member = reg.json()["member_id"]
        found = b.http.get("/api/members/lookup", params={"phone": "13812345678"})
        assert found.status_code == 200 and found.json()["member_id"] == member

        # a sale and a refund in store 1, booked at the hub (events and acks)
        sale = a.sell(1, key="acl-sale-1", member=member)
        assert sale.status_code == 201, sale.text
        sale_id = sale.json()["sale_id"]
        refund = a.http.post(
            "/api/lanes/1/refunds",
            json={
                "cashier": "张丽",
                "sale_id": sale_id,
                "reason": "包装破损",
                "lines": [{"sku": "6934502301851", "qty_milli": 1000, "amount_fen": 990}],
                "payments": [{"tender": "cash", "amount_fen": 990}],
            },
        )
        assert refund.status_code == 201, refund.text
        wait_until(lambda: drained(a), 30, what="s1's sale and refund acked")
        booked = api.get(f"/api/sales/{sale_id}").json()
        assert booked["store"] == "s1" and [r["total_fen"] for r in booked["refunds"]] == [990]

        # a coupon checked at store 2's lane against the hub's rules
        tpl = api.post(
            "/api/coupons/templates",
            json={
                "name": "满5减1",
                "kind": "threshold",
                "amount_fen": 100,
                "threshold_fen": 500,
                "valid_days": 7,
            },
        ).json()
        issued = api.post(
            f"/api/coupons/templates/{tpl['id']}/issue", json={"member_ids": [member]}
        ).json()
        code = issued["issued"][0]["code"]
        basket = [{"sku": "X", "total_fen": 600}]
        ok = b.http.post(
            "/api/coupons/check", json={"code": code, "member_id": member, "lines": basket}
        )
        assert ok.status_code == 200 and ok.json()["discount_fen"] == 100, ok.text

        # --- store 2's stolen account against store 1 ---------------------------------------
        # It claims the client id store 1's gateway sends: the broker takes the id from the
        # username instead, so store 1's gateway keeps its connection.
        intruder = Intruder(broker, "s2/g2", stolen, client_id="gw-s1-g1")
        for topic in (
            "#",
            "storegw/v1/s1/#",
            "storegw/v1/s1/config/+",
            "storegw/v1/s1/g1/rpc/reply",
            "storegw/v1/s1/g1/acks",
            "storegw/v1/+/+/events",
            "storegw/v1/s2/g1/acks",  # not even its own store's other gateway
            "storegw/v1/s2/config/+",  # its own store's config: allowed (the control)
        ):
            intruder.subscribe(topic)
        last = a.journal()["last_seq"]
        forged_sale = {
            "v": 1,
            "id": "forged-0001",
            "type": "sale.completed",
            "store": "s1",
            "gateway": "g1",
            "seq": last + 1,
            "at": "2026-11-28T08:00:00Z",
            "data": {},
        }
        refused = {
            "events": intruder.publish(
                "storegw/v1/s1/g1/events", json.dumps([forged_sale]).encode()
            ),
            "acks": intruder.publish("storegw/v1/s1/g1/acks", b'{"upto": 1000000}'),
            "status": intruder.publish("storegw/v1/s1/g1/status", b'{"state":"offline"}', True),
            "rpc": intruder.publish(
                "storegw/v1/s1/g1/rpc/request",
                json.dumps(
                    {"id": "x1", "method": "member.lookup", "params": {"phone": "13812345678"}}
                ).encode(),
            ),
            "config": intruder.publish("storegw/v1/s1/config/prices", b"{}", retain=True),
            "other store's rpc reply": intruder.publish(
                "storegw/v1/s1/g1/rpc/reply", b'{"id":"x","ok":false}'
            ),
            "hub status": intruder.publish("storegw/v1/hub/status", b'{"state":"offline"}', True),
        }
        assert refused == dict.fromkeys(refused, NOT_AUTHORIZED)

        # store 1 and store 2 keep working meanwhile: a sale, a look-up, a new price each
        assert a.sell(2, key="acl-sale-2").status_code == 201
        assert a.http.get("/api/members/lookup", params={"member_id": member}).status_code == 200
        assert b.sell(3, key="acl-sale-3").status_code == 201
        before = {"s1": held(a)["prices"], "s2": held(b)["prices"]}
        for store in ("s1", "s2"):
            r = api.put(f"/api/stores/{store}/prices/6901028075015", json={"price_fen": 180})
            assert r.is_success
        assert api.post("/api/catalog/publish", json={}).json()["connected"]
        wait_until(lambda: held(a)["prices"] > before["s1"], 20, what="s1's new prices")
        wait_until(lambda: held(b)["prices"] > before["s2"], 20, what="s2's new prices")
        target = held(b)["prices"]
        wait_until(lambda: drained(a) and a.journal()["last_seq"] == last + 1, 30, what="s1 acked")
        wait_until(lambda: drained(b), 30, what="s2's sale acked")

        def control_received() -> bool:
            return any(
                t == "storegw/v1/s2/config/prices" and json.loads(p).get("version") == target
                for t, p in list(intruder.received)
            )

        # the broker delivers to the intruder what it may read, in order: once its own
        # store's new prices are there, store 1's messages would have been too
        wait_until(control_received, 20, what="the intruder's own store's new prices")
        allowed = {"storegw/v1/hub/status"} | {
            f"storegw/v1/s2/config/{k}" for k in ("catalog", "prices", "promotions", "tiers")
        }
        assert intruder.topics() <= allowed, intruder.topics() - allowed

        # nothing forged landed: store 1's real sale took the seq, its snapshots are the hub's,
        # its gateway was never disconnected, and the hub still says it is online
        assert hub.last_seq("s1", "g1") == last + 1
        assert hub.status()[("s1", "g1")]["rejected"] == 0
        assert len(hub.sale_ids("s1")) == 2
        snaps = a.http.get("/api/snapshots").json()
        assert snaps["refused"] == 0
        assert hub.status()[("s1", "g1")]["status"] == "online"
        assert hub.http.get("/health").json()["mqtt"]
        for edge in (a, b):
            assert uplink(edge)["connects"] == 1 and uplink(edge)["denied"] == {}
        assert intruder.connects == 1 and intruder.disconnects == 0
    finally:
        if intruder:
            intruder.close()
        a.stop()
        b.stop()
        hub.stop()


def test_a_refused_publish_is_logged_once_and_never_drops_the_link(
    tmp_path: Path, shipped_broker: ShippedBroker
):
    """A gateway whose ACL block lacks …/snapshots (as the old shipped ACL did): each snapshot
    report is refused; the gateway logs it once, keeps its one connection and keeps selling.
    Before, Mosquitto dropped the client after each refusal and the client re-sent the refused
    message on reconnect: 7-10 reconnects in 40 s, forever."""
    broker = shipped_broker
    url = broker.client_url("s1/g1", broker.add_gateway("s1", "g1"))
    acl = broker.acl.read_text()
    grant = "topic write storegw/v1/s1/g1/snapshots\n"
    assert acl.count(grant) == 1
    broker.acl.write_text(acl.replace(grant, ""))
    hub_password = broker.add_user("hub")
    broker.start()
    hub = tls_hub(tmp_path, broker, hub_password, None)
    a = Edge(tmp_path / "a", "s1", "g1", url)
    try:
        hub.start()
        api = hub.http
        chain_setup.seed(hub, ("s1",), ())
        chain_setup.publish(hub)
        a.start()
        topic = "storegw/v1/s1/g1/snapshots"
        wait_until(lambda: uplink(a)["denied"].get(topic, 0) >= 1, 20, what="a refusal")
        # more reports, more refusals: each is counted, none is logged again
        wait_until(lambda: len(held(a)) == 4, 20, what="snapshots")
        for price in (180, 170, 160):
            before = held(a)["prices"]
            r = api.put("/api/stores/s1/prices/6901028075015", json={"price_fen": price})
            assert r.is_success
            assert api.post("/api/catalog/publish", json={}).json()["connected"]
            wait_until(lambda v=before: held(a)["prices"] > v, 20, what=f"prices at {price}")
        wait_until(lambda: uplink(a)["denied"].get(topic, 0) >= 4, 20, what="4 refusals")
        # the sales path is untouched
        assert a.sell(1, key="after-refusals").status_code == 201
        wait_until(lambda: drained(a), 30, what="the sale acked")
        stats = uplink(a)
        assert stats["connects"] == 1 and stats["connected"], stats
        lines = [x for x in a.log.read_text().splitlines() if "refused publish on" in x]
        assert len(lines) == 1 and topic in lines[0] and "Not authorized" in lines[0], lines
        assert "lost the broker" not in a.log.read_text()
        # and the hub never saw those reports
        snaps = api.get("/api/stores/s1/snapshots").json()["snapshots"]
        assert all(s["gateways"] == {} for s in snaps.values()), snaps
    finally:
        a.stop()
        hub.stop()


def test_another_account_cannot_thin_out_the_hubs_shared_subscription(
    tmp_path: Path, shipped_broker: ShippedBroker
):
    """Mosquitto 2.0's acl_file does not check SUBSCRIBE: an account that joins the hub's
    share group gets handed a share of the events, its delivery is refused, and they are lost
    for the group (resent only after the gateway's ack timeout). The hub's group is named by a
    per-deployment secret (protocols/topics.events_shared): a group an intruder names is
    another group, and the hub's own keeps every event."""
    broker = shipped_broker
    url = broker.client_url("s1/g1", broker.add_gateway("s1", "g1"))
    stolen = broker.add_gateway("s2", "g1")
    hub_password = broker.add_user("hub")
    broker.start()
    hub = tls_hub(tmp_path, broker, hub_password, None)
    a = Edge(tmp_path / "a", "s1", "g1", url, ack_timeout=30.0)
    intruder: Intruder | None = None
    try:
        hub.start()
        a.start()
        intruder = Intruder(broker, "s2/g1", stolen, client_id="x")
        # the group the hub used to have, and one named like a hub worker's
        intruder.subscribe("$share/hub/storegw/v1/+/+/events")
        intruder.subscribe("$share/hub-1/storegw/v1/+/+/events")
        for n in range(6):
            # one batch per sale, each reaching the hub the first time: none waits for the
            # 30 s ack timeout (Mosquitto hands the group's messages out in turn)
            assert a.sell(n, key=f"share-{n}").status_code == 201
            wait_until(lambda: drained(a), 10, what=f"sale {n} acked without a resend")
        assert intruder.received == []
    finally:
        if intruder:
            intruder.close()
        a.stop()
        hub.stop()
