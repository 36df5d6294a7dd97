"""ZVT over RS-232 (9600 8N2): DLE STX, the APDU with every DLE doubled, DLE ETX, then the
CRC-16 (CCITT polynomial 0x1021, initial value 0: CRC-16/XMODEM) over the APDU bytes and ETX,
low byte first. The receiver answers ACK (06) or NAK (15)."""

from __future__ import annotations

from protocols.stream import EventParser
from protocols.zvt.apdu import Apdu, ZvtError, parse_one

DLE, STX, ETX, ACK, NAK = 0x10, 0x02, 0x03, 0x06, 0x15


def crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def frame(apdu: Apdu) -> bytes:
    raw = apdu.encode()
    crc = crc16_xmodem(raw + bytes((ETX,)))
    return (
        bytes((DLE, STX))
        + raw.replace(b"\x10", b"\x10\x10")
        + bytes((DLE, ETX))
        + crc.to_bytes(2, "little")
    )


class FrameReader(EventParser[Apdu | ZvtError | int]):
    """Sans-I/O (protocols/stream.py): `receive_data(chunk)`; `next_event()` gives an Apdu
    (CRC good: answer ACK), a ZvtError (CRC or framing bad: answer NAK), or the single bytes
    ACK / NAK."""

    def _parse(self) -> None:
        while self._step():
            pass

    def _step(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[0] in (ACK, NAK):
            self._emit(buf[0])
            del buf[:1]
            return True
        if buf[0] != DLE:
            del buf[:1]  # line noise between frames
            return True
        if len(buf) < 2:
            return False
        if buf[1] != STX:
            del buf[:1]
            return True
        body = bytearray()
        i = 2
        while True:
            if i + 1 >= len(buf):
                return False
            if buf[i] == DLE and buf[i + 1] == DLE:
                body.append(DLE)
                i += 2
            elif buf[i] == DLE and buf[i + 1] == ETX:
                i += 2
                break
            elif buf[i] == DLE:
                del buf[:i]  # a DLE STX inside: the earlier frame was cut off
                self._emit(ZvtError("frame interrupted"))
                return True
            else:
                body.append(buf[i])
                i += 1
        if len(buf) < i + 2:
            return False
        crc = int.from_bytes(buf[i : i + 2], "little")
        del buf[: i + 2]
        if crc != crc16_xmodem(bytes(body) + bytes((ETX,))):
            self._emit(ZvtError("CRC mismatch"))
            return True
        parsed = parse_one(body)
        if parsed is None or parsed[1] != len(body):
            self._emit(ZvtError("APDU length does not match the frame"))
        else:
            self._emit(parsed[0])
        return True
