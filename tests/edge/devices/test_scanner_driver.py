"""Scanners: the keyboard-wedge and HID POS decoders on recorded kernel events/reports, and the
three drivers against simulators (pty, evdev and hidraw replay) feeding the right lane."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from evdev import ecodes as e

from edge.devices.base import Context, DeviceSpec
from edge.devices.scanner import Scanner
from edge.sim.scanners import EvdevReplay, HidrawReplay, SerialScannerSim
from protocols.scanners.hidpos import HidPosReports, HidPosScan, ReportError
from protocols.scanners.hidpos import report as hidpos_report
from protocols.scanners.hidpos import reports as hidpos_reports
from protocols.scanners.serial import Overflow, SuffixScans
from protocols.scanners.wedge import EV_KEY, KEYMAP, KeyboardWedge, records
from rig.waiting import until

from .conftest import fast

pytestmark = pytest.mark.anyio

PAYCODE = "134567890123456789"


def feed_all(wedge: KeyboardWedge, events: list[tuple[int, int, int]]) -> list[str]:
    wire = records(events)
    for i in range(0, len(wire), 7):  # records split anywhere, as reads may split them
        wedge.receive_data(wire[i : i + 7])
    return wedge.events()


def test_wedge_keymap_is_the_kernels() -> None:
    """protocols/ spells the key codes itself; they must be evdev's (linux/input-event-codes.h)."""
    names = {
        "1234567890-=": "1 2 3 4 5 6 7 8 9 0 MINUS EQUAL",
        "qwertyuiop[]": "Q W E R T Y U I O P LEFTBRACE RIGHTBRACE",
        "asdfghjkl;'`": "A S D F G H J K L SEMICOLON APOSTROPHE GRAVE",
        "\\zxcvbnm,./": "BACKSLASH Z X C V B N M COMMA DOT SLASH",
        " \t": "SPACE TAB",
    }
    for chars, keys in names.items():
        for ch, key in zip(chars, keys.split(), strict=True):
            assert KEYMAP[getattr(e, f"KEY_{key}")][0] == ch, key
    for d in "0123456789":
        assert KEYMAP[getattr(e, f"KEY_KP{d}")] == (d, d)


def press(code: int) -> list[tuple[int, int, int]]:
    return [(EV_KEY, code, 1), (EV_KEY, code, 0)]


def test_wedge_letters_shift_digits_and_enter() -> None:
    events = [
        (EV_KEY, e.KEY_LEFTSHIFT, 1),
        *press(e.KEY_A),
        (EV_KEY, e.KEY_LEFTSHIFT, 0),
        *press(e.KEY_B),
        *press(e.KEY_1),
        (EV_KEY, e.KEY_RIGHTSHIFT, 1),
        *press(e.KEY_1),
        *press(e.KEY_RIGHTBRACE),
        (EV_KEY, e.KEY_RIGHTSHIFT, 0),
        *press(e.KEY_KP7),
        (0, 0, 0),  # EV_SYN is ignored
        *press(e.KEY_ENTER),
        *press(e.KEY_Z),
        *press(e.KEY_KPENTER),
    ]
    assert feed_all(KeyboardWedge(), events) == ["Ab1!}7", "z"]


def test_wedge_capslock_and_gs() -> None:
    events = [
        *press(e.KEY_CAPSLOCK),
        *press(e.KEY_A),
        (EV_KEY, e.KEY_LEFTSHIFT, 1),
        *press(e.KEY_A),
        (EV_KEY, e.KEY_LEFTSHIFT, 0),
        *press(e.KEY_CAPSLOCK),
        (EV_KEY, e.KEY_LEFTCTRL, 1),
        *press(e.KEY_RIGHTBRACE),  # Ctrl+] = GS
        (EV_KEY, e.KEY_LEFTCTRL, 0),
        (EV_KEY, e.KEY_LEFTALT, 1),
        *press(e.KEY_KP0),
        *press(e.KEY_KP2),
        *press(e.KEY_KP9),
        (EV_KEY, e.KEY_LEFTALT, 0),  # Alt+029 = GS as well
        *press(e.KEY_ENTER),
    ]
    assert feed_all(KeyboardWedge(), events) == ["Aa\x1d\x1d"]


def test_wedge_autorepeat_counts_as_a_key() -> None:
    events = [(EV_KEY, e.KEY_5, 1), (EV_KEY, e.KEY_5, 2), (EV_KEY, e.KEY_5, 0), *press(e.KEY_ENTER)]
    assert feed_all(KeyboardWedge(), events) == ["55"]


def test_hidpos_reports_single_and_continued() -> None:
    reports = HidPosReports()
    reports.receive_data(hidpos_report(b"]E0", b"6901234567892"))
    assert reports.next_event() == HidPosScan(b"]E0", b"6901234567892")
    assert reports.next_event() is None
    long = bytes(range(48, 58)) * 15
    parts = hidpos_reports(b"]Q1", long)
    assert len(parts) == 3 and all(len(p) == 64 for p in parts)
    for p in parts[:-1]:
        reports.receive_data(p)
        assert reports.next_event() is None  # more reports follow
    reports.receive_data(parts[-1])
    scan = reports.next_event()
    assert scan == HidPosScan(b"]Q1", long) and scan.text() == "]Q1" + long.decode()
    reports.receive_data(bytes([0x04]) + bytes(63))  # another report id: ignored
    assert reports.next_event() is None
    reports.receive_data(bytes([0x02, 200]) + bytes(62))
    bad = reports.next_event()
    assert isinstance(bad, ReportError) and "data bytes" in bad.reason


def test_serial_scans_end_with_the_suffix() -> None:
    scans = SuffixScans(b"\r")
    scans.receive_data(b"6901234567892\r2112")
    assert scans.next_event() == b"6901234567892" and scans.next_event() is None
    scans.receive_data(b"345012506\r")
    assert scans.events() == [b"2112345012506"]
    scans.receive_data(b"x" * 5000)  # a scanner whose suffix is not configured
    assert scans.events() == [Overflow(5000)] and scans.pending == 0


def test_honeywell_style_report_bytes() -> None:
    """id 0x02, length, "]E0", data, padding, more-data flag in the last byte."""
    report = hidpos_report(b"]E0", b"96385074")
    assert report[:13] == bytes([0x02, 8]) + b"]E0" + b"96385074"
    assert report[-1] == 0 and len(report) == 64


async def _serial(ctx: Context, lane: str, name: str) -> tuple[SerialScannerSim, Scanner]:
    sim = SerialScannerSim()
    await sim.start()
    scanner = fast(Scanner(DeviceSpec(name, "scanner", "newland-cdc", sim.port, lane), ctx))
    scanner.start()
    await until(lambda: scanner.state == "online")
    return sim, scanner


async def test_serial_scanners_feed_their_own_lanes(ctx: Context) -> None:
    lane1, lane2 = ctx.lanes.subscribe("1"), ctx.lanes.subscribe("2")
    sim1, s1 = await _serial(ctx, "1", "scan-a")
    sim2, s2 = await _serial(ctx, "2", "scan-b")
    try:
        sim1.scan("]E06901234567892")
        sim2.scan("2112345012506")  # dahua-13-amount is in the profile's layouts
        sim2.scan("]C10109501101530003" + "10LOT\x1d" + "17270131")
        one = await asyncio.wait_for(lane1.get(), 3)
        assert one["type"] == "scan" and one["device"] == "scan-a"
        assert one["kind"] == "product" and one["symbology"] == "EAN-13/UPC-A"
        assert one["gtin"] == "06901234567892"
        two = await asyncio.wait_for(lane2.get(), 3)
        assert (
            two["kind"] == "weighed" and two["amount_fen"] == 1250 and two["item_code"] == "112345"
        )
        three = await asyncio.wait_for(lane2.get(), 3)
        assert (
            three["kind"] == "gs1" and three["batch"] == "LOT" and three["expiry"] == "2027-01-31"
        )
        assert lane1.empty() and lane2.empty()
    finally:
        for device in (s1, s2):
            await device.stop()
        await sim1.close()
        await sim2.close()


async def test_a_scan_split_across_reads_is_one_scan(ctx: Context) -> None:
    lane = ctx.lanes.subscribe("1")
    sim, scanner = await _serial(ctx, "1", "scan-a")
    try:
        sim.send(b"69012345")
        # the first half is read, and held until the rest comes in a later read
        await until(lambda: scanner._serial.pending == 8, what="the first half read")
        sim.send(b"67892\r96385074\r")
        got = [await asyncio.wait_for(lane.get(), 3) for _ in range(2)]
        assert [g["code"] for g in got] == ["6901234567892", "96385074"]
    finally:
        await scanner.stop()
        await sim.close()


async def test_payment_code_goes_to_payment_masked_in_logs(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lane = ctx.lanes.subscribe("1")
    sim, scanner = await _serial(ctx, "1", "scan-a")
    try:
        sim.scan(PAYCODE)
        event = await asyncio.wait_for(lane.get(), 3)
        assert event["type"] == "paycode" and event["provider"] == "wechat"
        assert event["code"] == PAYCODE  # for the payment module
        assert event["masked"] == "1345**********6789"
        assert "gtin" not in event and "kind" not in event  # never a catalog lookup
        assert PAYCODE not in str(scanner.describe())
    finally:
        await scanner.stop()
        await sim.close()
    assert "1345**********6789" in caplog.text
    assert PAYCODE not in caplog.text


async def test_keyboard_wedge_replay(ctx: Context, tmp_path: Path) -> None:
    lane = ctx.lanes.subscribe("3")
    sim = EvdevReplay(tmp_path / "usb-Zebra_DS2208-event-kbd")
    await sim.start()
    scanner = fast(Scanner(DeviceSpec("kbd", "scanner", "generic-keyboard", sim.port, "3"), ctx))
    scanner.start()
    try:
        await until(lambda: scanner.state == "online")
        sim.type_scan("]C1010950110153000310Lot~17270131")  # ~ is this profile's GS
        sim.play(sim.key_events("]E06901234567892"))
        gs1 = await asyncio.wait_for(lane.get(), 3)
        assert gs1["kind"] == "gs1" and gs1["batch"] == "Lot" and gs1["expiry"] == "2027-01-31"
        ean13 = await asyncio.wait_for(lane.get(), 3)
        assert ean13["kind"] == "product" and ean13["symbology"] == "EAN-13/UPC-A"
        sim.unplug()
        await until(lambda: scanner.state == "unavailable")
        sim.plug()
        await until(lambda: scanner.state == "online")
        sim.type_scan("96385074")
        assert (await asyncio.wait_for(lane.get(), 3))["code"] == "96385074"
    finally:
        await scanner.stop()
        await sim.close()


async def test_hid_pos_replay(ctx: Context, tmp_path: Path) -> None:
    lane = ctx.lanes.subscribe("4")
    sim = HidrawReplay(tmp_path / "hidraw0")
    await sim.start()
    scanner = fast(Scanner(DeviceSpec("pos", "scanner", "honeywell-hidpos", sim.port, "4"), ctx))
    scanner.start()
    try:
        await until(lambda: scanner.state == "online")
        data = "01095011015300031727013110" + "B" * 20 + "\x1d21" + "S" * 20 + "\x1d91" + "Z" * 30
        assert len(data) > 58  # more than one report
        sim.scan("]d2", data)
        sim.scan("]Q1", "281234567890123456")
        dm = await asyncio.wait_for(lane.get(), 3)
        assert dm["symbology"] == "GS1 DataMatrix" and dm["kind"] == "gs1"
        assert dm["batch"] == "B" * 20 and dm["serial"] == "S" * 20
        assert dm["elements"]["91"] == "Z" * 30
        pay = await asyncio.wait_for(lane.get(), 3)
        assert pay["type"] == "paycode" and pay["provider"] == "alipay"
        assert scanner.scans == 2
    finally:
        await scanner.stop()
        await sim.close()
