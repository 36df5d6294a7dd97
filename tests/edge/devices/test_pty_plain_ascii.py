"""A scale emulator that is not ours, on a pty: it speaks plain 7-bit ASCII (as socat pairs,
vendors' tools and scales behind a USB-serial adapter do) and answers only a plain `W`. The
driver with the stock 7E1 Toledo profile must send it 0x57, not 0xD7, and read its weight."""

from __future__ import annotations

import asyncio
import os
import tty

import pytest

from edge.devices.base import Context, DeviceSpec
from edge.devices.scale import Scale
from rig.waiting import until

from .conftest import FAST, fast

pytestmark = pytest.mark.anyio


class PlainToledoPeer:
    """A bare pty that answers a plain ASCII `W` with `STX 01.250 CR` and nothing else."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self.answered = 0
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        self.received += data
        for byte in data:
            if byte == ord("W"):  # anything else is an unknown command to this emulator
                os.write(self.master, b"\x0201.250\r")
                self.answered += 1

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


async def test_a_plain_ascii_toledo_emulator_on_a_pty_gets_w_and_gives_a_weight(
    ctx: Context,
) -> None:
    peer = PlainToledoPeer()
    spec = DeviceSpec("scale-1", "scale", "mettler-toledo-8217", peer.path, "1", FAST)
    scale = fast(Scale(spec, ctx))  # the stock profile: 9600 7E1
    scale.start()
    try:
        await until(lambda: scale.state == "online", what="online")
        assert (await scale.action("read", {}))["grams"] == 1250
        assert peer.answered > 0
        assert peer.received and all(b < 0x80 for b in peer.received), peer.received[:16].hex()
    finally:
        await scale.stop()
        peer.close()
