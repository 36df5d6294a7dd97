"""What is still refundable on a sale, per line and in total: the one rule the lane (against
its own journal) and the hub (against its books and the lanes' claims) both apply.

A refund line names the sale's line by SKU, or by its 1-based index `line` when the sale has
the SKU on several lines. By SKU, the lines carrying it form one pool, taken from in line
order. A line never gives back more quantity or more fen than it sold, and the sale never more
than its total (which is after sale-level discounts, so it can be less than its lines)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_sale_id(value: str) -> bool:
    """Sale ids are the event ids of their sale.completed: UUIDs, lower case."""
    return bool(UUID.match(value))


class Refusal(ValueError):
    """A refund that does not fit its sale: 409 when it asks for more than is left, 422 when
    it names a line the sale does not have."""

    def __init__(self, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class NoSuchLine(Refusal):
    """The refund names a line or SKU the sale does not have (422)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 422)


@dataclass
class SoldLine:
    n: int  # 1-based position in the sale
    sku: str
    qty_milli: int
    total_fen: int
    refunded_qty_milli: int = 0
    refunded_fen: int = 0

    @property
    def qty_left(self) -> int:
        return self.qty_milli - self.refunded_qty_milli

    @property
    def fen_left(self) -> int:
        return self.total_fen - self.refunded_fen


# one share of a refund: (line n, qty_milli, fen)
Share = tuple[int, int, int]


class Refundable:
    """A sale's lines and total with what is already refunded (or promised); `take` checks a
    refund against it and, when it fits, counts it."""

    def __init__(self, lines: Iterable[SoldLine], total_fen: int, refunded_fen: int = 0) -> None:
        self.lines = sorted(lines, key=lambda x: x.n)
        self.total_fen = total_fen
        self.refunded_fen = refunded_fen

    @classmethod
    def of_sale_body(cls, body: Mapping[str, Any]) -> Refundable:
        """From a sale.completed body (the lane's own journal)."""
        return cls(
            (
                SoldLine(n, ln["sku"], ln["qty_milli"], ln["total_fen"])
                for n, ln in enumerate(body["lines"], 1)
            ),
            body["total_fen"],
        )

    @property
    def fen_left(self) -> int:
        return self.total_fen - self.refunded_fen

    def hold(self, shares: Iterable[Sequence[int]]) -> None:
        """Count what was already promised elsewhere (a claim), without checking it."""
        by_n = {x.n: x for x in self.lines}
        for n, qty, fen in shares:
            if n in by_n:
                by_n[n].refunded_qty_milli += qty
                by_n[n].refunded_fen += fen
            self.refunded_fen += fen

    def take(self, wanted: Sequence[Mapping[str, Any]]) -> list[Share]:
        """Check the refund lines against what is left; count and return their shares per
        sale line, or raise Refusal (nothing counted)."""
        qty_left = {x.n: x.qty_left for x in self.lines}
        fen_left = {x.n: x.fen_left for x in self.lines}
        shares: list[Share] = []
        total = 0
        for w in wanted:
            sku, qty, fen = w["sku"], int(w["qty_milli"]), int(w["amount_fen"])
            total += fen
            n_named = w.get("line")
            if n_named is not None:
                pool = [x for x in self.lines if x.n == n_named]
                if not pool or pool[0].sku != sku:
                    raise NoSuchLine(f"the sale has no line {n_named} with SKU {sku}")
            else:
                pool = [x for x in self.lines if x.sku == sku]
                if not pool:
                    raise NoSuchLine(f"SKU {sku} is not in the sale")
            have_q = sum(qty_left[x.n] for x in pool)
            have_f = sum(fen_left[x.n] for x in pool)
            if qty > have_q or fen > have_f:
                raise Refusal(
                    f"refund of {sku} ({qty} milli, {fen} fen) exceeds what is left on that "
                    f"line ({have_q} milli, {have_f} fen)"
                )
            for x in pool:  # first lines first
                q, f = min(qty, qty_left[x.n]), min(fen, fen_left[x.n])
                if q or f:
                    shares.append((x.n, q, f))
                    qty_left[x.n] -= q
                    fen_left[x.n] -= f
                    qty, fen = qty - q, fen - f
        if total > self.fen_left:
            raise Refusal(
                f"refund of {total} fen exceeds the {self.fen_left} fen left on the sale "
                f"({self.refunded_fen} of {self.total_fen} refunded)"
            )
        self.hold(shares)
        return shares

    def left(self) -> dict[str, Any]:
        """What can still be refunded (the answer a lane shows the cashier)."""
        return {
            "total_fen": self.fen_left,
            "lines": [
                {"line": x.n, "sku": x.sku, "qty_milli": x.qty_left, "amount_fen": x.fen_left}
                for x in self.lines
            ],
        }
