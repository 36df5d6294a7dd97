"""A payment aggregator (聚合支付) speaking the storegw-v1 JSON API: pay, query, reverse;
HTTPS with a self-signed certificate made at start (`cryptography`), or plain HTTP.

Idempotent per out_trade_no (a second pay with the same number never charges again). The
behaviour of a pay is chosen per auth code (`by_code`) or globally (`behaviour`):
succeed, confirming (USERPAYING until `confirm_after` queries, forever when None),
insufficient_funds, timeout (never answers, takes nothing), lose_response (takes the money,
never answers), hold (takes nothing yet, waits for the test's `release()`).
Reversals: `reverse_recalls` answers "recall" that many times first; `reverse_fails` refuses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from protocols import qrpay


@dataclass
class SimOrder:
    out_trade_no: str
    auth_code: str
    total_fen: int
    state: str  # SUCCESS | USERPAYING | NOTPAY | CLOSED | REVOKED | PAYERROR
    transaction_id: str
    body: dict[str, Any]
    queries_left: int | None = None


@dataclass
class AggregatorSim:
    api_key: str = "test-key"
    merchant_id: str = "M100"
    behaviour: str = "succeed"
    by_code: dict[str, str] = field(default_factory=dict)
    confirm_after: int | None = 2
    reverse_recalls: int = 0
    reverse_fails: bool = False
    orders: dict[str, SimOrder] = field(default_factory=dict)
    charges: list[tuple[str, int]] = field(default_factory=list)  # (out_trade_no, fen), ±
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, out_trade_no)
    request_times: list[float] = field(default_factory=list)  # monotonic, one per request

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.ca_file = ""
        self._cert_dir: Path | None = None  # removed by stop()
        self._release: asyncio.Future[bool] | None = None
        self.holding = asyncio.Event()
        self._n = 0

    @property
    def charged_fen(self) -> int:
        return sum(fen for _, fen in self.charges)

    def charged(self, out_trade_no: str) -> int:
        return sum(fen for no, fen in self.charges if no == out_trade_no)

    def release(self, paid: bool = True) -> None:
        if self._release and not self._release.done():
            self._release.set_result(paid)

    # --- server -----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = True) -> str:
        app = web.Application()
        app.add_routes(
            [
                web.post("/v1/pay", self._pay),
                web.post("/v1/query", self._query),
                web.post("/v1/reverse", self._reverse),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        context = None
        if tls:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="aggsim-"))
            cert, key = self_signed_cert(self._cert_dir, host)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            key.unlink()  # loaded: the private key need not stay on disk a moment longer
            self.ca_file = str(cert)  # clients trust this file until stop()
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        self.release(False)
        if self._runner:
            await self._runner.cleanup()
        if self._cert_dir:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(body, dict) or not qrpay.verify(body, self.api_key):
            raise web.HTTPUnauthorized(text="bad signature")
        if body.get("merchant_id") != self.merchant_id:
            raise web.HTTPForbidden(text="unknown merchant")
        self.requests.append((request.path, str(body.get("out_trade_no", ""))))
        self.request_times.append(time.monotonic())
        return body

    def _reply(self, data: dict[str, Any]) -> web.Response:
        return web.json_response(qrpay.sign(data, self.api_key))

    def _order_reply(self, o: SimOrder) -> dict[str, Any]:
        return {"transaction_id": o.transaction_id, "paid_fen": o.total_fen,
                "channel": qrpay.channel_of(o.auth_code)}  # fmt: skip

    async def _hang(self) -> web.Response:
        await asyncio.sleep(3600)  # the client times out first
        raise web.HTTPGatewayTimeout()

    async def _pay(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        no, code, fen = body["out_trade_no"], str(body["auth_code"]), body["total_fen"]
        if type(fen) is not int or fen <= 0:
            return self._reply({"result": "FAIL", "code": "PARAM_ERROR", "message": "total_fen"})
        if (o := self.orders.get(no)) is not None:  # the same order again: never a new charge
            if o.state == "SUCCESS":
                return self._reply({"result": "SUCCESS", **self._order_reply(o)})
            if o.state == "USERPAYING":
                return self._reply({"result": "USERPAYING", **self._order_reply(o)})
            return self._reply({"result": "FAIL", "code": "ORDERCLOSED", "message": o.state})
        behaviour = self.by_code.get(code, self.behaviour)
        if behaviour == "timeout":
            return await self._hang()
        self._n += 1
        o = SimOrder(no, code, fen, "NOTPAY", f"T{self._n:08d}", body)
        self.orders[no] = o
        if behaviour == "insufficient_funds":
            o.state = "PAYERROR"
            return self._reply({"result": "FAIL", "code": "NOTENOUGH", "message": "余额不足"})
        if behaviour == "confirming":
            o.state, o.queries_left = "USERPAYING", self.confirm_after
            return self._reply({"result": "USERPAYING", "message": "需要用户输入支付密码"})
        if behaviour == "hold":
            loop = asyncio.get_running_loop()
            self._release = loop.create_future()
            self.holding.set()
            paid = await self._release
            self.holding.clear()
            if paid:
                o.state = "SUCCESS"
                self.charges.append((no, fen))
            return await self._hang()
        o.state = "SUCCESS"
        self.charges.append((no, fen))
        if behaviour == "lose_response":
            return await self._hang()
        return self._reply({"result": "SUCCESS", **self._order_reply(o)})

    async def _query(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        o = self.orders.get(body["out_trade_no"])
        if o is None:
            return self._reply({"trade_state": "NOT_FOUND"})
        if o.state == "USERPAYING" and o.queries_left is not None:
            o.queries_left -= 1
            if o.queries_left <= 0:
                o.state = "SUCCESS"
                self.charges.append((o.out_trade_no, o.total_fen))
        return self._reply({"trade_state": o.state, **self._order_reply(o)})

    async def _reverse(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        no = body["out_trade_no"]
        if self.reverse_fails:
            return self._reply({"result": "FAIL", "code": "REVERSE_EXPIRE", "recall": False,
                                "message": "订单已超过撤销时间"})  # fmt: skip
        if self.reverse_recalls > 0:
            self.reverse_recalls -= 1
            return self._reply({"result": "FAIL", "code": "SYSTEMERROR", "recall": True})
        o = self.orders.get(no)
        if o is None:  # never seen: close the number so a late pay cannot use it
            self.orders[no] = SimOrder(no, "", 0, "CLOSED", "", body)
        elif o.state == "SUCCESS":
            o.state = "REVOKED"
            self.charges.append((no, -o.total_fen))
        elif o.state in ("USERPAYING", "NOTPAY"):
            o.state = "CLOSED"
        return self._reply({"result": "SUCCESS", "recall": False})


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` and localhost that is its own CA: the client trusts this file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storegw aggregator simulator")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "aggregator.pem", directory / "aggregator.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


async def start_for_cli(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, str]:
    sim = AggregatorSim()
    url = await sim.start(getattr(args, "host", "127.0.0.1"), 0, tls=True)
    stack.push_async_callback(sim.stop)
    return {"aggregator": url, "aggregator CA file": sim.ca_file,
            "aggregator api key": sim.api_key}  # fmt: skip
