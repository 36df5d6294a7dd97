"""The store's payment aggregator (聚合扫码支付) over HTTPS with aiohttp: pay, query, reverse,
each a signed JSON POST. Endpoint, merchant and sub-merchant ids, the API key and the CA file
come from the device's options in devices.toml (the key may be named by `api_key_env`);
request paths, timeouts and the query / reverse policy from its profile.

The decisions (what to do after which answer) are protocols/qrpay.QrFlow; here only the calls:
each returns the parsed reply, or None when the answer was lost (timeout, broken connection,
bad signature) — the flow then asks again. AggregatorUnreachable means nothing was sent."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any

import aiohttp

from edge.devices.base import Context, Device, DeviceError, DeviceSpec
from edge.devices.payment_profiles import payment_profiles
from protocols import qrpay

log = logging.getLogger(__name__)


class AggregatorUnreachable(DeviceError):
    """The connection could not be made: the request never left."""


class Aggregator(Device):
    kind = "aggregator"
    actions = ("status",)  # payments registers test-payment (edge/payments)

    def __init__(self, spec: DeviceSpec, ctx: Context) -> None:
        super().__init__(spec, ctx)
        self.profile = p = payment_profiles().aggregator(spec.profile)
        o = spec.options
        self.endpoint = str(o.get("endpoint", spec.port)).rstrip("/")
        if not self.endpoint.startswith(("https://", "http://")):
            raise DeviceError(f"aggregator {spec.id}: endpoint must be an https:// URL")
        self.merchant_id = str(o.get("merchant_id", ""))
        self.sub_merchant_id = str(o.get("sub_merchant_id", ""))
        self.store_id = str(o.get("store_id", ""))
        key = o.get("api_key") or os.environ.get(str(o.get("api_key_env", "")), "")
        if not self.merchant_id or not key:
            raise DeviceError(f"aggregator {spec.id}: merchant_id and api_key are required")
        self._key = str(key)
        self.ca_file = str(o.get("ca_file", "")) or None
        self.timeout = float(o.get("request_timeout_s", p.request_timeout_s))
        self.policy = qrpay.Policy(
            query_interval_s=float(o.get("query_interval_s", p.query_interval_s)),
            query_limit=int(o.get("query_limit", p.query_limit)),
            reverse_interval_s=float(o.get("reverse_interval_s", p.reverse_interval_s)),
            reverse_limit=int(o.get("reverse_limit", p.reverse_limit)),
        )
        self.split: qrpay.Split | None = None
        if o.get("hq_merchant_id"):
            self.split = qrpay.Split(
                store_sub_merchant_id=str(o.get("store_sub_merchant_id", self.sub_merchant_id)),
                hq_merchant_id=str(o["hq_merchant_id"]),
                hq_share_bp=int(o.get("hq_share_bp", 0)),
            )
        self.probe_s = float(o.get("probe_interval_s", 60.0))
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            context = ssl.create_default_context(cafile=self.ca_file)
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._http

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        signed = qrpay.sign(body, self._key)
        try:
            async with self._session().post(self.endpoint + path, json=signed) as resp:
                if resp.status >= 500:
                    log.warning("aggregator %s: %s answered %s", self.spec.id, path, resp.status)
                    return None
                if resp.status >= 400:
                    raise DeviceError(
                        f"aggregator refused {path}: {resp.status} {await resp.text()}"
                    )
                reply = await resp.json(content_type=None)
        except aiohttp.ClientConnectorError as err:
            raise AggregatorUnreachable(f"aggregator unreachable: {err}") from err
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            log.warning("aggregator %s: no answer to %s: %s", self.spec.id, path, err or "timeout")
            return None
        if not isinstance(reply, dict) or not qrpay.verify(reply, self._key):
            log.warning("aggregator %s: reply to %s has a bad signature", self.spec.id, path)
            return None
        return reply

    def order(self, key: str, auth_code: str, amount_fen: int, subject: str = "") -> qrpay.Order:
        return qrpay.Order(
            out_trade_no=key, auth_code=auth_code, total_fen=amount_fen,
            merchant_id=self.merchant_id, sub_merchant_id=self.sub_merchant_id,
            store_id=self.store_id, subject=subject, split=self.split,
        )  # fmt: skip

    async def pay(self, order: qrpay.Order) -> qrpay.Reply | None:
        raw = await self.call(self.profile.pay_path, order.pay_body())
        return None if raw is None else qrpay.pay_reply(raw)

    async def query(self, key: str) -> qrpay.Reply | None:
        body = qrpay.trade_body(key, self.merchant_id, self.sub_merchant_id)
        raw = await self.call(self.profile.query_path, body)
        return None if raw is None else qrpay.query_reply(raw)

    async def reverse(self, key: str) -> qrpay.Reply | None:
        body = qrpay.trade_body(key, self.merchant_id, self.sub_merchant_id)
        raw = await self.call(self.profile.reverse_path, body)
        return None if raw is None else qrpay.reverse_reply(raw)

    # --- supervision: a query for a number that never exists proves the way there works ---------
    async def connect(self) -> None:
        reply = await self.query("storegw-probe")
        if reply is None:
            raise DeviceError("aggregator does not answer")

    async def serve(self) -> None:
        while True:
            await asyncio.sleep(self.probe_s)
            await self.connect()

    async def close(self) -> None:
        if self._http is not None and not self._stopping:
            return  # keep the session across probes; payments may be running
        if self._http is not None:
            await self._http.close()
            self._http = None

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["aggregator"] = {  # the API key is never shown
            "endpoint": self.endpoint,
            "merchant_id": self.merchant_id,
            "sub_merchant_id": self.sub_merchant_id,
            "split": self.split.__dict__ if self.split else None,
        }
        return d

    async def action(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "status":
            await self.connect()
            return {"state": self.state, "reachable": True}
        raise DeviceError(f"aggregator has no action {name!r}")
