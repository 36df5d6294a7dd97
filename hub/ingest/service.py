"""Applies the gateways' event batches: validated, in per-gateway seq order, each event id at
most once, in one database transaction per pass; then says how far each gateway is applied
(the ack). A gap waits in memory for its missing events (bounded: past the bound the highest
waiting seqs give way and the gateway's resend brings them again). A rejected event is recorded
with its reason and still takes its seq, so it never blocks the stream behind it.

One bad event never blocks the others: a run that fails is split in halves, in savepoints,
until the event that fails is alone; that one is recorded in `rejected_events` (escaped so any
bytes fit) and skipped. A failure that is not the event's (the database is down, the
connection was lost, a lock timed out) is raised for the worker to retry; nothing is rejected
for it.

A seq already taken by a *different* event (a forged or replayed event, a gateway whose journal
was reset) is a conflict, not a duplicate: the newcomer is kept whole in `ingest_conflicts`,
alarmed in the log, and — when it is a valid event never booked before — booked under its own
id, so the real sale survives whichever of the two arrived first (docs/architecture.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session

import hub.loyalty.ingest
import hub.pricing.recompute  # pricing (issue 12): recompute each sale — the one wiring line
import hub.sales.service  # noqa: F401 - registers the sales handlers
from hub.db import Database, bulk_insert, utcnow
from hub.ingest.handlers import HANDLERS, EventRejected
from hub.ingest.models import AppliedEvent, IngestConflict, RejectedEvent
from hub.stock import ingest as stock_ingest  # noqa: F401 - stock moves with the events (issue 14)
from hub.stores.models import Gateway, Store
from protocols import bounds
from protocols.envelope import RAW_LEN, UUID7, Envelope, Rejection, decode_batch
from protocols.topics import TopicError, parse_gateway_topic

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (store, gateway)
Item = Envelope | Rejection
_UUID7 = re.compile(UUID7)


def is_transient(err: BaseException) -> bool:
    """A failure that is not the event's: the database is down or restarting, the connection
    was lost, a lock or statement timed out, a deadlock. Retried, never rejected."""
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(
        err, OperationalError | InterfaceError | DisconnectionError | ConnectionError | TimeoutError
    )


def _why(err: BaseException) -> str:
    if isinstance(err, EventRejected):
        return err.reason
    if isinstance(err, IntegrityError):
        return f"conflicts with applied data: {err.orig}"
    if isinstance(err, DBAPIError):
        return f"the database refused it: {err.orig}"
    return f"cannot be applied: {type(err).__name__}: {err}"


@dataclass
class PassResult:
    acks: dict[Key, int] = field(default_factory=dict)
    applied: int = 0
    rejected: int = 0
    duplicates: int = 0
    conflicts: int = 0

    def add(self, other: PassResult) -> None:
        self.acks.update(other.acks)
        self.applied += other.applied
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts


class Ingest:
    def __init__(self, db: Database, max_buffered: int = 50_000) -> None:
        self.db = db
        self.max_buffered = max_buffered
        self.buffered: dict[Key, dict[int, Item]] = defaultdict(dict)

    # --- decoding ----------------------------------------------------------------------------
    def decode(
        self, messages: list[tuple[str, bytes]]
    ) -> tuple[dict[Key, list[Item]], list[tuple[Key, Rejection]]]:
        by_gateway: dict[Key, list[Item]] = defaultdict(list)
        loose: list[tuple[Key, Rejection]] = []  # rejections with no seq to place them by
        for topic, payload in messages:
            try:
                t = parse_gateway_topic(topic)
            except TopicError as err:
                log.error("message on unusable topic rejected: %s", bounds.printable(str(err), 300))
                parts = topic.split("/")
                loose.append(
                    (
                        (parts[2] if len(parts) > 2 else "?", "?"),
                        Rejection(reason=str(err), raw=bounds.printable(payload, RAW_LEN)),
                    )
                )
                continue
            for item in decode_batch(payload, t.store, t.gateway):
                if isinstance(item, Rejection) and item.seq is None:
                    log.warning(
                        "rejected from %s/%s: %s",
                        t.store,
                        t.gateway,
                        bounds.printable(item.reason, 300),
                    )
                    loose.append(((t.store, t.gateway), item))
                else:
                    by_gateway[(t.store, t.gateway)].append(item)
        return by_gateway, loose

    # --- one pass ----------------------------------------------------------------------------
    def apply(self, messages: list[tuple[str, bytes]]) -> PassResult:
        return self.apply_decoded(*self.decode(messages))

    def apply_decoded(
        self, by_gateway: dict[Key, list[Item]], loose: list[tuple[Key, Rejection]]
    ) -> PassResult:
        """Apply what decode() made of some messages, in one transaction. Should that fail
        for a reason that is not transient (one event's failures are isolated further down),
        each gateway's part and each loose rejection is applied in a transaction of its own, so
        whatever it is holds back only its own part (which is then not acked, and comes again)."""
        try:
            return self._apply_pass(by_gateway, loose)
        except Exception as err:
            if is_transient(err):
                raise
            log.exception("an ingest pass failed: applying its parts one by one")
        result = PassResult()
        parts: list[tuple[dict[Key, list[Item]], list[tuple[Key, Rejection]]]] = [
            ({}, [x]) for x in loose
        ]
        parts += [({k: v}, []) for k, v in by_gateway.items()]
        for part in parts:
            try:
                result.add(self._apply_pass(*part))
            except Exception as err:
                if is_transient(err):
                    raise
                log.exception("ingest skipped a part it cannot apply: %s", list(part[0]) or "loose")
        return result

    def _apply_pass(
        self, by_gateway: dict[Key, list[Item]], loose: list[tuple[Key, Rejection]]
    ) -> PassResult:
        result = PassResult()
        with self.db.transaction() as s:
            for key, rej in loose:
                if key[1] != "?":
                    self.ensure_gateway(s, key)
                self._reject(s, key, rej)
                result.rejected += 1
            for key, items in by_gateway.items():
                self._apply_gateway(s, key, items, result)
        for key in by_gateway:
            self._forget_applied(key, result.acks.get(key, 0))
        return result

    def ensure_gateway(self, s: Session, key: Key) -> int:
        store, gateway = key
        dialect_insert = sqlite_insert if self.db.is_sqlite else pg_insert
        row = s.execute(
            select(Gateway.last_seq)
            .where(Gateway.store_id == store, Gateway.id == gateway)
            .with_for_update()
        ).first()
        if row is not None:
            return int(row[0])
        s.execute(
            dialect_insert(Store)
            .values(id=store, name=store, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        s.execute(
            dialect_insert(Gateway)
            .values(
                store_id=store,
                id=gateway,
                last_seq=0,
                rejected=0,
                status="unknown",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        return int(
            s.execute(
                select(Gateway.last_seq)
                .where(Gateway.store_id == store, Gateway.id == gateway)
                .with_for_update()
            ).scalar_one()
        )

    def _apply_gateway(self, s: Session, key: Key, items: list[Item], res: PassResult) -> None:
        last = self.ensure_gateway(s, key)
        buf = self.buffered[key]
        taken: list[Item] = []  # seq at or below the applied position: duplicate or conflict
        rival: list[Item] = []  # another event for a seq already waiting here
        for item in items:
            assert item.seq is not None
            if item.seq <= last:
                taken.append(item)
            elif item.seq in buf:
                if _key(buf[item.seq]) != _key(item):
                    rival.append(item)
            else:
                if len(buf) >= self.max_buffered:
                    # full: the farthest waiting seq gives way (a flood of far-future seqs
                    # must not crowd out the next one); the gateway's resend brings it back
                    highest = max(buf)
                    if highest < item.seq:
                        continue
                    del buf[highest]
                buf[item.seq] = item
        run: list[Item] = []
        while last + 1 + len(run) in buf:
            run.append(buf[last + 1 + len(run)])
        if run:
            res.rejected += self._apply_run(s, key, run)
            res.applied += len(run)
            last += len(run)
            g = run[-1]
            s.execute(
                update(Gateway)
                .where(Gateway.store_id == key[0], Gateway.id == key[1])
                .values(
                    last_seq=last,
                    last_applied_at=utcnow(),
                    last_event_at=g.occurred_at if isinstance(g, Envelope) else None,
                )
            )
        # a rival of an event that has now taken its seq is a conflict; one whose seq is still
        # waiting behind a gap comes again with the gateway's resend
        taken += [item for item in rival if item.seq is not None and item.seq <= last]
        if taken:
            self._taken(s, key, taken, res)
        if buf and min(buf) > last + 1:
            log.info("%s/%s: waiting for seq %s (have %s..%s)", *key, last + 1, min(buf), max(buf))
        res.acks[key] = last

    def _forget_applied(self, key: Key, upto: int) -> None:
        buf = self.buffered.get(key)
        if buf:
            for seq in [q for q in buf if q <= upto]:
                del buf[seq]

    def _apply_run(self, s: Session, key: Key, run: list[Item]) -> int:
        """Apply a contiguous run in a savepoint; if it fails, split it in halves (in order)
        until the failing event is alone, and reject that one. Returns how many were rejected.
        Transient failures propagate: the worker retries the pass."""
        try:
            with s.begin_nested():
                self._apply_items(s, key, run)
            return sum(isinstance(i, Rejection) for i in run)
        except Exception as err:
            if is_transient(err):
                raise
            if len(run) == 1:
                self._reject_safely(s, key, _as_rejection(run[0], _why(err)))
                return 1
        mid = len(run) // 2
        return self._apply_run(s, key, run[:mid]) + self._apply_run(s, key, run[mid:])

    def _apply_items(self, s: Session, key: Key, items: list[Item], record: bool = True) -> None:
        envs = [i for i in items if isinstance(i, Envelope)]
        for item in items:
            if isinstance(item, Rejection):
                self._reject(s, key, item)
        by_type: dict[str, list[Envelope]] = defaultdict(list)
        for env in envs:
            by_type[env.type].append(env)
        for type_, group in by_type.items():
            for handler in HANDLERS.get(type_, ()):
                handler(s, group)
        if envs and record:
            now = utcnow()
            bulk_insert(
                s,
                AppliedEvent.__table__,
                [
                    {
                        "id": e.id,
                        "store_id": e.store,
                        "gateway_id": e.gateway,
                        "seq": e.seq,
                        "type": e.type,
                        "occurred_at": e.occurred_at,
                        "applied_at": now,
                    }
                    for e in envs
                ],
            )

    # --- seqs already taken: duplicates and conflicts -----------------------------------------
    def _taken(self, s: Session, key: Key, items: list[Item], res: PassResult) -> None:
        """Events for seqs already applied or rejected. The same event again is a duplicate;
        a different event is a conflict (see the module doc). Looked up by seq range (the
        resend after a rewind may bring thousands; a range scan is one query whatever the
        count, where an IN list would hit the drivers' parameter limits)."""
        store, gateway = key
        lo = min(i.seq for i in items if i.seq is not None)
        hi = max(i.seq for i in items if i.seq is not None)
        applied_at = dict(
            s.execute(
                select(AppliedEvent.seq, AppliedEvent.id).where(
                    AppliedEvent.store_id == store,
                    AppliedEvent.gateway_id == gateway,
                    AppliedEvent.seq.between(lo, hi),
                )
            ).all()
        )
        rejected_at: dict[int, set[str | None]] = defaultdict(set)
        for seq, ev_id in s.execute(
            select(RejectedEvent.seq, RejectedEvent.event_id).where(
                RejectedEvent.store_id == store,
                RejectedEvent.gateway_id == gateway,
                RejectedEvent.seq.between(lo, hi),
            )
        ):
            rejected_at[seq].add(ev_id)
        known = set(
            s.scalars(
                select(IngestConflict.key).where(
                    IngestConflict.store_id == store,
                    IngestConflict.gateway_id == gateway,
                    IngestConflict.seq.between(lo, hi),
                )
            )
        )
        rest: list[Item] = []
        for item in items:
            assert item.seq is not None
            ident = _ident(item)
            if (
                ident == applied_at.get(item.seq)
                or (item.seq in rejected_at and ident in rejected_at[item.seq])
                or _key(item) in known
            ):
                res.duplicates += 1
            else:
                rest.append(item)
        if not rest:
            return
        # an id booked under another seq is that event again, never a second booking
        ids = [i.id for i in rest if isinstance(i, Envelope)]
        booked: set[str] = set()
        for n in range(0, len(ids), 500):
            chunk = ids[n : n + 500]
            booked.update(s.scalars(select(AppliedEvent.id).where(AppliedEvent.id.in_(chunk))))
        for item in rest:
            k = _key(item)
            if k in known or (isinstance(item, Envelope) and item.id in booked):
                res.duplicates += 1
                continue
            known.add(k)
            self._conflict(s, key, item, k, applied_at, rejected_at, res)

    def _conflict(
        self,
        s: Session,
        key: Key,
        item: Item,
        k: str,
        applied_at: dict[int, str],
        rejected_at: dict[int, set[str | None]],
        res: PassResult,
    ) -> None:
        assert item.seq is not None
        if item.seq in applied_at:
            occupant, occupant_id = "applied", applied_at[item.seq]
        elif item.seq in rejected_at:
            occupant = "rejected"
            occupant_id = next((x for x in sorted(rejected_at[item.seq], key=str) if x), None)
        else:
            occupant, occupant_id = "unknown", None
        if isinstance(item, Envelope):
            try:
                with s.begin_nested():
                    self._apply_items(s, key, [item], record=False)
                outcome, reason = "applied", "booked under its own id"
            except Exception as err:
                if is_transient(err):
                    raise
                outcome, reason = "rejected", _why(err)
        else:
            outcome, reason = "rejected", item.reason
        rej = _as_rejection(item, reason)
        log.error(
            "ALARM seq conflict on %s/%s seq %s: event %s claims the seq that %s event %s "
            "holds; kept in ingest_conflicts and %s",
            *key,
            item.seq,
            bounds.printable(rej.event_id or "?", bounds.ID_LEN),
            occupant,
            occupant_id,
            "booked under its own id" if outcome == "applied" else f"not booked: {reason}",
        )
        s.execute(
            insert(IngestConflict).values(
                store_id=key[0],
                gateway_id=key[1],
                seq=item.seq,
                key=k,
                event_id=_fit(rej.event_id, bounds.ID_LEN),
                type=_fit(rej.type, bounds.ID_LEN),
                occupant=occupant,
                occupant_id=_fit(occupant_id, bounds.ID_LEN),
                outcome=outcome,
                reason=bounds.printable(reason, 4000),
                raw=bounds.printable(rej.raw, RAW_LEN),
                detected_at=utcnow(),
            )
        )
        res.conflicts += 1
        if outcome == "applied":
            res.applied += 1
        else:
            res.rejected += 1

    # --- dead letters --------------------------------------------------------------------------
    def _reject(self, s: Session, key: Key, rej: Rejection) -> None:
        """Record a rejected event; every field is escaped and cut to its column, so whatever
        arrived (NUL, invalid UTF-8, megabytes) can be stored."""
        log.warning(
            "rejected event %s/%s seq=%s: %s",
            *(bounds.printable(k, bounds.ID_LEN) for k in key),
            rej.seq,
            bounds.printable(rej.reason, 300),
        )
        store, gateway = _fit(key[0], bounds.ID_LEN), _fit(key[1], bounds.ID_LEN)
        s.execute(
            insert(RejectedEvent).values(
                store_id=store,
                gateway_id=gateway,
                seq=rej.seq,
                event_id=_fit(rej.event_id, bounds.ID_LEN),
                type=_fit(rej.type, bounds.ID_LEN),
                reason=bounds.printable(rej.reason, 4000),
                raw=bounds.printable(rej.raw, RAW_LEN),
                received_at=utcnow(),
            )
        )
        s.execute(
            update(Gateway)
            .where(Gateway.store_id == store, Gateway.id == gateway)
            .values(rejected=Gateway.rejected + 1)
        )

    def _reject_safely(self, s: Session, key: Key, rej: Rejection) -> None:
        """Record a rejection; should even the escaped record fail, keep its bytes as hex."""
        try:
            with s.begin_nested():
                self._reject(s, key, rej)
        except Exception as err:
            if is_transient(err):
                raise
            log.exception("storing a rejection failed: keeping it as hex")
            self._reject(
                s,
                key,
                Rejection(
                    reason=f"unstorable rejection ({type(err).__name__}); raw is hex",
                    raw=rej.raw.encode("utf-8", "backslashreplace")[: RAW_LEN // 2].hex(),
                    seq=rej.seq,
                ),
            )


def _fit(text: str | None, limit: int) -> str | None:
    return None if text is None else bounds.printable(text, limit)


def _ident(item: Item) -> str | None:
    return item.id if isinstance(item, Envelope) else _fit(item.event_id, bounds.ID_LEN)


def _key(item: Item) -> str:
    """What makes an event the same event when it comes again: its id, or (for something
    with no usable id) a hash of what arrived."""
    ident = _ident(item)
    if ident is not None and _UUID7.match(ident):
        return ident
    raw = item.raw if isinstance(item, Rejection) else json.dumps(item.to_json())
    return hashlib.sha256(raw.encode("utf-8", "backslashreplace")).hexdigest()


def _as_rejection(item: Item, reason: str) -> Rejection:
    if isinstance(item, Rejection):
        return Rejection(
            reason=reason, raw=item.raw, seq=item.seq, event_id=item.event_id, type=item.type
        )
    raw: dict[str, Any] = item.to_json()
    return Rejection(
        reason=reason,
        seq=item.seq,
        event_id=item.id,
        type=item.type,
        raw=bounds.printable(json.dumps(raw, ensure_ascii=False), RAW_LEN),
    )
