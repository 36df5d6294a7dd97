"""The gateway's devices: declared in `<data dir>/devices.toml` or found by discovery, each run
by its driver's supervisor, listed and driven through `/api/devices`."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.devices.base import KINDS, Context, Device, DeviceError, DeviceSpec

log = logging.getLogger(__name__)

SpecSource = Callable[[], Iterable[DeviceSpec]]


class DeclarationError(ValueError):
    """devices.toml is wrong; the message names the file, the entry and the key."""


def load_declared(path: Path) -> list[DeviceSpec]:
    """Read `[[device]]` tables: id, kind, profile, port (or address), lane, plus driver options."""
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
        if entry["kind"] not in KINDS:
            raise DeclarationError(
                f"{where}: kind {entry['kind']!r} is unknown (known: {', '.join(sorted(KINDS))})"
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
    def __init__(self, ctx: Context, declared: Path | None = None) -> None:
        self.ctx = ctx
        self.declared = declared or ctx.data_dir / "devices.toml"
        self.by_id: dict[str, Device] = {}
        self.sources: list[SpecSource] = []  # discovery adds itself here

    def add(self, spec: DeviceSpec) -> Device:
        if spec.id in self.by_id:
            raise DeviceError(f"device {spec.id} already exists")
        device = KINDS[spec.kind](spec, self.ctx)
        self.by_id[spec.id] = device
        device.start()
        return device

    async def remove(self, device_id: str) -> None:
        device = self.by_id.pop(device_id, None)
        if device:
            await device.stop()

    async def start(self) -> None:
        for spec in load_declared(self.declared):
            self.add(spec)
        self.refresh()

    def refresh(self) -> None:
        """Add what discovery sees now; declared devices win over discovered ones."""
        for source in self.sources:
            for spec in source():
                if spec.id not in self.by_id:
                    self.add(spec)

    async def stop(self) -> None:
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
        return web.json_response({"devices": [d.describe() for d in self.by_id.values()]})

    def _get(self, request: web.Request) -> Device:
        device = self.by_id.get(request.match_info["id"])
        if device is None:
            raise web.HTTPNotFound(
                text=f'{{"error": "no device {request.match_info["id"]}"}}',
                content_type="application/json",
            )
        return device

    async def _one(self, request: web.Request) -> web.Response:
        return web.json_response(self._get(request).describe())

    async def _action(self, request: web.Request) -> web.Response:
        device = self._get(request)
        action = request.match_info["action"]
        params: dict[str, Any] = {}
        if request.can_read_body:
            try:
                params = await request.json()
            except ValueError:
                return web.json_response({"error": "body is not JSON"}, status=400)
            if not isinstance(params, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
        if action not in device.actions:
            return web.json_response(
                {"error": f"{device.kind} has no action {action!r}", "actions": device.actions},
                status=404,
            )
        try:
            result = await device.action(action, params)
        except DeviceError as err:
            log.warning("device %s action %s failed: %s", device.spec.id, action, err)
            return web.json_response({"error": str(err), "device": device.describe()}, status=409)
        return web.json_response({"device": device.spec.id, "action": action, "result": result})
