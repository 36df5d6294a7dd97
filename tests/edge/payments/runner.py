"""A gateway's payment side in a process of its own, for crash tests: the real journal file,
Devices from devices.toml and Payments. `--pay JSON` starts a payment and waits for it;
`--resume` does what a restarted gateway does (Payments.start()) and exits when nothing is
left running. The test kills it with SIGKILL in the middle."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import edge.devices.aggregator
import edge.devices.terminal  # noqa: F401 - registers the drivers
from edge.devices.base import Context
from edge.devices.registry import Devices
from edge.journal import Journal
from edge.lane_bus import LaneBus
from edge.payments import Payments


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir)
    journal = Journal(data_dir / "journal.db", "S001", "G1")
    ctx = Context(lanes=LaneBus(), data_dir=data_dir, db=journal.db)
    devices = Devices(ctx)
    await devices.start()
    payments = Payments(ctx, devices)
    out: dict[str, object] = {}
    if args.pay:
        body = json.loads(args.pay)
        attempt, created = await payments.pay("1", body)
        print(f"STARTED {attempt.key} {created}", flush=True)
        final = await payments.wait(attempt.key, 60)
        assert final is not None
        out = final.public()
    else:
        await payments.start()
        deadline = time.monotonic() + 30
        while payments._running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        out = {a.key: a.state for a in map(payments.store.get, args.keys) if a}
    print(json.dumps(out, ensure_ascii=False), flush=True)
    await payments.stop()
    await devices.stop()
    journal.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--pay")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("keys", nargs="*")
    asyncio.run(main(parser.parse_args()))
