"""The store's stock alerts as the hub publishes them (retained, on
`storegw/v1/{store}/config/stock-alerts`) and the gateway shows them: one alert per SKU.

A SKU below zero is also more reserved than on hand (if anything is held for a pickup) and
below its reorder point: one condition, so one alert, the most severe. The hub keeps each
kind's own row (each clears on its own), and what the store is told is collapsed here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# most severe first: the books below zero (count the item), more promised to pickups than is
# there (check the holds), below the reorder point (restock)
SEVERITY: tuple[str, ...] = ("negative", "overreserved", "reorder")


def rank(kind: object) -> int:
    """A kind's place in SEVERITY; an unknown kind (a newer hub's) comes after the known."""
    return SEVERITY.index(kind) if kind in SEVERITY else len(SEVERITY)


def most_severe(alerts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One alert per SKU, the most severe of its kinds; SKUs in the order first seen."""
    best: dict[object, Mapping[str, Any]] = {}
    for a in alerts:
        have = best.get(a.get("sku"))
        if have is None or rank(a.get("kind")) < rank(have.get("kind")):
            best[a.get("sku")] = a
    return list(best.values())
