"""The real parts tests and benchmarks start: a Mosquitto of their own, and the storegw hub and
gateway as processes started through the CLI (`python -m storegw.cli`), killed for real. Servers
bind port 0 and report the port they got in a port file, so no other process can take it
between a probe and the bind."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from rig.samples import sale_body
from rig.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listens(pid: int, ports: list[int]) -> bool:
    """Whether process `pid` holds a listening TCP socket on each of `ports` (Linux /proc)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    inodes = set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    mine: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                mine.add(int(f[1].rsplit(":", 1)[1], 16))
    return set(ports) <= mine


class Broker:
    """A Mosquitto process with a config written by the test."""

    def __init__(self, workdir: Path, persistence: bool = False) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.persistence = persistence
        self.started_once = False
        self.conf = self.dir / "mosquitto.conf"
        self._configure(free_port())
        self.proc: subprocess.Popen[bytes] | None = None

    def _configure(self, port: int) -> None:
        self.port = port
        persistence = self.persistence
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {self.dir}/\n"
            "max_queued_messages 0\n"  # 0 = no limit: the hub's session must never drop QoS 1
            "max_inflight_messages 0\n"
            "log_type error\nlog_type warning\n"
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def ports(self) -> list[int]:
        """Every port the config has it listen on."""
        return [self.port]

    def start(self) -> None:
        # A port probed free may be taken before mosquitto binds it (other tests run beside
        # us): on the first start, a bind failure retries on new ports. A restart keeps its
        # ports, since the clients hold the URL.
        for _attempt in range(5):
            if self._launch():
                self.started_once = True
                return
            if self.started_once:
                break
            self._configure(free_port())
        raise AssertionError(f"mosquitto could not listen on 127.0.0.1:{self.ports}")

    def _launch(self) -> bool:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with open(self.dir / "mosquitto.log", "ab") as log:
            proc = self.proc = subprocess.Popen(
                [exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )

        def died() -> str | None:
            return None if proc.poll() is None else f"exited with {proc.returncode}"

        try:
            # listening *itself*: a port that answers may be another test's broker that took
            # it first, while ours has not yet tried to bind (a loaded machine: seconds)
            wait_until(
                lambda: listens(proc.pid, self.ports), 10, what="mosquitto to listen", abort=died
            )
        except AssertionError:
            if proc.poll() is None:
                raise
            return False
        return True

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


class Proc:
    """A storegw process started through the real CLI."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "storegw.cli", *self.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
        )

    def died(self) -> str | None:
        """Why waiting for this process is pointless (it has exited), with its log."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"exited with {self.proc.returncode}; log:\n{self.tail()}"

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class Server(Proc):
    """A storegw process serving HTTP. It binds the port itself and reports it in a port file,
    so no other process can take a port between our probe and its bind. A restart asks for the
    port it had (clients hold it); if that is gone by then, it takes a new one."""

    # Generous, because a child that dies ends the wait at once (with its log); on a loaded
    # 2-core machine a hub's imports and migrations alone have taken over 30 s.
    start_timeout = 90.0

    def __init__(self, args: list[str], data_dir: Path, env: dict[str, str], token: str) -> None:
        super().__init__(args, data_dir.parent / f"{data_dir.name}.log", env)
        self.port_file = data_dir.parent / f"{data_dir.name}.port"
        self.port = 0
        # 30 s: on a loaded machine the first request waits on start-up work (10-15 s seen)
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def start(self) -> None:
        base_args = self.args
        for want in [self.port, 0] if self.port else [0]:
            self.port_file.unlink(missing_ok=True)
            self.args = [
                *base_args,
                "--listen",
                f"127.0.0.1:{want}",
                "--port-file",
                str(self.port_file),
            ]
            try:
                super().start()
            finally:
                self.args = base_args
            try:
                wait_until(
                    self.port_file.exists, self.start_timeout, what="the port file", abort=self.died
                )
            except AssertionError:
                if self.died() is None or want == 0:
                    raise
                continue  # the old port was taken meanwhile: take any
            self.port = int(self.port_file.read_text())
            self.http.base_url = httpx.URL(f"http://127.0.0.1:{self.port}")
            return

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no cleanup, no last words
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                # a stop that hangs is a bug (systemd would kill it too, mid-write)
                raise AssertionError(f"{self.log.stem} ignored SIGTERM for 15 s; killed") from None


class Hub(Server):
    def __init__(self, data_dir: Path, mqtt_url: str, db_url: str | None = None) -> None:
        self.data_dir = data_dir
        args = ["hub", "--data-dir", str(data_dir), "--mqtt-url", mqtt_url]
        if db_url:
            args += ["--database-url", db_url]
        super().__init__(args, data_dir, {"STOREGW_HUB_TOKEN": "test-hq-token"}, "test-hq-token")
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self, wait: bool = True) -> None:
        super().start()
        if wait:
            wait_until(
                lambda: self.http.get("/health").json()["mqtt"],
                self.start_timeout,
                what="hub up",
                abort=self.died,
            )

    def status(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.http.get("/api/ingest/status").json()["gateways"]
        return {(r["store"], r["gateway"]): r for r in rows}

    def last_seq(self, store: str, gateway: str) -> int:
        return int(self.status().get((store, gateway), {}).get("last_seq", 0))

    def sale_ids(self, store: str) -> list[str]:
        ids: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if after:
                params["after"] = after
            page = self.http.get(f"/api/stores/{store}/sales", params=params).json()
            ids += [s["id"] for s in page["sales"]]
            after = page["next_cursor"]
            if not after:
                return ids


class Edge(Server):
    def __init__(
        self, data_dir: Path, store: str, gateway: str, mqtt_url: str, ack_timeout: float = 2.0
    ) -> None:
        self.store, self.gateway = store, gateway
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [
                "edge",
                "--store",
                store,
                "--gateway",
                gateway,
                "--data-dir",
                str(data_dir),
                "--mqtt-url",
                mqtt_url,
                "--ack-timeout",
                str(ack_timeout),
            ],
            data_dir,
            # the lanes the suite's tests use (a gateway refuses undeclared lanes)
            {"STOREGW_EDGE_TOKEN": "test-lane-token", "STOREGW_LANES": "0-100,Lane_07-b,back"},
            "test-lane-token",
        )

    def start(self, wait: bool = True) -> None:
        super().start()
        if wait:
            wait_until(
                lambda: self.http.get("/health").status_code == 200,
                self.start_timeout,
                what="edge up",
                abort=self.died,
            )

    def journal(self) -> dict[str, Any]:
        return self.http.get("/api/journal").json()

    def sell(self, n: int = 0, key: str | None = None, member: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.post("/api/lanes/1/sales", json=sale_body(n, member), headers=headers)
