"""A network ESC/POS printer (TCP, like port 9100) — or one on a pty, like a serial printer —
that prints with our decoder, answers DLE EOT from a settable state and keeps what it printed
as text and PNG.

Like a real printer it acts on real-time commands (DLE EOT, DLE DC4) the moment they arrive,
and holds print data while it cannot print (offline, cover open, paper out); the held data
prints when the fault clears, unless a DLE DC4 8 (clear buffer) dropped it first."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import tty
from dataclasses import dataclass, field, replace
from pathlib import Path

from edge.fonts import cjk_font_path
from protocols.escpos import preview
from protocols.escpos import status as st
from protocols.escpos.decoder import (
    ClearBuffer,
    Cut,
    Decoder,
    DrawerPulse,
    Event,
    Feed,
    Init,
    PrintItem,
    StatusRequest,
    Unknown,
)

log = logging.getLogger(__name__)


@dataclass
class Printed:
    """One cut receipt as it came out of the printer."""

    text: str
    items: list[PrintItem]
    png_path: Path | None = None


@dataclass
class PrinterSim:
    columns: int = 48
    dots: int = 576
    hanzi_default: bool = False
    tear_feed: int | None = preview.TEAR_FEED  # a feed this long ends a receipt (no cutter)
    out_dir: Path | None = None  # where receipts are kept as .txt and .png
    status: st.PrinterStatus = field(default_factory=st.PrinterStatus)
    receipts: list[Printed] = field(default_factory=list)
    torn: list[list[PrintItem]] = field(default_factory=list)  # printed without a cut
    drawer_pulses: list[DrawerPulse] = field(default_factory=list)
    status_requests: int = 0
    unknown: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._held: list[Event] = []
        self._paper: list[PrintItem] = []
        self._lines_left: int | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()
        self._drawing: set[asyncio.Future[None]] = set()  # PNGs being written
        self.address = ("", 0)

    # --- state the test or the technician sets ----------------------------------------------
    def set_state(self, **faults: bool) -> None:
        """e.g. set_state(paper_out=True); set_state() clears every fault and prints what
        was held."""
        self.status = replace(st.PrinterStatus(), **faults)
        if self.status.ready:
            held, self._held = self._held, []
            for ev in held:
                self._print(ev)

    def paper_out_after(self, lines: int) -> None:
        """The paper runs out after `lines` more printed lines (a fault mid-job)."""
        self._lines_left = lines

    # --- bytes in, replies out --------------------------------------------------------------
    def feed(self, data: bytes, decoder: Decoder) -> bytes:
        decoder.receive_data(data)
        replies = bytearray()
        for ev in decoder.events():
            if isinstance(ev, StatusRequest):
                self.status_requests += 1
                replies += st.reply(ev.n, self.status)
            elif isinstance(ev, ClearBuffer):
                self._held.clear()
            elif isinstance(ev, DrawerPulse) and ev.realtime:
                self.drawer_pulses.append(ev)
            elif isinstance(ev, Unknown):
                self.unknown.append(ev.data)
            elif self.status.ready:
                self._print(ev)
            else:
                self._held.append(ev)
        self._changed.set()
        return bytes(replies)

    def _print(self, ev: Event) -> None:
        if not self.status.ready:
            self._held.append(ev)
            return
        if isinstance(ev, Init):
            if self._paper:  # what a fault left half printed is torn off by the cashier
                self.torn.append(self._paper)
                self._paper = []
        elif isinstance(ev, DrawerPulse):
            self.drawer_pulses.append(ev)
        elif isinstance(ev, Cut):
            if self._paper:
                self._cut()
        elif isinstance(ev, Feed):
            if self.tear_feed is not None and ev.lines >= self.tear_feed and self._paper:
                self._cut()
        elif not isinstance(ev, StatusRequest | ClearBuffer | Unknown):
            self._paper.append(ev)
            if self._lines_left is not None:
                self._lines_left -= 1
                if self._lines_left <= 0:
                    self._lines_left = None
                    self.status = replace(self.status, paper_out=True)

    def _cut(self) -> None:
        receipt = preview.Receipt(self._paper, cut=True)
        self._paper = []
        printed = Printed(preview.receipt_text(receipt, self.columns), receipt.items)
        if self.out_dir:
            n = len(self.receipts) + 1
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / f"receipt-{n:04d}.txt").write_text(printed.text, "utf-8")
            png_path = printed.png_path = self.out_dir / f"receipt-{n:04d}.png"

            def draw() -> None:
                png_path.write_bytes(
                    preview.receipt_png(receipt, self.dots, self.columns, cjk_font_path())
                )

            # Drawing takes about half a second, more under load: on the event loop it would
            # hold up the DLE EOT replies, which a printer answers at once even while printing
            # (the driver gives up on a status after `timeout_s` and calls the printer gone).
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                draw()
            else:
                self._drawing.add(loop.run_in_executor(None, draw))
        self.receipts.append(printed)

    async def drawn(self) -> None:
        """Until every receipt cut so far has its PNG written."""
        while self._drawing:
            pending, self._drawing = self._drawing, set()
            await asyncio.gather(*pending)

    def png(self, index: int) -> bytes:
        r = self.receipts[index]
        return preview.receipt_png(
            preview.Receipt(r.items, True), self.dots, self.columns, cjk_font_path()
        )

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> None:
        """Until predicate() is true (re-checked whenever bytes arrive)."""
        async with asyncio.timeout(timeout):
            while not predicate():  # type: ignore[operator]
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    # --- TCP --------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._client, host, port)
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        return self.address

    async def stop(self) -> None:
        """Power off: stop listening and drop every connection."""
        if self._server:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        await self.drawn()

    async def power_on(self) -> None:
        await self.start(*self.address)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        decoder = Decoder(hanzi_default=self.hanzi_default)
        try:
            while data := await reader.read(4096):
                if reply := self.feed(data, decoder):
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    # --- pty (a serial printer) --------------------------------------------------------------
    async def serve_pty(self) -> str:
        """Serve on a new pty; returns the slave path a driver opens like /dev/ttyUSB0."""
        master, slave = os.openpty()
        tty.setraw(slave)
        self._pty = (master, slave)
        decoder = Decoder(hanzi_default=self.hanzi_default)
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if reply := self.feed(data, decoder):
                os.write(master, reply)

        os.set_blocking(master, False)
        loop.add_reader(master, readable)
        return os.ttyname(slave)

    def close_pty(self) -> None:
        if getattr(self, "_pty", None):
            asyncio.get_running_loop().remove_reader(self._pty[0])
            for fd in self._pty:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._pty = None


async def start_for_cli(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, str]:
    out = Path(os.environ.get("STOREGW_SIM_DIR", "sim-receipts"))
    wide = PrinterSim(columns=48, dots=576, out_dir=out / "printer-80mm")
    narrow = PrinterSim(columns=32, dots=384, hanzi_default=True, out_dir=out / "printer-58mm")
    found: dict[str, str] = {}
    for name, sim in (("printer 80mm", wide), ("printer 58mm", narrow)):
        host, port = await sim.start(getattr(args, "host", "127.0.0.1"), 0)
        stack.push_async_callback(sim.stop)
        found[name] = f"{host}:{port}"
    found["printer receipts"] = str(out)
    return found
