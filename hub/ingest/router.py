from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.deps import session
from hub.ingest.models import IngestConflict, RejectedEvent
from hub.inputs import errors
from hub.stores.models import Gateway

router = APIRouter(tags=["ingest"], responses=errors())
Db = Annotated[Session, Depends(session)]


@router.get("/ingest/status")
def ingest_status(request: Request, db: Db) -> dict[str, Any]:
    """Per gateway: last applied seq, lag (how long its last event took to be applied),
    rejected count, online status; plus the worker's own counters and `healthy`: false when
    ingest is stalled (messages wait and no pass finishes) or its worker is dead."""
    worker = request.app.state.worker
    buffered = worker.ingest.buffered if worker else {}
    gateways = []
    for g in db.scalars(select(Gateway).order_by(Gateway.store_id, Gateway.id)):
        lag = None
        if g.last_applied_at and g.last_event_at:
            lag = round((g.last_applied_at - g.last_event_at).total_seconds(), 3)
        gateways.append(
            {
                "store": g.store_id,
                "gateway": g.id,
                "last_seq": g.last_seq,
                "lag_s": lag,
                "last_applied_at": g.last_applied_at,
                "rejected": g.rejected,
                "status": g.status,
                "waiting_events": len(buffered.get((g.store_id, g.id), {})),
            }
        )
    stats = worker.stats() if worker else None
    return {
        "healthy": stats["healthy"] if stats else True,
        "state": stats["state"] if stats else "no worker",
        "gateways": gateways,
        "worker": stats,
    }


@router.get("/ingest/rejected")
def rejected(
    db: Db,
    store: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    q = select(RejectedEvent).order_by(RejectedEvent.id.desc()).limit(limit)
    if store:
        q = q.where(RejectedEvent.store_id == store)
    return {
        "rejected": [
            {
                "id": r.id,
                "store": r.store_id,
                "gateway": r.gateway_id,
                "seq": r.seq,
                "event_id": r.event_id,
                "type": r.type,
                "reason": r.reason,
                "raw": r.raw,
                "received_at": r.received_at,
            }
            for r in db.scalars(q)
        ]
    }


@router.get("/ingest/conflicts")
def conflicts(
    db: Db,
    store: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events that claimed a seq another event id holds (newest first): the seq, both event
    ids, what became of the first (`occupant`) and of this one (`outcome`: applied = booked
    under its own id), and the event as it arrived."""
    q = select(IngestConflict).order_by(IngestConflict.id.desc()).limit(limit)
    if store:
        q = q.where(IngestConflict.store_id == store)
    return {
        "conflicts": [
            {
                "id": c.id,
                "store": c.store_id,
                "gateway": c.gateway_id,
                "seq": c.seq,
                "event_id": c.event_id,
                "type": c.type,
                "occupant": c.occupant,
                "occupant_id": c.occupant_id,
                "outcome": c.outcome,
                "reason": c.reason,
                "raw": c.raw,
                "detected_at": c.detected_at,
            }
            for c in db.scalars(q)
        ]
    }
