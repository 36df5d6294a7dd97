"""`storegw demo`: a small chain on this machine with nothing to configure — a broker
(Mosquitto when installed, otherwise the pure-Python amqtt broker speaking MQTT 3.1.1), the
hub on SQLite, N stores with one gateway each, simulated cashiers selling, and a live view of
sales made, delivered and booked per store. Ctrl-C stops everything cleanly."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from edge.sim.cashier import basket
from protocols.money import fen_to_yuan

STORES = [
    ("sh-jingan", "上海静安店"),
    ("bj-chaoyang", "北京朝阳店"),
    ("gz-tianhe", "广州天河店"),
    ("cd-jinjiang", "成都锦江店"),
    ("hz-xihu", "杭州西湖店"),
    ("sz-nanshan", "深圳南山店"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, headers: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Chain:
    def __init__(self, data_dir: Path, stores: int) -> None:
        self.dir = data_dir
        self.stores = STORES[: max(1, min(stores, len(STORES)))]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.broker_thread: threading.Thread | None = None
        self.hub_port = _free_port()
        self.hub_token = "demo-hq-" + os.urandom(6).hex()
        self.lane_token = "demo-lane-" + os.urandom(6).hex()
        self.edges: dict[str, int] = {}

    def _spawn(self, args: list[str], log: str, env: dict[str, str] | None = None) -> None:
        out = open(self.dir / log, "ab")  # noqa: SIM115 - the child owns it
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "--log-level", "WARNING", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        )

    def start_broker(self) -> str:
        port = _free_port()
        exe = (
            None
            if os.environ.get("STOREGW_DEMO_BROKER") == "embedded"
            else shutil.which("mosquitto")
            or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        )
        if exe:
            conf = self.dir / "mosquitto.conf"
            conf.write_text(
                f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                f"persistence true\npersistence_location {self.dir}/\n"
                "max_queued_messages 0\n"
            )
            self.procs.append(
                subprocess.Popen(
                    [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            time.sleep(0.3)
            return f"mqtt://127.0.0.1:{port}"
        print(
            "notice: Mosquitto is not installed; using the embedded Python broker (amqtt, "
            "MQTT 3.1.1). Install mosquitto for the production setup.",
            flush=True,
        )
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                broker = Broker(config)
                await broker.start()
                ready.set()
                await asyncio.Event().wait()

            asyncio.run(main())

        self.broker_thread = threading.Thread(target=run, daemon=True)
        self.broker_thread.start()
        ready.wait(10)
        return f"mqtt://127.0.0.1:{port}?protocol=3.1.1"

    def start(self) -> None:
        mqtt_url = self.start_broker()
        self._spawn(
            [
                "hub",
                "--data-dir",
                str(self.dir / "hub"),
                "--mqtt-url",
                mqtt_url,
                "--listen",
                f"127.0.0.1:{self.hub_port}",
            ],
            "hub.log",
            {"STOREGW_HUB_TOKEN": self.hub_token},
        )
        hq = {"Authorization": f"Bearer {self.hub_token}"}
        _wait(f"http://127.0.0.1:{self.hub_port}/health", hq)
        for store, name in self.stores:
            httpx.put(
                f"http://127.0.0.1:{self.hub_port}/api/stores/{store}",
                json={"id": store, "name": name},
                headers=hq,
                timeout=5,
            )
            port = _free_port()
            self.edges[store] = port
            self._spawn(
                [
                    "edge",
                    "--store",
                    store,
                    "--gateway",
                    "gw1",
                    "--data-dir",
                    str(self.dir / store),
                    "--mqtt-url",
                    mqtt_url,
                    "--listen",
                    f"127.0.0.1:{port}",
                ],
                f"{store}.log",
                {"STOREGW_EDGE_TOKEN": self.lane_token},
            )
        for port in self.edges.values():
            _wait(f"http://127.0.0.1:{port}/health", {})

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _cashiers(chain: Chain, rate: float, stop: threading.Event, made: dict[str, int]) -> None:
    rng = random.Random(7)
    lane = {"Authorization": f"Bearer {chain.lane_token}"}
    clients = {
        s: httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=lane, timeout=5)
        for s, p in chain.edges.items()
    }
    interval = 1.0 / (rate * len(clients))
    while not stop.is_set():
        store = rng.choice(list(clients))
        try:
            r = clients[store].post(f"/api/lanes/{rng.randint(1, 3)}/sales", json=basket(rng))
            if r.status_code == 201:
                made[store] += 1
        except httpx.HTTPError:
            pass
        stop.wait(rng.expovariate(1 / interval))


def _view(chain: Chain, made: dict[str, int], started: float) -> str:
    hq = {"Authorization": f"Bearer {chain.hub_token}"}
    hub = f"http://127.0.0.1:{chain.hub_port}"
    rows = [
        f"storegw demo — {len(chain.stores)} stores, hub {hub} (token {chain.hub_token}), "
        f"up {time.monotonic() - started:.0f} s",
        f"{'store':<14}{'name':<10}{'made':>7}{'delivered':>11}{'hub sales':>11}"
        f"{'hub total ¥':>14}",
    ]
    try:
        status = httpx.get(f"{hub}/api/ingest/status", headers=hq, timeout=3).json()
        seqs = {g["store"]: g["last_seq"] for g in status["gateways"]}
        for store, name in chain.stores:
            s = httpx.get(f"{hub}/api/stores/{store}", headers=hq, timeout=3).json()
            j = httpx.get(
                f"http://127.0.0.1:{chain.edges[store]}/api/journal",
                headers={"Authorization": f"Bearer {chain.lane_token}"},
                timeout=3,
            ).json()
            rows.append(
                f"{store:<14}{name:<8}{made[store]:>7}{j['last_acked_seq']:>11}"
                f"{s.get('sales_count', 0):>11}"
                f"{fen_to_yuan(s.get('sales_total_fen', 0)):>14}"
            )
            del seqs[store]
    except (httpx.HTTPError, KeyError) as err:
        rows.append(f"(hub not answering: {err})")
    rows.append("Ctrl-C stops everything.")
    return "\n".join(rows)


def main(args: argparse.Namespace) -> None:
    for noisy in ("httpx", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="storegw-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    chain = Chain(data_dir, args.stores)
    stop = threading.Event()
    made = {s: 0 for s, _ in chain.stores}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"starting a demo chain in {data_dir} …", flush=True)
    try:
        chain.start()
        started = time.monotonic()
        seller = threading.Thread(target=_cashiers, args=(chain, args.rate, stop, made))
        seller.start()
        tty = sys.stdout.isatty()
        while not stop.wait(1.0):
            view = _view(chain, made, started)
            print(("\x1b[H\x1b[2J" if tty else "") + view, flush=True)
            if args.seconds and time.monotonic() - started >= args.seconds:
                stop.set()
        seller.join()
        with contextlib.suppress(Exception):
            time.sleep(2)  # let the last sales reach the hub, then show the final count
            print(_view(chain, made, started), flush=True)
    finally:
        chain.stop()
        print("demo stopped.", flush=True)
