"""Pairing and the broker, for real: Mosquitto runs deploy/mosquitto/storegw.conf as shipped
with a server certificate, CA and CRL from the hub's own CA; the hub connects with its own
certificate ("hub"); gateways get theirs by pairing (a CSR and a code, HQ entering the code)
and the shipped deploy/broker-hook.sh gives each its ACL block. A paired gateway's sales reach
the hub over TLS; one store's certificate cannot publish under another store; no client
certificate, no connection; a decommissioned gateway's certificate is revoked into the CRL, its
live session is kicked and its reconnections refused, without restarting the broker."""

from __future__ import annotations

import json
import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from protocols.envelope import encode_batch
from rig.chain_setup import drained
from rig.samples import sale_event
from tests.conftest import Edge, Hub, ShippedBroker, wait_until

pytestmark = pytest.mark.slow

NOT_AUTHORIZED = 0x87


def pair(
    hub: Hub, broker: ShippedBroker, folder: Path, store: str, gateway: str, code: str
) -> dict[str, Path]:
    """What a gateway does to pair (edge/pairing.py does the same from its admin page): a key
    that stays here, a CSR registered with a code; HQ enters the code; the result fetched."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{store}/{gateway}")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    reg = hub.http.post("/api/pairing/requests", json={"code": code, "csr": csr}, headers={})
    assert reg.status_code == 201, reg.text
    ok = hub.http.post("/api/pairing", json={"code": code})
    assert ok.status_code == 200 and ok.json()["broker"] == "done", ok.text
    got = hub.http.get(f"/api/pairing/requests/{reg.json()['request_id']}").json()
    paths = {n: folder / f"{n}.pem" for n in ("cert", "key", "ca")}
    paths["cert"].write_text(got["certificate"])
    paths["ca"].write_text(got["ca"])
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert got["broker_url"] == f"mqtts://127.0.0.1:{broker.cert_port}"
    return paths


class Client:
    """A bare MQTT 5 client over TLS with some certificate (or none): whether the broker let
    it in, and the broker's reason code for each publish."""

    def __init__(
        self, broker: ShippedBroker, ca: Path, cert: dict[str, Path] | None, client_id: str = ""
    ) -> None:
        self.acks: dict[int, int] = {}
        self.connected = threading.Event()
        self.refused: list[str] = []
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.tls_set(
            ca_certs=str(ca),
            certfile=str(cert["cert"]) if cert else None,
            keyfile=str(cert["key"]) if cert else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        c.on_connect = lambda _c, _u, _f, rc, _p: None if rc.is_failure else self.connected.set()
        c.on_publish = self._on_publish
        self.client = c
        try:
            c.connect("127.0.0.1", broker.cert_port)
            for _ in range(50):  # the handshake and CONNACK, or the broker hanging up
                rc = c.loop(timeout=0.1)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self.refused.append(str(rc))
                    break
                if self.connected.is_set():
                    break
        except (OSError, ssl.SSLError) as err:
            self.refused.append(repr(err))
        if self.connected.is_set():
            c.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        self.acks[mid] = rc.value

    def publish(self, topic: str, payload: bytes) -> int:
        mid = self.client.publish(topic, payload, qos=1).mid
        wait_until(lambda: mid in self.acks, 10, what=f"PUBACK on {topic}")
        return self.acks[mid]

    def close(self) -> None:
        if self.connected.is_set():
            self.client.disconnect()
            self.client.loop_stop()


def test_paired_gateways_over_tls_acl_and_revocation(
    tmp_path: Path, ca_broker: ShippedBroker, hub_db_url: str | None
) -> None:
    broker = ca_broker
    broker.start()
    hub = broker.cert_hub(tmp_path / "hub", hub_db_url)
    edges: list[Edge] = []
    clients: list[Client] = []
    try:
        hub.start()  # up only once its own certificate got it onto the broker
        for store in ("s1", "s2"):
            assert hub.http.put(f"/api/stores/{store}", json={"name": store}).is_success
        certs = {
            ("s1", "g1"): pair(hub, broker, tmp_path / "a-keys", "s1", "g1", "AAAA2222"),
            ("s2", "g1"): pair(hub, broker, tmp_path / "b-keys", "s2", "g1", "BBBB3333"),
        }
        acl = broker.acl.read_text()
        assert "user s1/g1\n" in acl and "user s2/g1\n" in acl  # the hook's blocks
        for (store, gateway), p in certs.items():
            url = broker.cert_url(p["cert"], p["key"], p["ca"])
            edges.append(Edge(tmp_path / store, store, gateway, url))
        # store 2's second gateway, paired too: its certificate in the wrong hands
        stolen = pair(hub, broker, tmp_path / "c-keys", "s2", "g2", "CCCC4444")
        a, b = edges
        a.start()
        b.start()

        # a paired gateway's sales reach the hub over TLS, acked back
        sales = [a.sell(n, key=f"tls-{n}") for n in range(3)]
        assert all(s.status_code == 201 for s in sales), [s.text for s in sales]
        assert b.sell(9, key="tls-b").status_code == 201
        wait_until(lambda: drained(a) and drained(b), 30, what="both stores' sales acked")
        assert sorted(hub.sale_ids("s1")) == sorted(s.json()["sale_id"] for s in sales)
        assert len(hub.sale_ids("s2")) == 1

        # store 2's certificate cannot publish under store 1: the broker drops it; claiming
        # store 1's gateway's client id, it still cannot take over (and end) that session
        intruder = Client(broker, stolen["ca"], stolen, client_id="gw-s1-g1")
        clients.append(intruder)
        assert intruder.connected.is_set()
        last = a.journal()["last_seq"]
        forged = {
            "v": 1, "id": "forged-1", "type": "sale.completed", "store": "s1", "gateway": "g1",
            "seq": last + 1, "at": "2026-11-28T08:00:00Z", "data": {},
        }  # fmt: skip
        topic = "storegw/v1/s1/g1/events"
        assert intruder.publish(topic, json.dumps([forged]).encode()) == NOT_AUTHORIZED
        assert intruder.publish("storegw/v1/s1/config/prices", b"{}") == NOT_AUTHORIZED
        assert a.sell(5, key="tls-after").status_code == 201
        wait_until(lambda: drained(a), 30, what="s1's next sale acked")
        assert hub.last_seq("s1", "g1") == last + 1 and len(hub.sale_ids("s1")) == 4
        assert hub.status()[("s1", "g1")]["rejected"] == 0
        assert a.journal()["uplink"]["connects"] == 1

        # on its own topic, an event naming store 1 in its payload: the broker lets it through,
        # the hub rejects it with the reason, store 1 is unharmed
        own = "storegw/v1/s2/g2/events"
        event = json.dumps(sale_event(1, store="s1", gateway="g2"))
        assert intruder.publish(own, encode_batch([event])) == 0

        def rejected() -> list[str]:
            rows = hub.http.get("/api/ingest/rejected", params={"store": "s2"}).json()
            return [r["reason"] for r in rows["rejected"]]

        wait_until(rejected, 20, what="the forged store rejected")
        assert "store 's1' does not match topic store 's2'" in rejected()[0]
        assert "rejected event s2/g2 seq=1" in hub.log.read_text()
        assert len(hub.sale_ids("s1")) == 4 and hub.last_seq("s1", "g1") == last + 1

        # no client certificate: the handshake fails, no connection
        anonymous = Client(broker, certs["s1", "g1"]["ca"], None)
        clients.append(anonymous)
        assert not anonymous.connected.is_set()
        assert anonymous.refused, "no handshake failure"
        wait_until(
            lambda: "peer did not return a certificate" in broker.log(), 10, what="broker's reason"
        )

        # decommission store 1's gateway while it is connected: revoked into the CRL, the hook
        # installs it, drops the ACL block, reloads the broker (SIGHUP) and kicks the live
        # session through the dynamic-security plugin. No broker restart.
        pid = broker.proc.pid if broker.proc else None
        b_connects = b.journal()["uplink"]["connects"]
        assert a.journal()["uplink"]["connected"]
        seen = len(broker.log())
        gone = hub.http.post("/api/gateways/s1/g1/decommission")
        assert gone.status_code == 200 and gone.json()["broker"] == "done", gone.text
        assert len(gone.json()["revoked"]) == 1
        assert "user s1/g1\n" not in broker.acl.read_text()
        crl = x509.load_pem_x509_crl(broker.pki["crl"].read_bytes())
        assert len(crl) == 1
        # the live session is dropped, and the gateway's own reconnections are refused
        wait_until(
            lambda: not a.journal()["uplink"]["connected"], 20, what="s1/g1's session kicked"
        )
        assert "disconnected by administrative action" in broker.log()[seen:]
        wait_until(
            lambda: "certificate verify failed" in broker.log()[seen:], 20, what="the CRL's refusal"
        )
        revoked = Client(broker, certs["s1", "g1"]["ca"], certs["s1", "g1"])
        clients.append(revoked)
        assert not revoked.connected.is_set()
        assert revoked.refused, "no handshake failure"
        assert not a.journal()["uplink"]["connected"]
        # the lane keeps selling into its journal; nothing of it reaches the hub any more
        assert a.sell(6, key="tls-revoked").status_code == 201
        assert not drained(a)
        # store 2 is unharmed: never disconnected, its next sale booked; the same broker
        assert broker.proc is not None and broker.proc.pid == pid and broker.proc.poll() is None
        still = Client(broker, stolen["ca"], stolen)
        clients.append(still)
        assert still.connected.is_set()
        assert b.sell(10, key="tls-b2").status_code == 201
        wait_until(lambda: drained(b) and len(hub.sale_ids("s2")) == 2, 60, what="s2 after")
        assert b.journal()["uplink"]["connects"] == b_connects
        assert len(hub.sale_ids("s1")) == 4
    finally:
        for c in clients:
            c.close()
        for e in edges:
            e.stop()
        hub.stop()
