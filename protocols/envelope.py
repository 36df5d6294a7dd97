"""The envelope every edge event travels in, and the batch message that carries envelopes.

Validation is strict and per event: one bad event in a batch is rejected with its reason while
the others apply. `Rejection.seq` is kept when it can be read, so the hub can still advance the
gateway's sequence past a rejected event and the stream never blocks on it.

A well-formed batch (the normal case) is decoded and checked in one msgspec pass straight from
the bytes; only a batch with something wrong in it is taken apart event by event to find what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from protocols import bounds, topics
from protocols import events as event_types

BATCH_VERSION = 1
UUID7 = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
ID = topics.ID_PATTERN


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(pattern=UUID7)]
    seq: Annotated[int, msgspec.Meta(ge=1, le=bounds.MAX_SEQ)]
    store: Annotated[str, msgspec.Meta(pattern=ID)]
    gateway: Annotated[str, msgspec.Meta(pattern=ID)]
    type: Annotated[str, msgspec.Meta(pattern=ID)]
    v: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    occurred_at: datetime
    body: dict[str, Any]

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a UTC offset")

    def to_json(self) -> dict[str, Any]:
        d = msgspec.to_builtins(self)
        d["occurred_at"] = iso(self.occurred_at)
        return d


class _RawEnvelope(Envelope, frozen=True, forbid_unknown_fields=True):
    body: msgspec.Raw  # type: ignore[assignment]  # decoded by its type's schema next


class _Batch(msgspec.Struct):
    v: int
    events: list[_RawEnvelope]


class _LooseBatch(msgspec.Struct):
    v: int
    events: list[msgspec.Raw]


_batch = msgspec.json.Decoder(_Batch)
_loose = msgspec.json.Decoder(_LooseBatch)
_any = msgspec.json.Decoder()
_bodies = {key: msgspec.json.Decoder(schema) for key, schema in event_types.SCHEMAS.items()}


RAW_LEN = 65_536  # what a dead letter keeps of the bytes that arrived
# what a malformed payload may raise besides msgspec's own errors: invalid UTF-8 inside a
# string (UnicodeDecodeError, a ValueError) and nesting beyond the decoder's recursion limit
_UNREADABLE = (msgspec.DecodeError, ValueError, RecursionError)


@dataclass(frozen=True)
class Rejection:
    reason: str
    raw: str  # bounds.printable(): storable whatever arrived
    seq: int | None = None
    event_id: str | None = None
    type: str | None = None


def _body(raw: _RawEnvelope, suspect: bool = True) -> dict[str, Any]:
    """The body decoded by its type's schema; `suspect`: the bytes it came in may hold a
    control character (bounds.suspect), so its strings are looked at one by one."""
    decoder = _bodies.get((raw.type, raw.v))
    if decoder is None:
        known = ", ".join(f"{t} v{v}" for t, v in sorted(_bodies))
        raise ValueError(f"unknown event type {raw.type!r} v{raw.v} (known: {known})")
    try:
        body: dict[str, Any] = msgspec.to_builtins(decoder.decode(raw.body))
    except msgspec.ValidationError as err:
        raise ValueError(f"bad {raw.type} body: {err}") from None
    if suspect and bounds.suspect(raw.body) and (why := bounds.control_character(body)):
        raise ValueError(f"bad {raw.type} body: {why}")
    return body


def _envelope(raw: _RawEnvelope, body: dict[str, Any]) -> Envelope:
    return Envelope(raw.id, raw.seq, raw.store, raw.gateway, raw.type, raw.v, raw.occurred_at, body)


def _validate_raw(text: bytes, store: str, gateway: str) -> Envelope | Rejection:
    def reject(reason: str) -> Rejection:
        doc = None
        if bounds.depth(text) <= bounds.MAX_DEPTH:
            try:
                doc = _any.decode(text)
            except _UNREADABLE:
                pass
        d = doc if isinstance(doc, dict) else {}
        seq, ev_id, ev_type = d.get("seq"), d.get("id"), d.get("type")
        return Rejection(
            reason=reason,
            raw=bounds.printable(text, RAW_LEN),
            seq=seq if type(seq) is int and 1 <= seq <= bounds.MAX_SEQ else None,
            event_id=ev_id if isinstance(ev_id, str) else None,
            type=ev_type if isinstance(ev_type, str) else None,
        )

    if (d := bounds.depth(text)) > bounds.MAX_DEPTH:
        return Rejection(
            reason=f"event nests {d} deep; at most {bounds.MAX_DEPTH} levels are allowed",
            raw=bounds.printable(text, RAW_LEN),
        )
    try:
        raw = msgspec.json.decode(text, type=_RawEnvelope)
    except msgspec.ValidationError as err:
        return reject(f"bad envelope: {err}")
    except _UNREADABLE as err:
        return reject(f"event is not JSON: {err}")
    if raw.store != store:
        return reject(f"store {raw.store!r} does not match topic store {store!r}")
    if raw.gateway != gateway:
        return reject(f"gateway {raw.gateway!r} does not match topic gateway {gateway!r}")
    try:
        return _envelope(raw, _body(raw))
    except _UNREADABLE as err:
        return reject(str(err))


def validate_event(event: Any, store: str, gateway: str) -> Envelope | Rejection:
    """Check one envelope (Python data) against the topic it came on and its body schema."""
    return _validate_raw(msgspec.json.encode(event), store, gateway)


def encode_batch(envelopes: list[str]) -> bytes:
    """The events message from envelopes already serialised (the journal stores them as sent)."""
    return (f'{{"v":{BATCH_VERSION},"events":[' + ",".join(envelopes) + "]}").encode()


def decode_batch(payload: bytes, store: str, gateway: str) -> list[Envelope | Rejection]:
    """Every event of a message, validated; a payload that is no batch at all is one rejection."""
    try:
        batch = _batch.decode(payload)
        if batch.v == BATCH_VERSION and all(
            e.store == store and e.gateway == gateway for e in batch.events
        ):
            suspect = bounds.suspect(payload)  # once for the batch, not per event
            return [_envelope(e, _body(e, suspect)) for e in batch.events]
    except _UNREADABLE:
        pass  # something is off: look event by event, so the good ones still apply
    raw_text = bounds.printable(payload, RAW_LEN)
    # measured before anything recursive reads it; a batch adds two levels to its events
    if (d := bounds.depth(payload)) > bounds.MAX_DEPTH + 2:
        return [
            Rejection(
                reason=f"payload nests {d} deep; at most {bounds.MAX_DEPTH} levels are allowed",
                raw=raw_text,
            )
        ]
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as err:
        return [Rejection(reason=f"payload is not JSON: not UTF-8 ({err})", raw=raw_text)]
    try:
        loose = _loose.decode(payload)
    except msgspec.ValidationError as err:  # (a subclass of DecodeError: first)
        return [Rejection(reason=f"payload is not a v{BATCH_VERSION} batch: {err}", raw=raw_text)]
    except _UNREADABLE as err:
        return [Rejection(reason=f"payload is not JSON: {err}", raw=raw_text)]
    if loose.v != BATCH_VERSION:
        return [
            Rejection(reason=f"payload is not a v{BATCH_VERSION} batch (v={loose.v})", raw=raw_text)
        ]
    return [_validate_raw(bytes(e), store, gateway) for e in loose.events]
