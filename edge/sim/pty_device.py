"""The simulator's end of a device cable: a real pty whose slave path a driver opens with
pyserial. It can be unplugged (both ends closed: the driver reads EIO) and plugged in again (a
new pty), and it can keep a /dev/serial/by-id style symlink pointing at the current pty, the way
udev keeps a stable name for a USB device that moves between ttyUSB numbers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path


class PtyDevice:
    def __init__(self, link: Path | None = None) -> None:
        self.link = link  # the by-id path, if any
        self.master: int | None = None
        self._slave: int | None = None
        self.path = ""  # the current /dev/pts/N
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seven_bit_out: bytes | None = None  # parity table, when emulating 7-bit framing

    @property
    def port(self) -> str:
        """What a driver should open: the by-id link when there is one."""
        return str(self.link) if self.link else self.path

    async def start(self) -> None:
        self.plug()

    def plug(self) -> None:
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation before the driver sets its modes
        os.set_blocking(master, False)
        self.master, self._slave, self.path = master, slave, os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)  # atomic, like udev
        self._loop.add_reader(master, self._readable)

    def unplug(self) -> None:
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        master, slave = self.master, self._slave
        self.master = self._slave = None
        if master is not None:
            if self._loop:
                self._loop.remove_reader(master)
            os.close(master)
        if slave is not None:
            os.close(slave)

    async def close(self) -> None:
        self.unplug()

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def _readable(self) -> None:
        assert self.master is not None
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while no driver holds the slave: nothing to read
        if data:
            self.received(data)

    def received(self, data: bytes) -> None:  # pragma: no cover - each simulator implements it
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        if self.master is None:
            return  # unplugged: the bytes go nowhere, like on a pulled cable
        if self._seven_bit_out:
            data = data.translate(self._seven_bit_out)
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue  # the driver is slow to drain; the pty buffer frees up quickly
            view = view[n:]
