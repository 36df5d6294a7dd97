"""Who applies which event type. Each context offers batch handlers
`(session, envelopes) -> None` for the types it owns; several may share a type (sales books a
sale, loyalty earns its points) and run in the order they were added, inside ingest's
transaction. The registry is built where the hub is assembled (`hub.app.ingest_handlers`) and
handed to the ingest worker: no import registers anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


class Handlers:
    """Event type → its handlers, in the order they run."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[Handler]] = {}

    def add(self, type_: str, handler: Handler) -> Handlers:
        """Run `handler` for `type_` after the ones added before it (chainable)."""
        chain = self._by_type.setdefault(type_, [])
        if handler in chain:
            raise ValueError(f"{handler.__qualname__} already handles {type_}")
        chain.append(handler)
        return self

    def of(self, type_: str) -> Sequence[Handler]:
        return self._by_type.get(type_, ())

    def only(self, keep: Callable[[Handler], bool]) -> Handlers:
        """A copy with just the handlers `keep` accepts (benchmarks compare with and without)."""
        out = Handlers()
        for type_, chain in self._by_type.items():
            for h in chain:
                if keep(h):
                    out.add(type_, h)
        return out
