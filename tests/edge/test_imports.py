"""The gateway imports only what it runs: assembled as `storegw edge` assembles it (no devices),
it has loaded no hub, no database toolkit, no image stack, no GS1 table, no cryptography, no
admin pages and no device driver. Each of these cost resident memory on every gateway
(bench/gateway_memory.py). What is deferred still comes when it is needed: a driver with its
first device, the admin pages with their first request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DRIVER_KINDS = ("scale", "scanner", "printer", "drawer", "terminal", "aggregator")
# what each would cost, roughly, resident (bench/gateway_memory.py, docs/performance.md)
NOT_AT_START = {
    "hub": "the other side",
    "sqlalchemy": "the hub's database toolkit",
    "fastapi": "the hub's web framework",
    "sqlite_utils": "13 MiB for one attribute",
    "biip": "22 MiB GS1 table: on the first GS1 scan",
    "escpos.printer": "15 MiB with its image stack: serial/USB/file printers only",
    "PIL": "previews only",
    "qrcode": "previews only",
    "barcode": "previews only",
    "yaml": "python-escpos's capabilities table",
    "jinja2": "the admin pages' templates: at the first page",
    "pydantic": "the contract is msgspec; pydantic is the hub's (FastAPI), ~5 MiB with its core",
    "cryptography": "8.5 MiB with its Rust bindings: pairing and renewal only",
    "uuid6": "event ids are transport/ids.py's",
    "importlib.metadata": "uuid6 and the admin overview's version: ~0.7 MiB",
    # the admin pages: at the first /admin/ request (edge/admin/__init__.py)
    "edge.admin.pages": "the admin pages: at the first request",
    "edge.admin.audit": "the admin pages",
    "edge.admin.bundle": "the admin pages",
    "edge.admin.settings": "the admin pages",
    "edge.admin.status": "the admin pages",
    # drivers: with the first device of their kind (edge/gateway.py DRIVERS)
    **{f"edge.devices.{kind}": "no such device configured" for kind in DRIVER_KINDS},
    "edge.devices.serial_port": "serial devices' (scale, scanner)",
    "edge.devices.print_queue": "the printer's",
    "edge.devices.escpos_lib": "the printer's",
    "edge.devices.payment_profiles": "the terminal's and the aggregator's",
    "protocols.zvt.session": "the card terminal's",
    "serial": "pyserial: serial devices'",
    "escpos": "python-escpos: serial/USB/file printers'",
}

ASSEMBLE = """
import json, sys
from pathlib import Path
import storegw.cli
from edge.gateway import Gateway
Gateway("s1", "g1", Path(sys.argv[1]), "mqtt://127.0.0.1:1")
print(json.dumps(sorted(sys.modules)))
"""


def test_the_gateway_starts_without_what_it_does_not_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STOREGW_EDGE_TOKEN": "t"}
    out = subprocess.run([sys.executable, "-c", ASSEMBLE, str(tmp_path / "gw")], env=env,
                         capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "edge.devices.registry" in loaded and "aiohttp" in loaded  # it did assemble
    found = {m: why for m, why in NOT_AT_START.items()
             if m in loaded or any(x.startswith(m + ".") for x in loaded)}  # fmt: skip
    assert found == {}


FIRST_USE = """
import asyncio, json, sys
from pathlib import Path
from aiohttp.test_utils import TestClient, TestServer
from edge.devices.base import DeviceSpec
from edge.gateway import Gateway

async def main():
    gw = Gateway("s1", "g1", Path(sys.argv[1]), "mqtt://127.0.0.1:1")
    before = set(sys.modules)
    async with TestClient(TestServer(gw.app)) as client:
        page = await client.get("/admin/setup")  # a new gateway's first page: the set-up form
        assert page.status == 200 and "csrf" in await page.text(), page.status
        after_page = set(sys.modules)
        gw.devices.add(DeviceSpec("sc1", "scale", "mettler-toledo-sics", "/dev/null-none", "1"))
        await gw.devices.remove("sc1")
    print(json.dumps([sorted(after_page - before), sorted(set(sys.modules) - after_page)]))

asyncio.run(main())
"""


def test_what_was_deferred_comes_at_its_first_use(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STOREGW_EDGE_TOKEN": "t"}
    out = subprocess.run([sys.executable, "-c", FIRST_USE, str(tmp_path / "gw")], env=env,
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    with_page, with_scale = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"edge.admin.pages", "edge.admin.audit", "jinja2"} <= set(with_page)
    assert "edge.devices.scale" in with_scale and "edge.devices.printer" not in with_scale


RENEWAL_CHECK = """
import asyncio, json, sys
from pathlib import Path
from edge.pairing import Pairing

p = Pairing("s1", "g1", Path(sys.argv[1]))
print(json.dumps([asyncio.run(p.renew_if_due()), "cryptography" in sys.modules]))
"""


def test_a_paired_gateway_checks_its_renewal_without_cryptography(tmp_path: Path) -> None:
    tls = tmp_path / "gw" / "tls"
    tls.mkdir(parents=True)
    (tls / "client.pem").write_text("not parsed: the expiry is in pairing.json")
    state = {"state": "paired", "broker_url": "mqtts://127.0.0.1:1", "hub_url": "http://x:1",
             "not_after": "2999-01-01T00:00:00+00:00"}  # fmt: skip
    (tls / "pairing.json").write_text(json.dumps(state))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", RENEWAL_CHECK, str(tmp_path / "gw")], env=env,
                         capture_output=True, text=True, check=True, cwd=tmp_path)  # fmt: skip
    assert json.loads(out.stdout) == [False, False]  # not due, and no certificate parsed
