"""GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR, DataBar) read with biip, which knows the
Application Identifier table, fixed and variable lengths, dates and decimal positions.

What the lane needs is lifted into typed fields (GTIN, batch, expiry, net weight in grams, price
in fen); every element stays available by its AI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

GS = "\x1d"


class Gs1Error(ValueError):
    pass


@dataclass(frozen=True)
class Gs1Data:
    elements: dict[str, str]  # AI → value as scanned
    gtin: str | None = None
    batch: str | None = None
    serial: str | None = None
    expiry: date | None = None
    best_before: date | None = None
    net_weight_g: int | None = None
    price_fen: int | None = None
    count: int | None = None
    errors: list[str] = field(default_factory=list)


def _grams(ai: str, value: Decimal) -> int | None:
    # 310n kilograms, 3200–3205 pounds (net weight); n is the decimal position biip applied
    per = {"310": Decimal(1000), "320": Decimal("453.59237")}.get(ai[:3])
    if per is None:
        return None
    return int((value * per).to_integral_value(rounding=ROUND_HALF_UP))


def parse(text: str, separators: tuple[str, ...] = (GS,)) -> Gs1Data:
    """An element string as scanned (FNC1 sent as GS or a configured substitute), or in human
    readable form `(01)…(17)…`."""
    # biip loads the whole GS1 prefix table (~22 MiB resident): only once a GS1 code is scanned
    from biip import ParseConfig, ParseError
    from biip.gs1_messages import GS1Message

    config = ParseConfig(separator_chars=list(separators))
    try:
        if text.startswith("("):
            message = GS1Message.parse_hri(text, config=config)
        else:
            message = GS1Message.parse(text, config=config)
    except ParseError as err:
        raise Gs1Error(str(err)) from err
    elements: dict[str, str] = {}
    out: dict[str, object] = {}
    errors: list[str] = []
    for es in message.element_strings:
        ai = es.ai.ai
        elements[ai] = es.value
        if ai == "01":
            if es.gtin is None:
                errors.append(es.gtin_error or "invalid GTIN")
            else:
                out["gtin"] = es.value
        elif ai == "10":
            out["batch"] = es.value
        elif ai == "21":
            out["serial"] = es.value
        elif ai == "17":
            out["expiry"] = es.date
        elif ai == "15":
            out["best_before"] = es.date
        elif ai == "30" and es.value.isdigit():
            out["count"] = int(es.value)
        elif ai[:3] in ("310", "320") and es.decimal is not None:
            out["net_weight_g"] = _grams(ai, es.decimal)
        elif ai[:3] == "392" and es.decimal is not None:
            # price to pay in the local currency: yuan with n decimals → fen
            out["price_fen"] = int((es.decimal * 100).to_integral_value(ROUND_HALF_UP))
    if not elements:
        raise Gs1Error(f"no GS1 element string in {text!r}")
    return Gs1Data(elements=elements, errors=errors, **out)  # type: ignore[arg-type]
