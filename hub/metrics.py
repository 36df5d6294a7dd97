"""The hub's `/metrics` (Prometheus text format, needs an HQ token): how fast ingest applies
events (the rate of `storegw_hub_ingest_applied_total`), what waits (queued messages, events
held behind a gap), what it refused (rejected events, seq conflicts) and each gateway's last
seq and lag. Counters count since the process started; the `…_events`/`…_conflicts` gauges
are the rows kept in the database. The format comes from protocols/prometheus.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.deps import authorize, session
from hub.ingest.models import IngestConflict, RejectedEvent
from hub.inputs import errors
from hub.stores.models import Gateway
from protocols.prometheus import CONTENT_TYPE, Family, render

router = APIRouter(tags=["ops"], dependencies=[Depends(authorize)], responses=errors())
Db = Annotated[Session, Depends(session)]


def families(request: Request, db: Session) -> list[Family]:
    worker = request.app.state.worker
    stats = worker.stats() if worker else {}
    count = lambda model: db.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
    last_seq = Family("storegw_hub_gateway_last_seq", "counter", "the gateway's last applied seq")
    lag = Family(
        "storegw_hub_gateway_lag_seconds", "gauge",
        "how long the gateway's last applied event took from the lane to the hub's books",
    )  # fmt: skip
    for g in db.scalars(select(Gateway).order_by(Gateway.store_id, Gateway.id)):
        last_seq.add(g.last_seq, store=g.store_id, gateway=g.id)
        if g.last_applied_at and g.last_event_at:
            lag.add((g.last_applied_at - g.last_event_at).total_seconds(),
                    store=g.store_id, gateway=g.id)  # fmt: skip
    return [
        Family("storegw_hub_ingest_applied_total", "counter", "events applied, since start")
        .add(stats.get("applied", 0)),
        Family("storegw_hub_ingest_passes_total", "counter", "ingest passes, since start")
        .add(stats.get("passes", 0)),
        Family("storegw_hub_ingest_rejected_total", "counter", "events rejected, since start")
        .add(stats.get("rejected", 0)),
        Family("storegw_hub_ingest_conflicts_total", "counter", "seq conflicts, since start")
        .add(stats.get("conflicts", 0)),
        Family("storegw_hub_ingest_queued_messages", "gauge",
               "batches received and not yet applied").add(stats.get("queued_messages", 0)),
        Family("storegw_hub_ingest_waiting_events", "gauge", "events held until a gap fills")
        .add(sum(stats.get("buffered", {}).values())),
        Family("storegw_hub_ingest_healthy", "gauge", "0 while ingest is stalled or dead")
        .add(1 if stats.get("healthy", True) else 0),
        Family("storegw_hub_mqtt_connected", "gauge", "1 while connected to the broker")
        .add(1 if stats.get("connected") else 0),
        Family("storegw_hub_rejected_events", "gauge", "rejected events kept (all time)")
        .add(count(RejectedEvent)),
        Family("storegw_hub_ingest_conflicts", "gauge", "seq conflicts kept (all time)")
        .add(count(IngestConflict)),
        last_seq,
        lag,
    ]  # fmt: skip


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "the metrics"}},
)
def metrics(request: Request, db: Db) -> Response:
    """Prometheus metrics of ingest: rate, backlog, rejected, conflicts, per-gateway seq/lag."""
    return Response(render(families(request, db)), headers={"Content-Type": CONTENT_TYPE})
