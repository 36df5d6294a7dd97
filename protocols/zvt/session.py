"""The ECR side of one ZVT exchange as a state machine (h11 style): `start(apdu)` gives the
bytes to send; `receive_data(bytes)` buffers, `next_event()` gives events (protocols/stream.py).
The ACKs the ECR owes the PT for each command it received are queued for `data_to_send()`: the
protocol, not the caller, decides those bytes.

An authorisation runs: ECR 06 01 → PT 80 00 00 → PT 04 FF… (intermediate) → PT 04 0F (status
information) → ECR ACK → PT 06 0F (completion) or PT 06 1E (abort)."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.stream import EventParser
from protocols.zvt import commands as c
from protocols.zvt.apdu import Apdu, ApduReader, ZvtError


@dataclass(frozen=True)
class Acked:
    pass


@dataclass(frozen=True)
class Nacked:
    code: int


@dataclass(frozen=True)
class Intermediate:
    code: int
    text: str


@dataclass(frozen=True)
class StatusInformation:
    info: c.StatusInfo


@dataclass(frozen=True)
class Completed:
    pass


@dataclass(frozen=True)
class Aborted:
    code: int
    text: str


@dataclass(frozen=True)
class PrintText:
    text: str


@dataclass(frozen=True)
class Other:
    apdu: Apdu


Event = Acked | Nacked | Intermediate | StatusInformation | Completed | Aborted | PrintText | Other


class EcrSession(EventParser[Event]):
    def __init__(self) -> None:
        super().__init__()
        self._reader = ApduReader()
        self._out = bytearray()
        self.state = "idle"  # idle | awaiting_ack | running | done
        self.info: c.StatusInfo | None = None

    def start(self, apdu: Apdu) -> bytes:
        if self.state not in ("idle", "done"):
            raise ZvtError(f"a command is already running ({self.state})")
        self.state, self.info = "awaiting_ack", None
        return apdu.encode()

    def abort(self) -> bytes:
        """06 B0 during a running command: the PT answers with 06 1E."""
        return c.ecr_abort().encode()

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def _parse(self) -> None:
        self._reader.receive_data(bytes(self._buf))
        self._buf.clear()  # the APDU reader keeps what is not yet a whole APDU
        while (apdu := self._reader.next_event()) is not None:
            self._emit(self._handle(apdu))

    @property
    def pending(self) -> int:
        return self._reader.pending

    def _ack(self) -> None:
        self._out += c.ACK.encode()

    def _handle(self, apdu: Apdu) -> Event:
        if c.is_ack(apdu):
            if self.state == "awaiting_ack":
                self.state = "running"
            return Acked()
        if c.is_nak(apdu):
            self.state = "done"
            return Nacked(apdu.ins)
        cmd = apdu.command
        if cmd == c.INTERMEDIATE_STATUS:
            self._ack()
            code = apdu.data[0] if apdu.data else 0
            return Intermediate(code, c.INTERMEDIATE.get(code, f"status {code:02X}"))
        if cmd == c.STATUS_INFORMATION:
            self.info = c.StatusInfo.parse(apdu)
            self._ack()
            return StatusInformation(self.info)
        if cmd == c.COMPLETION:
            self._ack()
            self.state = "done"
            return Completed()
        if cmd == c.ABORT:
            self._ack()
            self.state = "done"
            code = apdu.data[0] if apdu.data else 0xFF
            return Aborted(code, c.result_text(code))
        if cmd in (c.PRINT_LINE, c.PRINT_TEXT_BLOCK):
            self._ack()
            text = apdu.data[1:].decode("latin-1", "replace") if cmd == c.PRINT_LINE else ""
            return PrintText(text)
        self._ack()  # whatever else the PT sends is acknowledged so it does not hang
        return Other(apdu)
