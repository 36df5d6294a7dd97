"""Pairing's invariants: a code is pending at most once and approved at most once (a conditional
UPDATE claims it before anything is signed); the CN of a gateway's certificate is what HQ
approved, never what the gateway asked for; a renewal keeps the identity and the key of a
certificate that is still valid and not revoked; decommissioning revokes every certificate of
the gateway and rewrites the CRL the broker reads."""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.pairing.authority import Authority, BadRequest, common_name, parse_csr
from hub.pairing.models import GatewayCertificate, PairingRequest
from protocols import topics

log = logging.getLogger(__name__)

CODE_RE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")  # what edge/pairing.py draws: no 0/O, 1/I
_ID = re.compile(topics.ID_PATTERN)
PENDING_FOR = timedelta(hours=24)
MAX_PENDING = 1000  # the open endpoint cannot fill the table


class Refused(Exception):
    """A pairing call refused with a reason the caller may see: invalid input unless a
    subclass says more (hub/http_errors.STATUS maps each class to its HTTP answer)."""


class PairingNotFound(Refused):
    """No such pairing request, or none pending with this code."""


class PairingConflict(Refused):
    """The code is taken, already used, or another gateway's."""


class CertificateRefused(Refused):
    """A renewal for a certificate revoked or not the hub's own."""


class TooManyRequests(Refused):
    """Too many pairing requests pending."""


@dataclass
class Pairing:
    authority: Authority
    broker_url: str  # what a paired gateway is told to connect to (mqtts://host:8883)
    # the operator's command told of each pairing and decommissioning, to update the broker:
    # `<hook> paired|decommissioned STORE GATEWAY`, STOREGW_CRL naming the CRL file
    # (deploy/broker-hook.sh: the gateway's ACL block, the CRL, a reload)
    hook: str | None = None
    # the open endpoints' limits per client address, per hub (not per process: tests run many)
    calls: RateLimit = field(default_factory=lambda: RateLimit(20, 60.0))  # registrations
    polls: RateLimit = field(default_factory=lambda: RateLimit(120, 60.0))  # a poll every 2 s

    def run_hook(self, event: str, store: str, gateway: str) -> str:
        """What the broker was told: "done", "no hook", or why it failed (logged)."""
        if not self.hook:
            return "no hook"
        argv = [*shlex.split(self.hook), event, store, gateway]
        env = {**os.environ, "STOREGW_CRL": str(self.authority.crl_path)}
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.error("broker hook %s %s/%s failed: %s", event, store, gateway, err)
            return f"failed: {err}"
        if done.returncode != 0:
            log.error(
                "broker hook %s %s/%s exited %s: %s",
                event,
                store,
                gateway,
                done.returncode,
                done.stderr.strip()[-500:],
            )
            return f"failed: exit {done.returncode}"
        return "done"

    def delivery(self, pem: str) -> dict[str, Any]:
        return {"certificate": pem, "ca": self.authority.ca_pem, "broker_url": self.broker_url}

    # --- the gateway's side (open endpoints) ------------------------------------------------
    def register(self, db: Session, code: str, csr_pem: str) -> dict[str, Any]:
        if not CODE_RE.match(code):
            raise Refused("code must be 8 of A-Z 2-9 without O, I, 0, 1")
        try:
            csr = parse_csr(csr_pem)
        except BadRequest as err:
            raise Refused(str(err)) from err
        store, gateway = _identity(common_name(csr))
        now = datetime.now(UTC)
        with db.begin():
            pending = db.scalar(
                select(PairingRequest.id)
                .where(
                    PairingRequest.state == "pending", PairingRequest.created_at > now - PENDING_FOR
                )
                .offset(MAX_PENDING - 1)
                .limit(1)
            )
            if pending is not None:
                raise TooManyRequests("too many pending pairing requests; try again later")
            req = PairingRequest(
                id=str(uuid.uuid4()), code=code, store_id=store, gateway_id=gateway, csr=csr_pem
            )
            db.add(req)
            try:
                db.flush()
            except IntegrityError as err:
                raise PairingConflict("code already in use: draw another") from err
        log.info("pairing request %s for %s/%s (code %s)", req.id, store, gateway, code)
        return {"request_id": req.id, "code": code, "store": store, "gateway": gateway}

    def status(self, db: Session, request_id: str) -> dict[str, Any]:
        req = db.get(PairingRequest, request_id)
        if req is None:
            raise PairingNotFound("no such pairing request")
        body: dict[str, Any] = {
            "state": req.state,
            "store": req.store_id,
            "gateway": req.gateway_id,
        }
        if req.state == "approved" and req.serial:
            cert = db.get(GatewayCertificate, req.serial)
            assert cert is not None
            if cert.revoked_at:
                body["state"] = "revoked"
            else:
                body.update(self.delivery(cert.pem))
        return body

    def renew(self, db: Session, certificate: str, csr_pem: str) -> dict[str, Any]:
        """A new certificate for the same identity and key: the CSR proves the gateway holds
        the key of a valid, unrevoked certificate this hub issued."""
        try:
            cert = self.authority.verify_issued(certificate)
            csr = parse_csr(csr_pem)
        except BadRequest as err:
            raise Refused(str(err)) from err
        raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if csr.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
            raise Refused("csr is not signed by the certificate's key")
        serial = f"{cert.serial_number:X}"
        cn = common_name(cert)
        store, gateway = _identity(cn)
        with db.begin():
            row = db.get(GatewayCertificate, serial)
            if row is None or row.revoked_at is not None:
                raise CertificateRefused("certificate is revoked or unknown")
            issued = self._issue(db, csr.public_key(), store, gateway)
        log.info("renewed %s/%s: %s replaces %s", store, gateway, issued.serial, serial)
        return self.delivery(issued.pem)

    # --- HQ's side --------------------------------------------------------------------------
    def approve(
        self, db: Session, code: str, store: str | None, gateway: str | None, by: str
    ) -> dict[str, Any]:
        code = code.strip().upper()
        now = datetime.now(UTC)
        with db.begin():
            req = db.scalar(select(PairingRequest).where(PairingRequest.code == code))
            if req is None or (req.state == "pending" and req.created_at <= now - PENDING_FOR):
                raise PairingNotFound("no pending pairing request with this code")
            if req.state != "pending":
                raise PairingConflict("this code was already used")
            if (store or req.store_id) != req.store_id or (
                gateway or req.gateway_id
            ) != req.gateway_id:
                raise PairingConflict(
                    f"this code belongs to gateway {req.store_id}/{req.gateway_id}"
                )
            # claim before grant: only the one UPDATE that finds it pending goes on to sign
            claimed = db.execute(
                update(PairingRequest)
                .where(PairingRequest.id == req.id, PairingRequest.state == "pending")
                .values(state="approved", approved_at=now, approved_by=by)
            ).rowcount
            if claimed != 1:
                raise PairingConflict("this code was already used")
            issued = self._issue(db, parse_csr(req.csr).public_key(), req.store_id, req.gateway_id)
            db.execute(
                update(PairingRequest)
                .where(PairingRequest.id == req.id)
                .values(serial=issued.serial)
            )
            store, gateway = req.store_id, req.gateway_id
        log.info(
            "paired %s/%s (code %s, by %s): certificate %s", store, gateway, code, by, issued.serial
        )
        return {
            "store": store,
            "gateway": gateway,
            "serial": issued.serial,
            "broker": self.run_hook("paired", store, gateway),
            **self.delivery(issued.pem),
        }

    def pending(self, db: Session) -> list[dict[str, Any]]:
        since = datetime.now(UTC) - PENDING_FOR
        rows = db.scalars(
            select(PairingRequest)
            .where(PairingRequest.state == "pending", PairingRequest.created_at > since)
            .order_by(PairingRequest.created_at)
        )
        # never the codes: a code must come from the gateway's own page, so HQ cannot approve
        # a request someone else registered under a real gateway's name
        return [
            {
                "store": r.store_id,
                "gateway": r.gateway_id,
                "created_at": r.created_at,
            }
            for r in rows
        ]

    def decommission(self, db: Session, store: str, gateway: str, by: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        with db.begin():
            serials = list(
                db.scalars(
                    update(GatewayCertificate)
                    .where(
                        GatewayCertificate.store_id == store,
                        GatewayCertificate.gateway_id == gateway,
                        GatewayCertificate.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                    .returning(GatewayCertificate.serial)
                )
            )
            self.write_crl(db)
        log.warning(
            "decommissioned %s/%s by %s: revoked %s", store, gateway, by, serials or "nothing"
        )
        return {
            "store": store,
            "gateway": gateway,
            "revoked": sorted(serials),
            "broker": self.run_hook("decommissioned", store, gateway),
        }

    def write_crl(self, db: Session) -> None:
        rows = db.execute(
            select(GatewayCertificate.serial, GatewayCertificate.revoked_at).where(
                GatewayCertificate.revoked_at.is_not(None)
            )
        )
        self.authority.write_crl([(s, at) for s, at in rows])

    def _issue(self, db: Session, public_key: Any, store: str, gateway: str) -> Any:
        issued = self.authority.sign(public_key, f"{store}/{gateway}")
        db.add(
            GatewayCertificate(
                serial=issued.serial,
                store_id=store,
                gateway_id=gateway,
                pem=issued.pem,
                not_after=issued.not_after,
            )
        )
        return issued


def _identity(cn: str) -> tuple[str, str]:
    store, _, gateway = cn.partition("/")
    if not (_ID.match(store) and _ID.match(gateway)) or store == "hub":
        raise Refused("subject CN must be <store>/<gateway> with valid ids")
    return store, gateway


class RateLimit:
    """At most `n` calls per `per_s` seconds per client address (the open endpoints)."""

    def __init__(self, n: int, per_s: float) -> None:
        self.n, self.per_s = n, per_s
        self.calls: dict[str, deque[float]] = {}

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        q = self.calls.setdefault(who, deque())
        while q and q[0] <= now - self.per_s:
            q.popleft()
        if len(q) >= self.n:
            return False
        q.append(now)
        if len(self.calls) > 10_000:  # forget idle addresses
            self.calls = {k: v for k, v in self.calls.items() if v and v[-1] > now - self.per_s}
        return True
