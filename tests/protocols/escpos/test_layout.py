"""Receipt layout: CJK characters take two columns, Chinese goes as GB18030 inside FS & … FS .,
and golden receipts for 58 mm (32 columns) and 80 mm (48 columns) decode back to the text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.escpos import text as tx
from protocols.escpos.decoder import Line, decode
from protocols.escpos.preview import text_preview
from protocols.escpos.receipt import COPY_MARK, Paper, render_sale
from rig.samples import RECEIPT_ENVELOPE as ENVELOPE
from rig.samples import RECEIPT_STORE as STORE

GOLDEN = Path(__file__).parent / "golden"
mixed = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),  # CJK unified ideographs
        st.sampled_from("（）：，。￥【】"),
    ),
    max_size=60,
)


@pytest.mark.parametrize(("columns", "dots"), [(32, 384), (48, 576)])
def test_golden_receipt_decodes_back_to_its_text(columns: int, dots: int) -> None:
    doc = render_sale(ENVELOPE, Paper(columns=columns, dots=dots), STORE)
    text = text_preview(bytes(doc.out), columns)
    assert text == (GOLDEN / f"sale-{columns}.txt").read_text("utf-8")
    for line in text.splitlines():
        assert tx.width(line) <= columns or line.startswith("[QR "), line


def test_chinese_travels_as_gb18030_between_fs_and_fs_dot() -> None:
    doc = render_sale(ENVELOPE, Paper(columns=32, dots=384), STORE)
    data = bytes(doc.out)
    assert b"\x1c\x26" + "好邻居便利店".encode("gb18030") + b"\x1c\x2e" in data
    assert "好邻居".encode() not in data  # never UTF-8 on the wire
    assert data.count(b"\x1c\x26") == data.count(b"\x1c\x2e")


def test_receipt_has_barcode_qr_cut_and_copy_mark() -> None:
    doc = render_sale(ENVELOPE, Paper(columns=48, dots=576, cutter="full"), STORE, copy=True)
    data = bytes(doc.out)
    assert b"\x1dkI" in data  # GS k, CODE128 (function B)
    assert b"\x1d(k" in data and b"https://e.example.cn/r/" in data  # native QR
    assert data.endswith(b"\x1dV\x00")  # full cut
    text = text_preview(data, 48)
    assert text.count(COPY_MARK) == 2
    assert "[CODE128 20240501-1-0007]" in text


def test_weighed_line_shows_weight_and_price_per_kg() -> None:
    doc = render_sale(ENVELOPE, Paper(columns=32, dots=384), STORE)
    assert "  1.250kg x 12.80/kg       16.00" in doc.lines
    assert any(line.startswith("  优惠") and line.endswith("-1.00") for line in doc.lines)


def test_gbk_printer_gets_gbk_and_no_cutter_feeds_instead() -> None:
    paper = Paper(columns=32, dots=384, cutter="none", hanzi="gbk", barcode=False, qr=False)
    data = bytes(render_sale(ENVELOPE, paper, STORE).out)
    assert "好邻居".encode("gbk") in data
    assert b"\x1dV" not in data and data.endswith(b"\x1bd\x06")
    assert b"\x1dk" not in data and b"\x1d(k" not in data  # printed as text instead
    assert "20240501-1-0007" in text_preview(data, 32)


@given(mixed, st.integers(min_value=4, max_value=64))
def test_layout_never_exceeds_columns(text: str, columns: int) -> None:
    for line in tx.wrap(text, columns):
        assert tx.width(line) <= columns
    assert "".join(tx.wrap(text, columns)) == text or columns < 2
    for line in tx.two_sides(text, "12.50", columns):
        assert tx.width(line) <= max(columns, 5)
    assert tx.width(tx.ljust(text, columns)) == columns
    assert tx.width(tx.rjust(text, columns)) == columns
    assert tx.width(tx.center(text, columns)) == columns


@given(mixed)
def test_encoded_text_decodes_to_the_same_text(text: str) -> None:
    events = decode(tx.encode(text) + b"\n")
    assert events == [Line(text)]


def test_cjk_counts_two_columns() -> None:
    assert tx.width("可乐") == 4
    assert tx.width("Cola") == 4
    assert tx.width("（）") == 4
    assert tx.clip("可乐可乐", 5) == "可乐"


def test_each_promotion_applied_is_printed_with_what_it_saved() -> None:
    body = {**ENVELOPE["body"], "pricing": {"savings": [
        {"kind": "spend_save", "ref": "1", "name": "满30减5", "saved_fen": 500},
        {"kind": "member", "ref": "member", "name": "", "saved_fen": 120}]}}  # fmt: skip
    doc = render_sale({**ENVELOPE, "body": body}, Paper(columns=32, dots=384), STORE)
    text = text_preview(bytes(doc.out), 32)
    assert any("满30减5 已省" in x and x.rstrip().endswith("5.00") for x in text.splitlines())
    assert any("member 已省" in x and x.rstrip().endswith("1.20") for x in text.splitlines())
