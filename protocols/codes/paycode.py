"""Payment auth codes (付款码) a customer shows on a phone: recognised by shape, routed to payment,
never to the catalog, and never written in full to a log.

WeChat Pay: 18 digits starting 10–15. Alipay: 16–24 digits starting 25–30.
UnionPay QR (云闪付): 19 digits starting 62."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayCode:
    provider: str  # wechat | alipay | unionpay (the tender names of a sale)
    code: str

    @property
    def masked(self) -> str:
        return mask(self.code)

    def __repr__(self) -> str:  # an accidental log of the object must not leak the code
        return f"PayCode(provider={self.provider!r}, code={self.masked!r})"

    __str__ = __repr__


def mask(code: str) -> str:
    """Keep the provider prefix and the last four digits.

    `134567890123456789` → `1345**********6789`."""
    if len(code) <= 8:
        return "*" * len(code)
    return code[:4] + "*" * (len(code) - 8) + code[-4:]


def recognise(text: str) -> PayCode | None:
    if not (text.isdigit() and text.isascii()):
        return None
    head = int(text[:2])
    if len(text) == 18 and 10 <= head <= 15:
        return PayCode("wechat", text)
    if 16 <= len(text) <= 24 and 25 <= head <= 30:
        return PayCode("alipay", text)
    if len(text) == 19 and head == 62:
        return PayCode("unionpay", text)
    return None


def collides(length: int, prefix: str) -> str | None:
    """Which payment provider's codes have this length and can start with `prefix` (used to
    refuse label layouts whose barcodes would be taken for payment codes)."""
    for provider, lengths, lo, hi in (
        ("wechat", (18,), 10, 15),
        ("alipay", range(16, 25), 25, 30),
        ("unionpay", (19,), 62, 62),
    ):
        if length not in lengths:
            continue
        head = prefix[:2]
        if len(head) == 2 and lo <= int(head) <= hi:
            return provider
        if len(head) == 1 and any(str(n).startswith(head) for n in range(lo, hi + 1)):
            return provider
    return None
