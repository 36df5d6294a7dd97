"""The gateway's online calls about stock (protocols/rpc.py), answered for the calling store
only (the store is the request topic's, which the broker's ACL binds to the gateway):
`stock.levels` (its own stock), `pickup.complete` (hand over an online order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.pickup import service as pickup
from hub.stock import reads

METHODS = frozenset({"stock.levels", "pickup.complete"})


def call(
    s: Session, method: str, p: Any, store: str, gateway: str, lane: str | None
) -> dict[str, Any]:
    if method == "stock.levels":
        return {"store_id": store, "levels": reads.positions(s, store, p.skus or None)}
    return pickup.complete(s, p.order_id, store, utcnow(), f"{store}/{gateway}/{lane or '-'}")
