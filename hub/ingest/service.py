"""Applies the gateways' event batches: validated, in per-gateway seq order, each event id at
most once, in one database transaction per pass; then says how far each gateway is applied
(the ack). A gap waits in memory for its missing events (bounded: past the bound the later
events are dropped and the gateway's resend brings them again). A rejected event is recorded
with its reason and still takes its seq, so it never blocks the stream behind it."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import hub.loyalty.ingest
import hub.sales.service  # noqa: F401 - registers the sales handlers
from hub.db import Database, bulk_insert, utcnow
from hub.ingest.handlers import HANDLERS, EventRejected
from hub.ingest.models import AppliedEvent, RejectedEvent
from hub.stores.models import Gateway, Store
from protocols.envelope import Envelope, Rejection, decode_batch
from protocols.topics import TopicError, parse_gateway_topic

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (store, gateway)
Item = Envelope | Rejection


@dataclass
class PassResult:
    acks: dict[Key, int] = field(default_factory=dict)
    applied: int = 0
    rejected: int = 0
    duplicates: int = 0


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
                log.error("message on unusable topic rejected: %s", err)
                loose.append(
                    (
                        (topic.split("/")[2][:64] if topic.count("/") > 2 else "?", "?"),
                        Rejection(reason=str(err), raw=payload[:4000].decode("utf-8", "replace")),
                    )
                )
                continue
            for item in decode_batch(payload, t.store, t.gateway):
                if isinstance(item, Rejection) and item.seq is None:
                    log.warning("rejected from %s/%s: %s", t.store, t.gateway, item.reason)
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
        """Apply what decode() made of some messages, in one transaction."""
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
        for item in items:
            assert item.seq is not None
            if item.seq <= last:
                res.duplicates += 1
            elif len(buf) < self.max_buffered or item.seq in buf:
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
        if buf and min(buf) > last + 1:
            log.info("%s/%s: waiting for seq %s (have %s..%s)", *key, last + 1, min(buf), max(buf))
        res.acks[key] = last

    def _forget_applied(self, key: Key, upto: int) -> None:
        buf = self.buffered.get(key)
        if buf:
            for seq in [q for q in buf if q <= upto]:
                del buf[seq]

    def _apply_run(self, s: Session, key: Key, run: list[Item]) -> int:
        """Apply a contiguous run; fast path all at once, and if any event fails, one by one
        in savepoints so exactly the bad ones are rejected."""
        try:
            with s.begin_nested():
                self._apply_items(s, key, run)
            return sum(isinstance(i, Rejection) for i in run)
        except (EventRejected, IntegrityError):
            pass
        rejected = 0
        for item in run:
            try:
                with s.begin_nested():
                    self._apply_items(s, key, [item])
            except EventRejected as err:
                self._reject(s, key, _as_rejection(item, err.reason))
                rejected += 1
            except IntegrityError as err:
                self._reject(
                    s, key, _as_rejection(item, f"conflicts with applied data: {err.orig}"[:500])
                )
                rejected += 1
        return rejected

    def _apply_items(self, s: Session, key: Key, items: list[Item]) -> None:
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
        if envs:
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

    def _reject(self, s: Session, key: Key, rej: Rejection) -> None:
        log.warning("rejected event %s/%s seq=%s: %s", *key, rej.seq, rej.reason)
        s.execute(
            insert(RejectedEvent).values(
                store_id=key[0],
                gateway_id=key[1],
                seq=rej.seq,
                event_id=rej.event_id,
                type=rej.type,
                reason=rej.reason,
                raw=rej.raw,
                received_at=utcnow(),
            )
        )
        s.execute(
            update(Gateway)
            .where(Gateway.store_id == key[0], Gateway.id == key[1])
            .values(rejected=Gateway.rejected + 1)
        )


def _as_rejection(item: Item, reason: str) -> Rejection:
    if isinstance(item, Rejection):
        return item
    raw: dict[str, Any] = item.to_json()
    return Rejection(
        reason=reason,
        seq=item.seq,
        event_id=item.id,
        type=item.type,
        raw=json.dumps(raw, ensure_ascii=False)[:4000],
    )
