"""`storegw sim` starts the scale and scanner simulators and prints paths a driver can open."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.devices.base import Context, DeviceSpec
from edge.devices.scale import Scale
from edge.sim import scales, scanners
from rig.waiting import until

from .conftest import FAST

pytestmark = pytest.mark.anyio


async def test_start_for_cli_gives_working_devices(ctx: Context) -> None:
    async with contextlib.AsyncExitStack() as stack:
        args = argparse.Namespace(host="127.0.0.1")
        found = await scales.start_for_cli(stack, args)
        found.update(await scanners.start_for_cli(stack, args))
        assert set(found) >= {
            "scale-toledo",
            "scale-sics",
            "scale-cas",
            "scanner-serial",
            "scanner-keyboard",
            "scanner-hidpos",
        }
        for where in found.values():
            assert Path(where.split()[0]).exists()
        assert found["scale-toledo"].endswith("(7E1)")
        path = found["scale-cas"].split()[0]
        scale = Scale(DeviceSpec("s", "scale", "cas-pd2", path, "1", FAST), ctx)
        scale.start()
        try:
            await until(lambda: scale.state == "online")
            assert (await scale.action("read", {}))["grams"] == 1250
        finally:
            await scale.stop()


def test_storegw_sim_prints_the_paths() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "storegw.cli", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if "simulators running" in line:
                break
        names = {line.split()[0] for line in lines if line}
        assert {"scale-toledo", "scale-sics", "scale-cas", "scanner-serial"} <= names, lines
        toledo = next(line for line in lines if line.startswith("scale-toledo"))
        assert os.path.exists(toledo.split()[1])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
