"""The shared sans-I/O base (protocols/stream.py): every wire parser takes bytes in any chunks
and gives the same events, one at a time, None when nothing complete is buffered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.escpos.decoder import Decoder, Line
from protocols.scales.toledo import ToledoParser
from protocols.stream import EventParser
from protocols.zvt import commands as c
from protocols.zvt.apdu import ApduReader
from protocols.zvt.session import EcrSession


class Lines(EventParser[bytes]):
    """A toy protocol: newline-terminated records."""

    def _parse(self) -> None:
        while (end := self._buf.find(b"\n")) >= 0:
            self._emit(bytes(self._buf[:end]))
            del self._buf[: end + 1]


def test_buffers_until_complete_and_hands_out_one_at_a_time() -> None:
    p = Lines()
    assert p.next_event() is None
    p.receive_data(b"ab")
    assert p.next_event() is None and p.pending == 2
    p.receive_data(b"c\nde\nf")
    assert p.next_event() == b"abc"
    assert p.next_event() == b"de"
    assert p.next_event() is None and p.pending == 1
    p.receive_data(b"\n")
    assert p.events() == [b"f"] and p.events() == [] and p.pending == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=10))
def test_chunking_never_changes_the_events(cuts: list[int]) -> None:
    data = b"one\ntwo\n\nthree\n"
    whole = Lines()
    whole.receive_data(data)
    pieces, at = Lines(), 0
    got: list[bytes] = []
    for cut in [*sorted(min(x, len(data)) for x in cuts), len(data)]:
        pieces.receive_data(data[at:cut])
        at = cut
        while (ev := pieces.next_event()) is not None:
            got.append(ev)
    assert got == whole.events() == [b"one", b"two", b"", b"three"]


def test_every_wire_parser_has_the_one_shape() -> None:
    for parser in (ToledoParser(), Decoder(), ApduReader(), EcrSession()):
        assert isinstance(parser, EventParser)
        assert parser.next_event() is None
    d = Decoder()
    d.receive_data(b"hi\n")
    ev = d.next_event()
    assert isinstance(ev, Line) and ev.text == "hi" and d.next_event() is None
    r = ApduReader()
    wire = c.completion().encode()
    r.receive_data(wire[:1])
    assert r.next_event() is None and r.pending == 1
    r.receive_data(wire[1:])
    assert r.next_event() == c.completion() and r.pending == 0
