"""The receipt's commands (protocols/escpos/commands.py) are the bytes python-escpos wrote for
them, for every printer profile we ship; the text size is set on every style, so a line after
a tall one prints normal (python-escpos's `set(double_height=False)` left it tall), and the cut
is the one our profile names."""

from __future__ import annotations

import contextlib
import io
import tomllib
from pathlib import Path

import pytest
from escpos.printer import Dummy

from protocols.escpos import commands
from protocols.escpos.decoder import Line, decode
from protocols.escpos.receipt import Paper, Store, render_sale
from rig.samples import RECEIPT_ENVELOPE

PRINTERS = Path(__file__).resolve().parents[3] / "firmware_config" / "printers"
PROFILES = sorted(
    {
        tomllib.loads(p.read_text("utf-8")).get("escpos_profile", "default")
        for p in PRINTERS.glob("*.toml")
    }
)


def escpos_bytes(profile: str, call: str, *args: object, **kwargs: object) -> bytes:
    d = Dummy(profile=profile)
    with contextlib.redirect_stdout(io.StringIO()):  # it announces its barcode renderer
        getattr(d, call)(*args, **kwargs)
    return bytes(d.output)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_same_bytes_as_python_escpos(profile: str) -> None:
    assert len(PROFILES) >= 3  # default, the Epsons, Sunmi
    for code in ("20261123-1-00042", "TEST-0001", "A"):
        ours = commands.code128(code, height=60, width=2)
        theirs = escpos_bytes(profile, "barcode", "{B" + code, "CODE128", height=60, width=2,
                              function_type="B")  # fmt: skip
        assert ours == theirs
    for data in ("https://e.example.cn/r/0190b3c0", "x" * 300, "会员注册"):
        assert commands.qr(data, size=5) == escpos_bytes(profile, "qr", data, native=True, size=5)
    # the cut follows our printer profile's `cutter` (python-escpos's Sunmi-V2 table has no
    # cutter and sent only the feed, so a Sunmi T2 profiled `cutter = "partial"` never cut)
    assert commands.cut() == escpos_bytes("default", "cut", mode="PART")
    assert commands.cut(full=True) == escpos_bytes("default", "cut", mode="FULL")
    for pin in (2, 5):
        assert commands.drawer_pulse(pin, 100) == escpos_bytes(profile, "cashdraw", pin)
    for align in ("left", "center", "right"):
        for bold in (False, True):
            # python-escpos's bytes for the same style, after our explicit size
            theirs = escpos_bytes(profile, "set", align=align, bold=bold)
            assert commands.style(align, bold=bold) == b"\x1b!\x00" + theirs


def test_a_barcode_that_code128_b_cannot_carry_is_refused() -> None:
    for bad in ("收据", "a\x00b", "x" * 260):
        with pytest.raises(ValueError):
            commands.code128(bad)


def test_only_the_store_name_prints_tall() -> None:
    store = Store(
        name="好邻居便利店", header=("北京市朝阳区建国路1号",), qr_url="https://e.cn/{sale_id}"
    )
    lines = [e for e in decode(bytes(render_sale(RECEIPT_ENVELOPE, Paper(48), store).out))
             if isinstance(e, Line)]  # fmt: skip
    assert [x.text for x in lines if x.style.tall] == ["好邻居便利店"]
    assert lines[1].text == "北京市朝阳区建国路1号" and lines[1].style.align == "center"
