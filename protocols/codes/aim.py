"""AIM symbology identifiers (ISO/IEC 15424): `]` + code character + modifier, sent by a scanner
before the data when it is configured to, telling which barcode symbology was read."""

from __future__ import annotations

import re
from dataclasses import dataclass

_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True)
class Symbology:
    aim: str  # "]E0"; "" when the scanner sent none
    name: str
    gs1: bool = False  # the data is a GS1 element string

    def __str__(self) -> str:
        return self.name


# The ones a store meets; anything else keeps its raw id under a generic name.
KNOWN: dict[str, Symbology] = {
    s.aim: s
    for s in (
        Symbology("]E0", "EAN-13/UPC-A"),
        Symbology("]E1", "EAN/UPC two-digit add-on"),
        Symbology("]E2", "EAN/UPC five-digit add-on"),
        Symbology("]E3", "EAN/UPC with add-on"),
        Symbology("]E4", "EAN-8"),
        Symbology("]C0", "Code 128"),
        Symbology("]C1", "GS1-128", gs1=True),
        Symbology("]A0", "Code 39"),
        Symbology("]I0", "Interleaved 2 of 5"),
        Symbology("]I1", "Interleaved 2 of 5 (check digit)"),
        Symbology("]d1", "Data Matrix"),
        Symbology("]d2", "GS1 DataMatrix", gs1=True),
        Symbology("]Q1", "QR Code"),
        Symbology("]Q3", "GS1 QR Code", gs1=True),
        Symbology("]e0", "GS1 DataBar", gs1=True),
        Symbology("]L2", "PDF417"),
    )
}
UNKNOWN = Symbology("", "unknown")


def split(raw: str) -> tuple[Symbology, str]:
    """`"]E02112345012506"` → (EAN-13/UPC-A, `"2112345012506"`); no prefix → (UNKNOWN, raw)."""
    m = _AIM.match(raw)
    if not m:
        return UNKNOWN, raw
    aim = m.group(0)
    return KNOWN.get(aim, Symbology(aim, f"symbology {aim}")), raw[3:]


def symbology_for_hid_pos(aim: bytes) -> Symbology:
    """HID POS reports carry the three AIM bytes in their own field."""
    text = aim.decode("ascii", "replace")
    return split(text)[0] if _AIM.match(text) else UNKNOWN
