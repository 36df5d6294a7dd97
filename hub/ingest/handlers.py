"""Who applies which event type. Each context registers a batch handler
`(session, envelopes) -> None` for the types it owns; several may share a type (sales books a
sale, loyalty earns its points) and run in registration order, inside ingest's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

from protocols.envelope import Envelope

Handler = Callable[[Session, list[Envelope]], None]


class EventRejected(Exception):
    """A handler refuses one event (e.g. a refund larger than its sale). Ingest records the
    reason in the dead-letter table and moves on."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(reason)
        self.event_id = event_id
        self.reason = reason


HANDLERS: dict[str, list[Handler]] = defaultdict(list)


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            if fn not in HANDLERS[t]:
                HANDLERS[t].append(fn)
        return fn

    return register
