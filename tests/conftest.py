"""Real parts for every test: a Mosquitto of the test's own on a free port, SQLite files in
tmp_path, PostgreSQL when STOREGW_TEST_PG_URL names a server, and the storegw processes
themselves (started with the CLI, killed for real)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

PG_URL = os.environ.get("STOREGW_TEST_PG_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Any,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
    abort: Any = None,
) -> Any:
    """Poll `predicate` until it is truthy. `abort` (returning a reason or None) ends the wait
    at once, e.g. when the process being waited for has died."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if abort is not None and (reason := abort()):
            raise AssertionError(f"gave up waiting for {what}: {reason}")
        try:
            last = predicate()
        except (httpx.HTTPError, OSError) as err:
            last = err
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


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

    def start(self) -> None:
        # A port probed free may be taken before mosquitto binds it (other tests run beside
        # us): on the first start, a bind failure retries on a new port. A restart keeps its
        # port, since the clients hold the URL.
        for _attempt in range(5):
            if self._launch():
                self.started_once = True
                return
            if self.started_once:
                break
            self._configure(free_port())
        raise AssertionError(f"mosquitto could not listen on 127.0.0.1:{self.port}")

    def _launch(self) -> bool:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with open(self.dir / "mosquitto.log", "ab") as log:
            proc = self.proc = subprocess.Popen(
                [exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0 and proc.poll() is None

        def died() -> str | None:
            return None if proc.poll() is None else f"exited with {proc.returncode}"

        try:
            wait_until(listening, 10, what="mosquitto to listen", abort=died)
            time.sleep(0.05)  # a bind failure ends it at once; make sure it was not someone else
            if proc.poll() is not None:
                return False
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


DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def make_test_pki(folder: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost, made per test: no
    secret lives in the repository."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    def cert(subject: str, key: Any, issuer: x509.Name | None, signer: Any) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        b = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )
        if issuer is None:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        else:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
                ),
                critical=False,
            )
        return b.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = cert("storegw test CA", ca_key, None, ca_key)
    server = cert("127.0.0.1", server_key, ca.subject, ca_key)
    paths = {n: folder / f"{n}.{'key' if n.endswith('key') else 'crt'}" for n in ("ca", "server")}
    paths["server_key"] = folder / "server.key"
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["server"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["server_key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class ShippedBroker(Broker):
    """Mosquitto running deploy/mosquitto/storegw.conf and storegw.acl as shipped — TLS,
    per-gateway passwords, the ACL — with only ports and file paths substituted. Accounts are
    made by deploy/provision-gateway.sh (gateways) and mosquitto_passwd (the hub).

    Mosquitto started as root drops to the `mosquitto` user, which cannot enter pytest's
    private tmp dirs: its files live in a folder of their own under the system temp dir."""

    def __init__(self) -> None:
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="storegw-broker-"))
        workdir.chmod(0o755)
        self.pki = make_test_pki(workdir / "certs")
        self.passwd = workdir / "storegw.passwd"
        self.acl = workdir / "storegw.acl"
        self.passwd.touch()
        shutil.copy(DEPLOY / "mosquitto" / "storegw.acl", self.acl)
        super().__init__(workdir, persistence=True)

    def _configure(self, port: int) -> None:
        self.port = port  # the TLS listener (8883 as shipped)
        self.plain_port = free_port()  # the hub's local listener (1883 as shipped)
        text = (DEPLOY / "mosquitto" / "storegw.conf").read_text()
        for shipped, here in [
            ("listener 1883 127.0.0.1", f"listener {self.plain_port} 127.0.0.1"),
            ("listener 8883", f"listener {port}"),
            ("/etc/mosquitto/certs/server.crt", str(self.pki["server"])),
            ("/etc/mosquitto/certs/server.key", str(self.pki["server_key"])),
            ("/etc/mosquitto/certs/ca.crt", str(self.pki["ca"])),
            ("/etc/mosquitto/storegw.passwd", str(self.passwd)),
            ("/etc/mosquitto/storegw.acl", str(self.acl)),
            ("/var/lib/mosquitto/", f"{self.dir}/"),
        ]:
            assert text.count(shipped) == 1, f"storegw.conf no longer says {shipped!r}"
            text = text.replace(shipped, here)
        self.conf.write_text(text)
        self._give_to_mosquitto()

    def _give_to_mosquitto(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        try:
            who = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chown(path, who.pw_uid, who.pw_gid)

    def client_url(self, username: str, password_file: Path) -> str:
        """What a gateway or the hub is given: mqtts://, the test CA, its account."""
        from edge.mqtt_link import url_with

        return url_with(
            f"mqtts://127.0.0.1:{self.port}",
            ca_file=str(self.pki["ca"]),
            username=username,
            password_file=str(password_file),
        )

    def _reload(self) -> str:
        running = self.proc is not None and self.proc.poll() is None
        return f"kill -HUP {self.proc.pid}" if running and self.proc else "true"

    def add_gateway(self, store: str, gateway: str) -> Path:
        """Provision a gateway as an operator would; returns its password file."""
        out = subprocess.run(
            ["bash", str(DEPLOY / "provision-gateway.sh"), store, gateway, "127.0.0.1"],
            env={
                **os.environ,
                "STOREGW_MOSQUITTO_DIR": str(self.dir),
                "STOREGW_BROKER_RELOAD": self._reload(),
            },
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        assert env["STOREGW_MQTT_USERNAME"] == f"{store}/{gateway}"
        self._give_to_mosquitto()
        return self._password_file(f"{store}-{gateway}", env["STOREGW_MQTT_PASSWORD"])

    def add_user(self, username: str) -> Path:
        """An account the ACL names explicitly (the hub's). Make it before start()."""
        password = uuid.uuid4().hex
        subprocess.run(["mosquitto_passwd", "-b", str(self.passwd), username, password], check=True)
        self._give_to_mosquitto()
        return self._password_file(username, password)

    def _password_file(self, name: str, password: str) -> Path:
        path = self.dir / "clients" / f"{name}.password"
        path.parent.mkdir(exist_ok=True)
        path.write_text(password + "\n")
        return path

    def log(self) -> str:
        return (self.dir / "mosquitto.log").read_text(errors="replace")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.skip("STOREGW_TEST_PG_URL is not set (CI sets it)")
    name = f"storegw_{uuid.uuid4().hex[:12]}"
    _pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The hub's database: its default SQLite file (None), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")


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
            [sys.executable, "-m", "hub.cli", *self.args],
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

    def __init__(self, args: list[str], data_dir: Path, env: dict[str, str], token: str) -> None:
        super().__init__(args, data_dir.parent / f"{data_dir.name}.log", env)
        self.port_file = data_dir.parent / f"{data_dir.name}.port"
        self.port = 0
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

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
                wait_until(self.port_file.exists, 30, what="the port file", abort=self.died)
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
                30,
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
            {"STOREGW_EDGE_TOKEN": "test-lane-token"},
            "test-lane-token",
        )

    def start(self, wait: bool = True) -> None:
        super().start()
        if wait:
            wait_until(
                lambda: self.http.get("/health").status_code == 200,
                30,
                what="edge up",
                abort=self.died,
            )

    def journal(self) -> dict[str, Any]:
        return self.http.get("/api/journal").json()

    def sell(self, n: int = 0, key: str | None = None, member: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.post("/api/lanes/1/sales", json=sale_body(n, member), headers=headers)


def sale_body(n: int = 0, member: str | None = None) -> dict[str, Any]:
    """A realistic 5-line sale: packaged goods and one weighed item, paid in cash (odd n:
    a rounded note, with change; even n: exact)."""
    lines = [
        {
            "sku": "6901028075015",
            "name": "农夫山泉 550ml",
            "qty_milli": 2000,
            "unit_price_fen": 200,
        },
        {
            "sku": "6920459905012",
            "name": "康师傅红烧牛肉面",
            "qty_milli": 1000,
            "unit_price_fen": 450 + n % 7,
        },
        {
            "sku": "2000123",
            "name": "富士苹果",
            "qty_milli": 1000 + n % 900,
            "unit_price_fen": 1280,
            "weighed": True,
            "category": "fresh",
        },
        {
            "sku": "6902538004045",
            "name": "伊利纯牛奶 250ml",
            "qty_milli": 3000,
            "unit_price_fen": 350,
            "discount_fen": 50,
        },
        {"sku": "6934502301851", "name": "奥利奥饼干", "qty_milli": 1000, "unit_price_fen": 990},
    ]
    from protocols.pricing import line_total

    total = sum(
        line_total(x["qty_milli"], x["unit_price_fen"], x.get("discount_fen", 0)) for x in lines
    )
    # cash, as a lane books it: a card or QR tender must name a payment taken through the
    # gateway first (docs/payments.md), and the chain tests need no payment devices
    pay = {"tender": "cash", "amount_fen": (total // 1000 + 1) * 1000 if n % 2 else total}
    body: dict[str, Any] = {"cashier": "张丽", "lines": lines, "payments": [pay]}
    if member:
        body["member_id"] = member
    return body
