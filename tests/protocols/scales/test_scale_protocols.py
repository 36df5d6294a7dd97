"""Scale protocols byte by byte: vectors from the published descriptions, garbled and truncated
frames, and fuzzing that no byte stream crashes a parser or invents a weight."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.scales import (
    Acknowledged,
    FrameError,
    Identity,
    Rejected,
    Status,
    Weight,
    cas,
    sics,
    toledo,
)


def parse(parser, data: bytes) -> list:
    parser.receive_data(data)
    return parser.events()


# --- Toledo 8217 -----------------------------------------------------------------------------
def test_toledo_commands_are_single_letters() -> None:
    assert (toledo.request_weight(), toledo.zero(), toledo.tare(), toledo.clear_tare()) == (
        b"W",
        b"Z",
        b"T",
        b"C",
    )


def test_toledo_weight_and_net() -> None:
    events = parse(
        toledo.ToledoParser(), bytes.fromhex("02 30 31 2E 32 35 30 0D") + b"\x0200.500N\r"
    )
    assert events == [
        Weight(Decimal("1.250"), "kg", True, False),
        Weight(Decimal("0.500"), "kg", True, True),
    ]
    assert [e.grams for e in events] == [1250, 500]


def test_toledo_status_bits() -> None:
    events = parse(
        toledo.ToledoParser(),
        bytes.fromhex("02 3F 01 0D  02 3F 02 0D  02 3F 04 0D  02 3F 0D 0D".replace("  ", " ")),
    )
    assert events[0] == Status(motion=True)
    assert events[1] == Status(over_capacity=True)
    assert events[2] == Status(under_zero=True)
    # a status byte equal to CR (motion + under zero + outside zero range) is still one frame
    assert events[3] == Status(motion=True, under_zero=True, outside_zero_range=True)
    assert len(events) == 4


def test_toledo_status_ignores_the_disputed_bits_5_and_6() -> None:
    assert parse(toledo.ToledoParser(), bytes([2, 0x3F, 0x61, 0x0D])) == [Status(motion=True)]


def test_toledo_truncated_frame_then_resync() -> None:
    events = parse(toledo.ToledoParser(), b"\x0201.2\x0202.000\r")
    assert isinstance(events[0], FrameError) and events[0].data == b"\x0201.2"
    assert events[1] == Weight(Decimal("2.000"))


def test_toledo_truncated_status_does_not_eat_the_next_frame() -> None:
    events = parse(toledo.ToledoParser(), b"\x02?\x0201.250\r")
    assert isinstance(events[0], FrameError)
    assert events[-1] == Weight(Decimal("1.250"))


def test_toledo_garbage_and_7e1_bytes_are_errors_not_weights() -> None:
    seven_e1_as_8n1 = bytes.fromhex("82 30 B1 AE B2 35 30 8D")  # 02 "01.250" 0D with parity
    events = parse(toledo.ToledoParser(), b"xyz" + seven_e1_as_8n1)
    assert events and all(isinstance(e, FrameError) for e in events)
    assert any(e.high_bit for e in events)


def test_toledo_expire_reports_a_half_frame() -> None:
    p = toledo.ToledoParser()
    assert parse(p, b"\x0201.2") == []
    p.expire()
    assert isinstance(p.next_event(), FrameError)


def test_toledo_bad_body_is_an_error() -> None:
    events = parse(toledo.ToledoParser(), b"\x021.2.3\r\x02\r\x02 12 \r")
    assert isinstance(events[0], FrameError) and isinstance(events[1], FrameError)
    assert events[2] == Weight(Decimal("12"))


# --- MT-SICS -----------------------------------------------------------------------------------
def test_sics_commands() -> None:
    assert sics.request_weight() == b"SI\r\n"
    assert sics.request_stable_weight() == b"S\r\n"
    assert sics.zero() == b"Z\r\n" and sics.tare() == b"T\r\n"
    assert sics.query_tare() == b"TA\r\n" and sics.clear_tare() == b"TAC\r\n"
    assert sics.serial_number() == b"I4\r\n"
    assert sics.preset_tare(Decimal("0.100")) == b"TA 0.100 kg\r\n"


def test_sics_replies() -> None:
    data = (
        b"S S      1.234 kg\r\n"
        b"S D      0.870 kg\r\n"
        b"S S     -0.120 kg\r\n"
        b"S I\r\nS +\r\nS -\r\nES\r\nET\r\nEL\r\n"
        b"Z A\r\nZ I\r\nT S      0.100 kg\r\nTA A      0.100 kg\r\nTAC A\r\n"
        b'I4 A "0123456789"\r\n'
    )
    events = parse(sics.SicsParser(), data)
    assert events[0] == Weight(Decimal("1.234"), "kg", True)
    assert events[1] == Weight(Decimal("0.870"), "kg", False)
    assert events[2] == Weight(Decimal("-0.120"), "kg", True)
    assert events[3:6] == [Status(busy=True), Status(over_capacity=True), Status(under_zero=True)]
    assert [e.reason for e in events[6:9]] == ["syntax error", "transmission error", "logic error"]
    assert events[9] == Acknowledged("Z")
    assert isinstance(events[10], Rejected) and events[10].command == "Z"
    assert events[11] == Acknowledged("T", Weight(Decimal("0.100")))
    assert events[12] == Acknowledged("TA", Weight(Decimal("0.100")))
    assert events[13] == Acknowledged("TAC")
    assert events[14] == Identity("0123456789")


def test_sics_weight_line_builder_matches_the_manual_layout() -> None:
    assert sics.weight_line("S", "S", "1.234") == b"S S      1.234 kg\r\n"


def test_sics_garbage_line_then_resync() -> None:
    events = parse(sics.SicsParser(), b"S S 1.2x kg\r\n\xd3 \xd3\r\nS S      2.000 kg\r\n")
    assert isinstance(events[0], FrameError) and isinstance(events[1], FrameError)
    assert events[2] == Weight(Decimal("2.000"))


def test_sics_endless_line_is_dropped() -> None:
    events = parse(sics.SicsParser(), b"S" * 200)
    assert events and isinstance(events[0], FrameError)


# --- CAS -------------------------------------------------------------------------------------
def test_cas_commands() -> None:
    assert cas.enquire() == b"\x05" and cas.request_weight() == b"\x11"
    assert cas.zero() == bytes.fromhex("3C 5A 4B 3E 09")
    assert cas.tare() == bytes.fromhex("3C 54 4B 3E 09")


def test_cas_frame_layout_and_checksum() -> None:
    frame = cas.weight_frame("01.250")
    body = b"S 01.250kg"
    assert frame == b"\x01\x02" + body + bytes([cas.bcc(body)]) + b"\x03\x04"
    # the two ways sources describe the BCC agree
    assert cas.bcc(frame[:12] + b"\x03") == cas.bcc(body)
    assert parse(cas.CasParser(), b"\x06" + frame) == [
        Acknowledged("ENQ"),
        Weight(Decimal("1.250"), "kg", True),
    ]


def test_cas_states_and_sign() -> None:
    events = parse(
        cas.CasParser(),
        cas.weight_frame("00.870", "U")
        + cas.weight_frame("00.120", negative=True)
        + cas.weight_frame("99.999", "F")
        + b"\x15",
    )
    assert events[0] == Weight(Decimal("0.870"), "kg", False)
    assert events[1] == Weight(Decimal("-0.120"), "kg", True)
    assert events[2] == Status(over_capacity=True)
    assert isinstance(events[3], Rejected)


def test_cas_bad_checksum_is_an_error_and_the_next_frame_is_read() -> None:
    bad = bytearray(cas.weight_frame("01.250"))
    bad[12] ^= 0xFF
    events = parse(cas.CasParser(), bytes(bad) + cas.weight_frame("02.000"))
    assert isinstance(events[0], FrameError) and "BCC" in events[0].reason
    assert events[-1] == Weight(Decimal("2.000"))
    assert not any(isinstance(e, Weight) and e.value == Decimal("1.250") for e in events)


def test_cas_truncated_frame_then_resync() -> None:
    frame = cas.weight_frame("01.500")
    events = parse(cas.CasParser(), frame[:6] + frame)
    assert isinstance(events[0], FrameError)
    assert events[-1] == Weight(Decimal("1.500"))


# --- fuzzing ---------------------------------------------------------------------------------
PARSERS = {
    "toledo": (toledo.ToledoParser, b"\x02"),
    "sics": (sics.SicsParser, b"\n"),
    "cas": (cas.CasParser, b"\x01\x06\x15"),
}


def _feed(parser, data: bytes, cuts: list[int]) -> list:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    events = []
    for piece in pieces:
        parser.receive_data(piece)
        events += parser.events()
    parser.expire()
    return events + parser.events()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=300), st.lists(st.integers(0, 400)))
def test_no_byte_stream_crashes_a_parser_or_invents_a_weight(
    protocol: str, data: bytes, cuts: list[int]
) -> None:
    make, _ = PARSERS[protocol]
    for event in _feed(make(), data, cuts):
        if isinstance(event, Weight):
            assert event.raw and event.raw in data  # only a whole frame that was sent
        if isinstance(event, FrameError):
            assert event.data  # an error always names the bytes it dropped


def _frame(protocol: str, grams: int) -> bytes:
    value = f"{Decimal(grams) / 1000:06.3f}"
    if protocol == "toledo":
        return toledo.weight_frame(value)
    if protocol == "sics":
        return sics.weight_line("S", "S", value)
    return cas.weight_frame(value)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(PARSERS)),
    st.lists(st.tuples(st.integers(0, 99999), st.binary(max_size=12)), max_size=8),
    st.lists(st.integers(0, 400)),
)
def test_every_sent_weight_is_read_back_through_garbage_and_any_chunking(
    protocol: str, items: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    make, starts = PARSERS[protocol]

    def clean(junk: bytes) -> bytes:  # garbage that cannot start or end a frame
        return bytes(b for b in junk if b not in starts and b != 0x0D) + (
            b"\n" if protocol == "sics" and junk else b""
        )

    stream = b"".join(clean(junk) + _frame(protocol, grams) for grams, junk in items)
    weights = [e for e in _feed(make(), stream, cuts) if isinstance(e, Weight)]
    assert [w.grams for w in weights] == [grams for grams, _ in items]
