"""The ways a member is told something: one interface, one simulator per channel. A simulator
records what it would have sent (a real SMS gateway, WeChat template-message API or push
service is a Channel with the same `send`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Channel(Protocol):
    name: str

    def send(self, member_id: str, template: str, params: dict[str, Any]) -> str:
        """Deliver one message; return the provider's message id (raise on failure)."""
        ...


@dataclass
class Sent:
    channel: str
    member_id: str
    template: str
    params: dict[str, Any]


@dataclass
class Simulator:
    """Records instead of sending."""

    name: str
    sent: list[Sent] = field(default_factory=list)

    def send(self, member_id: str, template: str, params: dict[str, Any]) -> str:
        self.sent.append(Sent(self.name, member_id, template, params))
        return f"{self.name}-sim-{len(self.sent)}"


def simulators() -> dict[str, Channel]:
    """SMS, WeChat template message and app push, each a recording simulator."""
    return {name: Simulator(name) for name in ("sms", "wechat", "push")}
