"""The gateway imports only what it runs: assembled as `storegw edge` assembles it (no devices),
it has loaded no hub, no database toolkit, no image stack, no GS1 table, no cryptography, no
admin pages, no device driver, no basket, shop-floor page, API description or payment flow.
Each of these cost resident memory on every gateway (bench/gateway_memory.py). What is deferred
still comes when it is needed: a driver with its first device, the admin pages, the baskets and
the shop-floor pages with their first request, the baskets with a lane's first scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    "protocols.zvt": "the card terminal's",
    "protocols.qrpay": "the QR aggregator's",
    # the parts built at their first use (edge/first_use.py, edge/gateway.py)
    "edge.payments.flows": "with the first payment a device takes",
    "edge.basket": "the baskets: a basket call, a shop-floor page, a scan at a lane",
    "edge.basket_coupons": "the baskets'",
    "edge.margin_override": "the baskets'",
    "edge.tenders": "the baskets'",
    "protocols.pricing.engine": "the baskets' (a sale's arithmetic is protocols.pricing's)",
    "protocols.codes.scan": "the baskets' and the scanner's",
    "edge.pages.routes": "the shop-floor pages: at their first request",
    "edge.pages.returns": "the returns screen: at its first request",
    "edge.pages.i18n": "the shop-floor pages'",
    "edge.openapi": "the API's description: at its first request",
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


def run_gateway_script(code: str, tmp_path: Path, **env: str) -> Any:
    """Run `code` in a fresh interpreter (its own sys.modules) on a gateway folder; the JSON it
    printed last."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "gw")], env=full,
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_gateway_starts_without_what_it_does_not_run(tmp_path: Path) -> None:
    loaded = set(run_gateway_script(ASSEMBLE, tmp_path, STOREGW_EDGE_TOKEN="t"))
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
    loaded = [set(sys.modules)]
    bearer = {"Authorization": "Bearer t"}
    async with TestClient(TestServer(gw.app)) as client:
        page = await client.get("/admin/setup")  # a new gateway's first page: the set-up form
        assert page.status == 200 and "csrf" in await page.text(), page.status
        loaded.append(set(sys.modules))
        gw.devices.add(DeviceSpec("sc1", "scale", "mettler-toledo-sics", "/dev/null-none", "1"))
        await gw.devices.remove("sc1")
        loaded.append(set(sys.modules))
        spec = await client.get("/openapi.json")
        assert spec.status == 200 and "/api/lanes/{lane}/basket" in (await spec.json())["paths"]
        loaded.append(set(sys.modules))
        basket = await client.get("/api/lanes/1/basket", headers=bearer)
        assert basket.status == 200 and (await basket.json())["lines"] == [], basket.status
        loaded.append(set(sys.modules))
        code = await client.post("/api/lanes/1/pairing", headers=bearer)
        assert code.status == 201, code.status
        paired = await client.post("/lane/pair", data={"code": (await code.json())["code"]},
                                   allow_redirects=False)
        assert paired.status == 302 and paired.headers["Location"] == "/lane/1/", paired.status
        returns = await client.get("/lane/1/returns")
        assert returns.status == 200 and "<html" in await returns.text(), returns.status
        loaded.append(set(sys.modules))
    print(json.dumps([sorted(b - a) for a, b in zip(loaded, loaded[1:])]))

asyncio.run(main())
"""


def test_what_was_deferred_comes_at_its_first_use(tmp_path: Path) -> None:
    with_page, with_scale, with_docs, with_basket, with_returns = map(
        set, run_gateway_script(FIRST_USE, tmp_path, STOREGW_EDGE_TOKEN="t")
    )
    assert {"edge.admin.pages", "edge.admin.audit", "jinja2"} <= with_page
    assert "edge.devices.scale" in with_scale and "edge.devices.printer" not in with_scale
    assert "edge.openapi" in with_docs and "edge.basket" not in with_docs
    assert {"edge.basket", "edge.tenders", "edge.pages.routes", "protocols.pricing.engine"} <= (
        with_basket
    )
    assert "edge.pages.returns" in with_returns


SCAN_AT_A_LANE = """
import asyncio, json, sys
from pathlib import Path
from edge.gateway import Gateway

async def main():
    gw = Gateway("s1", "g1", Path(sys.argv[1]), "mqtt://127.0.0.1:1")
    built = [gw.baskets.built]
    gw.ctx.lanes.publish("1", {"type": "weight", "grams": 250})  # not the basket's
    built.append(gw.baskets.built)
    q = gw.ctx.lanes.subscribe("1")
    gw.ctx.lanes.publish("1", {"type": "scan", "code": "6901234567892"})
    while (await asyncio.wait_for(q.get(), 10))["type"] != "problem":
        pass  # no catalog yet: the basket refuses the item, and says so on the lane
    print(json.dumps(built + [gw.baskets.built, "edge.basket" in sys.modules]))

asyncio.run(main())
"""


def test_a_scan_at_a_lane_builds_the_baskets(tmp_path: Path) -> None:
    built = run_gateway_script(SCAN_AT_A_LANE, tmp_path, STOREGW_EDGE_TOKEN="t")
    assert built == [False, False, True, True]


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
    # not due, and no certificate parsed
    assert run_gateway_script(RENEWAL_CHECK, tmp_path) == [False, False]
