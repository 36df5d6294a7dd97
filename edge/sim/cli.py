"""`storegw sim`: start every device simulator this build has and print where each listens
(pty paths, host:port), until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import signal

# Each module exposes `async def start_for_cli(stack: contextlib.AsyncExitStack,
# args: argparse.Namespace) -> dict[str, str]` (simulator name -> device path or address).
SIMULATORS = (
    "edge.sim.scales",
    "edge.sim.scanners",
    "edge.sim.printer",
    "edge.sim.zvt",
    "edge.sim.aggregator",
)


async def _run(args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for name in SIMULATORS:
            module = importlib.import_module(name)
            for sim, where in (await module.start_for_cli(stack, args)).items():
                print(f"{sim:24} {where}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("simulators running; Ctrl-C stops them", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="storegw sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address for TCP simulators")
    args = parser.parse_args(argv)
    asyncio.run(_run(args))
