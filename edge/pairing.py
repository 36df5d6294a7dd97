"""Pairing this gateway with the hub's CA, and keeping its certificate fresh.

The technician gives the hub's URL on the admin network page; the gateway makes a key (0600 in
`<data dir>/tls/`, it never leaves the gateway), a CSR with CN "<store>/<gateway>" and a pairing
code, registers them at the hub (`POST /api/pairing/requests`), shows the code (and prints it on
a receipt printer when one is there). Once HQ enters the code, the hub signs the CSR; the
gateway fetches the certificate, the CA and the broker's address, checks the certificate is its
own (its key, its identity), stores them, and moves its uplink to mqtts:// with it. From then on
every start uses the stored certificate. Less than `renew_days` left: it asks the hub for a new
one, signed with the same key (`POST /api/pairing/renewals`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from transport.mqtt_link import url_with

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from edge.uplink import Uplink

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
RENEW_DAYS = 30
# cryptography (about 8 MiB resident with its Rust bindings) is imported where a key, CSR or
# certificate is handled: pairing and renewal, which an idle gateway does not run; a paired
# gateway decides whether to renew from the expiry kept in pairing.json


class PairingError(Exception):
    """Why pairing did not go on; shown on the admin page as it is."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, created with `mode` from the start (a key is never briefly readable)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


class Pairing:
    def __init__(self, store: str, gateway: str, data_dir: Path, *, renew_days: int = RENEW_DAYS):
        self.store, self.gateway = store, gateway
        self.folder = data_dir / "tls"
        self.key_path = self.folder / "client.key"
        self.cert_path = self.folder / "client.pem"  # where edge/admin/status.py looks
        self.ca_path = self.folder / "ca.pem"
        self.state_path = self.folder / "pairing.json"
        self.renew_days = renew_days
        self.uplink: Uplink | None = None
        self.error: str | None = None
        self._poll: asyncio.Task[None] | None = None
        self._renewal: asyncio.Task[None] | None = None

    # --- what is stored -----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _write(self.state_path, json.dumps(state).encode(), 0o600)

    def mqtt_url(self) -> str | None:
        """The broker address with this gateway's certificate, once paired."""
        state = self._state()
        if state.get("state") != "paired" or not self.cert_path.exists():
            return None
        return url_with(
            state["broker_url"],
            ca_file=str(self.ca_path),
            cert_file=str(self.cert_path),
            key_file=str(self.key_path),
        )

    def certificate(self) -> x509.Certificate | None:
        from cryptography import x509

        try:
            return x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        except (OSError, ValueError):
            return None

    def view(self) -> dict[str, Any]:
        """What the admin page shows."""
        state = self._state()
        cert = self.certificate() if state.get("state") == "paired" else None
        return {
            "state": state.get("state", "unpaired"),
            "code": state["pending"]["code"] if state.get("pending") else None,
            "hub_url": state.get("hub_url"),
            "broker_url": state.get("broker_url"),
            "not_after": cert.not_valid_after_utc.isoformat(timespec="seconds") if cert else None,
            "error": self.error,
        }

    # --- pairing ------------------------------------------------------------------------------
    def _key(self, fresh: bool) -> ec.EllipticCurvePrivateKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        if fresh or not self.key_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            self.folder.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write(self.key_path, pem, 0o600)
            return key
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def _csr(self, key: ec.EllipticCurvePrivateKey) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{self.store}/{self.gateway}")])
        csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    async def begin(self, hub_url: str, printers: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        """A new key, CSR and code registered at the hub; then wait for HQ in the background."""
        parts = urlsplit(hub_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PairingError("hub URL must be http(s)://host[:port]")
        hub_url = f"{parts.scheme}://{parts.netloc}"
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pending_key = self.folder / "pending.key"  # the paired key stays until this one is signed
        key = ec.generate_private_key(ec.SECP256R1())
        self.folder.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(pending_key, pem, 0o600)
        csr = self._csr(key)
        for _attempt in range(3):  # a code already taken at the hub: draw another
            code = new_code()
            status, body = await self._call(
                "POST", f"{hub_url}/api/pairing/requests", {"code": code, "csr": csr}
            )
            if status != 409:
                break
        if status != 201:
            raise PairingError(
                f"the hub refused the request ({status}): {body.get('detail', body)}"
            )
        # re-pairing a paired gateway keeps its certificate in use until the new one comes
        state = {**self._state(), "code": code, "hub_url": hub_url}
        state["pending"] = {"request_id": body["request_id"], "code": code, "hub_url": hub_url}
        state.setdefault("state", "pending")
        self._save(state)
        self.error = None
        log.info("pairing: code %s registered at %s", code, hub_url)
        for printer in printers:
            await self._print_code(printer, code, hub_url)
        self.watch()
        return self.view()

    def watch(self) -> None:
        """Poll the hub for the pending request (after a restart too)."""
        if self._state().get("pending") and (self._poll is None or self._poll.done()):
            self._poll = asyncio.create_task(self._wait_for_hq(), name="pairing")

    async def _wait_for_hq(self, every_s: float = 2.0) -> None:
        while True:
            pending = self._state().get("pending")
            if not pending:
                return
            url = f"{pending['hub_url']}/api/pairing/requests/{pending['request_id']}"
            try:
                status, body = await self._call("GET", url)
            except PairingError as err:
                self.error = str(err)
                await asyncio.sleep(every_s * 5)
                continue
            if status == 200 and body.get("state") == "approved":
                try:
                    await self._install(body, self.folder / "pending.key")
                except PairingError as err:
                    self.error = str(err)
                    log.error("pairing: %s", err)
                return
            if status != 200 or body.get("state") != "pending":
                self.error = f"the hub says {status}: {body.get('detail') or body.get('state')}"
                log.error("pairing: %s", self.error)
                return
            await asyncio.sleep(every_s)

    async def _install(self, body: dict[str, Any], key_file: Path | None) -> None:
        """Check the certificate is this gateway's, store it, move the uplink onto it."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.oid import NameOID

        key_path = key_file or self.key_path
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        try:
            cert = x509.load_pem_x509_certificate(body["certificate"].encode())
            ca = x509.load_pem_x509_certificate(body["ca"].encode())
            cert.verify_directly_issued_by(ca)
        except (KeyError, ValueError, TypeError) as err:
            raise PairingError(f"the hub's answer holds no valid certificate: {err}") from err
        raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(*raw) != key.public_key().public_bytes(*raw):
            raise PairingError("the certificate is not for this gateway's key")
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if cn != f"{self.store}/{self.gateway}":
            raise PairingError(
                f"the certificate names {cn}, this gateway is {self.store}/{self.gateway}"
            )
        _write(self.ca_path, body["ca"].encode(), 0o644)
        _write(self.cert_path, body["certificate"].encode(), 0o644)
        if key_file and key_file != self.key_path:
            key_file.replace(self.key_path)
        state = self._state()
        state.pop("pending", None)
        state.update(state="paired", broker_url=body["broker_url"])
        state["not_after"] = cert.not_valid_after_utc.isoformat()  # renew_if_due reads it
        self._save(state)
        self.error = None
        log.info(
            "paired: certificate %X for %s until %s; broker %s",
            cert.serial_number, cn, cert.not_valid_after_utc, body["broker_url"],
        )  # fmt: skip
        if self.uplink and (url := self.mqtt_url()):
            await self.uplink.relink(url)

    # --- renewal ------------------------------------------------------------------------------
    async def renew_if_due(self, now: datetime | None = None) -> bool:
        """Ask the hub for a new certificate when less than `renew_days` remain."""
        state = self._state()
        if state.get("state") != "paired" or not state.get("hub_url"):
            return False
        try:  # the expiry stored at install: no certificate parsing (cryptography) every check
            not_after = datetime.fromisoformat(state["not_after"])
        except (KeyError, TypeError, ValueError):  # paired before it was stored
            cert = self.certificate()
            if cert is None:
                return False
            not_after = cert.not_valid_after_utc
        now = now or datetime.now(UTC)
        if not_after - now >= timedelta(days=self.renew_days):
            return False
        status, body = await self._call(
            "POST",
            f"{state['hub_url']}/api/pairing/renewals",
            {"certificate": self.cert_path.read_text(), "csr": self._csr(self._key(fresh=False))},
        )
        if status != 200:
            self.error = f"renewal refused ({status}): {body.get('detail', body)}"
            log.error("pairing: %s", self.error)
            return False
        await self._install(body, None)
        return True

    def keep_renewed(self, every_s: float = 6 * 3600) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.renew_if_due()
                except (PairingError, OSError) as err:
                    log.warning("certificate renewal failed, trying again later: %s", err)
                await asyncio.sleep(every_s)

        self._renewal = asyncio.create_task(loop(), name="renewal")

    async def stop(self) -> None:
        for task in (self._poll, self._renewal):
            if task:
                task.cancel()

    # --- helpers ------------------------------------------------------------------------------
    async def _call(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with (
                aiohttp.ClientSession(timeout=timeout) as s,
                s.request(method, url, json=body) as r,
            ):
                try:
                    data = await r.json(content_type=None)
                except ValueError:
                    data = {"detail": (await r.text())[:200]}
                return r.status, data if isinstance(data, dict) else {"detail": data}
        except (aiohttp.ClientError, TimeoutError) as err:
            raise PairingError(f"hub not reachable at {url}: {err or type(err).__name__}") from err

    async def _print_code(self, printer: Any, code: str, hub_url: str) -> None:
        """The code on a slip, for the technician who calls HQ from the back office."""
        from protocols.escpos.receipt import Document

        try:
            doc = Document(printer.paper)
            doc.init()
            doc.style(align="center", bold=True, tall=True)
            doc.line("配对码 PAIRING CODE")
            doc.line(code)
            doc.style()
            doc.pair("网关", f"{self.store}/{self.gateway}")
            doc.pair("总部", hub_url)
            doc.cut()
            # a slip that is no sale: queued as the print queue's "test" kind, printed at once
            if printer.queue.add(printer.spec.id, "test", bytes(doc.out)) is None:
                raise RuntimeError("the print queue refused the slip")
            await printer.print_pending()
            log.info("pairing code printed on %s", printer.spec.id)
        except Exception as err:  # a printer problem never stops pairing: the page shows it
            log.warning("pairing code not printed on %s: %s", getattr(printer, "spec", "?"), err)
