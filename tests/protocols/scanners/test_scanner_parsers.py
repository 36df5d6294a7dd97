"""Hypothesis over the three scanner parsers: any bytes, cut anywhere, give the same events as
in one piece and never an exception; what a scanner sends parses back to the scan."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.scanners.hidpos import HidPosReports, HidPosScan, ReportError, reports
from protocols.scanners.serial import Overflow, SuffixScans
from protocols.scanners.wedge import EV_KEY, KEY_ENTER, KeyboardWedge, records
from protocols.stream import EventParser

FAST = settings(max_examples=200, deadline=None)


def feed(parser: EventParser[Any], data: bytes, cuts: list[int]) -> list[Any]:
    at = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        parser.receive_data(data[at:cut])
        at = cut
    parser.receive_data(data[at:])
    return parser.events()


@FAST
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
def test_serial_scans_do_not_depend_on_the_chunks(data: bytes, cuts: list[int]) -> None:
    whole = feed(SuffixScans(), data, [])
    assert feed(SuffixScans(), data, cuts) == whole
    assert all(isinstance(e, bytes | Overflow) for e in whole)


@FAST
@given(st.lists(st.binary(max_size=80).filter(lambda b: b"\r" not in b), max_size=6))
def test_serial_scans_round_trip(scans: list[bytes]) -> None:
    assert feed(SuffixScans(), b"".join(s + b"\r" for s in scans), []) == scans


@FAST
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_any_hid_pos_report_is_a_scan_an_error_or_ignored(raw: list[bytes]) -> None:
    p = HidPosReports()
    for r in raw:  # HID delivers whole reports
        p.receive_data(r)
    for e in p.events():
        assert isinstance(e, HidPosScan | ReportError)
        if isinstance(e, ReportError):
            assert e.reason


@FAST
@given(st.binary(min_size=1, max_size=300), st.sampled_from([b"]E0", b"]C1", b"]Q1"]))
def test_a_long_scan_split_into_reports_comes_back_whole(data: bytes, aim: bytes) -> None:
    p = HidPosReports()
    for r in reports(aim, data):
        p.receive_data(r)
    assert p.events() == [HidPosScan(aim, data)]


EVENT = st.tuples(st.integers(0, 3), st.integers(0, 120), st.integers(0, 2))


@FAST
@given(st.lists(EVENT, max_size=60), st.lists(st.integers(0, 2000), max_size=8))
def test_wedge_records_do_not_depend_on_the_chunks(events: list, cuts: list[int]) -> None:
    data = records(events)
    whole = feed(KeyboardWedge(), data, [])
    assert feed(KeyboardWedge(), data, cuts) == whole
    assert all(isinstance(t, str) for t in whole)


@FAST
@given(st.binary(max_size=500))
def test_wedge_takes_any_bytes(data: bytes) -> None:
    assert all(isinstance(t, str) for t in feed(KeyboardWedge(), data, []))


@FAST
@given(st.lists(st.sampled_from([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), min_size=1, max_size=30))
def test_typed_digits_come_back_as_the_scan(codes: list[int]) -> None:
    typed = [(EV_KEY, c, v) for c in codes for v in (1, 0)]
    out = feed(KeyboardWedge(), records([*typed, (EV_KEY, KEY_ENTER, 1)]), [])
    assert out == ["".join("1234567890"[c - 2] for c in codes)]
