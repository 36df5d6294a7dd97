"""Mosquitto as deploy/ ships it (TLS, per-gateway accounts, the ACL), for tests that check the
shipped configuration itself; and the throw-away PKI it needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rig.processes import Broker, Hub, free_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"  # the shipped configuration


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
    # an empty CRL: the certificate listener checks every client against its CA's CRL
    paths["crl"] = folder / "storegw.crl"
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    paths["crl"].write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return paths


def hub_ca_pki(hub_data_dir: Path) -> Callable[[Path], dict[str, Path]]:
    """The broker's files as an operator makes them from the hub's CA (hub/pairing): a
    server certificate it signed, its CA, its CRL. The CA is made on first use, as the hub
    does at its first start, so the broker can start before the hub."""

    def make(folder: Path) -> dict[str, Path]:
        from hub.pairing.authority import Authority

        authority = Authority.load_or_create(hub_data_dir)
        paths = authority.issue_server(folder, ["127.0.0.1", "localhost"])
        paths["crl"] = folder / "storegw.crl"
        shutil.copy(authority.crl_path, paths["crl"])
        return paths

    return make


class ShippedBroker(Broker):
    """Mosquitto running deploy/mosquitto/storegw.conf and storegw.acl as shipped — TLS,
    per-gateway passwords, the ACL — with only ports and file paths substituted. Accounts are
    made by deploy/provision-gateway.sh (gateways) and mosquitto_passwd (the hub).

    Mosquitto started as root drops to the `mosquitto` user, which cannot enter pytest's
    private tmp dirs: its files live in a folder of their own under the system temp dir."""

    def __init__(self, pki: Callable[[Path], dict[str, Path]] = make_test_pki) -> None:
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="storegw-broker-"))
        workdir.chmod(0o755)
        self.pki = pki(workdir / "certs")
        self.passwd = workdir / "storegw.passwd"
        self.acl = workdir / "storegw.acl"
        self.passwd.touch()
        shutil.copy(DEPLOY / "mosquitto" / "storegw.acl", self.acl)
        # the dynamic-security plugin's administrator, as deploy/README.md makes it
        self.admin_password = workdir / "storegw-admin.password"
        self.admin_password.write_text(uuid.uuid4().hex + "\n")
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(workdir / "dynamic-security.json"),
             "storegw-admin", self.admin_password.read_text().strip()],
            check=True, capture_output=True,
        )  # fmt: skip
        super().__init__(workdir, persistence=True)

    @property
    def ports(self) -> list[int]:
        return [self.port, self.cert_port, self.plain_port]

    def _configure(self, port: int) -> None:
        self.port = port  # the password TLS listener (8884 as shipped)
        self.cert_port = free_port()  # the client-certificate TLS listener (8883 as shipped)
        self.plain_port = free_port()  # the hub's local listener (1883 as shipped)
        text = (DEPLOY / "mosquitto" / "storegw.conf").read_text()
        for shipped, here, times in [
            ("listener 1883 127.0.0.1", f"listener {self.plain_port} 127.0.0.1", 1),
            ("listener 8883", f"listener {self.cert_port}", 1),
            ("listener 8884", f"listener {port}", 1),
            ("/etc/mosquitto/certs/server.crt", str(self.pki["server"]), 2),
            ("/etc/mosquitto/certs/server.key", str(self.pki["server_key"]), 2),
            ("/etc/mosquitto/certs/ca.crt", str(self.pki["ca"]), 2),
            ("/etc/mosquitto/certs/storegw.crl", str(self.pki["crl"]), 1),
            ("/etc/mosquitto/storegw.passwd", str(self.passwd), 1),
            ("/etc/mosquitto/storegw.acl", str(self.acl), 1),
            ("/var/lib/mosquitto/", f"{self.dir}/", 2),
        ]:
            assert text.count(shipped) == times, f"storegw.conf no longer says {shipped!r}"
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
        from transport.mqtt_link import url_with

        return url_with(
            f"mqtts://127.0.0.1:{self.port}",
            ca_file=str(self.pki["ca"]),
            username=username,
            password_file=str(password_file),
        )

    def cert_url(self, cert: Path, key: Path, ca: Path | None = None) -> str:
        """mqtts:// to the certificate listener with a client certificate and its key."""
        from transport.mqtt_link import url_with

        return url_with(
            f"mqtts://127.0.0.1:{self.cert_port}",
            ca_file=str(ca or self.pki["ca"]),
            cert_file=str(cert),
            key_file=str(key),
        )

    def cert_hub(self, hub_dir: Path, db_url: str | None = None) -> Hub:
        """The hub on the certificate listener with its own certificate ("hub"), telling paired
        gateways this listener, its pairing hook the shipped deploy/broker-hook.sh acting on
        this broker (not started yet; start the broker first: the hook signals it)."""
        own = hub_dir / "pairing"
        hub = Hub(hub_dir, self.cert_url(own / "hub.crt", own / "hub.key", own / "ca.crt"), db_url)
        hub.args += [
            "--broker-url",
            f"mqtts://127.0.0.1:{self.cert_port}",
            "--pairing-hook",
            f"bash {DEPLOY / 'broker-hook.sh'}",
        ]
        hub.env.update(self.hook_env())
        return hub

    def hook_env(self) -> dict[str, str]:
        """The environment deploy/broker-hook.sh (and provision-gateway.sh) needs to act on
        this broker: its folder, a reload by SIGHUP (the rig owns the process), the
        dynamic-security administrator on the local listener."""
        return {
            "STOREGW_MOSQUITTO_DIR": str(self.dir),
            "STOREGW_BROKER_RELOAD": self._reload(),
            "STOREGW_BROKER_ADMIN_PORT": str(self.plain_port),
            "STOREGW_BROKER_ADMIN_PASSWORD_FILE": str(self.admin_password),
        }

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
