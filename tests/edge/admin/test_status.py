"""The overview's "what is wrong": the hub down for 12 minutes with the sales waiting, a
certificate near its expiry, the CPU's temperature read from a Pi's thermal zone."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.admin import status
from edge.gateway import Gateway


def certificate(path: Path, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "S001/G1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days, hours=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_the_hub_down_for_12_minutes_with_sales_waiting_and_a_certificate_expiring(
    tmp_path: Path,
) -> None:
    gw = Gateway("S001", "G1", tmp_path, "mqtt://127.0.0.1:9")  # built, not started
    for n in range(3):
        gw.journal.record("sale.completed", lambda env, n=n: {"sale_id": f"s{n}"})
    gw.journal.record("shift.closed", lambda env: {"lane": "1"})
    certificate(tmp_path / "tls" / "client.pem", days=12)
    watch = status.Watch()
    gw.uplink.connected, gw.uplink.hub_online = True, False
    watch.sample(gw)
    watch.hub_down_since = time.time() - 12 * 60 - 5  # as if sampled since it went
    facts = status.overview(gw, watch, time.time() - 3600)
    assert facts["journal"]["sales_waiting"] == 3 and facts["journal"]["backlog"] == 4
    assert facts["client_certificate"]["days_left"] == 12
    problems = facts["problems"]
    assert problems[0]["en"].startswith(
        "hub unreachable for 12 min — 3 sales waiting, nothing lost"
    )
    assert problems[0]["zh"].startswith("总部服务器离线已 12 分钟 — 3 笔销售待上传，不会丢失")
    assert any(
        p["en"] == "client certificate expires in 12 days — ask HQ to renew it" for p in problems
    )
    # the hub back: the problem goes
    gw.uplink.hub_online = True
    assert not any("hub" in p["en"] for p in status.overview(gw, watch, 0.0)["problems"])


def test_cpu_temperature_from_the_thermal_zone(tmp_path: Path) -> None:
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("81234\n")
    assert status.cpu_temperature_c(tmp_path) == 81.234
    assert status.cpu_temperature_c(tmp_path / "absent") is None
