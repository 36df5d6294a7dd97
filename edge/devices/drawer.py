"""A cash drawer as its own device, for lanes whose drawer is not on the printer's RJ11:
`port = "printer:<printer id>"` kicks it through that printer, `port = "/dev/…"` through a
serial drawer trigger (such boxes open on the ESC p bytes, or on any byte). It opens on every
sale with a cash tender on its lane, after the sale is durable."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import serial

from edge.devices.base import Context, Device, DeviceError, DeviceSpec
from edge.devices.printer import PRINTERS
from protocols.escpos import commands

log = logging.getLogger(__name__)


class Drawer(Device):
    kind = "drawer"
    actions = ("open-drawer", "status")

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        self.pin = int(spec.options.get("pin", 2))
        self.pulse_ms = int(spec.options.get("pulse_ms", 100))
        self.opened = 0
        self._serial: serial.Serial | None = None
        ctx.sale_hooks.append(self._after_sale)

    def _printer(self) -> Any:
        printer = PRINTERS.get((id(self.ctx), self.spec.port.removeprefix("printer:")))
        if printer is None:
            raise DeviceError(f"drawer {self.spec.id}: no printer {self.spec.port[8:]!r}")
        return printer

    async def connect(self) -> None:
        if self.spec.port.startswith("printer:"):
            if self._printer().state != "online":
                raise DeviceError("its printer is not online")
            return
        self._serial = await asyncio.to_thread(
            serial.Serial, self.spec.port, int(self.spec.options.get("baudrate", 9600)),
            timeout=1, write_timeout=2,
        )  # fmt: skip

    async def serve(self) -> None:
        while True:  # a drawer has nothing to say; watch that its way out is still there
            await asyncio.sleep(2)
            if self.spec.port.startswith("printer:") and self._printer().state != "online":
                raise DeviceError("its printer went away")

    async def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    async def open_drawer(self) -> None:
        if self.spec.port.startswith("printer:"):
            await self._printer().open_drawer(self.pin)
        elif self._serial is not None:
            data = commands.drawer_pulse(self.pin, self.pulse_ms)
            await asyncio.to_thread(self._serial.write, data)
        else:
            raise DeviceError(f"drawer {self.spec.id} is {self.state}")
        self.opened += 1

    async def _after_sale(self, envelope: dict[str, Any]) -> None:
        body = envelope.get("body", {})
        if body.get("lane") != self.spec.lane:
            return
        if any(p.get("tender") == "cash" for p in body.get("payments", [])):
            try:
                await self.open_drawer()
            except (OSError, DeviceError) as err:
                log.warning("drawer %s did not open: %s", self.spec.id, err)
                self.lanes.publish(self.spec.lane or "", {"type": "drawer.failed",
                                                          "device": self.spec.id,
                                                          "error": str(err)})  # fmt: skip

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "status":
            return {"state": self.state, "opened": self.opened}
        if name == "open-drawer":
            try:
                await self.open_drawer()
            except OSError as err:
                raise DeviceError(f"drawer not opened: {err}") from err
            return {"opened": True}
        raise DeviceError(f"drawer has no action {name!r}")

    async def stop(self) -> None:
        await super().stop()
        if self._after_sale in self.ctx.sale_hooks:
            self.ctx.sale_hooks.remove(self._after_sale)
