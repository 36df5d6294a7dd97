"""CAS (PD-II, ER, CAS-M) ECR protocol: host ENQ → scale ACK → host DC1 → scale weight frame

    SOH STX STA SIGN W5 W4 W3 W2 W1 W0 U1 U0 BCC ETX EOT      (15 bytes)

STA `S` stable / `U` unstable / `F` overload; SIGN `-` or space; W5..W0 the weight with its
decimal point; U1 U0 the unit (`kg`, `lb`, ` g`); BCC the XOR of STA..U0 (the same value as
XOR over SOH..U0 and ETX, as some sources put it, since SOH ^ STX ^ ETX = 0).
Zero `<ZK>` + TAB, tare `<TK>` + TAB."""

from __future__ import annotations

from decimal import Decimal
from functools import reduce

from protocols.scales import Acknowledged, FrameParser, Rejected, Status, Weight, parse_decimal

SOH, STX, ETX, EOT, ENQ, ACK, NAK, DC1 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x15, 0x11
FRAME_LEN = 15


def enquire() -> bytes:
    return bytes([ENQ])


def request_weight() -> bytes:
    """DC1, sent after the scale has answered ENQ with ACK."""
    return bytes([DC1])


def zero() -> bytes:
    return b"<ZK>\t"


def tare() -> bytes:
    return b"<TK>\t"


def bcc(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def weight_frame(
    value: Decimal | str, state: str = "S", unit: str = "kg", negative: bool = False
) -> bytes:
    """What the scale sends (used by the simulator and tests); `value` is six characters."""
    field = f"{value!s:>6}"[-6:].encode("ascii")
    body = state.encode("ascii") + (b"-" if negative else b" ") + field + f"{unit:>2}".encode()
    return bytes([SOH, STX]) + body + bytes([bcc(body), ETX, EOT])


class CasParser(FrameParser):
    def _parse(self) -> None:
        buf = self._buf
        while buf:
            head = buf[0]
            if head == ACK:
                del buf[:1]
                self._emit(Acknowledged("ENQ"))
                continue
            if head == NAK:
                del buf[:1]
                self._emit(Rejected("ENQ", "scale answered NAK"))
                continue
            if head != SOH:
                self._error(self._next_start(0), "bytes outside a frame")
                continue
            if len(buf) < FRAME_LEN:
                if len(buf) > 1 and buf[1] != STX:
                    self._error(self._next_start(1), "SOH not followed by STX")
                return
            frame = bytes(buf[:FRAME_LEN])
            event = _frame(frame)
            if isinstance(event, str):
                self._error(self._next_start(1), event)
                continue
            del buf[:FRAME_LEN]
            self._emit(event)

    def _next_start(self, after: int) -> int:
        """Where the next byte that can start a reply is (the resynchronisation point)."""
        found = [i for b in (SOH, ACK, NAK) if (i := self._buf.find(b, max(after, 1))) > 0]
        return min(found) if found else len(self._buf)


def _frame(frame: bytes) -> Weight | Status | str:
    if frame[1] != STX or frame[13] != ETX or frame[14] != EOT:
        return "frame delimiters wrong (truncated frame?)"
    body = frame[2:12]
    if frame[12] != bcc(body):
        return f"BCC mismatch: got {frame[12]:#04x}, computed {bcc(body):#04x}"
    if not body.isascii():
        return "non-ASCII bytes in frame"
    state, sign = chr(body[0]), chr(body[1])
    unit = body[8:10].decode("ascii").strip()
    if state not in "SUF" or sign not in " -+" or not unit.isalpha():
        return "frame fields invalid"
    value = parse_decimal(body[2:8].decode("ascii"))
    if value is None:
        return "weight field is not a number"
    if state == "F":
        return Status(over_capacity=True)
    return Weight(-value if sign == "-" else value, unit, state == "S", False, frame)
