"""HID POS (usage page 0x8C) input reports: id 0x02, data length, 3 AIM bytes, data …, and a
last byte 1 when more reports of the same scan follow.

hidraw hands over one report per read, so each `receive_data()` call is one report."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.stream import EventParser

REPORT_ID = 0x02


@dataclass(frozen=True)
class HidPosScan:
    aim: bytes  # the AIM symbology id ("]E0"), or zeros when the scanner sends none
    data: bytes

    def text(self, encoding: str = "utf-8") -> str:
        """The scan as a wedge would type it: the AIM prefix (when there is one), then the data."""
        prefix = self.aim.decode("ascii", "replace") if self.aim.startswith(b"]") else ""
        return prefix + self.data.decode(encoding, "replace")


@dataclass(frozen=True)
class ReportError:
    """A report that contradicts itself; the scan it was part of is dropped."""

    reason: str


class HidPosReports(EventParser[HidPosScan | ReportError]):
    def __init__(self, report_size: int = 64) -> None:
        super().__init__()
        self.report_size = report_size
        self._aim = b""
        self._data = bytearray()

    def _parse(self) -> None:
        report = bytes(self._buf)
        self._buf.clear()
        if len(report) < 6 or report[0] != REPORT_ID:
            return  # another report (attributes, status): not a scan
        length = report[1]
        if length > len(report) - 6:
            self._aim, self._data = b"", bytearray()
            self._emit(ReportError(f"report says {length} data bytes in {len(report)} bytes"))
            return
        if not self._data:
            self._aim = report[2:5]
        self._data += report[5 : 5 + length]
        if report[-1] == 0x01:
            return
        data, self._data = bytes(self._data), bytearray()
        self._emit(HidPosScan(self._aim, data))


def report(aim: bytes, data: bytes, more: bool = False, size: int = 64) -> bytes:
    """Build one report (for simulators and tests)."""
    room = size - 6
    if len(data) > room:
        raise ValueError(f"at most {room} data bytes per report")
    body = bytes([REPORT_ID, len(data)]) + aim[:3].ljust(3, b"\0") + data
    return body.ljust(size - 1, b"\0") + bytes([1 if more else 0])


def reports(aim: bytes, data: bytes, size: int = 64) -> list[bytes]:
    """The reports of one scan, split as a scanner splits a long one."""
    room = size - 6
    chunks = [data[i : i + room] for i in range(0, len(data), room)] or [b""]
    return [report(aim, c, i < len(chunks) - 1, size) for i, c in enumerate(chunks)]
