"""A small shop for lane tests and the scan bench: its catalog, prices, promotions and tiers
as the hub's snapshots, written into a gateway's data dir before it starts (the gateway loads
the files it holds, as after a restart without the hub)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocols import snapshots

WATER = {
    "sku": "6901028075015",
    "name": "农夫山泉 550ml",
    "category": "drinks",
    "barcodes": ["6901028075015"],
    "cost_fen": 120,
}
APPLE = {
    "sku": "2000123",
    "name": "富士苹果",
    "category": "fresh",
    "unit": "kg",
    "barcodes": [],
    "cost_fen": 600,
}
PORK = {"sku": "100234", "name": "猪肉", "category": "fresh", "unit": "kg", "barcodes": []}
ITEMS = [WATER, APPLE, PORK]
PRICES = {WATER["sku"]: 200, APPLE["sku"]: 1280, PORK["sku"]: 2600}
# 满30减5 on the whole basket
PROMOTIONS = [
    {
        "id": 1,
        "name": "满30减5",
        "kind": "spend_save",
        "rule": {"threshold_fen": 3000, "save_fen": 500},
    }
]
TIERS = [{"code": "normal", "name": "普通", "rank": 0, "discount_pct": 100,
          "points_multiplier_pct": 100}]  # fmt: skip


def shop_data(
    items: list[dict[str, Any]] | None = None,
    prices: dict[str, int] | None = None,
    promotions: list[dict[str, Any]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    return {
        "catalog": {"items": items if items is not None else ITEMS},
        "prices": {"prices": prices if prices is not None else PRICES},
        "promotions": {"promotions": promotions if promotions is not None else PROMOTIONS},
        "tiers": {"tiers": tiers if tiers is not None else TIERS},
    }


def write_snapshots(data_dir: Path, store: str, data: dict[str, dict[str, Any]] | None = None):
    """Each kind as `<data dir>/snapshots/{kind}.json`, version 1."""
    folder = data_dir / "snapshots"
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    for kind, body in (data or shop_data()).items():
        snap = snapshots.build(store, kind, 1, body, now)
        (folder / f"{kind}.json").write_bytes(snapshots.encode(snap))
