"""What the whole-chain tests (tests/chain) do first: a hub with stores, tiers and one item,
its configuration published, and the questions they ask a gateway (which snapshot versions it
holds, whether everything it journalled is acked)."""

from __future__ import annotations

from typing import Any

from rig.processes import Edge, Hub

WATER = "6901028075015"  # the item every chain test sells


def seed(hub: Hub, stores: tuple[str, ...], tiers: tuple[tuple[str, int, int, int], ...]) -> None:
    """Stores, tiers (code, rank, discount %, spend threshold in fen) and one item at 2 yuan."""
    api = hub.http
    for store in stores:
        assert api.put(f"/api/stores/{store}", json={"id": store, "name": store}).is_success
    for code, rank, pct, spend in tiers:
        tier = {"name": code, "rank": rank, "discount_pct": pct, "spend_threshold_fen": spend}
        r = api.put(f"/api/tiers/{code}", json=tier)
        assert r.is_success, r.text
    item = {"name": "农夫山泉 550ml", "category": "drinks", "price_fen": 200}
    assert api.put(f"/api/catalog/items/{WATER}", json=item).is_success


def publish(hub: Hub, **body: Any) -> dict[str, Any]:
    """Build and send the stores' snapshots; the hub must be on the broker."""
    published: dict[str, Any] = hub.http.post("/api/catalog/publish", json=body).json()
    assert published["connected"], published
    return published


def held(edge: Edge) -> dict[str, int]:
    """The snapshot versions the gateway holds, by kind."""
    snaps = edge.http.get("/api/snapshots").json()["snapshots"]
    return {k: v["version"] for k, v in snaps.items()}


def drained(edge: Edge) -> bool:
    """Everything the gateway journalled was acked by the hub."""
    j = edge.journal()
    return bool(j["last_seq"] and j["last_acked_seq"] == j["last_seq"])
