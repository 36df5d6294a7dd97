"""Who is calling: a signed-in account (through an access token or a console session) or an
API key. Routers and pages read it from `request.state.principal`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "key"
    id: int
    name: str
    role: str | None = None  # an account's role; None for an API key
    scopes: frozenset[str] = field(default_factory=frozenset)  # an API key's
    stores: frozenset[str] = field(default_factory=frozenset)  # a store manager's

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes
