"""The technician's admin pages on every gateway (`/admin/`): a cookie-authenticated area apart
from the lanes' bearer-token API. See docs/admin.md.

What must run from start is here and small: the route table, the first-run set-up code
(accounts), the log ring buffer and the link watch ("hub unreachable for 12 min" counts from
when it went, not from when someone looked). The pages themselves (edge/admin/pages.py: the
guard, the handlers, the audit log, the diagnostics bundle, settings, status, templates) are
imported at the first /admin/ request: an idle gateway serves none (bench/gateway_memory.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.admin import logs
from edge.admin.accounts import Accounts
from edge.admin.base import PREFIX, ROUTES, WATCH_S, Handler, Watch

if TYPE_CHECKING:
    from edge.admin.audit import Audit
    from edge.admin.pages import Admin
    from edge.gateway import Gateway

log = logging.getLogger(__name__)


class AdminApp:
    """The /admin/ sub-application: its routes from the start, its pages at the first request."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.accounts = Accounts(gw.journal.conn, gw.data_dir)  # the set-up code, at start
        self.ring = logs.ring()
        self.watch = Watch()
        self.started = time.time()
        self.closing = False  # set on shutdown: open event streams end, so a stop never waits
        self._pages: Admin | None = None
        self._audit: Audit | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.app = web.Application(middlewares=[self._guard])
        self.app.add_routes(
            web.route(method, path, self._handler(attr), name=name)
            for method, path, name, attr in ROUTES
        )
        self.app.on_startup.append(self._startup)
        self.app.on_shutdown.append(self._shutdown)

    @property
    def pages(self) -> Admin:
        if self._pages is None:
            from edge.admin.pages import Admin

            self._pages = Admin(self)
            log.info("admin pages loaded")
        return self._pages

    @property
    def audit(self) -> Audit:
        """The audit log: loaded with the first page or the first audited act elsewhere."""
        if self._audit is None:
            from edge.admin.audit import Audit

            self._audit = Audit(self.gw.journal.conn)
        return self._audit

    def record(self, who: str, action: str, target: str = "", before: Any = None,
               after: Any = None) -> int:  # fmt: skip
        """Audit an act done outside the admin pages (a manager's price override at a lane)."""
        return self.audit.record(who, action, target, before, after)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await self.pages.guard(request, handler)

    def _handler(self, attr: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            response: web.StreamResponse = await getattr(self.pages, attr)(request)
            return response

        handle.__name__ = attr
        return handle

    async def _startup(self, app: web.Application) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="admin:watch")

    async def _watch(self) -> None:
        while True:
            try:
                self.watch.sample(self.gw)
            except Exception:  # the pages' bookkeeping must never take the gateway down
                log.exception("admin: link sampling failed")
            await asyncio.sleep(WATCH_S)

    async def _shutdown(self, app: web.Application) -> None:
        self.closing = True
        if self._watcher:
            self._watcher.cancel()

    def mount(self, app: web.Application) -> None:
        app.add_subapp(PREFIX.rstrip("/"), self.app)


__all__ = ["PREFIX", "AdminApp"]
