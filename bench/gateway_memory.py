"""Memory of the real gateway: `storegw edge` started through the CLI (rig.processes.Edge) with
a real Mosquitto, its resident memory read from /proc/<pid>/smaps_rollup (RSS, PSS, USS =
private clean + private dirty), against the floor measured in the same run: an idle bare
Python process with paho-mqtt and aiohttp imported.

(a) idle: no devices, measured `--idle` (10) seconds after it answers /health;
(b) six simulated devices attached (scale, scanner, printer, drawer, card terminal, QR
    aggregator; the simulators run in a process of their own) and a 20,000-event backlog in the
    journal (no hub: nothing drains; the uplink keeps resending into the broker); a few sales
    are posted on the lane, so the printer prints receipts and the drawer opens, and the
    scanner scans; measured `--idle` seconds after every device is online.

Medians of `--runs` (3) runs, each run measuring the floor, (a) and (b) in turn.

    python bench/gateway_memory.py [--runs 3] [--idle 10] [--backlog 20000] [--case idle|busy]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig import Broker, Edge, wait_until

FLOOR = (
    "import sys, paho.mqtt.client, aiohttp, aiohttp.web\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def memory_kib(pid: int) -> dict[str, int]:
    """RSS, PSS and USS of a process, in KiB, from the kernel's rollup of its mappings."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        fields[key] = int(rest.split()[0])
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "uss": fields["Private_Clean"] + fields["Private_Dirty"],
    }


def floor(idle_s: float) -> dict[str, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout and proc.stdout.readline().strip() == "ready"
        time.sleep(idle_s)  # the same settling time the gateway gets
        return memory_kib(proc.pid)
    finally:
        proc.kill()
        proc.wait(10)


# --- the simulators (a process of their own) ---------------------------------------------------
async def run_sims(folder: Path) -> None:
    from edge.sim.aggregator import AggregatorSim
    from edge.sim.printer import PrinterSim
    from edge.sim.scales import ScaleSim
    from edge.sim.scanners import SerialScannerSim
    from edge.sim.zvt import ZvtSim

    scale = ScaleSim("sics", weight="1.250")
    scanner = SerialScannerSim()
    printer = PrinterSim(columns=48)
    terminal = ZvtSim()
    aggregator = AggregatorSim()
    await scale.start()
    await scanner.start()
    p_host, p_port = await printer.start()
    t_host, t_port = await terminal.start()
    url = await aggregator.start()
    where = {
        "scale": scale.path,
        "scanner": scanner.path,
        "printer": f"{p_host}:{p_port}",
        "terminal": f"{t_host}:{t_port}",
        "aggregator": url,
        "ca_file": aggregator.ca_file,
        "api_key": aggregator.api_key,
    }
    (folder / "sims.json.tmp").write_text(json.dumps(where))
    (folder / "sims.json.tmp").replace(folder / "sims.json")
    while not (folder / "done").exists():
        await asyncio.sleep(0.5)
        scanner.scan("6901234567892")  # a scan every half second, as at a busy lane
    for sim in (printer, terminal, aggregator):
        await sim.stop()
    await scale.close()
    await scanner.close()


def devices_toml(where: dict[str, str]) -> str:
    return f"""
[[device]]
id = "scale-1"
kind = "scale"
profile = "mettler-toledo-sics"
port = "{where["scale"]}"
lane = "1"

[[device]]
id = "scanner-1"
kind = "scanner"
profile = "newland-cdc"
port = "{where["scanner"]}"
lane = "1"

[[device]]
id = "printer-1"
kind = "printer"
profile = "epson-tm-t88"
port = "{where["printer"]}"
lane = "1"
store_name = "好邻居便利店"
drawer = false

[[device]]
id = "drawer-1"
kind = "drawer"
profile = "rj11"  # kicked through the printer
port = "printer:printer-1"
lane = "1"

[[device]]
id = "terminal-1"
kind = "terminal"
profile = "zvt-generic"
port = "{where["terminal"]}"
lane = "1"

[[device]]
id = "aggregator"
kind = "aggregator"
profile = "generic"
port = "{where["aggregator"]}"
merchant_id = "M100"
sub_merchant_id = "SUB-S001"
api_key = "{where["api_key"]}"
ca_file = "{where["ca_file"]}"
store_id = "S001"
"""


def fill(path: Path, n: int) -> None:
    """A journal holding n unacked lane-made sales (the journal's own code; fsync off only to
    prepare fast)."""
    from bench.common import sale_envelope
    from edge.journal import Journal

    j = Journal(path, "b1", "g1")
    j.conn.execute("PRAGMA synchronous=OFF")
    for i in range(1, n + 1):
        body = sale_envelope(i)["body"]
        j.record("sale.completed", lambda env, b=body: {**b, "sale_id": env["id"]})
    j.close()


def idle_gateway(work: Path, broker: Broker, idle_s: float) -> dict[str, int]:
    edge = Edge(work / "edge-idle", "b1", "g1", broker.url)
    edge.start()
    try:
        time.sleep(idle_s)
        assert edge.proc
        return memory_kib(edge.proc.pid)
    finally:
        edge.stop()


def busy_gateway(
    work: Path, broker: Broker, template: Path, backlog: int, idle_s: float
) -> dict[str, int]:
    folder = work / "sims"
    folder.mkdir()
    sims = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--sims", str(folder)])
    edge = Edge(work / "edge-busy", "b1", "g1", broker.url)
    try:
        wait_until((folder / "sims.json").exists, 30, what="the simulators")
        where = json.loads((folder / "sims.json").read_text())
        (edge.data_dir / "devices.toml").write_text(devices_toml(where), "utf-8")
        shutil.copy(template, edge.data_dir / "journal.db")
        edge.start()

        def all_online() -> bool:
            devices = edge.http.get("/api/devices").json()["devices"]
            return len(devices) == 6 and all(d["state"] == "online" for d in devices)

        wait_until(all_online, 60, what=f"six devices online\n{edge.tail()}")
        for i in range(5):  # receipts printed, the drawer kicked
            assert edge.sell(i, key=f"bench-{i}").status_code == 201, edge.tail()
        assert edge.journal()["backlog"] >= backlog  # the hub is absent: nothing drains
        time.sleep(idle_s)
        assert edge.proc and all_online()
        return memory_kib(edge.proc.pid)
    finally:
        edge.stop()
        (folder / "done").write_text("")
        sims.wait(30)


def mib(kib: float) -> str:
    return f"{kib / 1024:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--case", choices=("idle", "busy"), help="only this case (a quick check)")
    args = parser.parse_args()
    results: dict[str, list[dict[str, int]]] = {"floor": [], "idle": [], "busy": []}
    with tempfile.TemporaryDirectory(prefix="gateway-memory-") as d:
        root = Path(d)
        template = root / "journal-template.db"
        if args.case != "idle":  # the backlog is case (b)'s
            fill(template, args.backlog)
        broker = Broker(root / "broker")
        broker.start()
        try:
            for run in range(args.runs):
                work = root / f"run-{run}"
                work.mkdir()
                results["floor"].append(floor(args.idle))
                if args.case != "busy":
                    results["idle"].append(idle_gateway(work, broker, args.idle))
                if args.case != "idle":
                    results["busy"].append(
                        busy_gateway(work, broker, template, args.backlog, args.idle)
                    )
                print(
                    f"run {run + 1}: RSS "
                    + "  ".join(f"{c} {mib(r[-1]['rss'])}" for c, r in results.items() if r)
                    + " MiB",
                    flush=True,
                )
        finally:
            broker.stop()
    med = {
        case: {k: statistics.median(r[k] for r in runs) for k in ("rss", "pss", "uss")}
        for case, runs in results.items()
        if runs
    }
    print(f"\nmedians of {args.runs} runs (MiB)          RSS    PSS    USS   RSS / floor")
    names = {
        "floor": "floor (python + paho + aiohttp)",
        "idle": "(a) storegw edge, idle",
        "busy": f"(b) 6 devices, {args.backlog} backlog",
    }
    for case, label in names.items():
        if case not in med:
            continue
        m = med[case]
        print(
            f"{label:34} {mib(m['rss'])} {mib(m['pss'])} {mib(m['uss'])}   "
            f"{m['rss'] / med['floor']['rss']:.2f}"
        )
    base = med["floor"]["rss"]
    for case, goal in (("idle", 45), ("busy", 55)):
        if case in med:
            got = med[case]["rss"]
            print(
                f"{case}: +{(got - base) / 1024:.1f} MiB above the floor; "
                f"{got * 1024 / 1e6:.1f} MB (10^6 bytes; goal <= {goal})"
            )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sims":
        asyncio.run(run_sims(Path(sys.argv[2])))
    else:
        main()
