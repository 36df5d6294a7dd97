"""Barcodes a store scans: AIM symbology ids, EAN/UPC check digits, GS1 element strings (via
biip), label-scale variable-measure codes and payment auth codes; `classify()` tells them apart."""

from __future__ import annotations

from protocols.codes.scan import (
    Gs1Scan,
    OtherScan,
    PaymentScan,
    ProductScan,
    Scan,
    WeighedScan,
    classify,
)

__all__ = [
    "Gs1Scan",
    "OtherScan",
    "PaymentScan",
    "ProductScan",
    "Scan",
    "WeighedScan",
    "classify",
]
