"""What every device driver is: a spec from discovery or devices.toml, a supervisor loop that
owns open / serve / reconnect with backoff, and named actions the device API can run.

Drivers only move bytes; parsing lives in protocols/ (sans-I/O)."""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edge.lane_bus import LaneBus

if TYPE_CHECKING:
    from edge.journal import JournalDb

log = logging.getLogger(__name__)


class DeviceError(Exception):
    """An action could not be done; the message is shown to the cashier or technician."""


class ConfigurationError(DeviceError):
    """The device answers, but not the way its profile says it should (wrong baud, parity…)."""


@dataclass(frozen=True)
class DeviceSpec:
    id: str  # stable across reboots and re-plugging (by-id path, serial number, or declared)
    kind: str  # scale | scanner | printer | drawer | terminal | aggregator
    profile: str  # a firmware_config profile name
    port: str = ""  # /dev/serial/by-id/…, /dev/input/…, host:port, or a URL
    lane: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "declared"  # declared | discovered


SaleTxnHook = Callable[["JournalDb", dict[str, Any]], None]
SaleHook = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Context:
    """What the gateway lends its devices."""

    lanes: LaneBus
    data_dir: Path
    # The gateway's SQLite (the journal's file) for device state that must survive a crash:
    # print queue, payment attempts. Used from the event loop thread only.
    db: JournalDb | None = None
    # run inside the transaction that journals a sale (e.g. enqueue its receipt atomically)
    sale_txn_hooks: list[SaleTxnHook] = field(default_factory=list)
    # run after a sale is durable (e.g. wake the printer); the envelope as a dict
    sale_hooks: list[SaleHook] = field(default_factory=list)
    # run inside the transaction that journals a refund or closes a shift, with what it prints:
    # the `sale.refunded` envelope, or a `shift.report` (edge/shifts.py) — a crash loses neither
    print_txn_hooks: list[SaleTxnHook] = field(default_factory=list)
    # run after those are durable (wake the printer; a cash refund opens the drawer)
    print_hooks: list[SaleHook] = field(default_factory=list)
    # SKU → name in the catalog held: names a refund slip's lines when the sale was made at
    # another store (not in this journal; found at the hub)
    item_names: Callable[[], dict[str, str]] = dict


class Device(ABC):
    """One physical device, supervised like a Home Assistant coordinator: it logs
    "unavailable" once when it goes and "recovered" once when it comes back."""

    kind: ClassVar[str]
    actions: ClassVar[tuple[str, ...]] = ()
    backoff_min: ClassVar[float] = 0.5
    backoff_max: ClassVar[float] = 30.0

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        self.spec = spec
        self.ctx = ctx
        self.lanes = ctx.lanes
        self.state = "starting"  # starting | online | unavailable | stopped
        self.last_error: str | None = None
        self.failures = 0  # failed connects and lost links since start (/metrics)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- what a driver implements ---------------------------------------------------------
    @abstractmethod
    async def connect(self) -> None:
        """Open the port and probe the device; raise OSError or DeviceError when it is not there."""

    @abstractmethod
    async def serve(self) -> None:
        """Run while connected (read scans, poll status…); return or raise when the link is lost."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the port."""

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        raise DeviceError(f"{self.kind} {self.spec.id} has no action {name!r}")

    # --- supervision ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"device:{self.spec.id}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.close()
        self.state = "stopped"

    def _went(self, err: BaseException) -> None:
        self.last_error = str(err) or type(err).__name__
        self.failures += 1
        if self.state != "unavailable":
            log.warning("device %s (%s) unavailable: %s", self.spec.id, self.kind, self.last_error)
        self.state = "unavailable"

    async def _supervise(self) -> None:
        delay = self.backoff_min
        while not self._stopping:
            try:
                await self.connect()
                if self.state == "unavailable":
                    log.info("device %s (%s) recovered", self.spec.id, self.kind)
                self.state, self.last_error, delay = "online", None, self.backoff_min
                await self.serve()
                raise DeviceError("link closed")
            except asyncio.CancelledError:
                raise
            except (OSError, DeviceError) as err:
                self._went(err)
            except Exception as err:  # a driver bug must not kill the supervisor
                log.exception("device %s driver failed", self.spec.id)
                self._went(err)
            await self.close()
            # exponential backoff with full jitter so a store's devices don't retry in lockstep
            await asyncio.sleep(random.uniform(self.backoff_min, delay))
            delay = min(delay * 2, self.backoff_max)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "kind": self.kind,
            "profile": self.spec.profile,
            "port": self.spec.port,
            "lane": self.spec.lane,
            "state": self.state,
            "error": self.last_error,
            "source": self.spec.source,
            "actions": list(self.actions),
        }

