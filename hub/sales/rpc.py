"""Refunds' methods for the lanes' online calls (hub/rpc.py): claim what a refund gives back
before the lane pays it out, release a claim (hub/sales/refunds.py), and look a sale up for a
return at another store than the one that sold it (hub/sales/reads.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.orm import Session

from hub.rpc import Caller, Method, reads_only
from hub.sales import reads, refunds


def claim(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    lines = [msgspec.to_builtins(x) for x in p.lines]
    return refunds.claim(
        s,
        p.claim_id,
        p.sale_id,
        lines,
        store=caller.store,
        gateway=caller.gateway,
        lane=caller.lane,
        ttl_s=p.ttl_s,
    )


def release(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    return refunds.release(s, p.claim_id)


@reads_only
def lookup(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    return reads.for_return(s, p.sale_id)


METHODS: dict[str, Method] = {
    "refund.claim": claim,
    "refund.release": release,
    "sale.lookup": lookup,
}
