"""Scales on a serial port (RS-232 through a USB cable, or CDC): one supervisor per scale that
opens and probes the port, polls the weight for the lane, and runs zero / tare / read.

Stable-weight rule: a weight prices an item only when the scale's own status says it is stable
AND `stable_readings` readings in a row are equal (to the gram), and it is positive and within
`min_weight_g`..`capacity_g` of the profile. Bytes that only make sense with bit 7 stripped mean a
7-bit scale read as 8-bit: that is reported as a ConfigurationError, never as a weight."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from msgspec.structs import asdict

from edge.devices.base import ConfigurationError, Context, Device, DeviceError, DeviceSpec
from edge.devices.profiles import ProfileError, ScaleProfile, SerialSettings, Weighing, profiles
from edge.devices.serial_port import STRIP_BIT7, SerialPort
from protocols.scales import (
    Acknowledged,
    FrameError,
    FrameParser,
    Identity,
    Rejected,
    ScaleEvent,
    Status,
    Weight,
    cas,
    sics,
    toledo,
)
from protocols.strict import Invalid, convert

log = logging.getLogger(__name__)

SERIAL_KEYS = ("baudrate", "bytesize", "parity", "stopbits")
WEIGHING_KEYS = (
    "stable_readings",
    "poll_interval_ms",
    "command_gap_ms",
    "reply_timeout_ms",
    "settle_timeout_ms",
)
LOST_AFTER_SILENT_POLLS = 3
COMMANDS = {
    "toledo": {"zero": toledo.zero(), "tare": toledo.tare(), "clear-tare": toledo.clear_tare()},
    "sics": {"zero": sics.zero(), "tare": sics.tare(), "clear-tare": sics.clear_tare()},
    "cas": {"zero": cas.zero(), "tare": cas.tare()},
}


def _parser(protocol: str, unit: str) -> FrameParser:
    if protocol == "toledo":
        return toledo.ToledoParser(unit)
    return sics.SicsParser() if protocol == "sics" else cas.CasParser()


class Scale(Device):
    kind = "scale"
    actions = ("read", "zero", "tare", "clear-tare", "status", "identify")

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        self.setup_error: str | None = None
        self.profile: ScaleProfile | None = None
        try:
            self.profile = profiles().scale(spec.profile)
            self.settings = convert(
                {**asdict(self.profile.serial), **_pick(spec.options, SERIAL_KEYS)}, SerialSettings
            )
            self.weighing = convert(
                {**asdict(self.profile.weighing), **_pick(spec.options, WEIGHING_KEYS)}, Weighing
            )
        except (ProfileError, Invalid) as err:
            self.setup_error = f"{spec.id}: {err}"
            self.settings, self.weighing = SerialSettings(), Weighing(capacity_g=1)
        self.protocol = self.profile.protocol if self.profile else "toledo"
        self.parser = _parser(self.protocol, self.weighing.unit)
        self.port: SerialPort | None = None
        self.identity: str | None = None
        self._lock = asyncio.Lock()
        self._arrived = asyncio.Event()
        self._last_command = 0.0
        self.last_reading: dict[str, Any] | None = None
        self.reads = 0  # replies received, for the bench

    # --- supervision ------------------------------------------------------------------------
    async def connect(self) -> None:
        if self.setup_error:
            raise ConfigurationError(self.setup_error)
        self.parser = _parser(self.protocol, self.weighing.unit)
        self.port = SerialPort(self.spec.port, self.settings, self._on_data)
        self.port.open()
        async with self._lock:
            await self._probe()

    async def serve(self) -> None:
        silent = 0
        while True:
            try:
                async with self._lock:
                    event = await self._weigh()
                silent = 0
            except TimeoutError:
                silent += 1
                if silent >= LOST_AFTER_SILENT_POLLS:
                    raise DeviceError(f"no reply to {silent} weight requests in a row") from None
                continue
            self._publish(event)
            await asyncio.sleep(self.weighing.poll_interval_ms / 1000)

    async def close(self) -> None:
        if self.port:
            self.port.close()
            self.port = None

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            protocol=self.protocol,
            serial=self.settings.describe(),
            identity=self.identity,
            reading=self.last_reading,
        )
        return out

    # --- bytes ------------------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        self.parser.receive_data(data)
        self._arrived.set()

    async def _send(self, data: bytes) -> None:
        if self.port is None or not self.port.is_open:
            raise OSError(f"scale {self.spec.id} is not connected")
        gap = self.weighing.command_gap_ms / 1000 - (time.monotonic() - self._last_command)
        if gap > 0:
            await asyncio.sleep(gap)
        self.port.write(data)
        self._last_command = time.monotonic()

    async def _ask(self, data: bytes, want: tuple[type, ...]) -> ScaleEvent:
        """Send a command and wait for a reply of one of the `want` types (lock held)."""
        self.parser.expire()
        self.parser.events()  # whatever came unasked is stale now
        await self._send(data)
        garbage: list[FrameError] = []
        deadline = time.monotonic() + self.weighing.reply_timeout_ms / 1000
        while True:
            while (event := self.parser.next_event()) is not None:
                if isinstance(event, FrameError):
                    garbage.append(event)
                    log.warning("scale %s: %s: %r", self.spec.id, event.reason, event.data[:32])
                elif isinstance(event, (*want, Rejected)):
                    self.reads += 1
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                self.parser.expire()
                garbage += [e for e in self.parser.events() if isinstance(e, FrameError)]
                if garbage:
                    raise self._diagnose(garbage)
                raise TimeoutError
            self._arrived.clear()
            assert self.port is not None and self.port.lost is not None
            lost = self.port.lost
            waiter = asyncio.ensure_future(self._arrived.wait())
            done, _ = await asyncio.wait(
                {waiter, lost}, timeout=left, return_when="FIRST_COMPLETED"
            )
            waiter.cancel()
            if lost in done:
                lost.result()  # raises the OSError of the lost link

    def _diagnose(self, garbage: list[FrameError]) -> DeviceError:
        data = b"".join(e.data for e in garbage)
        port = self.settings.describe()
        if any(b & 0x80 for b in data):
            probe = _parser(self.protocol, self.weighing.unit)
            probe.receive_data(data.translate(STRIP_BIT7))
            if any(not isinstance(e, FrameError) for e in probe.events()):
                return ConfigurationError(
                    f"replies parse only with bit 7 removed: the scale sends 7 data bits with "
                    f"parity but the port is set to {port}; set bytesize = 7 and parity = E (or O)"
                )
            return ConfigurationError(
                f"bytes with bit 7 set ({data[:16].hex(' ')}): baud rate, data bits or parity "
                f"do not match the scale (port set to {port})"
            )
        return DeviceError(f"garbled reply ({data[:24]!r}); check the protocol and baud rate")

    # --- protocol ---------------------------------------------------------------------------
    async def _probe(self) -> None:
        try:
            if self.protocol == "sics":
                reply = await self._ask(sics.serial_number(), (Identity,))
                self.identity = reply.text if isinstance(reply, Identity) else None
            elif self.protocol == "cas":
                await self._ask(cas.enquire(), (Acknowledged,))
            else:
                await self._ask(toledo.request_weight(), (Weight, Status))
        except TimeoutError:
            raise DeviceError(
                f"no answer to the {self.protocol} probe on {self.spec.port} "
                f"({self.settings.describe()})"
            ) from None

    async def _weigh(self) -> Weight | Status:
        if self.protocol == "cas":
            ack = await self._ask(cas.enquire(), (Acknowledged,))
            if isinstance(ack, Rejected):
                return Status(busy=True)
            reply = await self._ask(cas.request_weight(), (Weight, Status))
        elif self.protocol == "sics":
            reply = await self._ask(sics.request_weight(), (Weight, Status))
        else:
            reply = await self._ask(toledo.request_weight(), (Weight, Status))
        if isinstance(reply, Rejected):
            raise DeviceError(f"scale refused the weight request: {reply.reason}")
        assert isinstance(reply, Weight | Status)
        return reply

    def _publish(self, event: Weight | Status) -> None:
        if isinstance(event, Weight):
            reading = {"grams": event.grams, "stable": event.stable, "net": event.net}
        else:
            reading = {"grams": None, "stable": False, "state": event.reason()}
        if reading != self.last_reading:
            self.last_reading = reading
            if self.spec.lane:
                self.lanes.publish(
                    self.spec.lane, {"type": "weight", "device": self.spec.id, **reading}
                )

    # --- what the lane and the technician use -----------------------------------------------
    async def stable_weight(self) -> Weight:
        """Poll until the stable-weight rule holds; DeviceError says why it does not."""
        needed = self.weighing.stable_readings
        budget = max(
            2.0, needed * 4 * (self.weighing.poll_interval_ms + self.weighing.command_gap_ms) / 1000
        )
        deadline = time.monotonic() + budget
        last: Weight | None = None
        count, why = 0, "no reading"
        while time.monotonic() < deadline:
            async with self._lock:
                event = await self._guarded(self._weigh())
            self._publish(event)
            if isinstance(event, Status):
                last, count, why = None, 0, event.reason()
                if event.over_capacity or event.under_zero:
                    raise DeviceError(f"scale says {why}")
            elif not event.stable:
                last, count, why = None, 0, "weight is not stable (motion)"
            elif last is not None and event.grams == last.grams:
                count += 1
            else:
                last, count = event, 1
            if last is not None and count >= needed:
                return last
            await asyncio.sleep(min(self.weighing.poll_interval_ms, 100) / 1000)
        raise DeviceError(f"no stable weight within {budget:.1f} s: {why}")

    def sellable(self, weight: Weight) -> str | None:
        """Why this weight may not price an item, or None when it may."""
        grams, w = weight.grams, self.weighing
        if grams <= 0:
            return f"weight {grams} g is not positive (empty or under zero)"
        if grams < w.min_weight_g:
            return f"weight {grams} g is below the scale's minimum {w.min_weight_g} g"
        if grams > w.capacity_g:
            return f"weight {grams} g is above the scale's capacity {w.capacity_g} g"
        return None

    async def _guarded(self, step: Any) -> Any:
        """Run a protocol step for an action; link and timing problems become DeviceErrors."""
        if self.state != "online":
            step.close()
            raise DeviceError(f"scale {self.spec.id} is {self.state}: {self.last_error or ''}")
        try:
            return await step
        except TimeoutError:
            raise DeviceError("the scale did not answer in time") from None
        except OSError as err:
            raise DeviceError(f"scale disconnected: {err}") from err

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "read":
            weight = await self.stable_weight()
            why = self.sellable(weight)
            return {
                "grams": weight.grams,
                "value": str(weight.value),
                "unit": weight.unit,
                "net": weight.net,
                "stable": True,
                "sellable": why is None,
                **({"reason": why} if why else {}),
            }
        if name == "status":
            async with self._lock:
                event = await self._guarded(self._weigh())
            self._publish(event)
            return dict(self.last_reading or {})
        if name == "identify":
            return {"protocol": self.protocol, "identity": self.identity}
        commands = {
            "toledo": {
                "zero": toledo.zero(),
                "tare": toledo.tare(),
                "clear-tare": toledo.clear_tare(),
            },
            "sics": {"zero": sics.zero(), "tare": sics.tare(), "clear-tare": sics.clear_tare()},
            "cas": {"zero": cas.zero(), "tare": cas.tare()},
        }[self.protocol]
        if name not in commands:
            raise DeviceError(f"the {self.protocol} protocol has no {name!r} command")
        async with self._lock:
            reply = await self._guarded(self._command(commands[name]))
        if isinstance(reply, Rejected):
            raise DeviceError(f"scale refused {name}: {reply.reason}")
        out: dict[str, Any] = {"done": True}
        if isinstance(reply, Acknowledged) and reply.value is not None:
            out["tare_g"] = reply.value.grams
        async with self._lock:
            after = await self._guarded(self._weigh())
        self._publish(after)
        out["reading"] = self.last_reading
        return out

    async def _command(self, data: bytes) -> ScaleEvent | None:
        if self.protocol == "sics":
            return await self._ask(data, (Acknowledged,))
        # Toledo and CAS do not answer zero / tare: send, and let the next reading show it
        self.parser.events()
        await self._send(data)
        return None


def _pick(options: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: options[k] for k in keys if k in options}
