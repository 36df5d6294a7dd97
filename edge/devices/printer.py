"""Receipt printers (ESC/POS: network 9100 on a socket; serial, USB, file via python-escpos).

Every receipt is a job in the print queue (edge/devices/print_queue.py); each prints once:

- before and after each job the printer's real-time status (DLE EOT) is read; a fault (offline,
  cover open, paper out) keeps the job queued, or marks it failed when it came mid-job, and is
  shown to the lane and the technician — never reported as printed;
- a failed job is sent again when the printer is ready, preceded by DLE DC4 8 so the printer
  drops what it held of the first try (it would otherwise print that too);
- a job found `sending` after a crash may be half printed, and one whose status after sending
  could not be read may have printed: both are marked `interrupted` and are not printed again by
  themselves; a reprint is an explicit action and is marked as a copy.

The lane's receipt routes are in edge/devices/receipt_routes.py; the bytes sent come from
protocols/escpos."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escpos.exceptions import Error as EscposError  # a small module: no escpos.printer

from edge.devices import escpos_lib
from edge.devices.base import Context, Device, DeviceError, DeviceSpec
from edge.devices.payment_profiles import PrinterProfile, payment_profiles
from edge.devices.print_queue import PrintQueue, now_iso, public
from edge.fonts import cjk_font_path
from protocols.escpos import commands, preview
from protocols.escpos import status as st
from protocols.escpos.receipt import (
    Document,
    Store,
    render_refund,
    render_sale,
    render_shift_report,
    render_test_page,
)

if TYPE_CHECKING:
    from pathlib import Path

    from escpos import printer as escpos_printer

    from edge.journal import JournalDb

log = logging.getLogger(__name__)


# --- links: python-escpos transports, used from a worker thread ------------------------------
class TcpPort:
    """A network printer's raw port (9100): what the link used of python-escpos's Network
    printer (open, _raw, _read, close, device), without loading python-escpos for a socket."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.device: socket.socket | None = None

    def open(self) -> None:
        self.close()
        try:
            self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as err:
            raise OSError(f"Could not open socket for {self.host}:{self.port}: {err}") from err

    def _raw(self, data: bytes) -> None:
        if self.device is None:
            raise OSError("printer connection is not open")
        self.device.sendall(data)

    def _read(self) -> bytes:
        if self.device is None:
            raise OSError("printer connection is not open")
        return self.device.recv(16)

    def close(self) -> None:
        if self.device is not None:
            with contextlib.suppress(OSError):
                self.device.shutdown(socket.SHUT_RDWR)
            self.device.close()
            self.device = None


@dataclass
class Link:
    """One printer port (python-escpos's printer object, or TcpPort), plus what it can't do:
    drain stale input and read exactly the four DLE EOT replies."""

    impl: escpos_printer.Escpos | TcpPort
    kind: str  # network | serial | usb | file
    timeout: float = 2.0

    def open(self) -> None:
        try:
            self.impl.open()
        except EscposError as err:
            raise OSError(str(err)) from err

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.impl.close()

    def write(self, data: bytes) -> None:
        try:
            self.impl._raw(data)
        except EscposError as err:
            raise OSError(str(err)) from err

    def _drain(self) -> None:
        dev: Any = self.impl.device
        if self.kind == "network":
            dev.setblocking(False)
            try:
                while dev.recv(64):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            finally:
                dev.settimeout(self.timeout)
        elif self.kind == "serial":
            dev.reset_input_buffer()

    def status(self) -> st.PrinterStatus | None:
        """None when this link cannot read (a file, a one-way cable)."""
        if self.kind == "file":
            return None
        self._drain()
        self.write(st.ALL_QUERIES)
        replies = b""
        deadline = time.monotonic() + self.timeout
        while len(replies) < 4:
            if time.monotonic() > deadline:
                raise OSError(f"printer did not answer DLE EOT ({len(replies)} of 4 replies)")
            try:
                chunk = bytes(self.impl._read())
            except TimeoutError:
                chunk = b""
            except EscposError as err:
                raise OSError(str(err)) from err
            if self.kind == "network" and chunk == b"" and time.monotonic() < deadline - 0.05:
                raise OSError("printer closed the connection")
            replies += chunk
        try:
            return st.parse(replies[:4])
        except st.StatusError as err:
            raise OSError(f"garbled status: {err}") from err


def make_link(port: str, options: dict[str, Any], profile: PrinterProfile, data_dir: Path) -> Link:
    """`host:port` or `tcp://host:port` (network, 9100 by default), `/dev/…` or `serial:/dev/…`,
    `usb:VID:PID` (or `usb:` for the profile's ids), `file:/path`. python-escpos loads for the
    serial, USB and file links, its cache in `data_dir` (edge/devices/escpos_lib.py)."""
    timeout = float(options.get("timeout_s", 2.0))
    escpos_profile = profile.escpos_profile
    if not port.startswith(("file:", "usb:", "serial:", "/dev/")):
        host, _, num = port.removeprefix("tcp://").rpartition(":")
        if not host:
            host, num = num, "9100"
        return Link(TcpPort(host, int(num), timeout), "network", timeout)
    escpos_printer = escpos_lib.printers(data_dir)
    if port.startswith("file:"):
        return Link(escpos_printer.File(port[5:], profile=escpos_profile), "file", timeout)
    if port.startswith("usb:"):
        ids = port[4:] or (profile.usb.ids[0] if profile.usb else "")
        vid, _, pid = ids.partition(":")
        if not vid or not pid:
            raise DeviceError(f"usb port needs VID:PID, got {port!r}")
        impl = escpos_printer.Usb(
            int(vid, 16), int(pid, 16), timeout=int(timeout * 1000), profile=escpos_profile,
            in_ep=int(options.get("in_ep", 0x82)), out_ep=int(options.get("out_ep", 0x01)),
        )  # fmt: skip
        return Link(impl, "usb", timeout)
    impl = escpos_printer.Serial(
        port.removeprefix("serial:"),
        baudrate=int(options.get("baudrate", 9600)),
        timeout=timeout,
        dsrdtr=bool(options.get("dsrdtr", False)),
        profile=escpos_profile,
    )
    return Link(impl, "serial", timeout)


# --- the driver --------------------------------------------------------------------------------
# printers by (context, device id): drawers and lane routes find them here
PRINTERS: dict[tuple[int, str], Printer] = {}


class Printer(Device):
    kind = "printer"
    actions = ("status", "test-print", "open-drawer", "reprint", "preview", "jobs")

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        if ctx.db is None:
            raise DeviceError("a printer needs the gateway database for its queue")
        self.profile = payment_profiles().printer(spec.profile)
        opts = spec.options
        self.paper = self.profile.paper()
        self.store = Store(
            name=str(opts.get("store_name", "")),
            header=tuple(opts.get("header", ())),
            footer=tuple(opts.get("footer", ())),
            qr_url=str(opts.get("qr_url", "")),
            qr_caption=str(opts.get("qr_caption", Store.qr_caption)),
            timezone=str(opts.get("timezone", "Asia/Shanghai")),
            language=str(opts.get("language", "zh")),
        )
        if self.store.language not in ("zh", "en"):
            raise DeviceError(f"language must be zh or en, not {self.store.language!r}")
        self.poll_s = float(opts.get("poll_interval_s", 2.0))
        self.drawer_enabled = bool(opts.get("drawer", bool(self.profile.drawer_pins)))
        self.link = make_link(spec.port, opts, self.profile, ctx.data_dir)
        self.queue = PrintQueue(ctx.db)
        self.print_failures = 0  # jobs failed or interrupted since start (/metrics)
        self.printer_status: st.PrinterStatus | None = None
        self._io = asyncio.Lock()
        self._wake = asyncio.Event()
        self._done = asyncio.Event()  # set whenever a job settles (for actions that wait)
        if n := self.queue.interrupted(spec.id):
            log.warning("printer %s: %s job(s) interrupted by a restart, not resent", spec.id, n)
        ctx.sale_txn_hooks.append(self._enqueue_sale)
        ctx.sale_hooks.append(self._after_sale)
        ctx.print_txn_hooks.append(self._enqueue_document)
        ctx.print_hooks.append(self._after_sale)
        PRINTERS[(id(ctx), spec.id)] = self

    # --- sale hooks ------------------------------------------------------------------------
    def _enqueue_sale(self, db: JournalDb, envelope: dict[str, Any]) -> None:
        body = envelope.get("body", {})
        if envelope.get("type") != "sale.completed" or body.get("lane") != self.spec.lane:
            return
        doc = render_sale(envelope, self.paper, self.store)
        self.queue.add(
            self.spec.id, "receipt", bytes(doc.out), sale_id=body["sale_id"],
            receipt_no=body["receipt_no"], envelope=envelope, in_transaction=True,
        )  # fmt: skip

    def _enqueue_document(self, db: JournalDb, doc: dict[str, Any]) -> None:
        """A refund's slip or a shift's report, queued in the transaction that journals it."""
        body = doc.get("body", {})
        if body.get("lane") != self.spec.lane:
            return
        if doc.get("type") == "sale.refunded":
            row = db.execute(
                "SELECT envelope FROM events WHERE id = ? AND type = 'sale.completed'",
                (body["sale_id"],),
            ).fetchone()
            sale = json.loads(row[0])["body"] if row else {}
            # the sale's own names; another store's sale: the catalog's
            lines = sale.get("lines")
            names = {ln["sku"]: ln["name"] for ln in lines} if lines else self.ctx.item_names()
            env = {**doc, "body": {**body, "receipt_no": sale.get("receipt_no")}}
            out = render_refund(env, self.paper, self.store, names=names)
            kind, key = "refund", body["refund_id"]
        elif doc.get("type") == "shift.report":
            out = render_shift_report(body, self.paper, self.store)
            kind, key = "report", doc["id"]
        else:
            return
        self.queue.add(self.spec.id, kind, bytes(out.out), sale_id=key, in_transaction=True)

    async def _after_sale(self, envelope: dict[str, Any]) -> None:
        body = envelope.get("body", {})
        if body.get("lane") != self.spec.lane:
            return
        self._wake.set()
        if any(p.get("tender") == "cash" for p in body.get("payments", [])) and self.drawer_enabled:
            try:
                await self.open_drawer()
            except (OSError, DeviceError) as err:
                log.warning("printer %s: drawer did not open: %s", self.spec.id, err)
                self.lanes.publish(
                    self.spec.lane or "", {"type": "drawer.failed", "device": self.spec.id,
                                           "error": str(err)},
                )  # fmt: skip

    # --- I/O -------------------------------------------------------------------------------
    async def _run(self, fn: Any, *args: Any) -> Any:
        async with self._io:
            return await asyncio.to_thread(fn, *args)

    async def connect(self) -> None:
        await self._run(self.link.open)
        await self.refresh_status()

    async def close(self) -> None:
        await asyncio.to_thread(self.link.close)

    async def refresh_status(self) -> st.PrinterStatus | None:
        new = await self._run(self.link.status) if self.profile.realtime_status else None
        if new != self.printer_status:
            self.printer_status = new
            event = {"type": "printer.status", "device": self.spec.id,
                     "status": new.as_dict() if new else None}  # fmt: skip
            if new and new.problems():
                log.warning("printer %s: %s", self.spec.id, ", ".join(new.problems()))
            if self.spec.lane:
                self.lanes.publish(self.spec.lane, event)
        return new

    async def open_drawer(self, pin: int | None = None) -> None:
        pin = pin or (self.profile.drawer_pins[0] if self.profile.drawer_pins else 2)
        # real time, so the drawer opens even with the paper out
        pulse = commands.realtime_drawer_pulse(pin, self.profile.drawer_pulse_ms)
        await self._run(self.link.write, pulse)

    async def serve(self) -> None:
        while True:
            await self.print_pending()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            await self.refresh_status()

    async def print_pending(self) -> None:
        for job in self.queue.pending(self.spec.id):
            if not await self._print_job(job):
                return

    def _publish_job(self, job: dict[str, Any], state: str, error: str | None = None) -> None:
        self._done.set()
        if state in ("failed", "interrupted"):
            self.print_failures += 1
        if self.spec.lane:
            self.lanes.publish(
                self.spec.lane,
                {"type": "printer.job", "device": self.spec.id, "job": job["id"],
                 "sale_id": job["sale_id"], "state": state, "error": error},
            )  # fmt: skip

    async def _print_job(self, job: dict[str, Any]) -> bool:
        """Print one job; False when the printer cannot go on (the job stays pending)."""
        before = await self.refresh_status()
        if before and not before.ready:
            reason = ", ".join(before.problems())
            self.queue.set_state(job["id"], job["state"], f"waiting: {reason}")
            self._publish_job(job, "waiting", reason)
            return False
        self.queue.set_state(job["id"], "sending")
        data = (commands.CLEAR_BUFFER if job["attempts"] else b"") + bytes(job["data"])
        try:
            await self._run(self.link.write, data)
        except OSError as err:  # part of it may be in the printer: the resend clears first
            self.queue.set_state(job["id"], "failed", f"link lost while sending: {err}")
            self._publish_job(job, "failed", str(err))
            raise
        try:
            after = await self.refresh_status()
        except OSError as err:
            # all of it was sent, but whether it printed is unknown: like a crash mid-send,
            # it is not resent by itself (that could print it twice); the lane may reprint
            reason = f"sent, then the printer went away: {err}; reprint if missing"
            self.queue.set_state(job["id"], "interrupted", reason)
            self._publish_job(job, "interrupted", reason)
            raise
        if after and not after.ready:
            # drop what the printer still holds of this job, or it would finish it when the
            # fault clears and the resend would print it a second time
            with contextlib.suppress(OSError):
                await self._run(self.link.write, commands.CLEAR_BUFFER)
            reason = ", ".join(after.problems())
            self.queue.set_state(job["id"], "failed", reason)
            self._publish_job(job, "failed", reason)
            log.warning("printer %s: job %s failed: %s", self.spec.id, job["id"], reason)
            return False
        self.queue.set_state(job["id"], "printed")
        self._publish_job(job, "printed")
        return True

    # --- actions ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["printer"] = {
            "title": self.profile.title,
            "paper_mm": self.profile.paper_mm,
            "columns": self.paper.columns,
            "status": self.printer_status.as_dict() if self.printer_status else None,
            "jobs": self.queue.counts(self.spec.id),
        }
        return d

    def _require_online(self) -> None:
        if self.state != "online":
            raise DeviceError(f"printer {self.spec.id} is {self.state}: {self.last_error or ''}")

    async def _wait_job(self, job_id: str, timeout: float) -> dict[str, Any]:
        """Until the job prints or fails; a fault is an error, never a success."""
        self._wake.set()
        deadline = time.monotonic() + timeout
        while True:
            job = self.queue.get(job_id)
            assert job is not None
            if job["state"] == "printed":
                return public(job)
            if job["state"] in ("failed", "interrupted") or (
                job["error"] and job["error"].startswith("waiting")
            ):
                raise DeviceError(f"not printed: {job['error']} (job {job_id} will be retried)")
            if time.monotonic() > deadline:
                raise DeviceError(f"job {job_id} not printed yet: {self.state}")
            self._done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), 0.2)

    def _document_for(
        self, params: dict[str, Any], *, copy: bool
    ) -> tuple[Document, dict[str, Any]]:
        job = None
        if params.get("job_id"):
            job = self.queue.get(str(params["job_id"]))
        elif params.get("sale_id"):
            job = self.queue.by_sale(str(params["sale_id"]), self.spec.id) or self.queue.by_sale(
                str(params["sale_id"])
            )
        if job is None or not job["envelope"]:
            raise DeviceError("no receipt for that sale_id / job_id")
        envelope = json.loads(job["envelope"])
        return render_sale(envelope, self.paper, self.store, copy=copy), job

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        timeout = float(params.get("timeout_s", 10))
        if name == "status":
            self._require_online()
            status = await self.refresh_status()
            result = {"status": status.as_dict() if status else None,
                      "jobs": self.queue.counts(self.spec.id)}  # fmt: skip
            if status and not status.ready:
                raise DeviceError(f"printer not ready: {', '.join(status.problems())}")
            return result
        if name == "jobs":
            return {"jobs": self.queue.recent(self.spec.id, int(params.get("limit", 20)))}
        if name == "open-drawer":
            self._require_online()
            try:
                await self.open_drawer(params.get("pin"))
            except OSError as err:
                raise DeviceError(f"drawer not opened: {err}") from err
            return {"opened": True}
        if name == "test-print":
            self._require_online()
            status = await self.refresh_status()
            if status and not status.ready:  # a test page is not queued for later
                raise DeviceError(f"printer not ready: {', '.join(status.problems())}")
            doc = render_test_page(self.paper, self.store, self.spec.id, now_iso())
            job = self.queue.add(self.spec.id, "test", bytes(doc.out))
            assert job
            return await self._wait_job(job, timeout)
        if name == "reprint":
            doc, original = self._document_for(params, copy=True)
            job = self.queue.add(
                self.spec.id, "reprint", bytes(doc.out), sale_id=original["sale_id"],
                receipt_no=original["receipt_no"], envelope=json.loads(original["envelope"]),
                copy=True,
            )  # fmt: skip
            assert job
            self._require_online()
            return await self._wait_job(job, timeout)
        if name == "preview":
            doc, _ = self._document_for(params, copy=bool(params.get("copy", False)))
            # drawing takes ~0.5 s: not on the loop, where lanes and status reads wait
            return await asyncio.to_thread(self.preview, bytes(doc.out))
        raise DeviceError(f"printer has no action {name!r}")

    def preview(self, data: bytes) -> dict[str, Any]:
        text = preview.text_preview(data, self.paper.columns)
        pngs = preview.png_preview(
            data, self.paper.dots, self.paper.columns, font_path=cjk_font_path()
        )
        return {"text": text, "png_base64": base64.b64encode(pngs[0]).decode() if pngs else ""}

    async def stop(self) -> None:
        await super().stop()
        with contextlib.suppress(ValueError):
            self.ctx.sale_txn_hooks.remove(self._enqueue_sale)
        with contextlib.suppress(ValueError):
            self.ctx.sale_hooks.remove(self._after_sale)
        with contextlib.suppress(ValueError):
            self.ctx.print_txn_hooks.remove(self._enqueue_document)
        with contextlib.suppress(ValueError):
            self.ctx.print_hooks.remove(self._after_sale)
        PRINTERS.pop((id(self.ctx), self.spec.id), None)


def printers_of(ctx: Context) -> list[Printer]:
    return [p for (c, _), p in PRINTERS.items() if c == id(ctx)]
