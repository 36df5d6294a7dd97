"""Scale simulators on real ptys speaking Toledo 8217, MT-SICS and CAS bytes. A test (or the
technician's demo) sets what lies on the platter: a weight, motion, overload, a negative weight.

By default a simulator speaks plain 7-bit ASCII, as a scale does behind a USB-serial adapter
(and as socat pairs and vendors' emulators do on a pty). 7E1 wire emulation is asked for
explicitly (`seven_bit="E"`): a pty has no parity, so the simulator then puts the even-parity
bit into bit 7 of every byte it sends and ignores bit 7 of what it receives, exactly what a 7E1
UART's wire carries. A driver set to 7E1 strips it; one wrongly set to 8N1 sees bytes with bit 7
set — garbage, which the driver names as a configuration error."""

from __future__ import annotations

import argparse
import contextlib
from decimal import Decimal
from pathlib import Path

from edge.devices.serial_port import STRIP_BIT7, parity_table
from edge.sim.pty_device import PtyDevice
from protocols.scales import cas, sics, toledo


class ScaleSim(PtyDevice):
    def __init__(
        self,
        protocol: str,
        *,
        seven_bit: str | None = None,  # "E" / "O": emulate the 7E1 / 7O1 wire (parity in bit 7)
        link: Path | None = None,
        weight: Decimal | str = "0",
        unit: str = "kg",
        serial_number: str = "SIM0001",
        answer: bool = True,
    ) -> None:
        super().__init__(link)
        if protocol not in ("toledo", "sics", "cas"):
            raise ValueError(f"unknown scale protocol {protocol!r}")
        self.protocol = protocol
        self.seven_bit = seven_bit
        self._seven_bit_out = parity_table(seven_bit) if seven_bit else None
        self.weight = Decimal(weight)
        self.unit = unit
        self.tare_weight = Decimal(0)
        self.motion = False
        self.overload = False
        self.serial_number = serial_number
        self.answer = answer  # False: a scale that is switched off but still cabled
        self.requests = 0
        self._buf = bytearray()
        self._cas_ready = False

    def set(
        self,
        weight: Decimal | str | None = None,
        *,
        motion: bool | None = None,
        overload: bool | None = None,
    ) -> None:
        if weight is not None:
            self.weight = Decimal(weight)
        if motion is not None:
            self.motion = motion
        if overload is not None:
            self.overload = overload

    def inject(self, data: bytes) -> None:
        """Send raw bytes as they are (a glitch on the line)."""
        saved, self._seven_bit_out = self._seven_bit_out, None
        try:
            self.send(data)
        finally:
            self._seven_bit_out = saved

    # --- what arrives from the driver -------------------------------------------------------
    def received(self, data: bytes) -> None:
        if self.seven_bit:
            data = data.translate(STRIP_BIT7)
        if not self.answer:
            return
        self._buf += data
        handler = {"toledo": self._toledo, "sics": self._sics, "cas": self._cas}[self.protocol]
        handler()

    def _toledo(self) -> None:
        while self._buf:
            c = chr(self._buf.pop(0))
            if c == "W":
                self.requests += 1
                self.send(self._toledo_weight())
            elif c == "Z" and not self.motion:
                self.weight = Decimal(0)
            elif c == "T" and not self.motion:
                self.tare_weight += self.weight
                self.weight = Decimal(0)
            elif c == "C":
                self.weight += self.tare_weight
                self.tare_weight = Decimal(0)

    def _toledo_weight(self) -> bytes:
        if self.motion or self.overload or self.weight < 0:
            return toledo.status_frame(self.motion, self.overload, self.weight < 0)
        return toledo.weight_frame(f"{self.weight:06.3f}", net=self.tare_weight > 0)

    def _sics(self) -> None:
        while (end := self._buf.find(b"\n")) >= 0:
            line = self._buf[:end].rstrip(b"\r").decode("ascii", "replace").strip()
            del self._buf[: end + 1]
            self.send(self._sics_reply(line))

    def _sics_reply(self, line: str) -> bytes:
        value = f"{self.weight:.3f}"
        if line in ("S", "SI"):
            self.requests += 1
            if self.overload:
                return b"S +\r\n"
            if self.motion:
                return sics.weight_line("S", "D", value) if line == "SI" else b"S I\r\n"
            return sics.weight_line("S", "S", value)
        if line == "Z":
            if self.motion:
                return b"Z I\r\n"
            self.weight = Decimal(0)
            return b"Z A\r\n"
        if line == "T":
            if self.motion:
                return b"T I\r\n"
            self.tare_weight += self.weight
            self.weight = Decimal(0)
            return sics.weight_line("T", "S", f"{self.tare_weight:.3f}")
        if line == "TA":
            return sics.weight_line("TA", "A", f"{self.tare_weight:.3f}")
        if line == "TAC":
            self.weight += self.tare_weight
            self.tare_weight = Decimal(0)
            return b"TAC A\r\n"
        if line in ("I4", "@"):
            return f'I4 A "{self.serial_number}"\r\n'.encode("ascii")
        return b"ES\r\n"

    def _cas(self) -> None:
        while self._buf:
            if self._buf[0] == cas.ENQ:
                del self._buf[:1]
                self._cas_ready = True
                self.send(bytes([cas.ACK]))
            elif self._buf[0] == cas.DC1:
                del self._buf[:1]
                if self._cas_ready:
                    self.requests += 1
                    self.send(self._cas_weight())
                self._cas_ready = False
            elif self._buf.startswith(b"<"):
                end = self._buf.find(b"\t")
                if end < 0:
                    return
                command = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                if command == cas.zero() and not self.motion:
                    self.weight = Decimal(0)
                elif command == cas.tare() and not self.motion:
                    self.tare_weight += self.weight
                    self.weight = Decimal(0)
            else:
                del self._buf[:1]

    def _cas_weight(self) -> bytes:
        state = "F" if self.overload else "U" if self.motion else "S"
        return cas.weight_frame(f"{abs(self.weight):06.3f}", state, self.unit, self.weight < 0)


async def start_for_cli(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, str]:
    """One simulator per protocol, each with 1.250 kg on the platter; the Toledo one emulates the
    7E1 wire a real 8217 uses, so a driver set to 8N1 shows the mismatch."""
    out: dict[str, str] = {}
    for protocol in ("toledo", "sics", "cas"):
        sim = ScaleSim(protocol, weight="1.250", seven_bit="E" if protocol == "toledo" else None)
        await sim.start()
        stack.push_async_callback(sim.close)
        framing = "7E1" if sim.seven_bit else "8N1"
        out[f"scale-{protocol}"] = f"{sim.path}  ({framing})"
    return out
