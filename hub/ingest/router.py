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


# what a quarantined event shows, rejected or conflicting alike: JSON name -> column
QUARANTINED = {
    "id": "id",
    "store": "store_id",
    "gateway": "gateway_id",
    "seq": "seq",
    "event_id": "event_id",
    "type": "type",
    "reason": "reason",
    "raw": "raw",
}
Limit = Annotated[int, Query(ge=1, le=1000)]


def newest(
    db: Session, model: type[RejectedEvent | IngestConflict], store: str | None, limit: int,
    fields: dict[str, str],
) -> list[dict[str, Any]]:
    """A quarantine table's newest rows (of one store, if given) with the named columns."""
    q = select(model).order_by(model.id.desc()).limit(limit)
    if store:
        q = q.where(model.store_id == store)
    return [{name: getattr(row, col) for name, col in fields.items()} for row in db.scalars(q)]


@router.get("/ingest/rejected")
def rejected(db: Db, store: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    """Events the hub refused (newest first), with the reason and the event as it arrived."""
    fields = {**QUARANTINED, "received_at": "received_at"}
    return {"rejected": newest(db, RejectedEvent, store, limit, fields)}


@router.get("/ingest/conflicts")
def conflicts(db: Db, store: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    """Events that claimed a seq another event id holds (newest first): the seq, both event
    ids, what became of the first (`occupant`) and of this one (`outcome`: applied = booked
    under its own id), and the event as it arrived."""
    fields = {
        **QUARANTINED,
        "occupant": "occupant",
        "occupant_id": "occupant_id",
        "outcome": "outcome",
        "detected_at": "detected_at",
    }
    return {"conflicts": newest(db, IngestConflict, store, limit, fields)}
