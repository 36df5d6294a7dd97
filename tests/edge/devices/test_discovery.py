"""Discovery: USB enumeration (a fake device list, the one layer that cannot exist here), by-id
links to simulator ptys, hidraw nodes in a fake sysfs, profiles chosen by VID/PID, strings and a
probe, stable ids across re-plugging, and hot-plug through the registry's rescan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.devices import discovery as disc
from edge.devices.base import Context
from edge.devices.discovery import Discovery, UsbInfo, descriptor_is_pos_scanner
from edge.devices.registry import Devices
from edge.gateway import DRIVERS as ALL
from edge.gateway import Gateway
from edge.sim.scales import ScaleSim
from edge.sim.scanners import EvdevReplay, HidrawReplay
from rig.waiting import until

from .conftest import DRIVERS, gateway

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.anyio

FTDI = dict(vid=0x0403, pid=0x6001, manufacturer="FTDI", product="FT232R USB UART")
KEYBOARD_DESCRIPTOR = bytes.fromhex(
    "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 C0"
)
# Usage Page (Bar Code Scanner, 2-byte form), Usage, Collection, report id 2 …
POS_DESCRIPTOR = bytes.fromhex("06 8C 00 09 02 A1 01 85 02 75 08 95 3F 15 00 26 FF 00 81 02 C0")


def by_id_name(usb: UsbInfo) -> str:
    return f"usb-{usb.id_serial}-if00-port0"


def test_descriptor_usage_page_is_read_item_by_item() -> None:
    assert descriptor_is_pos_scanner(POS_DESCRIPTOR)
    assert descriptor_is_pos_scanner(bytes.fromhex("05 8C 09 02"))  # 1-byte form
    assert not descriptor_is_pos_scanner(KEYBOARD_DESCRIPTOR)
    # 0x8C as the data of another item (Logical Maximum) is not a usage page
    assert not descriptor_is_pos_scanner(bytes.fromhex("05 01 25 8C 75 08"))
    assert not descriptor_is_pos_scanner(b"")


def test_usb_ids_from_sysfs(tmp_path: Path) -> None:
    dev = tmp_path / "1-1.2"
    dev.mkdir()
    for name, value in {
        "idVendor": "0403",
        "idProduct": "6001",
        "manufacturer": "FTDI",
        "product": "FT232R USB UART",
        "serial": "A50285BI",
    }.items():
        (dev / name).write_text(value + "\n")
    (tmp_path / "usb1").mkdir()  # a hub without the files is skipped only if incomplete
    found = disc.sysfs_usb_devices(tmp_path)
    assert found == [UsbInfo(0x0403, 0x6001, "FTDI", "FT232R USB UART", "A50285BI", "1-1.2")]
    assert found[0].id_serial == "FTDI_FT232R_USB_UART_A50285BI"


async def _plugged(tmp_path: Path, protocol: str, serial: str) -> tuple[ScaleSim, UsbInfo]:
    usb = UsbInfo(**FTDI, serial=serial, port_path="1-1.4")
    folder = tmp_path / "serial-by-id"
    folder.mkdir(exist_ok=True)
    sim = ScaleSim(protocol, weight="1.000", link=folder / by_id_name(usb))
    await sim.start()
    return sim, usb


async def test_generic_cables_are_told_apart_by_probing(tmp_path: Path) -> None:
    plugged = [await _plugged(tmp_path, p, f"SER{p.upper()}") for p in ("toledo", "sics", "cas")]
    usb = [u for _, u in plugged] + [UsbInfo(0x046D, 0xC077, "Logitech", "Mouse")]
    discovery = Discovery(
        serial_by_id=tmp_path / "serial-by-id",
        input_by_id=tmp_path / "none",
        hidraw_class=tmp_path / "none",
        usb_lister=lambda: usb,
    )
    try:
        specs = {s.port: s for s in await discovery.scan()}
        for (sim, info), protocol in zip(plugged, ("toledo", "sics", "cas"), strict=True):
            spec = specs[sim.port]
            assert spec.kind == "scale" and spec.source == "discovered"
            assert (
                spec.profile
                == {
                    "toledo": "mettler-toledo-8217",
                    "sics": "mettler-toledo-sics",
                    "cas": "cas-pd2",
                }[protocol]
            )
            assert spec.id == f"scale-04036001-{info.serial.lower()}"
        report = discovery.report()
        assert all("probe" in r["note"] for r in report)
        assert all(len(r["candidates"]) == 3 for r in report)
        # decided once: a second scan does not probe again
        before = [sim.requests for sim, _ in plugged]
        assert {s.id for s in await discovery.scan()} == {s.id for s in specs.values()}
        assert [sim.requests for sim, _ in plugged] == before
    finally:
        for sim, _ in plugged:
            await sim.close()


async def test_ids_are_stable_across_replugging(tmp_path: Path) -> None:
    sim, usb = await _plugged(tmp_path, "sics", "SN42")
    discovery = Discovery(
        serial_by_id=tmp_path / "serial-by-id",
        input_by_id=tmp_path / "none",
        hidraw_class=tmp_path / "none",
        usb_lister=lambda: [usb],
    )
    try:
        first = await discovery.scan()
        pts_before = os.readlink(sim.port)
        sim.unplug()
        assert await discovery.scan() == []
        # It comes back under another tty number, as a real one may: a pty taken meanwhile
        # holds the freed number. Other processes take and free ptys too, so the kernel may
        # still hand the old number back: then once more.
        squatters = []
        try:
            for _ in range(10):
                squatters.append(os.openpty())
                sim.plug()
                if os.readlink(sim.port) != pts_before:
                    break
                sim.unplug()
        finally:
            for fds in squatters:
                for fd in fds:
                    os.close(fd)
        assert os.readlink(sim.port) != pts_before
        second = await discovery.scan()
        assert [s.id for s in first] == [s.id for s in second] == ["scale-04036001-sn42"]
        assert second[0].port == first[0].port  # the by-id path, never /dev/pts/N
    finally:
        await sim.close()


async def test_a_device_nobody_knows_is_reported_not_added(tmp_path: Path) -> None:
    folder = tmp_path / "serial-by-id"
    folder.mkdir()
    odd = UsbInfo(0x1234, 0x5678, "Acme", "Widget", "W1")
    (folder / by_id_name(odd)).symlink_to("/dev/null")
    discovery = Discovery(
        serial_by_id=folder,
        input_by_id=tmp_path / "none",
        hidraw_class=tmp_path / "none",
        usb_lister=lambda: [odd],
    )
    assert await discovery.scan() == []
    [seen] = discovery.report()
    assert seen["usb"]["id"] == "1234:5678" and "devices.toml" in seen["note"]


async def test_hid_pos_and_keyboard_scanners_found(tmp_path: Path, ctx: Context) -> None:
    sysfs = tmp_path / "sys" / "class" / "hidraw"
    dev = tmp_path / "dev"
    dev.mkdir()
    for node, hid_id, descriptor in (
        ("hidraw3", "0003:00000C2E:00000B61", POS_DESCRIPTOR),
        ("hidraw4", "0003:0000046D:0000C31C", KEYBOARD_DESCRIPTOR),
    ):
        d = sysfs / node / "device"
        d.mkdir(parents=True)
        (d / "uevent").write_text(
            f"HID_ID={hid_id}\nHID_NAME=Honeywell Scanner\nHID_UNIQ=17030B4F21\n"
            "HID_PHYS=usb-0000:01:00.0-1.3/input0\n"
        )
        (d / "report_descriptor").write_bytes(descriptor)
    pos = HidrawReplay(dev / "hidraw3")
    await pos.start()
    zebra = UsbInfo(0x05E0, 0x1200, "Zebra Technologies", "Symbol Bar Code Scanner", "S123")
    inputs = tmp_path / "input-by-id"
    inputs.mkdir()
    keyboard = EvdevReplay(inputs / f"usb-{zebra.id_serial}-event-kbd")
    await keyboard.start()
    discovery = Discovery(
        serial_by_id=tmp_path / "none",
        input_by_id=inputs,
        hidraw_class=sysfs,
        dev_dir=dev,
        usb_lister=lambda: [zebra],
    )
    devices = Devices(ctx, drivers=DRIVERS)
    devices.sources.append(discovery)
    devices.rescan_interval = 0
    await devices.start()
    try:
        found = {d.spec.id: d for d in devices.by_id.values()}
        assert set(found) == {"scanner-0c2e0b61-17030b4f21", "scanner-05e01200-s123"}
        hid = found["scanner-0c2e0b61-17030b4f21"]
        assert hid.spec.profile == "honeywell-hidpos" and hid.spec.port == str(dev / "hidraw3")
        assert found["scanner-05e01200-s123"].spec.profile == "zebra-ds2208-keyboard"
        await until(lambda: all(d.state == "online" for d in found.values()))
        pos.scan("]E0", "6901234567892")
        await until(lambda: hid.scans == 1)
        assert hid.last_scan and hid.last_scan["gtin"] == "06901234567892"
    finally:
        await devices.stop()
        await pos.close()
        await keyboard.close()


async def test_hot_plug_through_the_registry(tmp_path: Path, ctx: Context) -> None:
    folder = tmp_path / "serial-by-id"
    folder.mkdir()
    usb = UsbInfo(**FTDI, serial="HOT1", port_path="1-1.1")
    sim = ScaleSim("sics", weight="0.500", link=folder / by_id_name(usb))
    discovery = Discovery(
        serial_by_id=folder,
        input_by_id=tmp_path / "none",
        hidraw_class=tmp_path / "none",
        usb_lister=lambda: [usb] if sim.plugged else [],
    )
    devices = Devices(ctx, drivers=DRIVERS)
    devices.sources.append(discovery)
    devices.rescan_interval = 0.1
    devices.forget_after = 0.6
    await devices.start()
    async with gateway(devices) as client:

        async def listed() -> dict[str, dict[str, object]]:
            body = await (await client.get("/api/devices")).json()
            return {d["id"]: d for d in body["devices"]}

        assert await listed() == {}
        await sim.start()  # plugged in while the gateway runs
        device_id = "scale-04036001-hot1"

        async def found() -> dict[str, object] | None:
            return (await listed()).get(device_id)

        current = await until(found, what="the plugged-in scale listed")
        assert current["profile"] == "mettler-toledo-sics"
        assert current["port"] == str(folder / by_id_name(usb))
        await until(lambda: devices.by_id[device_id].state == "online")
        devices.by_id[device_id].backoff_min = 0.05
        r = await client.post(f"/api/devices/{device_id}/read")
        assert (await r.json())["result"]["grams"] == 500

        sim.unplug()  # pulled out, and back within the grace period: same device
        await until(lambda: devices.by_id[device_id].state == "unavailable")
        sim.plug()
        await until(lambda: devices.by_id[device_id].state == "online", timeout=8)

        sim.unplug()  # pulled out for good: forgotten

        async def forgotten() -> bool:
            return device_id not in await listed()

        await until(forgotten, what="the unplugged scale forgotten")
    await sim.close()


async def test_a_declared_device_wins_over_discovery(tmp_path: Path, ctx: Context) -> None:
    sim, usb = await _plugged(tmp_path, "toledo", "DECL")
    # declared by its tty, found by discovery under its by-id link: the same port
    (tmp_path / "devices.toml").write_text(
        '[[device]]\nid = "scale-front"\nkind = "scale"\n'
        f'profile = "mettler-toledo-8217"\nport = "{os.path.realpath(sim.port)}"\nlane = "1"\n'
    )
    devices = Devices(ctx, drivers=DRIVERS)
    discovery = Discovery(
        serial_by_id=tmp_path / "serial-by-id",
        input_by_id=tmp_path / "none",
        hidraw_class=tmp_path / "none",
        usb_lister=lambda: [usb],
        busy=devices.port_in_use,
    )
    devices.sources.append(discovery)
    devices.rescan_interval = 0
    await devices.start()
    try:
        assert list(devices.by_id) == ["scale-front"]
        assert devices.by_id["scale-front"].spec.lane == "1"
        assert "in use" in discovery.report()[0]["note"]  # never probed under a running driver
    finally:
        await devices.stop()
        await sim.close()


async def test_gateway_wiring_adds_discovery_and_its_report(ctx: Context) -> None:
    """The gateway adds discovery to its registry's sources and serves its report."""
    gw = Gateway("s1", "g1", ctx.data_dir / "gw", "mqtt://127.0.0.1:1")
    try:
        assert gw.devices.sources == [gw.discovery]
        assert set(gw.devices.drivers) == set(ALL)
        served = {r.resource.canonical for r in gw.app.router.routes() if r.resource}
        assert "/api/discovery" in served
    finally:
        gw.journal.close()
    discovery = Discovery(busy=Devices(ctx, drivers=DRIVERS).port_in_use)
    app = web.Application()
    app.add_routes(discovery.routes())
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        r = await client.get("/api/discovery")
        assert r.status == 200 and "seen" in await r.json()
    finally:
        await client.close()


def test_usb_enumeration_reads_the_kernels_list_without_libusb() -> None:
    """The gateway lists USB from sysfs, pyusb (and libusb) never loaded for it."""
    code = (
        "import sys; from edge.devices import discovery as d; found = d.usb_devices(); "
        "assert all(isinstance(u, d.UsbInfo) for u in found); "
        "assert len(found) == len(d.sysfs_usb_devices(d.SYSFS_USB)); "
        "assert 'usb' not in sys.modules, 'pyusb loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
