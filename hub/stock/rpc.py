"""The gateway's online calls about stock (protocols/rpc.py), answered for the calling store
only (the store is the request topic's, which the broker's ACL binds to the gateway):
`stock.levels` (its own stock), `pickup.complete` (hand over an online order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.pickup import service as pickup
from hub.rpc import Caller, Method
from hub.stock import reads


def levels(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    return {"store_id": caller.store, "levels": reads.positions(s, caller.store, p.skus or None)}


def complete_pickup(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    by = f"{caller.store}/{caller.gateway}/{caller.lane or '-'}"
    return pickup.complete(s, p.order_id, caller.store, utcnow(), by)


METHODS: dict[str, Method] = {"stock.levels": levels, "pickup.complete": complete_pickup}
