"""Pairing's routes: the gateway's open ones (register a CSR with its code, fetch the result,
renew), bounded in size and rate; HQ's (enter a code, list pending codes, decommission)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import Field
from sqlalchemy.orm import Session

from hub.deps import session
from hub.inputs import In, errors
from hub.pairing.service import Pairing, Refused
from protocols import topics

log = logging.getLogger(__name__)
router = APIRouter(
    tags=["pairing"],
    responses={
        **errors(404, 409),
        413: {"description": "the body is over 16 KiB"},
        429: {"description": "too many calls from this address, or too many pending requests"},
    },
)
Db = Annotated[Session, Depends(session)]
Id = Annotated[str, Path(pattern=topics.ID_PATTERN)]
MAX_BODY = 16 * 1024
Pem = Annotated[str, Field(min_length=1, max_length=8192)]


class RequestIn(In):
    code: Annotated[str, Field(min_length=1, max_length=16)]
    csr: Pem


class RenewalIn(In):
    certificate: Pem
    csr: Pem


class ApproveIn(In):
    code: Annotated[str, Field(min_length=1, max_length=16)]
    store: Annotated[str, Field(pattern=topics.ID_PATTERN)] | None = None
    gateway: Annotated[str, Field(pattern=topics.ID_PATTERN)] | None = None


def _pairing(request: Request) -> Pairing:
    return request.app.state.pairing  # type: ignore[no-any-return]


def _open_call(request: Request) -> None:
    who = request.client.host if request.client else "?"
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        log.warning("pairing: %s sent a body over %s bytes", who, MAX_BODY)
        raise HTTPException(413, f"body over {MAX_BODY} bytes")
    pairing = _pairing(request)
    if not (pairing.polls if request.method == "GET" else pairing.calls).allow(who):
        log.warning("pairing: %s over the rate limit", who)
        raise HTTPException(429, "too many pairing calls; wait a minute")


def _call(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return fn(*args)  # type: ignore[no-any-return]
    except Refused as err:
        log.warning("pairing refused: %s", err)
        raise


@router.post("/pairing/requests", status_code=201, dependencies=[Depends(_open_call)])
def register(body: RequestIn, request: Request, db: Db) -> dict[str, Any]:
    """A gateway's CSR (CN "<store>/<gateway>") and the code it shows; open, rate-limited."""
    return _call(_pairing(request).register, db, body.code, body.csr)


@router.get("/pairing/requests/{request_id}", dependencies=[Depends(_open_call)])
def request_status(
    request_id: Annotated[str, Path(max_length=36)], request: Request, db: Db
) -> dict[str, Any]:
    """pending, or approved with the certificate, the CA and the broker's address."""
    return _call(_pairing(request).status, db, request_id)


@router.post("/pairing/renewals", dependencies=[Depends(_open_call)])
def renew(body: RenewalIn, request: Request, db: Db) -> dict[str, Any]:
    """A new certificate for a valid one, the CSR signed by the same key."""
    return _call(_pairing(request).renew, db, body.certificate, body.csr)


@router.post("/pairing")
def approve(body: ApproveIn, request: Request, db: Db) -> dict[str, Any]:
    """HQ enters the code a gateway shows: the hub signs that gateway's CSR."""
    who = request.state.principal
    return _call(_pairing(request).approve, db, body.code, body.store, body.gateway, who.name)


@router.get("/pairing/requests")
def pending(request: Request, db: Db) -> dict[str, Any]:
    return {"pending": _pairing(request).pending(db)}


@router.post("/gateways/{store_id}/{gateway_id}/decommission")
def decommission(store_id: Id, gateway_id: Id, request: Request, db: Db) -> dict[str, Any]:
    """Revoke every certificate of the gateway into the CRL the broker reads."""
    who = request.state.principal
    return _call(_pairing(request).decommission, db, store_id, gateway_id, who.name)
