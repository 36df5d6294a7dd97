"""Variable-measure barcodes printed by label scales (restricted circulation prefixes 02, 20–29).

A layout is configuration (firmware_config/labels/*.toml), written the way Chinese label scales
(大华 Dahua, 顶尖 Aclas) write their barcode formats, one letter per digit:

    F  flag (the fixed prefix)          W  item code (货号 / PLU)
    E  amount in fen (金额)              N  weight in grams (重量)
    U  unit price in fen per kg (单价)   C  EAN check digit over all digits before it
    X  a digit to ignore (e.g. a vendor price check digit)

e.g. `FWWWWWWEEEEEC` (13 digits: flag, 6-digit item, amount, check) or
`FFWWWWWEEEEENNNNNC` (18 digits, Code 128: flag, item, amount, weight, check)."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.codes import ean

LETTERS = set("FWENUCX")


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class WeighedItem:
    item_code: str
    layout: str
    weight_g: int | None = None
    amount_fen: int | None = None
    unit_price_fen: int | None = None


@dataclass(frozen=True)
class Layout:
    name: str
    pattern: str
    prefixes: tuple[str, ...]
    vendor: str = ""

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise LayoutError(problem)

    def problem(self) -> str | None:
        p = self.pattern
        if not p or set(p) - LETTERS:
            return f"pattern {p!r} may only use the letters {''.join(sorted(LETTERS))}"
        for letter in set(p) - {"X"}:
            first, last = p.index(letter), p.rindex(letter)
            if p[first : last + 1] != letter * (last - first + 1):
                return f"pattern {p!r}: the {letter} digits must be one run"
        if "W" not in p:
            return f"pattern {p!r} has no item code (W)"
        if not set(p) & set("ENU"):
            return f"pattern {p!r} has neither amount (E), weight (N) nor unit price (U)"
        if "C" in p and p.index("C") != len(p) - 1:
            return f"pattern {p!r}: the check digit (C) must be the last digit"
        flag = p.count("F")
        if not self.prefixes:
            return "prefixes must name at least one flag"
        for prefix in self.prefixes:
            if len(prefix) != flag or not prefix.isdigit():
                return f"prefix {prefix!r} must be {flag} digit(s), as many as F in {p!r}"
        return None

    def parse(self, code: str) -> WeighedItem | None:
        """The item when `code` is one of this layout's barcodes, else None."""
        p = self.pattern
        if len(code) != len(p) or not code.isdigit() or not code.isascii():
            return None
        if code[: p.count("F")] not in self.prefixes:
            return None
        if "C" in p and not ean.is_valid(code):
            return None

        def field(letter: str) -> int | None:
            if letter not in p:
                return None
            return int(code[p.index(letter) : p.rindex(letter) + 1])

        item = code[p.index("W") : p.rindex("W") + 1]
        return WeighedItem(item, self.name, field("N"), field("E"), field("U"))


def match(code: str, layouts: list[Layout]) -> WeighedItem | None:
    """The first layout that reads the code wins (the store orders its layouts)."""
    for layout in layouts:
        item = layout.parse(code)
        if item is not None:
            return item
    return None
