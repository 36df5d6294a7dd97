"""`storegw demo`: a small chain on this machine with nothing to configure — a broker
(Mosquitto when installed, otherwise the pure-Python amqtt broker speaking MQTT 3.1.1), the
hub on SQLite with a tier ladder, a welcome coupon and registered members, N stores with one
gateway each, simulated cashiers selling (to members too, some paying with their coupon), and a
live view of sales made, delivered and booked per store and of points, tiers and coupons.

Ctrl-C (or SIGTERM) stops it, at any moment and never hanging: the signal handler only sets a
flag and writes a byte to a pipe (no lock is taken in a handler, so it cannot deadlock the
thread it interrupts). The children run in their own session, so a terminal's Ctrl-C reaches
only the demo, which prints the final table while the hub still answers, then stops them in
order and removes the temporary folder it made."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
MEMBERS = 40
# a ladder low enough that a few minutes of demo selling moves members up
TIERS = [
    ("normal", {"name": "普通", "rank": 0}),
    ("silver", {"name": "银卡", "rank": 1, "discount_pct": 95, "spend_threshold_fen": 20_000}),
    ("gold", {"name": "金卡", "rank": 2, "discount_pct": 90, "spend_threshold_fen": 60_000,
              "points_multiplier_pct": 120}),
]  # fmt: skip
WELCOME = {"name": "新会员满30减5", "kind": "threshold", "amount_fen": 500,
           "threshold_fen": 3000, "valid_days": 30, "trigger": "member.registered"}  # fmt: skip
NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄婷", "周杰", "吴霞"]

_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM it when the demo dies, even by SIGKILL, so no store
    or hub outlives a demo nobody can stop any more (Linux PR_SET_PDEATHSIG)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)


class Stop:
    """A stop request that a signal handler may set: a flag and a byte on a pipe, no lock."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self.requested = False

    def set(self, *_: object) -> None:
        self.requested = True
        with contextlib.suppress(OSError):  # a full pipe already wakes every waiter
            os.write(self._w, b".")

    def wait(self, timeout: float) -> bool:
        """Sleep until stopped or `timeout` passed; whether a stop was requested."""
        if not self.requested:
            with contextlib.suppress(InterruptedError, OSError, ValueError):
                select.select([self._r], [], [], max(timeout, 0))
        return self.requested

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Chain:
    def __init__(self, data_dir: Path, stores: int, stop: Stop, members: int = MEMBERS) -> None:
        self.dir = data_dir
        self.member_count = members
        self.stop_request = stop
        self.stores = STORES[: max(1, min(stores, len(STORES)))]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.hub_port = 0
        self.hub_token = "demo-hq-" + os.urandom(6).hex()
        self.lane_token = "demo-lane-" + os.urandom(6).hex()
        self.edges: dict[str, int] = {}
        self.members: list[str] = []  # hub member ids
        self.welcome: dict[str, str] = {}  # member id -> the unused welcome coupon's code
        self.tmp = data_dir / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    @property
    def hub(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def hq(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.hub_token}"}

    def _popen(self, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        # its own session: a terminal's Ctrl-C goes to the demo only, which stops the children
        # after printing the final table (the hub must still answer for it)
        p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, **kw)
        self.procs.append(p)
        return p

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.dir / log, "ab") as out:
            return self._popen(
                [sys.executable, "-m", "storegw.cli", "--log-level", "WARNING", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                # the children's temporary files live in the demo's folder and go with it
                # (python-escpos makes a temporary folder at import, whatever it is told)
                env={**os.environ, "TMPDIR": str(self.tmp), **env},
            )

    def _port(self, proc: subprocess.Popen[bytes], path: Path, what: str) -> int | None:
        """The port a child reports in its port file; None when a stop was asked meanwhile."""
        deadline = time.monotonic() + 60
        while not self.stop_request.wait(0.1):
            if path.exists():
                return int(path.read_text())
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
        return None

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
            self._popen(
                [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            return f"mqtt://127.0.0.1:{port}"
        print(
            "notice: Mosquitto is not installed; using the embedded Python broker (amqtt, "
            "MQTT 3.1.1). Install mosquitto for the production setup.",
            flush=True,
        )
        import asyncio

        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        ready = threading.Event()  # set by the broker thread, never by a signal handler

        def run() -> None:
            async def main() -> None:
                broker = Broker(config)
                await broker.start()
                ready.set()
                await asyncio.Event().wait()

            asyncio.run(main())

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        return f"mqtt://127.0.0.1:{port}?protocol=3.1.1"

    def start(self) -> bool:
        """Start everything; False when a stop was asked before the chain was up."""
        mqtt_url = self.start_broker()
        hub = self._spawn(
            ["hub", "--data-dir", str(self.dir / "hub"), "--mqtt-url", mqtt_url,
             "--listen", "127.0.0.1:0", "--port-file", str(self.dir / "hub.port")],
            "hub.log",
            {"STOREGW_HUB_TOKEN": self.hub_token},
        )  # fmt: skip
        port = self._port(hub, self.dir / "hub.port", "the hub")
        if port is None:
            return False
        self.hub_port = port
        if not self._until_ok(f"{self.hub}/health"):
            return False
        edges = {}
        for store, name in self.stores:
            r = httpx.put(
                f"{self.hub}/api/stores/{store}",
                json={"id": store, "name": name},
                headers=self.hq,
                timeout=10,
            )
            r.raise_for_status()
            edges[store] = self._spawn(
                ["edge", "--store", store, "--gateway", "gw1", "--data-dir", str(self.dir / store),
                 "--mqtt-url", mqtt_url, "--listen", "127.0.0.1:0",
                 "--port-file", str(self.dir / f"{store}.port")],
                f"{store}.log",
                {"STOREGW_EDGE_TOKEN": self.lane_token},
            )  # fmt: skip
        self.set_up_loyalty()  # while the gateways start
        for store, proc in edges.items():
            port = self._port(proc, self.dir / f"{store}.port", f"the gateway of {store}")
            if port is None:
                return False
            self.edges[store] = port
        return True

    def _until_ok(self, url: str) -> bool:
        deadline = time.monotonic() + 60
        while not self.stop_request.wait(0.1):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, headers=self.hq, timeout=2).status_code == 200:
                    return True
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
        return False

    def set_up_loyalty(self) -> None:
        """A tier ladder, a welcome coupon every new member gets, and the members the cashiers
        sell to — all through the hub's API, as HQ would."""
        with httpx.Client(base_url=self.hub, headers=self.hq, timeout=10) as api:
            for code, tier in TIERS:
                api.put(f"/api/tiers/{code}", json=tier).raise_for_status()
            api.post("/api/coupons/templates", json=WELCOME).raise_for_status()
            rng = random.Random(11)
            for n in range(1, self.member_count + 1):
                if self.stop_request.requested:
                    return
                r = api.post(
                    "/api/members",
                    json={"name": rng.choice(NAMES), "phone": f"139{n:08d}",
                          "marketing_consent": True, "channel": "api"},
                )  # fmt: skip
                r.raise_for_status()
                self.members.append(r.json()["id"])
            for member in self.members:
                got = api.get(f"/api/members/{member}/coupons", params={"status": "issued"})
                for c in got.json()["coupons"]:
                    self.welcome[member] = c["code"]

    def logs(self, lines: int = 15) -> str:
        """The end of every child's log: all there is to read once the folder is removed."""
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted(self.dir.glob("*.log"))
        )

    def stop(self) -> None:
        for p in reversed(self.procs):  # the stores first, then the hub, the broker last
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _sale(chain: Chain, rng: random.Random, used: dict[str, str]) -> dict[str, Any]:
    """A basket; members are the chain's own, and a member's first basket of ¥30 or more pays
    ¥5 less with the welcome coupon."""
    sale = basket(rng)
    if "member_id" not in sale or not chain.members:
        return sale
    member = rng.choice(chain.members)
    sale["member_id"] = member
    code = chain.welcome.pop(member, None)
    gross = sum(ln["qty_milli"] * ln["unit_price_fen"] // 1000 for ln in sale["lines"])
    if code is None:
        return sale
    if gross < 3000 + 1000:  # comfortably above the threshold after line discounts
        chain.welcome[member] = code
        return sale
    off = WELCOME["amount_fen"]
    sale["coupons"] = [code]
    sale["discounts"] = [{"code": code, "amount_fen": off, "description": WELCOME["name"]}]
    pay = sale["payments"][0]
    if pay["tender"] != "cash":  # exact electronic payment; cash just gets more change
        pay["amount_fen"] -= off
    used[code] = member
    return sale


def _cashiers(
    chain: Chain, rate: float, stop: Stop, made: dict[str, int], used: dict[str, str]
) -> None:
    rng = random.Random(7)
    lane = {"Authorization": f"Bearer {chain.lane_token}"}
    clients = {
        s: httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=lane, timeout=5)
        for s, p in chain.edges.items()
    }
    interval = 1.0 / (rate * len(clients))
    while not stop.requested:
        store = rng.choice(list(clients))
        try:
            r = clients[store].post(
                f"/api/lanes/{rng.randint(1, 3)}/sales", json=_sale(chain, rng, used)
            )
            if r.status_code == 201:
                made[store] += 1
        except httpx.HTTPError:
            pass
        stop.wait(rng.expovariate(1 / interval))
    for c in clients.values():
        c.close()


class View:
    def __init__(self, chain: Chain, made: dict[str, int], used: dict[str, str]) -> None:
        self.chain, self.made, self.used = chain, made, used
        self.started = time.monotonic()
        self.tier_of: dict[str, str] = {}
        self.after = 0
        self.redeemed: set[str] = set()
        self.booked: dict[str, int] = {}
        self.delivered: dict[str, int] = {}

    def _loyalty(self, hub: httpx.Client) -> str:
        while True:  # the tier event stream, followed from where the last view stopped
            page = hub.get("/api/tiers/changes", params={"after": self.after, "limit": 1000})
            body = page.json()
            for c in body["changes"]:
                self.tier_of[c["member_id"]] = c["to"]
            if body["next_after"] == self.after:
                break
            self.after = body["next_after"]
        tiers = {code: 0 for code, _ in TIERS}
        for code in self.tier_of.values():
            tiers[code] = tiers.get(code, 0) + 1
        for code, member in list(self.used.items()):
            if code not in self.redeemed:
                got = hub.get(f"/api/members/{member}/coupons", params={"status": "redeemed"})
                if any(c["code"] == code for c in got.json()["coupons"]):
                    self.redeemed.add(code)
        points = hub.get("/api/points/liability").json()["outstanding_points"]
        issues = len(hub.get("/api/loyalty/issues").json()["issues"])
        names = dict(TIERS)
        ladder = " · ".join(f"{names[c]['name']} {n}" for c, n in tiers.items() if c in names)
        return (
            f"members {len(self.chain.members)}: {ladder} | points outstanding {points:,} | "
            f"welcome coupons used {len(self.used)}, redeemed at the hub {len(self.redeemed)} | "
            f"loyalty issues {issues}"
        )

    def render(self) -> str:
        chain = self.chain
        rows = [
            f"storegw demo — {len(chain.stores)} stores, hub {chain.hub} "
            f"(token {chain.hub_token}), up {time.monotonic() - self.started:.0f} s",
            f"{'store':<14}{'name':<10}{'made':>7}{'delivered':>11}{'hub sales':>11}"
            f"{'hub total ¥':>14}",
        ]
        lane = {"Authorization": f"Bearer {chain.lane_token}"}
        try:
            with httpx.Client(base_url=chain.hub, headers=chain.hq, timeout=3) as hub:
                for store, name in chain.stores:
                    s = hub.get(f"/api/stores/{store}").json()
                    j = httpx.get(
                        f"http://127.0.0.1:{chain.edges[store]}/api/journal",
                        headers=lane,
                        timeout=3,
                    ).json()
                    self.booked[store] = s.get("sales_count", 0)
                    self.delivered[store] = j["last_acked_seq"]
                    rows.append(
                        f"{store:<14}{name:<8}{self.made[store]:>7}{j['last_acked_seq']:>11}"
                        f"{s.get('sales_count', 0):>11}"
                        f"{fen_to_yuan(s.get('sales_total_fen', 0)):>14}"
                    )
                rows.append(self._loyalty(hub))
        except (httpx.HTTPError, KeyError, ValueError) as err:
            rows.append(f"(hub or store not answering: {err})")
        return "\n".join(rows)

    def settled(self) -> bool:
        return all(self.booked.get(s, -1) >= self.made[s] for s, _ in self.chain.stores)


def main(args: argparse.Namespace) -> None:
    for noisy in ("httpx", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = Stop()
    previous = {sig: signal.signal(sig, stop.set) for sig in (signal.SIGINT, signal.SIGTERM)}
    own_dir = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="storegw-demo-"))
    chain: Chain | None = None
    seller: threading.Thread | None = None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        chain = Chain(data_dir, args.stores, stop, getattr(args, "members", MEMBERS))
        made = {s: 0 for s, _ in chain.stores}
        used: dict[str, str] = {}
        print(f"starting a demo chain in {data_dir} …", flush=True)
        if not chain.start() or stop.requested:
            return
        view = View(chain, made, used)
        seller = threading.Thread(target=_cashiers, args=(chain, args.rate, stop, made, used))
        seller.start()
        tty = sys.stdout.isatty()
        while not stop.wait(1.0):
            text = view.render()
            print(
                ("\x1b[H\x1b[2J" if tty else "") + text + "\nCtrl-C stops everything.", flush=True
            )
            if args.seconds and time.monotonic() - view.started >= args.seconds:
                stop.set()
        seller.join()
        seller = None
        deadline = time.monotonic() + 5  # the last sales reach the hub, then the final count
        text = view.render()
        while not view.settled() and time.monotonic() < deadline:
            time.sleep(0.2)
            text = view.render()
        print("final:\n" + text, flush=True)
    except Exception:
        if chain is not None:
            print(chain.logs(), file=sys.stderr, flush=True)
        raise
    finally:
        stop.set()
        if seller is not None:
            seller.join()
        if chain is not None:
            chain.stop()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.close()
        print("demo stopped.", flush=True)
