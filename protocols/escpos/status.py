"""Real-time status, DLE EOT n (10 04 n): answered even while printing is blocked. Every reply
has bits 1 and 4 set (0x12 idle) — a byte without them is not a status reply.

n=1 printer: bit 3 offline.   n=2 offline cause: bit 2 cover open, bit 5 stopped by paper end,
bit 6 error.   n=3 error cause: bit 3 auto-cutter, bit 5 unrecoverable, bit 6 auto-recoverable.
n=4 paper sensor: bits 2-3 near end, bits 5-6 paper out."""

from __future__ import annotations

from dataclasses import asdict, dataclass

QUERIES = (1, 2, 3, 4)
FIXED_BITS = 0x12


def query(n: int) -> bytes:
    return bytes((0x10, 0x04, n))


ALL_QUERIES = b"".join(query(n) for n in QUERIES)


class StatusError(ValueError):
    """A reply that cannot be a DLE EOT answer."""


@dataclass(frozen=True)
class PrinterStatus:
    offline: bool = False
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False

    @property
    def ready(self) -> bool:
        """Can print now (paper near end still prints, but is told)."""
        return not (
            self.offline
            or self.cover_open
            or self.paper_out
            or self.cutter_error
            or self.unrecoverable_error
        )

    def problems(self) -> list[str]:
        """What to tell the lane and the technician, worst first."""
        names = (
            ("unrecoverable_error", "printer error"),
            ("cutter_error", "cutter jammed"),
            ("cover_open", "cover open"),
            ("paper_out", "paper out"),
            ("offline", "offline"),
            ("paper_near_end", "paper near end"),
        )
        return [text for attr, text in names if getattr(self, attr)]

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ready": self.ready, "problems": self.problems()}


def parse(replies: bytes) -> PrinterStatus:
    """The four replies to ALL_QUERIES (n = 1, 2, 3, 4), in order."""
    if len(replies) != 4:
        raise StatusError(f"expected 4 status bytes, got {len(replies)}: {replies.hex()}")
    for n, b in zip(QUERIES, replies, strict=True):
        if b & 0x93 != FIXED_BITS:  # bits 0, 1, 4, 7 are fixed: 0, 1, 1, 0
            raise StatusError(f"DLE EOT {n} reply {b:#04x} lacks the fixed bits")
    p, off, err, paper = replies
    return PrinterStatus(
        offline=bool(p & 0x08),
        cover_open=bool(off & 0x04),
        paper_near_end=bool(paper & 0x0C),
        paper_out=bool(paper & 0x60) or bool(off & 0x20),
        cutter_error=bool(err & 0x08),
        unrecoverable_error=bool(err & 0x20),
    )


def reply(n: int, st: PrinterStatus) -> bytes:
    """The byte a printer in state `st` answers to DLE EOT n (the simulator's side)."""
    b = FIXED_BITS
    if n == 1:
        b |= 0x08 if not st.ready else 0
    elif n == 2:
        b |= (0x04 if st.cover_open else 0) | (0x20 if st.paper_out else 0)
        b |= 0x40 if (st.cutter_error or st.unrecoverable_error) else 0
    elif n == 3:
        b |= (0x08 if st.cutter_error else 0) | (0x20 if st.unrecoverable_error else 0)
    elif n == 4:
        b |= (0x0C if st.paper_near_end else 0) | (0x60 if st.paper_out else 0)
    return bytes((b,))
