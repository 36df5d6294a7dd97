"""The gateway's devices: declared in `<data dir>/devices.toml` or found by discovery, each run
by its driver's supervisor, listed and driven through `/api/devices`."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import sys
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from edge import http_errors
from edge.devices.base import Context, Device, DeviceError, DeviceSpec

log = logging.getLogger(__name__)

# discovery: returns the specs it sees now (or an awaitable of them, when it must probe)
SpecSource = Callable[[], Iterable[DeviceSpec] | Awaitable[Iterable[DeviceSpec]]]
# a kind's driver: the class, or "module:Class" imported when a device of the kind is added
Driver = type[Device] | str
# an action another part of the gateway offers on a kind of device (payments: test-payment);
# registered by that part, so drivers need not import what builds on them
ActionHandler = Callable[[Device, dict[str, Any]], Awaitable[dict[str, Any]]]


def of_driver(device: object, driver: str) -> bool:
    """isinstance(device, the class named "module:Class"), without importing its module: no
    device of that driver exists until the module is loaded (Devices.driver)."""
    module, _, name = driver.partition(":")
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(device, getattr(loaded, name))


class DeclarationError(ValueError):
    """devices.toml is wrong; the message names the file, the entry and the key."""


def load_declared(path: Path, kinds: Iterable[str]) -> list[DeviceSpec]:
    """Read `[[device]]` tables: id, kind, profile, port (or address), lane, plus driver options.
    A kind must be one of `kinds` (those the gateway has a driver for)."""
    kinds = set(kinds)
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DeclarationError(f"{path}: not valid TOML: {err}") from err
    specs: list[DeviceSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("device", [])):
        where = f"{path}: device #{i + 1}"
        for key in ("id", "kind", "profile"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise DeclarationError(f"{where}: key {key!r} is required and must be a string")
        if entry["id"] in seen:
            raise DeclarationError(f"{where}: id {entry['id']!r} is declared twice")
        seen.add(entry["id"])
        if entry["kind"] not in kinds:
            raise DeclarationError(
                f"{where}: kind {entry['kind']!r} is unknown (known: {', '.join(sorted(kinds))})"
            )
        port = entry.get("port", entry.get("address", ""))
        lane = entry.get("lane")
        if not isinstance(port, str) or (lane is not None and not isinstance(lane, str)):
            raise DeclarationError(f"{where}: 'port' and 'lane' must be strings")
        options = {
            k: v
            for k, v in entry.items()
            if k not in ("id", "kind", "profile", "port", "address", "lane")
        }
        specs.append(DeviceSpec(entry["id"], entry["kind"], entry["profile"], port, lane, options))
    return specs


class Devices:
    """The devices the gateway runs, each by the driver of its kind. `drivers` is what the
    gateway assembles (edge/gateway.py `DRIVERS`: kind -> "module:Class", each module imported
    at the first device of its kind, so a gateway loads only the drivers it runs), or driver
    classes; `sources` are the discovery sources it adds."""

    def __init__(
        self,
        ctx: Context,
        *,
        drivers: Mapping[str, Driver] | Iterable[type[Device]],
        declared: Path | None = None,
    ) -> None:
        self.ctx = ctx
        self.drivers: Mapping[str, Driver] = (
            dict(drivers) if isinstance(drivers, Mapping) else {d.kind: d for d in drivers}
        )
        self.declared = declared or ctx.data_dir / "devices.toml"
        self.by_id: dict[str, Device] = {}
        self.sources: list[SpecSource] = []  # the gateway adds discovery here
        self.rescan_interval = 2.0  # hot-plug is noticed within this many seconds
        self.forget_after = 30.0  # a discovered device gone this long is removed
        self._missing: dict[str, float] = {}
        self._watcher: asyncio.Task[None] | None = None
        self.extra_actions: dict[str, dict[str, ActionHandler]] = {}

    def register_action(self, kind: str, name: str, handler: ActionHandler) -> None:
        """Offer `name` on every device of `kind`, run by `handler(device, params)`."""
        if kind not in self.drivers:
            raise ValueError(f"no driver for device kind {kind!r}")
        self.extra_actions.setdefault(kind, {})[name] = handler

    def actions_of(self, device: Device) -> list[str]:
        return [*device.actions, *self.extra_actions.get(device.kind, {})]

    def describe(self, device: Device) -> dict[str, Any]:
        return device.describe() | {"actions": self.actions_of(device)}

    async def run_action(self, device: Device, name: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.extra_actions.get(device.kind, {}).get(name)
        if handler is not None:
            return await handler(device, params)
        return await device.action(name, params)

    def add(self, spec: DeviceSpec) -> Device:
        if spec.id in self.by_id:
            raise DeviceError(f"device {spec.id} already exists")
        device = self.driver(spec.kind)(spec, self.ctx)
        self.by_id[spec.id] = device
        device.start()
        return device

    def driver(self, kind: str) -> type[Device]:
        """The driver class of `kind`, its module imported the first time."""
        driver = self.drivers[kind]
        if isinstance(driver, str):
            module, _, name = driver.partition(":")
            driver = getattr(importlib.import_module(module), name)
            if not (
                isinstance(driver, type) and issubclass(driver, Device) and driver.kind == kind
            ):
                raise TypeError(f"{self.drivers[kind]} is not the driver of {kind!r} devices")
            self.drivers = {**self.drivers, kind: driver}
        return driver

    async def remove(self, device_id: str) -> None:
        device = self.by_id.pop(device_id, None)
        if device:
            await device.stop()

    async def start(self) -> None:
        for spec in load_declared(self.declared, self.drivers):
            self.add(spec)
        await self.rescan()
        if self.sources and self.rescan_interval > 0:
            self._watcher = asyncio.create_task(self._watch(), name="devices:rescan")

    async def reload_declared(self) -> list[str]:
        """Re-read devices.toml and restart only the declared devices whose declaration changed
        (or that were added or removed), without restarting the gateway. Returns their ids."""
        new = {spec.id: spec for spec in load_declared(self.declared, self.drivers)}
        changed: list[str] = []
        for device_id, device in list(self.by_id.items()):
            declared_now = new.get(device_id)
            if device.spec.source == "declared" and declared_now == device.spec:
                continue
            if device.spec.source == "declared" or declared_now is not None:
                await self.remove(device_id)  # changed, undeclared, or a declaration takes it over
                changed.append(device_id)
        for spec in new.values():
            if spec.id in self.by_id:
                continue
            real = os.path.realpath(spec.port) if spec.port else ""
            for other in list(self.by_id.values()):
                if other.spec.source == "discovered" and real and other.spec.port and (
                    os.path.realpath(other.spec.port) == real
                ):
                    await self.remove(other.spec.id)  # the declaration owns the port now
            self.add(spec)
            if spec.id not in changed:
                changed.append(spec.id)
        if changed:
            log.info("devices.toml reloaded: restarted %s", ", ".join(changed))
        return changed

    def refresh(self) -> None:
        """Add what synchronous sources see now; declared devices win over discovered ones."""
        for source in self.sources:
            specs = source()
            if not inspect.isawaitable(specs):
                for spec in specs:
                    self._offer(spec)

    def port_in_use(self, port: str) -> bool:
        """Is a device already on this port (by-id links and their ttys are the same port)?"""
        real = os.path.realpath(port) if port else port
        return any(
            d.spec.port and (d.spec.port == port or os.path.realpath(d.spec.port) == real)
            for d in self.by_id.values()
        )

    def _offer(self, spec: DeviceSpec) -> None:
        # a declared device owns its id and its port; discovery never doubles it
        if spec.id in self.by_id or self.port_in_use(spec.port):
            return
        if spec.kind not in self.drivers:
            log.debug("discovered %s on %s: no driver for %s here", spec.id, spec.port, spec.kind)
            return
        log.info("discovered %s %s (%s) on %s", spec.kind, spec.id, spec.profile, spec.port)
        self.add(spec)

    async def rescan(self) -> None:
        """Ask every source what it sees; add the new, forget discovered ones long gone."""
        seen: set[str] = set()
        for source in self.sources:
            try:
                specs = source()
                if inspect.isawaitable(specs):
                    specs = await specs
                for spec in specs:
                    seen.add(spec.id)
                    self._offer(spec)
            except Exception:  # discovery trouble must not take the declared devices down
                log.exception("device discovery failed")
                return
        now = time.monotonic()
        for device_id, device in list(self.by_id.items()):
            if device.spec.source != "discovered" or device_id in seen:
                self._missing.pop(device_id, None)
                continue
            gone_since = self._missing.setdefault(device_id, now)
            if now - gone_since >= self.forget_after:
                log.info("forgetting %s: unplugged for %.0f s", device_id, now - gone_since)
                self._missing.pop(device_id, None)
                await self.remove(device_id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.rescan_interval)
            await self.rescan()

    async def stop(self) -> None:
        if self._watcher:
            self._watcher.cancel()
            try:
                await self._watcher
            except asyncio.CancelledError:
                pass
            self._watcher = None
        for device_id in list(self.by_id):
            await self.remove(device_id)

    def on_lane(self, lane: str, kind: str) -> list[Device]:
        return [d for d in self.by_id.values() if d.spec.lane == lane and d.kind == kind]

    # --- HTTP --------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/devices", self._list),
            web.get("/api/devices/{id}", self._one),
            web.post("/api/devices/{id}/{action}", self._action),
        ]

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"devices": [self.describe(d) for d in self.by_id.values()]})

    def _get(self, request: web.Request) -> Device:
        device = self.by_id.get(request.match_info["id"])
        if device is None:
            raise web.HTTPNotFound(
                text=f'{{"error": "no device {request.match_info["id"]}"}}',
                content_type="application/json",
            )
        return device

    async def _one(self, request: web.Request) -> web.Response:
        return web.json_response(self.describe(self._get(request)))

    async def _action(self, request: web.Request) -> web.Response:
        device = self._get(request)
        action = request.match_info["action"]
        params: dict[str, Any] = {}
        if request.can_read_body:
            params = await http_errors.read_object(request, empty={})
        if action not in self.actions_of(device):
            return web.json_response(
                {
                    "error": f"{device.kind} has no action {action!r}",
                    "actions": self.actions_of(device),
                },
                status=404,
            )
        try:
            result = await self.run_action(device, action, params)
        except DeviceError as err:
            log.warning("device %s action %s failed: %s", device.spec.id, action, err)
            return web.json_response(
                {"error": str(err), "device": self.describe(device)}, status=409
            )
        return web.json_response({"device": device.spec.id, "action": action, "result": result})
