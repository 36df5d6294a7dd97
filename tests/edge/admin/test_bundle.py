"""The diagnostics bundle holds what HQ needs and no secret and no member's data: the test
writes secrets and members' data where a gateway would meet them (devices.toml, log lines),
builds the bundle of a real (unstarted) gateway and searches every file in the zip."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

from edge.admin import bundle, status
from edge.admin.redact import PERSONAL, SECRET, Redactor
from edge.gateway import Gateway

API_KEY = "sk-live-7f3a9c1e55"
PHONE = "13812345678"
MEMBER_ID = "M0004217"
NAME = "张秀英"
ID_CARD = "11010519491231002X"


def test_the_bundle_redacts_secrets_and_members_data(tmp_path: Path) -> None:
    (tmp_path / "devices.toml").write_text(
        "[[device]]\n"
        'id = "agg"\nkind = "aggregator"\nprofile = "generic"\nport = "https://pay.example"\n'
        f'merchant_id = "M100"\napi_key = "{API_KEY}"\n',
        "utf-8",
    )
    gw = Gateway("S001", "G1", tmp_path, "mqtt://127.0.0.1:9")  # built, not started
    log = logging.getLogger("edge.test_bundle")
    log.warning("lookup phone=%s member_id=%s done", PHONE, MEMBER_ID)
    log.warning(
        'member register {"name": "%s", "phone": "+86 %s", "id_no": "%s"}', NAME, PHONE, ID_CARD
    )
    log.warning("member %s redeemed a coupon; call him on %s", MEMBER_ID, PHONE)
    log.warning("lane called with Authorization: Bearer %s", gw.token)
    log.warning("aggregator answered for key %s", API_KEY)
    log.warning("stray token in text: %s", gw.token)
    facts = status.overview(gw, status.Watch(), 0.0)
    data = bundle.build(gw, facts, ["setup-code-12345678"])
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    assert {"config/devices.toml", "devices.json", "journal.json", "versions.json",
            "logs/recent.log", "overview.json", "uplink.json"} <= set(names)  # fmt: skip
    everything = "\n".join(z.read(n).decode() for n in names)
    for secret in (API_KEY, gw.token, PHONE, MEMBER_ID, NAME, ID_CARD, "12345678"):
        assert secret not in everything, secret
    # redacted, not dropped: the lines are still there for HQ to read
    recent = z.read("logs/recent.log").decode()
    assert f"lookup phone={PERSONAL} member_id={PERSONAL} done" in recent
    assert f"Bearer {SECRET}" in recent
    assert f'api_key = "{SECRET}"' in z.read("config/devices.toml").decode()
    assert '"store": "S001"' in z.read("journal.json").decode()


def test_redactor_leaves_ordinary_text_alone() -> None:
    clean = Redactor(["tok-secret-1"])
    line = "printer p1: paper out; job 0192a3 printed at seq 42, 1250 g on scale sc1"
    assert clean(line) == line
    assert clean("x tok-secret-1 y") == f"x {SECRET} y"
    assert clean("password: hunter22") == f"password: {SECRET}"
