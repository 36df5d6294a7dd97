"""A ZVT card terminal on a TCP port (like 20007): answers registration, authorisation,
repeat receipt, reversal, end-of-day, status enquiry and ECR abort with the real APDUs.

`behaviour` decides the next authorisation: approve, decline, timeout (silent, not even an
abort is answered), lose_completion (approves, sends status information, never the
completion), wait (waits for the card until the ECR aborts: "be cancelled"), hold (waits for
the test: `release(approve=True/False)`, so a gateway can be killed mid-payment),
lose_request (the request is lost on the way: nothing is answered, no transaction is made;
`holding` is set while the ECR waits in vain). A reversal makes a transaction of its own
(state `reversal`, with its receipt number), as a real terminal does."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from protocols.zvt import commands as c
from protocols.zvt.apdu import Apdu, ApduReader, ZvtError

log = logging.getLogger(__name__)


@dataclass
class Txn:
    receipt_no: int
    trace: int
    amount_fen: int
    state: str  # approved | declined | reversed | aborted
    result: int = 0


@dataclass
class ZvtSim:
    behaviour: str = "approve"
    hold_reversal: bool = False  # a reversal waits for `release()` (kill the ECR meanwhile)
    decline_code: int = 0x05
    terminal_id: str = "52500001"
    password: str = "000000"
    transactions: list[Txn] = field(default_factory=list)
    commands: list[tuple[int, int]] = field(default_factory=list)
    end_of_days: int = 0

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._next_receipt = 1
        self._next_trace = 1
        self._release: asyncio.Future[bool] | None = None
        self.holding = asyncio.Event()  # set while an authorisation waits in `hold`
        self.address = ("", 0)

    @property
    def charged_fen(self) -> int:
        return sum(t.amount_fen for t in self.transactions if t.state == "approved")

    def release(self, approve: bool) -> None:
        if self._release and not self._release.done():
            self._release.set_result(approve)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._client, host, port)
        self.address = self._server.sockets[0].getsockname()[:2]
        return self.address

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    # --- one ECR connection -------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(self, reader, writer)
        try:
            await conn.run()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _new_txn(self, amount: int, state: str, result: int = 0) -> Txn:
        t = Txn(self._next_receipt, self._next_trace, amount, state, result)
        self._next_receipt += 1
        self._next_trace += 1
        self.transactions.append(t)
        return t

    def info(self, t: Txn, result: int | None = None) -> c.StatusInfo:
        now = datetime.now()
        return c.StatusInfo(
            result=t.result if result is None else result,
            amount_fen=t.amount_fen,
            trace=t.trace,
            receipt_no=t.receipt_no,
            terminal_id=self.terminal_id,
            currency=c.CNY,
            card_name="UnionPay",
            pan="6222EEEEEEEE1234",
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
        )


class _Conn:
    def __init__(
        self, sim: ZvtSim, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.sim, self.reader, self.writer = sim, reader, writer
        self.apdus = ApduReader()
        self.pending_abort = asyncio.Event()

    async def send(self, apdu: Apdu) -> None:
        self.writer.write(apdu.encode())
        await self.writer.drain()

    async def recv(self, timeout: float | None = None) -> Apdu | None:
        while (apdu := self.apdus.next_event()) is None:
            data = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not data:
                raise ConnectionError("ECR closed")
            self.apdus.receive_data(data)
        return apdu

    async def expect_ack(self) -> bool:
        try:
            apdu = await self.recv(5)
        except TimeoutError:
            return False
        return apdu is not None and c.is_ack(apdu)

    async def run(self) -> None:
        while True:
            apdu = await self.recv()
            assert apdu is not None
            self.sim.commands.append(apdu.command)
            try:
                await self.handle(apdu)
            except ZvtError as err:
                log.warning("zvt sim: bad %r: %s", apdu, err)
                await self.send(c.nak(0x83))

    async def finish(self, info: c.StatusInfo | None) -> None:
        if info is not None:
            await self.send(c.status_information(info))
            if not await self.expect_ack():
                return
        await self.send(c.completion())
        await self.expect_ack()

    async def handle(self, apdu: Apdu) -> None:
        sim, cmd = self.sim, apdu.command
        if cmd == c.REGISTRATION or cmd == c.STATUS_ENQUIRY:
            await self.send(c.ACK)
            await self.finish(None)
        elif cmd == c.AUTHORISATION:
            await self.authorise(c.parse_amount(apdu))
        elif cmd == c.REPEAT_RECEIPT:
            await self.send(c.ACK)
            if not sim.transactions:
                await self.send(c.abort(0x6C))
                await self.expect_ack()
                return
            await self.finish(sim.info(sim.transactions[-1]))
        elif cmd == c.REVERSAL:
            pw, receipt_no = c.parse_reversal(apdu)
            await self.send(c.ACK)
            txn = next((t for t in sim.transactions if t.receipt_no == receipt_no), None)
            if pw != sim.password or txn is None or txn.state != "approved":
                code = 0xB4 if txn is not None and txn.state == "reversed" else 0xB5
                await self.send(c.abort(code))
                await self.expect_ack()
                return
            if sim.hold_reversal:
                sim._release = asyncio.get_running_loop().create_future()
                sim.holding.set()
                go = await sim._release
                sim.holding.clear()
                if not go:
                    await self.send(c.abort(0x6C))
                    return
            txn.state = "reversed"
            rev = sim._new_txn(txn.amount_fen, "reversal")
            await self.finish(sim.info(rev, 0))
        elif cmd == c.END_OF_DAY:
            await self.send(c.ACK)
            total = sim.charged_fen
            sim.end_of_days += 1
            info = c.StatusInfo(result=0, amount_fen=total, terminal_id=sim.terminal_id)
            await self.finish(info)
        elif cmd == c.ECR_ABORT:
            await self.send(c.ACK)  # nothing running on this connection
        else:
            await self.send(c.nak(0x83))

    async def authorise(self, amount: int) -> None:
        sim = self.sim
        if sim.behaviour == "lose_request":
            sim.holding.set()
            with contextlib.suppress(ConnectionError, OSError):
                while await self.recv() is not None:  # deaf until the ECR hangs up
                    pass
            sim.holding.clear()
            return
        await self.send(c.ACK)
        await self.send(c.intermediate(0x1B))  # present card
        if not await self.expect_ack():
            return
        behaviour = sim.behaviour
        if behaviour == "approve":
            t = sim._new_txn(amount, "approved")
            await self.finish(sim.info(t))
        elif behaviour == "decline":
            sim._new_txn(amount, "declined", sim.decline_code)
            await self.send(c.abort(sim.decline_code))
            await self.expect_ack()
        elif behaviour == "lose_completion":
            t = sim._new_txn(amount, "approved")
            await self.send(c.status_information(sim.info(t)))
            await self.expect_ack()  # ... and the completion never comes
        elif behaviour == "timeout":
            apdu = await self.recv()  # silent: even an ECR abort is not answered
            if apdu is not None:
                sim.commands.append(apdu.command)
        elif behaviour == "wait":
            apdu = await self.recv()  # the customer never shows a card
            if apdu is not None:
                sim.commands.append(apdu.command)
            if apdu is not None and apdu.command == c.ECR_ABORT:
                sim._new_txn(amount, "aborted", 0x6C)
                await self.send(c.abort(0x6C))
                await self.expect_ack()
        elif behaviour == "hold":
            loop = asyncio.get_running_loop()
            sim._release = loop.create_future()
            sim.holding.set()
            approve = await sim._release
            sim.holding.clear()
            t = sim._new_txn(amount, "approved" if approve else "declined", 0 if approve else 5)
            with contextlib.suppress(ConnectionError, OSError):
                if approve:
                    await self.finish(sim.info(t))
                else:
                    await self.send(c.abort(5))
        else:
            raise ZvtError(f"unknown behaviour {behaviour}")


async def start_for_cli(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, str]:
    sim = ZvtSim()
    host, port = await sim.start(getattr(args, "host", "127.0.0.1"), 0)
    stack.push_async_callback(sim.stop)
    return {"zvt terminal": f"{host}:{port}"}
