"""The chain's small certificate authority, kept in the hub's data dir (never in the repo):
`pairing/ca.key` + `ca.crt` made at first start, the hub's own client certificate (CN "hub",
the broker ACL's "user hub") for its MQTT connection, the certificates it signs for gateways
(CN "<store>/<gateway>", which the broker takes as the username) and the CRL the broker reads.

Keys are EC P-256 and written 0600. Gateway keys never come here: a gateway sends a CSR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
HUB_DAYS = 365
GATEWAY_DAYS = 90  # short: a gateway renews itself (edge/pairing.py), revocation is the CRL
PEM = serialization.Encoding.PEM


class BadRequest(ValueError):
    """A CSR or certificate the authority will not sign or accept; the message says why."""


def write_secret(path: Path, data: bytes) -> None:
    """Create `path` 0600 from the start (never briefly world-readable), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: Any) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def common_name(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def parse_csr(pem: str) -> x509.CertificateSigningRequest:
    """A CSR with a valid self-signature over an acceptable key, or BadRequest."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as err:
        raise BadRequest("csr is not a PEM certificate signing request") from err
    if not csr.is_signature_valid:
        raise BadRequest("csr signature is invalid")
    _check_key(csr.public_key())
    return csr


def _check_key(key: Any) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in (
        "secp256r1",
        "secp384r1",
    ):
        return
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return
    raise BadRequest("key must be EC P-256/P-384 or RSA >= 2048 bits")


@dataclass
class Issued:
    pem: str
    serial: str  # hex, as the CRL and `openssl x509 -serial` show it
    not_after: datetime


class Authority:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
        self.ca_cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Authority:
        """The CA in `<data_dir>/pairing/`, made on first use; the hub's client certificate
        renewed when less than a tenth of its life remains; a CRL present (Mosquitto refuses to
        start with a `crlfile` that does not exist)."""
        folder = data_dir / "pairing"
        if not (folder / "ca.key").exists():
            key = new_key()
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storegw chain CA")])
            now = datetime.now(UTC)
            ca = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .sign(key, hashes.SHA256())
            )
            write_public(folder / "ca.crt", ca.public_bytes(PEM))
            write_secret(folder / "ca.key", key_pem(key))  # last: its presence means "made"
        authority = cls(folder)
        authority._ensure_hub_cert()
        if not (folder / "crl.pem").exists():
            authority.write_crl([])
        return authority

    @property
    def ca_pem(self) -> str:
        return self.ca_cert.public_bytes(PEM).decode()

    @property
    def crl_path(self) -> Path:
        return self.folder / "crl.pem"

    def _ensure_hub_cert(self) -> None:
        crt, key_path = self.folder / "hub.crt", self.folder / "hub.key"
        if crt.exists():
            cert = x509.load_pem_x509_certificate(crt.read_bytes())
            left = cert.not_valid_after_utc - datetime.now(UTC)
            if left > timedelta(days=HUB_DAYS / 10):
                return
        key = new_key()
        issued = self.sign(key.public_key(), "hub", days=HUB_DAYS)
        write_secret(key_path, key_pem(key))
        write_public(crt, issued.pem.encode())

    def sign(
        self,
        public_key: Any,
        cn: str,
        *,
        days: int = GATEWAY_DAYS,
        server_names: list[str] = (),  # type: ignore[assignment]
        now: datetime | None = None,
    ) -> Issued:
        """A client certificate for `cn` (or, with server_names, the broker's server one)."""
        now = now or datetime.now(UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if server_names:
            alt: list[x509.GeneralName] = []
            for n in server_names:
                try:
                    alt.append(x509.IPAddress(ip_address(n)))
                except ValueError:
                    alt.append(x509.DNSName(n))
            b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = b.sign(self.ca_key, hashes.SHA256())  # type: ignore[arg-type]
        return Issued(
            cert.public_bytes(PEM).decode(), f"{cert.serial_number:X}", cert.not_valid_after_utc
        )

    def issue_server(self, folder: Path, names: list[str]) -> dict[str, Path]:
        """The broker's server certificate (key made here, for the broker host's operator):
        server.crt, server.key (0600) and ca.crt in `folder`."""
        key = new_key()
        issued = self.sign(key.public_key(), names[0], days=HUB_DAYS, server_names=names)
        paths = {
            n: folder / f
            for n, f in (("server", "server.crt"), ("server_key", "server.key"), ("ca", "ca.crt"))
        }
        write_public(paths["server"], issued.pem.encode())
        write_secret(paths["server_key"], key_pem(key))
        write_public(paths["ca"], self.ca_pem.encode())
        return paths

    def verify_issued(self, pem: str, now: datetime | None = None) -> x509.Certificate:
        """A certificate this CA signed and that is valid now, or BadRequest (revocation is the
        caller's: it lives in the database)."""
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError as err:
            raise BadRequest("certificate is not PEM") from err
        try:
            cert.verify_directly_issued_by(self.ca_cert)
        except (ValueError, TypeError, InvalidSignature) as err:
            raise BadRequest("certificate was not issued by this hub") from err
        now = now or datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise BadRequest("certificate has expired")
        return cert

    def write_crl(self, revoked: list[tuple[str, datetime]]) -> Path:
        """The CRL of every revoked serial (hex) with its revocation time, signed, written
        atomically so the broker never reads half a file. Its next update is the CA's end:
        the broker's copy is pushed at each change (deploy/broker-hook.sh), never fetched, and
        OpenSSL refuses every client once a CRL's next update has passed; a week's CRL would
        lock out the whole chain after a quiet week."""
        now = datetime.now(UTC)
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(now - timedelta(minutes=5))
            .next_update(self.ca_cert.not_valid_after_utc)
        )
        for serial, at in revoked:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(at)
                .build()
            )
        crl = b.sign(self.ca_key, hashes.SHA256())  # type: ignore[arg-type]
        write_public(self.crl_path, crl.public_bytes(PEM))
        return self.crl_path
