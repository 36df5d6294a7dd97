"""A part of the gateway built at its first use, not at start: its routes are registered when
the gateway is assembled, its modules are imported by the first request to one of them (or the
first call to `get`). "A gateway imports only what it runs": an idle gateway with no lane open
serves no basket, no page and no payment, and every module loaded costs resident memory on every
store's gateway (bench/gateway_memory.py, docs/performance.md "Gateway memory").

The admin pages do the same in their own sub-application (edge/admin/__init__.py)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from aiohttp import web

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (method, path, the handler's name on the part)
Route = tuple[str, str, str]


class FirstUse(Generic[T]):
    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name, self._build = name, build
        self._part: T | None = None

    @property
    def built(self) -> bool:
        return self._part is not None

    def get(self) -> T:
        if self._part is None:
            self._part = self._build()
            log.info("%s loaded at its first use", self.name)
        return self._part

    def handler(self, attr: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            response: web.StreamResponse = await getattr(self.get(), attr)(request)
            return response

        handle.__name__ = attr
        return handle

    def routes(self, table: Iterable[Route]) -> list[web.RouteDef]:
        return [web.route(method, path, self.handler(attr)) for method, path, attr in table]

    def __repr__(self) -> str:
        state = "built" if self.built else "not yet used"
        return f"<FirstUse {self.name}: {state}>"


def module(name: str) -> Callable[[], Any]:
    """A build function that imports a module whose functions are the handlers."""

    def build() -> Any:
        return importlib.import_module(name)

    return build
