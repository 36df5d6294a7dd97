"""The envelope every edge event travels in, and the batch message that carries envelopes.

Validation is strict and per event: one bad event in a batch is rejected with its reason while
the others apply. `Rejection.seq` is kept when it can be read, so the hub can still advance the
gateway's sequence past a rejected event and the stream never blocks on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import uuid6
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from protocols import events as event_types

BATCH_VERSION = 1


def new_id() -> str:
    """A time-ordered UUIDv7: sortable by creation, unique without coordination."""
    return str(uuid6.uuid7())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# checked in pydantic-core (no Python call per event): this is the hub's hot path
UUID7 = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=UUID7)]
    seq: int = Field(strict=True, ge=1)
    store: Annotated[str, Field(pattern=ID)]
    gateway: Annotated[str, Field(pattern=ID)]
    type: str
    v: int = Field(strict=True, ge=1)
    occurred_at: AwareDatetime
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        d = self.model_dump()
        d["occurred_at"] = iso(self.occurred_at)
        return d


class Rejection(BaseModel):
    reason: str
    seq: int | None = None
    event_id: str | None = None
    type: str | None = None
    raw: str


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(x) for x in e["loc"]) or "event"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def validate_event(raw: Any, store: str, gateway: str) -> Envelope | Rejection:
    """Check one envelope against the topic it came on and its type's body schema."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    seq = seq if type(seq) is int and seq >= 1 else None
    ev_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    ev_type = (
        raw.get("type") if isinstance(raw, dict) and isinstance(raw.get("type"), str) else None
    )

    def reject(reason: str) -> Rejection:
        text = json.dumps(raw, ensure_ascii=False, default=str)[:4000]
        return Rejection(reason=reason, seq=seq, event_id=ev_id, type=ev_type, raw=text)

    if not isinstance(raw, dict):
        return reject("event is not a JSON object")
    try:
        env = Envelope.model_validate(raw)
    except ValidationError as err:
        return reject(f"bad envelope: {_reason(err)}")
    if env.store != store:
        return reject(f"store {env.store!r} does not match topic store {store!r}")
    if env.gateway != gateway:
        return reject(f"gateway {env.gateway!r} does not match topic gateway {gateway!r}")
    schema = event_types.SCHEMAS.get((env.type, env.v))
    if schema is None:
        known = ", ".join(f"{t} v{v}" for t, v in sorted(event_types.SCHEMAS))
        return reject(f"unknown event type {env.type!r} v{env.v} (known: {known})")
    try:
        body = schema.model_validate(env.body)
    except ValidationError as err:
        return reject(f"bad {env.type} body: {_reason(err)}")
    except ValueError as err:
        return reject(f"bad {env.type} body: {err}")
    return env.model_copy(update={"body": body.model_dump(mode="json")})


def encode_batch(envelopes: list[str]) -> bytes:
    """The events message from envelopes already serialised (the journal stores them as sent)."""
    return (f'{{"v":{BATCH_VERSION},"events":[' + ",".join(envelopes) + "]}").encode()


def decode_batch(payload: bytes, store: str, gateway: str) -> list[Envelope | Rejection]:
    """Every event of a message, validated; a payload that is no batch at all is one rejection."""
    raw_text = payload[:4000].decode("utf-8", "replace")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        return [Rejection(reason=f"payload is not JSON: {err}", raw=raw_text)]
    if not isinstance(doc, dict) or doc.get("v") != BATCH_VERSION:
        return [Rejection(reason=f"payload is not a v{BATCH_VERSION} batch object", raw=raw_text)]
    evs = doc.get("events")
    if not isinstance(evs, list):
        return [Rejection(reason="batch has no events list", raw=raw_text)]
    return [validate_event(e, store, gateway) for e in evs]
