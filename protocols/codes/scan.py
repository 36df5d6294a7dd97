"""What a scan is: `classify()` turns the raw text a scanner sent (with or without an AIM
prefix) into one typed result the lane can act on — a product GTIN, a GS1 element string, a
variable-measure item from a label scale, a payment auth code, or something else.

Payment codes are recognised first: they must reach payment and never the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocols.codes import aim, ean, gs1, paycode
from protocols.codes.aim import Symbology
from protocols.codes.variable_measure import Layout, WeighedItem, match

_EDGES = " \r\n\t\x00"  # not str.strip(): Python counts GS (0x1D) as whitespace


@dataclass(frozen=True)
class Scan:
    symbology: Symbology
    kind = "other"

    def fields(self) -> dict[str, Any]:
        return {}

    def event(self) -> dict[str, Any]:
        """The lane event body; safe to log (a payment code is masked)."""
        return {"kind": self.kind, "symbology": self.symbology.name, **self.fields()}


@dataclass(frozen=True)
class ProductScan(Scan):
    gtin: str  # 14 digits, the catalog key
    code: str  # as printed (8, 12, 13 or 14 digits)
    format: str
    kind = "product"

    def fields(self) -> dict[str, Any]:
        return {"gtin": self.gtin, "code": self.code, "format": self.format}


@dataclass(frozen=True)
class Gs1Scan(Scan):
    data: gs1.Gs1Data
    kind = "gs1"

    def fields(self) -> dict[str, Any]:
        d = self.data
        out: dict[str, Any] = {"elements": d.elements, "gtin": d.gtin}
        for key in ("batch", "serial", "net_weight_g", "price_fen", "count"):
            if getattr(d, key) is not None:
                out[key] = getattr(d, key)
        for key in ("expiry", "best_before"):
            if getattr(d, key) is not None:
                out[key] = getattr(d, key).isoformat()
        if d.errors:
            out["errors"] = d.errors
        return out


@dataclass(frozen=True)
class WeighedScan(Scan):
    item: WeighedItem
    code: str
    kind = "weighed"

    def fields(self) -> dict[str, Any]:
        i = self.item
        out: dict[str, Any] = {"item_code": i.item_code, "layout": i.layout, "code": self.code}
        for key in ("weight_g", "amount_fen", "unit_price_fen"):
            if getattr(i, key) is not None:
                out[key] = getattr(i, key)
        return out


@dataclass(frozen=True)
class PaymentScan(Scan):
    paycode: paycode.PayCode
    kind = "paycode"

    def fields(self) -> dict[str, Any]:
        return {"provider": self.paycode.provider, "masked": self.paycode.masked}

    def __repr__(self) -> str:
        return f"PaymentScan({self.paycode!r})"


@dataclass(frozen=True)
class OtherScan(Scan):
    text: str
    note: str = ""
    kind = "other"

    def fields(self) -> dict[str, Any]:
        return {"text": self.text, **({"note": self.note} if self.note else {})}


def classify(
    raw: str,
    layouts: list[Layout] | tuple[Layout, ...] = (),
    gs_substitute: str | None = None,
) -> Scan:
    symbology, text = aim.split(raw.strip(_EDGES))
    if gs_substitute:
        text = text.replace(gs_substitute, gs1.GS)
    if not symbology.gs1:
        code = paycode.recognise(text)
        if code is not None:
            return PaymentScan(symbology, code)
    if symbology.gs1 or _looks_gs1(symbology, text):
        try:
            return Gs1Scan(symbology, gs1.parse(text))
        except gs1.Gs1Error as err:
            if symbology.gs1:
                return OtherScan(symbology, text, f"not a GS1 element string: {err}")
    if text.isdigit() and text.isascii():
        item = match(text, list(layouts))
        if item is not None:
            return WeighedScan(symbology, item, text)
        fmt = ean.format_of(text)
        if fmt is not None:
            return ProductScan(symbology, ean.gtin14(text), text, fmt)
        if len(text) in ean.FORMATS and symbology.aim[:2] in ("", "]E"):
            return OtherScan(symbology, text, "check digit does not match")
    return OtherScan(symbology, text)


def _looks_gs1(symbology: Symbology, text: str) -> bool:
    """Without an AIM id: HRI `(01)…`, or FNC1 separators, or a GTIN AI longer than a GTIN."""
    if symbology.aim not in ("", "]C0", "]d1", "]Q1"):
        return False
    return (
        text.startswith("(")
        or gs1.GS in text
        or (text[:2] == "01" and len(text) > 16 and ean.is_valid(text[2:16]))
    )
