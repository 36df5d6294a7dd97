"""What the always-loaded /admin/ mount (edge/admin/__init__.py) and the pages loaded at the
first request (edge/admin/pages.py) share: the prefix, the route table, the link watch."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from edge.gateway import Gateway

PREFIX = "/admin/"
WATCH_S = 2.0  # how often the broker and hub links are sampled for "down since"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# (method, path under /admin, route name, the handler's name on pages.Admin)
ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("GET", "/", "home", "home"),
    ("GET", "/static/{file}", "static", "static"),
    ("GET", "/lang/{to}", "lang", "lang"),
    ("GET", "/setup", "setup", "setup_page"),
    ("POST", "/setup", "setup_post", "setup"),
    ("GET", "/login", "login", "login_page"),
    ("POST", "/login", "login_post", "login"),
    ("POST", "/logout", "logout", "logout"),
    ("GET", "/overview", "overview", "overview"),
    ("GET", "/devices", "devices", "devices"),
    ("POST", "/devices/{id}/{action}", "device_action", "device_action"),
    ("POST", "/scan-test", "scan_test", "scan_test"),
    ("GET", "/events", "events", "events"),
    ("GET", "/config", "config", "config"),
    ("POST", "/config/devices", "config_save", "config_save"),
    ("POST", "/config/devices/{id}/delete", "config_delete", "config_delete"),
    ("POST", "/accounts", "accounts_add", "accounts_add"),
    ("GET", "/network", "network", "network"),
    ("POST", "/network/ping", "ping", "ping"),
    ("POST", "/network/pair", "pair", "pair"),
    ("GET", "/network/pairing", "pairing_state", "pairing_state"),
    ("GET", "/logs", "logs", "logs"),
    ("GET", "/logs/bundle.zip", "bundle", "bundle"),
    ("GET", "/receipts", "receipts", "receipts"),
    ("GET", "/receipts/{job}.png", "receipt_png", "receipt_png"),
    ("GET", "/stock", "stock", "stock"),
)


class Watch:
    """Remembers since when the broker and the hub have been unreachable (the uplink knows only
    whether they are now); sampled by the admin's ticker and every page."""

    def __init__(self) -> None:
        self.broker_down_since: float | None = None
        self.hub_down_since: float | None = None

    def sample(self, gw: Gateway) -> None:
        now = time.time()
        up = gw.uplink.connected
        self.broker_down_since = None if up else (self.broker_down_since or now)
        hub_up = up and gw.uplink.hub_online is True  # None: not heard from since start
        self.hub_down_since = None if hub_up else (self.hub_down_since or now)
