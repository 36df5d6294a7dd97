"""Card terminals over ZVT (ECR interface, TCP 20007). One TCP connection per exchange: the
terminal is asked for one thing at a time, and a dropped connection never leaves a half
exchange behind. The codec is protocols/zvt; this module only moves its bytes.

What the payment flow needs: `authorise` (with intermediate messages and cancel), `last` (06 20
repeat receipt: what became of a payment whose answer was lost), `reverse`, `end_of_day`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.devices.base import Context, Device, DeviceError, DeviceSpec
from edge.devices.payment_profiles import payment_profiles
from protocols.zvt import commands as c
from protocols.zvt import session as s
from protocols.zvt.apdu import Apdu, ZvtError

log = logging.getLogger(__name__)


class TerminalUnreachable(DeviceError):
    """Nothing was sent: the terminal could not be reached."""


@dataclass
class Exchange:
    """How one ECR command ended."""

    outcome: str  # completed | aborted | nacked | lost
    info: c.StatusInfo | None = None
    code: int | None = None
    texts: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.outcome == "aborted" and self.code is not None:
            return c.result_text(self.code)
        if self.outcome == "nacked":
            return f"terminal refused the command ({self.code:02X})" if self.code else "refused"
        return self.outcome


class Terminal(Device):
    kind = "terminal"
    actions = ("status", "end-of-day")  # payments registers test-payment (edge/payments)

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        self.profile = payment_profiles().terminal(spec.profile)
        opts = spec.options
        host, _, port = spec.port.rpartition(":")
        self.host = host or spec.port
        self.port = int(port) if host else self.profile.port
        self.password = str(opts.get("password", self.profile.password))
        self.ack_timeout = float(opts.get("ack_timeout_s", self.profile.ack_timeout_s))
        self.txn_timeout = float(
            opts.get("transaction_timeout_s", self.profile.transaction_timeout_s)
        )
        self.connect_timeout = float(opts.get("connect_timeout_s", self.profile.connect_timeout_s))
        self.probe_s = float(opts.get("probe_interval_s", 15.0))
        self._busy = asyncio.Lock()  # a terminal does one thing at a time

    # --- supervision: is it reachable? ------------------------------------------------------
    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as err:
            raise TerminalUnreachable(
                f"terminal {self.host}:{self.port} unreachable: {err}"
            ) from err

    async def connect(self) -> None:
        if self._busy.locked():
            return
        _, w = await self._open()
        w.close()

    async def serve(self) -> None:
        while True:
            await asyncio.sleep(self.probe_s)
            if not self._busy.locked():
                await self.connect()

    # --- exchanges ----------------------------------------------------------------------------
    async def exchange(
        self,
        apdu: Apdu,
        *,
        timeout: float,
        on_text: Callable[[str], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Exchange:
        """Send one command and follow it to its end. Raises TerminalUnreachable only when
        nothing was sent; every later failure is an Exchange with outcome `lost`."""
        async with self._busy:
            reader, writer = await self._open()
            session = s.EcrSession()
            ex = Exchange("lost")
            try:
                if self.profile.registration and apdu.command != c.REGISTRATION:
                    reg = await self._run(
                        session, reader, writer, c.registration(self.password),
                        self.ack_timeout * 2, None, None, Exchange("lost"),
                    )  # fmt: skip
                    if reg.outcome != "completed":
                        raise TerminalUnreachable(f"registration failed: {reg.reason}")
                    session = s.EcrSession()
                ex = await self._run(session, reader, writer, apdu, timeout, on_text, cancel, ex)
            except (OSError, ZvtError) as err:
                log.warning("terminal %s: exchange broke: %s", self.spec.id, err)
                ex.texts.append(str(err))
            finally:
                writer.close()
            return ex

    async def _run(
        self,
        session: s.EcrSession,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        apdu: Apdu,
        timeout: float,
        on_text: Callable[[str], None] | None,
        cancel: asyncio.Event | None,
        ex: Exchange,
    ) -> Exchange:
        loop = asyncio.get_running_loop()
        writer.write(session.start(apdu))
        await writer.drain()
        acked = False
        deadline = loop.time() + self.ack_timeout
        aborting = False
        while True:
            if cancel is not None and cancel.is_set() and not aborting:
                aborting = True
                writer.write(session.abort())
                await writer.drain()
                deadline = min(deadline, loop.time() + self.ack_timeout)
            wait = deadline - loop.time()
            if wait <= 0:
                if not aborting and acked:
                    # the customer took too long: abort, then give the PT a moment to answer
                    aborting = True
                    writer.write(session.abort())
                    await writer.drain()
                    deadline = loop.time() + self.ack_timeout
                    continue
                return ex  # lost
            read = asyncio.ensure_future(reader.read(4096))
            waiters: set[asyncio.Future[Any]] = {read}
            cancel_wait = None
            if cancel is not None and not aborting:
                cancel_wait = asyncio.ensure_future(cancel.wait())
                waiters.add(cancel_wait)
            done, _ = await asyncio.wait(waiters, timeout=wait, return_when="FIRST_COMPLETED")
            if cancel_wait is not None:
                cancel_wait.cancel()
            if read not in done:
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read
                continue
            data = read.result()
            if not data:
                return ex  # connection closed mid-exchange: lost
            session.receive_data(data)
            while (ev := session.next_event()) is not None:
                if isinstance(ev, s.Acked) and not acked:
                    acked = True
                    deadline = loop.time() + timeout
                elif isinstance(ev, s.Intermediate):
                    if on_text:
                        on_text(ev.text)
                elif isinstance(ev, s.StatusInformation):
                    ex.info = ev.info
                elif isinstance(ev, s.Completed):
                    ex.outcome = "completed"
                elif isinstance(ev, s.Aborted):
                    ex.outcome, ex.code = "aborted", ev.code
                elif isinstance(ev, s.Nacked):
                    ex.outcome, ex.code = "nacked", ev.code
                elif isinstance(ev, s.PrintText) and ev.text:
                    ex.texts.append(ev.text)
            if out := session.data_to_send():
                writer.write(out)
                await writer.drain()
            if ex.outcome != "lost":
                return ex

    async def authorise(
        self,
        amount_fen: int,
        on_text: Callable[[str], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Exchange:
        return await self.exchange(
            c.authorisation(amount_fen, self.profile.currency),
            timeout=self.txn_timeout,
            on_text=on_text,
            cancel=cancel,
        )

    async def last(self) -> Exchange:
        """06 20: the status information of the terminal's last transaction."""
        return await self.exchange(c.repeat_receipt(self.password), timeout=self.txn_timeout)

    async def reverse(self, receipt_no: int) -> Exchange:
        return await self.exchange(c.reversal(receipt_no, self.password), timeout=self.txn_timeout)

    async def end_of_day(self) -> Exchange:
        return await self.exchange(c.end_of_day(self.password), timeout=self.txn_timeout)

    # --- actions --------------------------------------------------------------------------------
    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "status":
            ex = await self.exchange(c.status_enquiry(self.password), timeout=self.ack_timeout * 2)
            if ex.outcome != "completed":
                raise DeviceError(f"terminal status: {ex.reason}")
            return {"state": self.state, "reachable": True}
        if name == "end-of-day":
            ex = await self.end_of_day()
            if ex.outcome != "completed":
                raise DeviceError(f"end-of-day: {ex.reason}")
            return {"total_fen": ex.info.amount_fen if ex.info else None}
        raise DeviceError(f"terminal has no action {name!r}")
