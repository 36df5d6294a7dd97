"""An ESC/POS decoder of ours: bytes in (in any chunks), events out — printed lines with their
style, barcodes, QR codes, cuts, drawer pulses, status requests. The printer simulator prints
with it and previews are made with it, so a preview shows what a printer would print.

It knows the commands receipts use and the lengths of the common others; an unknown command is
reported as `Unknown` and skipped by its prefix, never guessed into text."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.stream import EventParser

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10


@dataclass(frozen=True)
class Style:
    align: str = "left"  # left | center | right
    bold: bool = False
    wide: bool = False  # double width: every character takes twice the columns
    tall: bool = False


@dataclass(frozen=True)
class Line:
    text: str
    style: Style = Style()


@dataclass(frozen=True)
class Barcode:
    symbology: str
    data: str


@dataclass(frozen=True)
class QRCode:
    data: str


@dataclass(frozen=True)
class Cut:
    partial: bool


@dataclass(frozen=True)
class Feed:
    """ESC d n: n lines of paper; on a printer without a cutter, how a receipt ends."""

    lines: int


@dataclass(frozen=True)
class DrawerPulse:
    pin: int  # 2 or 5
    on_ms: int
    realtime: bool = False  # DLE DC4 1: done on receipt, even while printing is blocked


@dataclass(frozen=True)
class StatusRequest:
    n: int  # DLE EOT n: 1 printer, 2 offline cause, 3 error cause, 4 paper sensor


@dataclass(frozen=True)
class ClearBuffer:
    """DLE DC4 8: the printer drops what it holds but has not printed."""


@dataclass(frozen=True)
class Init:
    pass


@dataclass(frozen=True)
class Image:
    width: int
    height: int


@dataclass(frozen=True)
class Unknown:
    data: bytes


Event = (
    Line
    | Barcode
    | QRCode
    | Cut
    | Feed
    | DrawerPulse
    | StatusRequest
    | ClearBuffer
    | Init
    | Image
    | Unknown
)
PrintItem = Line | Barcode | QRCode | Image

# GS k m (function A, m 0-6): data ends with NUL; function B (m 65-79): a length byte
BARCODES = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF",
    71: "CODABAR", 72: "CODE93", 73: "CODE128",
}  # fmt: skip
# fixed total lengths of commands that only set something we don't draw
FIXED = {
    ESC: {0x20: 3, 0x24: 4, 0x25: 3, 0x2D: 3, 0x32: 2, 0x33: 3, 0x3C: 2, 0x3D: 3, 0x3F: 3,
          0x42: 4, 0x47: 3, 0x4A: 3, 0x4C: 2, 0x4D: 3, 0x52: 3, 0x53: 2, 0x54: 3, 0x55: 3,
          0x56: 3, 0x5C: 4, 0x63: 4, 0x64: 3, 0x65: 3, 0x69: 2, 0x6D: 2, 0x72: 3, 0x74: 3,
          0x75: 3, 0x76: 2, 0x7B: 3},
    GS: {0x21: 3, 0x2F: 3, 0x3A: 2, 0x42: 3, 0x48: 3, 0x49: 3, 0x4C: 4, 0x50: 4, 0x57: 4,
         0x5E: 5, 0x61: 3, 0x62: 3, 0x66: 3, 0x68: 3, 0x72: 3, 0x77: 3},
    FS: {0x21: 3, 0x26: 2, 0x2D: 3, 0x2E: 2, 0x43: 3, 0x53: 4, 0x57: 3, 0x70: 4},
}  # fmt: skip


class NeedMore(Exception):
    """The buffer ends inside a command: wait for the rest."""


@dataclass
class _State:
    align: str = "left"
    bold: bool = False
    wide: bool = False
    tall: bool = False
    hanzi: bool = False

    def style(self) -> Style:
        return Style(self.align, self.bold, self.wide, self.tall)


class Decoder(EventParser[Event]):
    """`receive_data(chunk)` then `next_event()` until it returns None (protocols/stream.py).

    `hanzi_default`: the printer starts (and returns after ESC @) in Chinese mode, as many cheap
    58 mm printers do; bytes ≥ 0x80 outside Hanzi mode are decoded with `code_page`."""

    def __init__(self, hanzi_default: bool = False, code_page: str = "cp437") -> None:
        super().__init__()
        self.hanzi_default, self.code_page = hanzi_default, code_page
        self._line: list[tuple[bool, bytes]] = []
        self._line_style: Style | None = None
        self._qr = b""
        self._st = _State(hanzi=self.hanzi_default)

    # --- parsing ----------------------------------------------------------------------------
    def _parse(self) -> None:
        while self._buf:
            try:
                used = self._one(self._buf)
            except NeedMore:
                return
            del self._buf[:used]

    def _need(self, buf: bytearray, n: int) -> None:
        if len(buf) < n:
            raise NeedMore

    def _text(self, data: bytes) -> None:
        if self._line_style is None:
            self._line_style = self._st.style()
        if self._line and self._line[-1][0] == self._st.hanzi:
            self._line[-1] = (self._st.hanzi, self._line[-1][1] + data)
        else:
            self._line.append((self._st.hanzi, data))

    def _end_line(self) -> None:
        text = "".join(
            raw.decode("gb18030", "replace") if hanzi else raw.decode(self.code_page, "replace")
            for hanzi, raw in self._line
        )
        self._emit(Line(text, self._line_style or self._st.style()))
        self._line, self._line_style = [], None

    def _one(self, buf: bytearray) -> int:
        b = buf[0]
        if b == 0x0A:
            self._end_line()
            return 1
        if b == 0x09:
            self._text(b"    ")
            return 1
        if b >= 0x20 and b != 0x7F:
            end = 1
            while end < len(buf) and (buf[end] >= 0x20 and buf[end] != 0x7F):
                end += 1
            # bytes are joined per line and decoded at its end, so a GB18030 character split
            # across two chunks decodes whole
            self._text(bytes(buf[:end]))
            return end
        if b == DLE:
            return self._dle(buf)
        if b == ESC:
            return self._esc(buf)
        if b == GS:
            return self._gs(buf)
        if b == FS:
            return self._fs(buf)
        return 1  # CR, NUL and other controls print nothing

    def _dle(self, buf: bytearray) -> int:
        self._need(buf, 3)
        c, n = buf[1], buf[2]
        if c == 0x04:  # DLE EOT n
            self._emit(StatusRequest(n))
            return 3
        if c == 0x05:  # DLE ENQ n
            return 3
        if c == 0x14:  # DLE DC4 fn
            if n == 1:
                self._need(buf, 5)
                self._emit(DrawerPulse(2 if buf[3] == 0 else 5, buf[4] * 100, True))
                return 5
            if n == 2:
                self._need(buf, 5)
                return 5
            if n == 8:
                self._need(buf, 10)
                self._emit(ClearBuffer())
                return 10
            self._need(buf, 4)
            return 4
        self._emit(Unknown(bytes(buf[:2])))
        return 2

    def _esc(self, buf: bytearray) -> int:
        self._need(buf, 2)
        c = buf[1]
        st = self._st
        if c == 0x40:  # ESC @
            self._st = _State(hanzi=self.hanzi_default)
            self._emit(Init())
            return 2
        if c in (0x21, 0x45, 0x61):
            self._need(buf, 3)
            n = buf[2]
            if c == 0x21:  # ESC ! n: print mode
                st.bold, st.tall, st.wide = bool(n & 0x08), bool(n & 0x10), bool(n & 0x20)
            elif c == 0x45:  # ESC E n: bold
                st.bold = bool(n & 1)
            else:  # ESC a n: alignment
                st.align = {
                    0: "left",
                    1: "center",
                    2: "right",
                    48: "left",
                    49: "center",
                    50: "right",
                }.get(n, "left")
            return 3
        if c == 0x64:  # ESC d n: print and feed n lines
            self._need(buf, 3)
            self._flush_partial_line()
            self._emit(Feed(buf[2]))
            return 3
        if c == 0x70:  # ESC p m t1 t2: drawer kick
            self._need(buf, 5)
            self._emit(DrawerPulse(2 if buf[2] in (0, 48) else 5, buf[3] * 2))
            return 5
        if c == 0x2A:  # ESC * m nL nH d…: bit image
            self._need(buf, 5)
            cols = buf[3] + buf[4] * 256
            size = 5 + cols * (1 if buf[2] in (0, 1) else 3)
            self._need(buf, size)
            self._emit(Image(cols, 8 if buf[2] in (0, 1) else 24))
            return size
        if c == 0x44:  # ESC D tabs… NUL
            end = buf.find(b"\x00", 2)
            if end < 0:
                raise NeedMore
            return end + 1
        if c in FIXED[ESC]:
            self._need(buf, FIXED[ESC][c])
            return FIXED[ESC][c]
        self._emit(Unknown(bytes(buf[:2])))
        return 2

    def _gs(self, buf: bytearray) -> int:
        self._need(buf, 2)
        c = buf[1]
        if c == 0x21:  # GS ! n: character size
            self._need(buf, 3)
            self._st.wide, self._st.tall = bool(buf[2] & 0xF0), bool(buf[2] & 0x0F)
            return 3
        if c == 0x56:  # GS V m [n]: cut
            self._need(buf, 3)
            m = buf[2]
            size = 4 if m >= 65 else 3
            self._need(buf, size)
            self._flush_partial_line()
            self._emit(Cut(partial=m in (1, 49, 66, 98, 104)))
            return size
        if c == 0x6B:  # GS k m …: barcode
            self._need(buf, 3)
            m = buf[2]
            if m <= 6:
                end = buf.find(b"\x00", 3)
                if end < 0:
                    raise NeedMore
                data, size = bytes(buf[3:end]), end + 1
            else:
                self._need(buf, 4)
                size = 4 + buf[3]
                self._need(buf, size)
                data = bytes(buf[4:size])
            symbology = BARCODES.get(m, f"barcode-{m}")
            self._flush_partial_line()
            self._emit(Barcode(symbology, _barcode_text(symbology, data)))
            return size
        if c == 0x28:  # GS ( fn pL pH …
            self._need(buf, 5)
            size = 5 + buf[3] + buf[4] * 256
            self._need(buf, size)
            if buf[2] == 0x6B and size >= 8 and buf[5] == 0x31:  # GS ( k, cn 49: QR code
                fn = buf[6]
                if fn == 0x50:  # store the data
                    self._qr = bytes(buf[8:size])
                elif fn == 0x51:  # print what is stored
                    self._flush_partial_line()
                    self._emit(QRCode(self._qr.decode("utf-8", "replace")))
            return size
        if c == 0x76:  # GS v 0 m xL xH yL yH d…: raster image
            self._need(buf, 8)
            x, y = buf[4] + buf[5] * 256, buf[6] + buf[7] * 256
            size = 8 + x * y
            self._need(buf, size)
            self._emit(Image(x * 8, y))
            return size
        if c == 0x2A:  # GS * x y d…: downloaded bit image
            self._need(buf, 4)
            size = 4 + buf[2] * buf[3] * 8
            self._need(buf, size)
            return size
        if c in FIXED[GS]:
            self._need(buf, FIXED[GS][c])
            return FIXED[GS][c]
        self._emit(Unknown(bytes(buf[:2])))
        return 2

    def _fs(self, buf: bytearray) -> int:
        self._need(buf, 2)
        c = buf[1]
        if c == 0x26:
            self._st.hanzi = True
            return 2
        if c == 0x2E:
            self._st.hanzi = False
            return 2
        if c in FIXED[FS]:
            self._need(buf, FIXED[FS][c])
            return FIXED[FS][c]
        self._emit(Unknown(bytes(buf[:2])))
        return 2

    def _flush_partial_line(self) -> None:
        """Barcodes, QR codes and cuts start on a new line: text before them prints first."""
        if self._line:
            self._end_line()


def _barcode_text(symbology: str, data: bytes) -> str:
    if symbology != "CODE128":
        return data.decode("ascii", "replace")
    # CODE128 data starts with a code-set selector ({A {B {C); code set C packs digit pairs
    out, i, code_set = [], 0, "B"
    while i < len(data):
        if data[i] == 0x7B and i + 1 < len(data) and data[i + 1] in b"ABC":
            code_set = chr(data[i + 1])
            i += 2
            continue
        if data[i] == 0x7B and i + 1 < len(data) and data[i + 1] == 0x7B:
            out.append("{")
            i += 2
            continue
        out.append(f"{data[i]:02d}" if code_set == "C" else chr(data[i]))
        i += 1
    return "".join(out)


def decode(data: bytes, *, hanzi_default: bool = False) -> list[Event]:
    """All events of a complete byte string (a job, a file)."""
    d = Decoder(hanzi_default=hanzi_default)
    d.receive_data(data)
    return d.events()
