"""Barcodes a store scans: AIM symbology ids, EAN/UPC check digits, GS1 element strings (via
biip), label-scale variable-measure codes and payment auth codes; `classify()` tells them apart."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocols.codes.scan import (
        Gs1Scan,
        OtherScan,
        PaymentScan,
        ProductScan,
        Scan,
        WeighedScan,
        classify,
    )

# `classify()` and its kinds load at their first use: a reader of one kind of code (a device
# profile's payment prefixes, a label scale's layouts) needs none of the others
_SCAN = ("Gs1Scan", "OtherScan", "PaymentScan", "ProductScan", "Scan", "WeighedScan", "classify")


def __getattr__(name: str) -> Any:
    if name in _SCAN:
        return getattr(import_module("protocols.codes.scan"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Gs1Scan",
    "OtherScan",
    "PaymentScan",
    "ProductScan",
    "Scan",
    "WeighedScan",
    "classify",
]
