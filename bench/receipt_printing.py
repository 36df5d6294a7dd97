"""Receipts: how many a gateway lays out (sale → ESC/POS bytes) and our decoder reads back
(bytes → events) per second, against the raw limit measured in the same run — splitting the
same bytes into lines and decoding them as GB18030, the least any reader must do — and against
what one 80 mm printer can take (about 250 mm/s: ~6 receipts a second).

    python bench/receipt_printing.py"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.escpos.decoder import decode
from protocols.escpos.receipt import Paper, Store, render_sale
from rig.samples import RECEIPT_ENVELOPE as ENVELOPE

N = 300
STORE = Store(
    name="好邻居便利店",
    header=("北京市朝阳区建国路1号",),
    qr_url="https://e.example.cn/r/{sale_id}",
)
PAPER = Paper(columns=48, dots=576)


def rate(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def main() -> None:
    data = bytes(render_sale(ENVELOPE, PAPER, STORE).out)
    rate(lambda: decode(data), 20)  # warm up
    layout = rate(lambda: render_sale(ENVELOPE, PAPER, STORE), N)
    decoded = rate(lambda: decode(data), N)

    def raw() -> None:
        for line in data.split(b"\n"):
            line.decode("gb18030", "replace")

    limit = rate(raw, N * 20)
    print(f"receipt: {len(data)} bytes, {len(decode(data))} events")
    print(f"layout  sale -> bytes   : {layout:10.0f} receipts/s")
    print(f"decode  bytes -> events : {decoded:10.0f} receipts/s")
    print(f"raw limit split+gb18030 : {limit:10.0f} receipts/s")
    print(f"decoder / raw limit     : {decoded / limit:10.4f}")
    print(f"decoder / one printer   : {decoded / 6:10.0f} x (a printer takes ~6 receipts/s)")


if __name__ == "__main__":
    main()
