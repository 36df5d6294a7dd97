"""The admin pages' HTTP side: an aiohttp sub-application at /admin/ with its own session
middleware (cookie, CSRF, roles), server-rendered Jinja2 pages in Chinese and English, one
server-sent event stream for live readings, and JSON answers for the pages' small fetches.

Roles: a manager may look at every page and run device tests (print a test page, open the
drawer, read the scale); configuration, accounts and the diagnostics bundle are a technician's.
Every state-changing request needs the session's CSRF token (form field `csrf` or header
`X-CSRF-Token`); every technician or manager action is written to the audit log."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from edge import http_errors
from edge.admin import bundle, logs, settings, status
from edge.admin.accounts import ROLES, AccountError, Session
from edge.admin.base import PREFIX, Handler
from edge.devices.base import DeviceError
from edge.devices.lanes_io import for_the_page, sse_frame
from edge.devices.printer import printers_of
from edge.devices.scanner import Scanner
from edge.pairing import PairingError
from edge.rpc import HubCallError
from protocols.codes import classify
from protocols.codes.gs1 import GS

if TYPE_CHECKING:
    import jinja2

    from edge.admin import AdminApp

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = {"admin.css": "text/css", "admin.js": "text/javascript"}
SESSION_COOKIE = "storegw_admin"
PRE_COOKIE = "storegw_admin_pre"  # anonymous forms (set-up, log-in): double-submit CSRF
LANG_COOKIE = "storegw_lang"
# what the guard found, for the handlers: the session (None on the open routes) and the language
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
LANG = web.RequestKey("lang", str)


def signed_in(request: web.Request) -> Session:
    """The session on a route outside OPEN: the guard refused the request without one."""
    session = request[SESSION]
    assert session is not None, request.path
    return session


OPEN = {
    "login",
    "login_post",
    "setup",
    "setup_post",
    "static",
    "lang",
}  # routes reachable without a session
TECHNICIAN_ONLY = {"config_save", "config_delete", "accounts_add", "bundle", "pair"}
TICK_S = 1.0  # the event stream's refresh of device states and problems
OVERVIEW_EVERY = 3  # ticks between the overview's facts on the stream
PAGES = (
    ("overview", "总览", "Overview"),
    ("devices", "设备", "Devices"),
    ("config", "配置", "Configuration"),
    ("network", "网络", "Network"),
    ("logs", "日志", "Logs"),
    ("receipts", "小票", "Receipts"),
    ("stock", "库存", "Stock"),
)


def _env() -> jinja2.Environment:
    import jinja2  # at the first page, not at start: an idle gateway renders nothing (-1.9 MiB)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hms"] = lambda s: f"{int(s) // 3600} h {int(s) % 3600 // 60} min"
    env.filters["utc"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))
    return env


class Admin:
    """The pages behind the routes of edge/admin/__init__.py, made at the first request."""

    def __init__(self, mount: AdminApp) -> None:
        self.mount = mount
        self.gw = mount.gw
        self.accounts = mount.accounts
        self.audit = mount.audit
        self.ring = mount.ring
        self.watch = mount.watch
        self.started = mount.started

    @property
    def closing(self) -> bool:  # the gateway is stopping: open event streams end
        return self.mount.closing

    @cached_property
    def env(self) -> jinja2.Environment:
        return _env()

    # --- the guard: session, CSRF, roles, headers ------------------------------------------------
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.route.name or ""
        session = self.accounts.session(request.cookies.get(SESSION_COOKIE))
        request[SESSION] = session
        request[LANG] = "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"
        if name not in OPEN and session is None:
            if request.method == "GET" and name != "events":
                raise web.HTTPSeeOther(f"{PREFIX}login?next={quote(request.path_qs)}")
            return self._refuse(request, 401, "log in first")
        if request.method not in ("GET", "HEAD"):
            expected = session.csrf if session else request.cookies.get(PRE_COOKIE, "")
            given = request.headers.get("X-CSRF-Token", "")
            if not given and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                given = str((await request.post()).get("csrf", ""))
            if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
                return self._refuse(request, 403, "missing or wrong CSRF token: reload the page")
        if session and name in TECHNICIAN_ONLY and session.role != "technician":
            return self._refuse(request, 403, "only a technician may do this")
        response = await handler(request)
        response.headers.update({
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })  # fmt: skip
        if name != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _refuse(self, request: web.Request, status_: int, reason: str) -> web.Response:
        log.warning("admin %s %s refused (%s): %s", request.method, request.path, status_, reason)
        return http_errors.error(status_, reason)

    # --- rendering ------------------------------------------------------------------------------
    def render(
        self, request: web.Request, template: str, status_: int = 200, **context: Any
    ) -> web.Response:
        lang = request[LANG]
        session = request[SESSION]

        def t(zh: str, en: str) -> str:
            return en if lang == "en" else zh

        html = self.env.get_template(template).render(
            t=t, lang=lang, session=session, csrf=session.csrf if session else "",
            pages=PAGES, prefix=PREFIX, here=request.match_info.route.name or "",
            store=self.gw.journal.store, gateway=self.gw.journal.gateway,
            path_qs=request.path_qs, **context,
        )  # fmt: skip
        return web.Response(text=html, content_type="text/html", status=status_)

    # --- open pages -----------------------------------------------------------------------------
    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{PREFIX}overview")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        if name not in STATIC:
            return http_errors.error(404, f"no file {name}")
        return web.Response(
            body=(HERE / "static" / name).read_bytes(),
            content_type=STATIC[name],
            headers={"Cache-Control": "max-age=300"},
        )

    async def lang(self, request: web.Request) -> web.StreamResponse:
        to = "en" if request.match_info["to"] == "en" else "zh"
        back = request.query.get("next", "")
        response = web.HTTPSeeOther(back if back.startswith(PREFIX) else f"{PREFIX}overview")
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, path=PREFIX, samesite="Strict")
        raise response

    def _pre_token(self, request: web.Request) -> tuple[str, bool]:
        token = request.cookies.get(PRE_COOKIE)
        return (token, False) if token else (secrets.token_urlsafe(24), True)

    def _anonymous(
        self, request: web.Request, template: str, status_: int = 200, **ctx: Any
    ) -> web.Response:
        token, new = self._pre_token(request)
        response = self.render(request, template, status_, form_csrf=token, **ctx)
        if new:
            response.set_cookie(
                PRE_COOKIE, token, httponly=True, samesite="Strict", path=PREFIX, max_age=3600
            )
        return response

    async def setup_page(self, request: web.Request) -> web.StreamResponse:
        if self.accounts.exist():
            raise web.HTTPSeeOther(f"{PREFIX}login")
        return self._anonymous(request, "setup.html", error=None)

    async def setup(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        username = str(form.get("username", "")).strip()
        try:
            if str(form.get("password", "")) != str(form.get("password2", "")):
                raise AccountError("the two passwords differ")
            await self.accounts.set_up(
                str(form.get("code", "")), username, str(form.get("password", ""))
            )
        except AccountError as err:
            if err.status == 409:
                raise web.HTTPSeeOther(f"{PREFIX}login") from None
            return self._anonymous(request, "setup.html", err.status, error=str(err))
        self.audit.record(username, "account.setup", username, None, {"role": "technician"})
        raise web.HTTPSeeOther(f"{PREFIX}login")

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        if not self.accounts.exist():
            raise web.HTTPSeeOther(f"{PREFIX}setup")
        return self._anonymous(request, "login.html", error=None, next=self._next(request))

    @staticmethod
    def _next(request: web.Request) -> str:
        nxt = request.query.get("next", "")
        ok = nxt.startswith(PREFIX) and not nxt.startswith("//") and "login" not in nxt
        return nxt if ok else f"{PREFIX}overview"

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        username = str(form.get("username", "")).strip()
        try:
            token, session = await self.accounts.log_in(username, str(form.get("password", "")))
        except AccountError as err:
            return self._anonymous(
                request, "login.html", err.status, error=str(err), next=self._next(request)
            )
        self.audit.record(session.username, "login", session.role)
        response = web.HTTPSeeOther(self._next(request))
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="Strict", path=PREFIX
        )  # a session cookie: gone with the browser, and the server side expires it too
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = signed_in(request)
        self.accounts.log_out(request.cookies.get(SESSION_COOKIE))
        self.audit.record(session.username, "logout")
        response = web.HTTPSeeOther(f"{PREFIX}login")
        response.del_cookie(SESSION_COOKIE, path=PREFIX)
        raise response

    # --- overview -------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        return status.overview(self.gw, self.watch, self.started)

    async def overview(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "overview.html", facts=self.facts())

    # --- devices --------------------------------------------------------------------------------
    def device_list(self) -> list[dict[str, Any]]:
        return [self.gw.devices.describe(d) for d in self.gw.devices.by_id.values()]

    async def devices(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "devices.html", devices=self.device_list())

    async def device_action(self, request: web.Request) -> web.StreamResponse:
        session = signed_in(request)
        devices = self.gw.devices
        device = devices.by_id.get(request.match_info["id"])
        action = request.match_info["action"]
        if device is None:
            return http_errors.error(404, f"no device {request.match_info['id']}")
        if action not in devices.actions_of(device):
            return http_errors.error(404, f"{device.kind} has no action {action!r}")
        params = await http_errors.read_object(request, empty={})
        before = {"state": device.state, "error": device.last_error}
        try:
            result = await devices.run_action(device, action, params)
        except DeviceError as err:
            self.audit.record(
                session.username, f"device.{action}", device.spec.id, before, {"error": str(err)}
            )
            log.warning("admin: %s %s failed: %s", device.spec.id, action, err)
            return http_errors.error(409, str(err))
        after = {"state": device.state, "error": device.last_error}
        self.audit.record(session.username, f"device.{action}", device.spec.id, before, after)
        if action == "preview":  # the image goes to the page, not the audit
            result = {"text": result.get("text", "")}
        return web.json_response({"device": device.spec.id, "action": action, "result": result})

    async def scan_test(self, request: web.Request) -> web.StreamResponse:
        """Decode a code typed (or scanned into the field) the way the scanner's profile does:
        symbology, GTIN, GS1 element strings, variable-weight labels. `{GS}` stands for FNC1."""
        body = await http_errors.read_object(request)
        code = body.get("code")
        if not isinstance(code, str) or not code.strip() or len(code) > 512:
            return http_errors.error(400, "code: 1-512 characters")
        scanners = [d for d in self.gw.devices.by_id.values() if isinstance(d, Scanner)]
        chosen = next((s for s in scanners if s.spec.id == body.get("scanner")), None)
        scanner = chosen or (scanners[0] if scanners else None)
        layouts = scanner.layouts if scanner else []
        substitute = scanner.gs_substitute if scanner else None
        result = classify(code.replace("{GS}", GS), layouts, substitute).event()  # code masked
        who, target = signed_in(request).username, scanner.spec.id if scanner else ""
        self.audit.record(who, "device.scan-test", target, None, {"kind": result["kind"]})
        return web.json_response(result)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Live readings: the lanes' scans and weights from the lane bus as they happen, every
        second the devices' states (a scale without a lane publishes nowhere else), and every
        few seconds the overview's problems."""
        bus = self.gw.ctx.lanes
        merged: asyncio.Queue[dict[str, Any]] = asyncio.Queue(256)
        lanes = {d.spec.lane for d in self.gw.devices.by_id.values() if d.spec.lane}
        subs = {lane: bus.subscribe(lane) for lane in lanes}

        async def forward(lane: str, q: asyncio.Queue[dict[str, Any]]) -> None:
            while True:
                event = await q.get()
                if merged.full():
                    merged.get_nowait()
                merged.put_nowait({"lane": lane, **for_the_page(event)})

        tasks = [asyncio.create_task(forward(lane, q)) for lane, q in subs.items()]
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        try:
            await response.prepare(request)
            next_tick, ticks = 0.0, 0
            while not self.closing:
                now = time.monotonic()
                if now >= next_tick:
                    next_tick, ticks = now + TICK_S, ticks + 1
                    await response.write(sse_frame("devices", self.device_list()))
                    if ticks % OVERVIEW_EVERY == 1:  # counts journal rows: not every second
                        facts = self.facts()
                        await response.write(sse_frame("overview", {
                            "problems": facts["problems"], "journal": facts["journal"],
                            "broker": facts["broker"], "hub_online": facts["hub_online"],
                        }))  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    event = await asyncio.wait_for(merged.get(), max(0.05, next_tick - now))
                    await response.write(sse_frame("lane", event))
        except ConnectionResetError:  # the page went away
            pass
        finally:
            for t in tasks:
                t.cancel()
            for lane, q in subs.items():
                bus.unsubscribe(lane, q)
        return response

    # --- configuration --------------------------------------------------------------------------
    def _config_context(self) -> dict[str, Any]:
        try:
            entries = settings.read_entries(self.gw.devices.declared)
            problem = None
        except settings.SettingsError as err:
            entries, problem = [], str(err)
        return {
            "entries": [
                settings.masked(e) | {"options_text": settings.options_text(e)} for e in entries
            ],
            "profiles": settings.profile_names(),
            "kinds": sorted(self.gw.devices.drivers),
            "ports": settings.serial_ports(),
            "accounts": self.accounts.list(),
            "roles": ROLES,
            "file_problem": problem,
            "error": None,
            "saved": None,
        }

    async def config(self, request: web.Request) -> web.StreamResponse:
        ctx = self._config_context()
        ctx["saved"] = request.query.get("saved")
        return self.render(request, "config.html", **ctx)

    async def _save_entries(
        self, request: web.Request, change: Callable[[list[dict[str, Any]]], str]
    ) -> web.StreamResponse:
        path = self.gw.devices.declared
        try:
            entries = settings.read_entries(path)
            before = {e.get("id"): settings.masked(e) for e in entries}
            target = change(entries)
            settings.save(path, entries, self.gw.devices.drivers)
        except settings.SettingsError as err:
            log.warning("admin: configuration refused: %s", err)
            ctx = self._config_context() | {"error": str(err)}
            return self.render(request, "config.html", 400, **ctx)
        after = {e.get("id"): settings.masked(e) for e in entries}
        restarted = await self.gw.devices.reload_declared()
        self.audit.record(
            signed_in(request).username, "config.devices", target,
            before.get(target), after.get(target),
        )  # fmt: skip
        log.info("admin: devices.toml saved (%s); restarted %s", target, restarted or "nothing")
        raise web.HTTPSeeOther(f"{PREFIX}config?saved={quote(target)}")

    async def config_save(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        original = form.get("original_id") or None

        def change(entries: list[dict[str, Any]]) -> str:
            old = next((e for e in entries if e.get("id") == original), None)
            entry = settings.entry_from_form(form, old, self.gw.devices.drivers)
            settings.upsert(entries, entry, original)
            return str(entry["id"])

        return await self._save_entries(request, change)

    async def config_delete(self, request: web.Request) -> web.StreamResponse:
        device_id = request.match_info["id"]

        def change(entries: list[dict[str, Any]]) -> str:
            if not any(e.get("id") == device_id for e in entries):
                raise settings.SettingsError(f"no declared device {device_id!r}")
            entries[:] = [e for e in entries if e.get("id") != device_id]
            return device_id

        return await self._save_entries(request, change)

    async def accounts_add(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        username = str(form.get("username", "")).strip()
        role = str(form.get("role", ""))
        try:
            await self.accounts.add(username, str(form.get("password", "")), role)
        except AccountError as err:
            ctx = self._config_context() | {"error": str(err)}
            return self.render(request, "config.html", err.status, **ctx)
        who = signed_in(request).username
        self.audit.record(who, "account.add", username, None, {"role": role})
        raise web.HTTPSeeOther(f"{PREFIX}config?saved={quote(username)}")

    # --- network --------------------------------------------------------------------------------
    async def network(
        self, request: web.Request, error: str | None = None, status_: int = 200
    ) -> web.StreamResponse:
        uplink = self.gw.uplink
        address = uplink.link.address if uplink.link else None
        return self.render(
            request, "network.html", status_, facts=self.facts(), uplink=uplink.stats(),
            broker=f"{address.host}:{address.port}" if address else "-",
            tls=bool(address and address.tls), ca_file=address.ca_file if address else None,
            client_cert=address.cert_file if address else None,
            pairing=self.gw.pairing.view(), error=error,
        )  # fmt: skip

    async def pair(self, request: web.Request) -> web.StreamResponse:
        """Pair with the hub: a key and CSR made here, registered with a code HQ enters."""
        hub_url = str((await request.post()).get("hub_url", "")).strip()
        try:
            printers = [d for d in self.gw.devices.by_id.values() if d.kind == "printer"]
            view = await self.gw.pairing.begin(hub_url, printers)
        except PairingError as err:
            log.warning("pairing with %r failed: %s", hub_url, err)
            return await self.network(request, error=str(err), status_=400)
        who = signed_in(request).username
        self.audit.record(who, "pairing.begin", hub_url, None, {"code": view["code"]})
        raise web.HTTPSeeOther(f"{PREFIX}network#pairing")

    async def pairing_state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.gw.pairing.view())

    async def ping(self, request: web.Request) -> web.StreamResponse:
        """The broker by a fresh TCP connection, the hub by a ping RPC through the broker."""
        out: dict[str, Any] = {}
        address = self.gw.uplink.link.address if self.gw.uplink.link else None
        if address:
            t0 = time.perf_counter()
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(address.host, address.port), 3
                )
                writer.close()
                out["broker_tcp_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            except (OSError, TimeoutError) as err:
                out["broker_error"] = str(err) or type(err).__name__
        t0 = time.perf_counter()
        try:
            await self.gw.hub_calls.call("ping", {}, timeout_s=3)
            out["hub_rtt_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        except HubCallError as err:
            if err.status in (503, 504):
                out["hub_error"] = err.reason
            else:  # a hub that does not know `ping` still answered: it is reachable
                out["hub_rtt_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        self.audit.record(signed_in(request).username, "network.ping", "", None, out)
        return web.json_response(out)

    # --- logs and the bundle --------------------------------------------------------------------
    async def logs(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        level, logger, text = q.get("level", ""), q.get("logger", "")[:100], q.get("text", "")[:200]
        lines = [line.as_dict() for line in self.ring.select(level, logger, text, limit=500)]
        return self.render(
            request, "logs.html", lines=lines, level=level, logger=logger, text=text,
            levels=logs.LEVELS, files=[str(p) for p in logs.log_files()],
            audit=self.audit.recent(30), verdict=self.audit.verify(),
        )  # fmt: skip

    async def bundle(self, request: web.Request) -> web.StreamResponse:
        secrets_ = [request.cookies.get(SESSION_COOKIE, ""), self.accounts.setup_code or ""]
        data = await asyncio.to_thread(bundle.build, self.gw, self.facts(), secrets_)
        self.audit.record(signed_in(request).username, "diagnostics.bundle", "", None,
                          {"bytes": len(data)})  # fmt: skip
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name = f"storegw-{self.gw.journal.store}-{self.gw.journal.gateway}-{stamp}.zip"
        return web.Response(
            body=data,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # --- receipts -------------------------------------------------------------------------------
    def _recent_jobs(self, limit: int = 8) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        for printer in printers_of(self.gw.ctx):
            jobs += printer.queue.recent(printer.spec.id, limit)
        return sorted(jobs, key=lambda j: j["created_at"], reverse=True)[:limit]

    async def receipts(self, request: web.Request) -> web.StreamResponse:
        return self.render(request, "receipts.html", jobs=self._recent_jobs())

    async def receipt_png(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job"]
        for printer in printers_of(self.gw.ctx):
            job = printer.queue.get(job_id)
            if job and job["printer"] == printer.spec.id:
                shown = await asyncio.to_thread(printer.preview, bytes(job["data"]))
                return web.Response(
                    body=base64.b64decode(shown["png_base64"]), content_type="image/png"
                )
        return http_errors.error(404, f"no print job {job_id}")

    # --- stock ----------------------------------------------------------------------------------
    async def stock(self, request: web.Request) -> web.StreamResponse:
        """The store's stock and its alerts (edge/stock.py), for the manager and technician."""
        return self.render(request, "stock.html", **await self.gw.stock.board())
