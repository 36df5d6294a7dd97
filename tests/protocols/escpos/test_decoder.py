"""Our ESC/POS decoder: the same events however the bytes are chunked, python-escpos's
commands understood, DLE EOT status both ways for every fault, PNG previews with and without a
CJK font."""

from __future__ import annotations

import io
import itertools
from dataclasses import replace

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from edge import fonts
from protocols.escpos import preview
from protocols.escpos import status as pst
from protocols.escpos.decoder import (
    Barcode,
    ClearBuffer,
    Cut,
    Decoder,
    DrawerPulse,
    Init,
    Line,
    QRCode,
    StatusRequest,
    Style,
    Unknown,
    decode,
)
from protocols.escpos.receipt import Paper, render_sale
from rig.samples import RECEIPT_ENVELOPE as ENVELOPE
from rig.samples import RECEIPT_STORE as STORE

RECEIPT = bytes(render_sale(ENVELOPE, Paper(columns=48, dots=576), STORE).out)


@given(st.lists(st.integers(min_value=1, max_value=len(RECEIPT) - 1), max_size=12))
def test_chunking_does_not_change_what_is_printed(cuts: list[int]) -> None:
    d = Decoder()
    points = [0, *sorted(set(cuts)), len(RECEIPT)]
    events = []
    for a, b in itertools.pairwise(points):
        d.receive_data(RECEIPT[a:b])
        events += d.events()
    assert events == decode(RECEIPT)


@given(st.binary(max_size=300))
def test_garbage_never_crashes_the_decoder(data: bytes) -> None:
    d = Decoder()
    d.receive_data(data)
    d.receive_data(b"\n")
    for ev in d.events():
        assert ev is not None


def test_python_escpos_commands_decode() -> None:
    p = Dummy()
    p.set(align="center", bold=True, double_height=True)
    p._raw(b"TITLE\n")
    p.set_with_default()
    p.qr("https://example.cn/m", native=True)
    p._raw(b"\x1dkI\x08{BR-0001")  # CODE128, function B
    p.cashdraw(2)
    p.cut()
    p.cut(mode="PART")
    events = decode(b"\x1b@" + p.output)
    assert events[0] == Init()
    assert Line("TITLE", Style(align="center", bold=True, tall=True)) in events
    assert QRCode("https://example.cn/m") in events
    assert Barcode("CODE128", "R-0001") in events
    assert DrawerPulse(pin=2, on_ms=100) in events  # ESC p 0 50 50: 50 x 2 ms
    assert [e for e in events if isinstance(e, Cut)] == [Cut(partial=False), Cut(partial=True)]
    assert not [e for e in events if isinstance(e, Unknown)]


def test_realtime_commands() -> None:
    events = decode(
        b"\x10\x04\x01\x10\x04\x04"
        + bytes.fromhex("10140801031401060208")
        + b"\x10\x14\x01\x01\x02"
    )
    assert events == [StatusRequest(1), StatusRequest(4), ClearBuffer(),
                      DrawerPulse(pin=5, on_ms=200, realtime=True)]  # fmt: skip


def test_hanzi_default_printer_decodes_bare_gb18030() -> None:
    data = "欢迎光临".encode("gb18030") + b"\n"
    assert decode(data, hanzi_default=True) == [Line("欢迎光临")]
    assert decode(b"\x1c\x2e" + b"abc\n", hanzi_default=True) == [Line("abc")]


def test_unknown_command_is_reported_not_printed() -> None:
    assert decode(b"\x1b\xfeok\n") == [Unknown(b"\x1b\xfe"), Line("ok")]


FAULTS = ["offline", "cover_open", "paper_near_end", "paper_out", "cutter_error",
          "unrecoverable_error"]  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS)
def test_status_replies_round_trip_for_each_fault(fault: str) -> None:
    state = replace(pst.PrinterStatus(), **{fault: True})
    replies = b"".join(pst.reply(n, state) for n in pst.QUERIES)
    parsed = pst.parse(replies)
    assert getattr(parsed, fault)
    assert parsed.ready == (fault == "paper_near_end")  # near end still prints, but is told
    assert parsed.problems()[0] == pst.PrinterStatus.problems(state)[0]


def test_idle_printer_and_garbled_status() -> None:
    assert pst.parse(b"\x12\x12\x12\x12") == pst.PrinterStatus()
    assert pst.parse(b"\x12\x12\x12\x12").problems() == []
    assert pst.parse(b"\x12\x12\x12\x7e").paper_out  # near end and out, as some printers say
    with pytest.raises(pst.StatusError):
        pst.parse(b"\x00\x12\x12\x12")
    with pytest.raises(pst.StatusError):
        pst.parse(b"\x12\x12")


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_png_preview_is_paper_wide_with_a_cjk_font() -> None:
    pngs = preview.png_preview(RECEIPT, 576, 48, font_path=fonts.cjk_font_path())
    assert len(pngs) == 1
    img = _png(pngs[0])
    assert img.width == 576 and img.height > 40 * 24
    if fonts.cjk_font_path() is None:
        pytest.skip("no CJK font installed here (apt: fonts-wqy-microhei)")


def test_png_preview_without_cjk_font_marks_glyph_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    fonts.cjk_font_path.cache_clear()
    monkeypatch.setenv("STOREGW_CJK_FONT", "/nonexistent.ttf")
    monkeypatch.setattr(fonts, "CJK_FONTS", ())
    try:
        assert fonts.cjk_font_path() is None
        line = Line("中文")
        img = preview._line_image(line, 384, 32, fonts.cjk_font_path())
        # a box with a diagonal: its corners are inked
        assert img.getpixel((1, 2)) == 0 and img.getpixel((22, 21)) == 0
        pngs = preview.png_preview(RECEIPT, 576, 48, font_path=fonts.cjk_font_path())
        assert _png(pngs[0]).width == 576
    finally:
        fonts.cjk_font_path.cache_clear()


def test_text_preview_separates_receipts_at_cuts() -> None:
    two = RECEIPT + RECEIPT
    text = preview.text_preview(two, 48)
    assert text.count("好邻居便利店") == 2 and "✂" in text
    assert len(preview.receipts(decode(two))) == 2
    assert preview.receipts(decode(b"half a receipt\n"))[0].cut is False
