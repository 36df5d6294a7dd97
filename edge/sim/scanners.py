"""Scanner simulators: a serial (CDC) scanner on a real pty, and replay of what the kernel hands
a driver for the two USB HID kinds — `struct input_event` records of a keyboard wedge (evdev) and
HID POS input reports (hidraw) — through a FIFO, since no input device can exist here.

A replay FIFO is held open read-write by the simulator, so a driver sees end-of-file (an
unplugged device) only when the simulator unplugs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import tempfile
import time
from pathlib import Path

from edge.sim.pty_device import PtyDevice
from protocols.scanners.hidpos import reports as hidpos_reports
from protocols.scanners.wedge import EV_KEY, EV_SYN, KEYMAP, records


class SerialScannerSim(PtyDevice):
    """A CDC / RS-232 scanner: each scan is the text, then the suffix."""

    def __init__(self, link: Path | None = None, suffix: bytes = b"\r", prefix: str = "") -> None:
        super().__init__(link)
        self.suffix = suffix
        self.prefix = prefix  # e.g. an AIM id the scanner is programmed to send

    def received(self, data: bytes) -> None:
        pass  # commands to the scanner (beep, trigger) are not simulated

    def scan(self, text: str, encoding: str = "utf-8") -> None:
        self.send((self.prefix + text).encode(encoding) + self.suffix)


class FifoReplay:
    """The kernel side of an input node, as a FIFO at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def port(self) -> str:
        return str(self.path)

    async def start(self) -> None:
        self.plug()

    def plug(self) -> None:
        if not self.path.exists():
            os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)

    def unplug(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def close(self) -> None:
        self.unplug()

    def write(self, data: bytes) -> None:
        if self._fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                time.sleep(0.001)  # the driver drains the FIFO from its event loop


class EvdevReplay(FifoReplay):
    """A keyboard wedge: `type_scan()` turns text into the key presses a US keyboard makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        from evdev import ecodes as e

        self._e = e
        self._keys: dict[str, tuple[int, bool]] = {}
        for code, (plain, shifted) in KEYMAP.items():
            names = e.KEY[code] if isinstance(e.KEY[code], list) else [e.KEY[code]]
            if any(n.startswith("KEY_KP") for n in names):
                continue  # type with the main block, as scanners do
            self._keys.setdefault(plain, (code, False))
            self._keys.setdefault(shifted, (code, shifted != plain))

    def play(self, events: list[tuple[int, int, int]]) -> None:
        """Raw (type, code, value) events, each followed by nothing else (replay as recorded)."""
        now = time.time()
        sec, usec = int(now), int(now % 1 * 1e6)
        self.write(records(events, sec, usec))

    def key_events(self, text: str, gs_as_ctrl: bool = True) -> list[tuple[int, int, int]]:
        e = self._e
        out: list[tuple[int, int, int]] = []

        def tap(code: int, *mods: int) -> None:
            out.extend((EV_KEY, m, 1) for m in mods)
            out.extend([(EV_KEY, code, 1), (EV_SYN, 0, 0), (EV_KEY, code, 0)])
            out.extend((EV_KEY, m, 0) for m in reversed(mods))
            out.append((EV_SYN, 0, 0))

        for ch in text:
            if ch == "\x1d" and gs_as_ctrl:
                tap(e.KEY_RIGHTBRACE, e.KEY_LEFTCTRL)
                continue
            if ch not in self._keys:
                raise ValueError(f"a US keyboard cannot type {ch!r}")
            code, shifted = self._keys[ch]
            tap(code, *([e.KEY_LEFTSHIFT] if shifted else []))
        tap(e.KEY_ENTER)
        return out

    def type_scan(self, text: str) -> None:
        self.play(self.key_events(text))


class HidrawReplay(FifoReplay):
    """A HID POS scanner: `scan()` writes the input reports of one scan."""

    def __init__(self, path: Path, report_size: int = 64) -> None:
        super().__init__(path)
        self.report_size = report_size

    def scan(self, aim: str, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        for report in hidpos_reports(aim.encode("ascii"), raw, self.report_size):
            self.write(report)


DEMO_SCANS = ("6901234567892", "2112345012506", "]C10109501101530003\x1d10LOT7\x1d17270101")


async def start_for_cli(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, str]:
    """A serial scanner on a pty, keyboard and HID POS replay FIFOs; each scans a demo code
    every 5 seconds."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="storegw-scanners-")))
    serial_sim = SerialScannerSim()
    keyboard = EvdevReplay(folder / "keyboard-event")
    hidpos = HidrawReplay(folder / "hidraw-pos")
    for sim in (serial_sim, keyboard, hidpos):
        await sim.start()
        stack.push_async_callback(sim.close)

    async def demo() -> None:
        for code in itertools.cycle(DEMO_SCANS):
            await asyncio.sleep(5)
            serial_sim.scan(code)
            keyboard.type_scan(code.replace("]C1", ""))
            hidpos.scan("]C1" if code.startswith("]C1") else "]E0", code.replace("]C1", ""))

    task = asyncio.create_task(demo())
    stack.callback(task.cancel)
    return {
        "scanner-serial": serial_sim.path,
        "scanner-keyboard": keyboard.port,
        "scanner-hidpos": hidpos.port,
    }
