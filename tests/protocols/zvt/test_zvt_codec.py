"""The ZVT codec, sans-I/O: APDUs, BCD, BMP / TLV fields, status information and serial frames
round-trip for any values (hypothesis), whatever the chunking; bad bytes give ZvtError only."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.zvt import bmp
from protocols.zvt import commands as c
from protocols.zvt import serial as zs
from protocols.zvt.apdu import Apdu, ApduReader, ZvtError, bcd, bcd_int, parse_one
from protocols.zvt.session import (
    Aborted,
    Acked,
    Completed,
    EcrSession,
    Intermediate,
    StatusInformation,
)

apdus = st.builds(Apdu, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=600))


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({x % (len(data) + 1) for x in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.lists(apdus, max_size=5), st.lists(st.integers(0, 10_000), max_size=8))
def test_apdus_round_trip_in_any_chunks(items: list[Apdu], cuts: list[int]) -> None:
    stream = b"".join(a.encode() for a in items)
    reader = ApduReader()
    out = []
    for chunk in _chunks(stream, cuts):
        reader.receive_data(chunk)
        while (a := reader.next_event()) is not None:
            out.append(a)
    assert out == items and reader.pending == 0


def test_extended_length() -> None:
    a = Apdu(0x06, 0xD3, bytes(300))
    raw = a.encode()
    assert raw[2] == 0xFF and raw[3:5] == (300).to_bytes(2, "little")
    assert parse_one(raw) == (a, len(raw))
    assert parse_one(raw[:-1]) is None


@given(st.integers(0, 999_999_999_999))
def test_bcd_amounts(fen: int) -> None:
    assert bcd_int(bcd(fen, 6)) == fen


def test_authorisation_bytes_match_the_spec_example() -> None:
    # 10.00 in BMP 04 as 6-byte BCD, currency BMP 49 = 0156 (CNY)
    assert c.authorisation(1000).encode() == bytes.fromhex(
        "06010a040000000010004901 56".replace(" ", "")
    )
    with pytest.raises(ZvtError):
        c.authorisation(0)
    with pytest.raises(ZvtError):
        bcd(10**12, 6)


fixed_tags = [t for t, (kind, _, _) in bmp.BMPS.items() if kind == bmp.FIXED]
var_tags = [t for t, (kind, _, _) in bmp.BMPS.items() if kind != bmp.FIXED]


@st.composite
def fields(draw: st.DrawFn) -> bmp.Bmp:
    if draw(st.booleans()):
        tag = draw(st.sampled_from(fixed_tags))
        return bmp.Bmp(tag, draw(st.binary(min_size=bmp.BMPS[tag][1], max_size=bmp.BMPS[tag][1])))
    tag = draw(st.sampled_from(var_tags))
    limit = 99 if bmp.BMPS[tag][0] == bmp.LLVAR else 400
    return bmp.Bmp(tag, draw(st.binary(max_size=limit)))


@given(st.lists(fields(), max_size=8))
def test_bmp_fields_round_trip(items: list[bmp.Bmp]) -> None:
    assert bmp.decode(bmp.encode(items)) == items


@given(st.binary(max_size=200))
def test_random_bmp_bytes_decode_or_raise_zvt_error(data: bytes) -> None:
    try:
        bmp.decode(data)
    except ZvtError:
        pass


@given(st.lists(st.tuples(st.sampled_from([0x1F20, 0x9F26, 0x41, 0x5F2A]),
                          st.binary(max_size=300)), max_size=5))  # fmt: skip
def test_tlv_round_trip(items: list[tuple[int, bytes]]) -> None:
    assert bmp.tlv_decode(bmp.tlv_encode(items)) == items


@given(
    st.integers(0, 255),
    st.integers(1, 999_999_999),
    st.integers(0, 999_999),
    st.integers(0, 9999),
    st.text(alphabet="ABCDEFGHIJ ", max_size=20),
)
def test_status_information_round_trip(
    result: int, amount: int, trace: int, receipt: int, card: str
) -> None:
    info = c.StatusInfo(result=result, amount_fen=amount, trace=trace, receipt_no=receipt,
                        terminal_id="52500001", currency=156, card_name=card,
                        pan="6222EEEEEEEE1234", time="235959", date="1231")  # fmt: skip
    assert c.StatusInfo.parse(c.status_information(info)) == info


@given(apdus, st.lists(st.integers(0, 2000), max_size=6))
def test_serial_frames_round_trip_with_dle_stuffing(apdu: Apdu, cuts: list[int]) -> None:
    framed = zs.frame(apdu)
    reader = zs.FrameReader()
    for chunk in _chunks(b"\x06" + framed, cuts):
        reader.receive_data(chunk)
    assert reader.next_event() == zs.ACK
    assert reader.next_event() == apdu
    assert reader.next_event() is None


def test_serial_crc_and_corruption() -> None:
    assert zs.crc16_xmodem(b"123456789") == 0x31C3  # the CRC-16/XMODEM check value
    framed = bytearray(zs.frame(Apdu(0x06, 0x01, b"\x10\x10\x04")))
    assert framed.count(b"\x10\x10") >= 2  # DLE doubled inside the frame
    framed[-3] ^= 0xFF  # damage the body
    reader = zs.FrameReader()
    reader.receive_data(bytes(framed))
    item = reader.next_event()
    assert isinstance(item, ZvtError)


def test_ecr_session_runs_an_authorisation() -> None:
    ecr = EcrSession()
    assert ecr.start(c.authorisation(1000))[:2] == b"\x06\x01"
    info = c.StatusInfo(result=0, amount_fen=1000, trace=7, receipt_no=42)
    pt = (c.ACK.encode() + c.intermediate(0x1B).encode() + c.status_information(info).encode()
          + c.completion().encode())  # fmt: skip
    events = []
    for i in range(0, len(pt), 3):  # in small pieces
        ecr.receive_data(pt[i : i + 3])
        events += ecr.events()
    assert events[0] == Acked()
    assert isinstance(events[1], Intermediate) and events[1].text == "present card"
    assert events[2] == StatusInformation(info)
    assert events[3] == Completed()
    assert ecr.data_to_send() == c.ACK.encode() * 3  # intermediate, status info, completion
    assert ecr.state == "done"


def test_ecr_session_abort_and_nak() -> None:
    ecr = EcrSession()
    ecr.start(c.authorisation(500))
    with pytest.raises(ZvtError):
        ecr.start(c.authorisation(500))
    assert ecr.abort() == b"\x06\xb0\x00"
    ecr.receive_data(c.abort(0x6C).encode())
    assert ecr.next_event() == Aborted(0x6C, "aborted (timeout or abort key)")
    assert ecr.next_event() is None
    ecr2 = EcrSession()
    ecr2.start(c.end_of_day())
    ecr2.receive_data(c.nak(0x83).encode())
    (ev,) = ecr2.events()
    assert ev.code == 0x83  # type: ignore[union-attr]


def test_reversal_and_simulator_parsers() -> None:
    rev = c.reversal(42, "123456")
    assert c.parse_reversal(rev) == ("123456", 42)
    assert c.parse_amount(c.authorisation(12345)) == 12345
    with pytest.raises(ZvtError):
        c.parse_reversal(Apdu(0x06, 0x30, b"\x00"))
    with pytest.raises(ZvtError):
        c.StatusInfo.parse(Apdu(0x04, 0x0F, b""))
