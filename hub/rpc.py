"""The hub's side of the lanes' online calls (protocols/rpc.py), on the ingest worker's MQTT
connection. Each context offers its methods (`hub/<context>/rpc.py`); `hub.app.rpc_methods`
puts them together and this server runs them: one request → one transaction in a worker
thread → a reply on the gateway's reply topic with the request's correlation id. A domain
error answers with the status hub/http_errors.py gives its class; requests past their deadline
are dropped (the lane gave up)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hub.db import Database, utcnow
from hub.http_errors import status_of
from protocols import rpc
from protocols.topics import TopicError

log = logging.getLogger(__name__)


RPC_THREADS = 4


@dataclass(frozen=True)
class Caller:
    """Who calls: the gateway (from the topic its account may publish on) and the lane."""

    store: str
    gateway: str
    lane: str | None


# (session, the method's validated params, caller) -> result
Method = Callable[[Session, Any, Caller], dict[str, Any]]


def reads_only(method: Method) -> Method:
    """Mark a method that only reads: it runs in a read-only transaction (Database.reading),
    so a lane's look-up never queues for SQLite's write lock behind ingest."""
    method.reads_only = True  # type: ignore[attr-defined]
    return method


def ping(s: Session, p: Any, caller: Caller) -> dict[str, Any]:
    """A gateway's network check (edge/admin): the answer is the proof of the round trip."""
    return {"pong": True}


class RpcServer:
    def __init__(self, db: Database, methods: Mapping[str, Method]) -> None:
        missing = set(rpc.PARAMS) - set(methods)
        if missing:
            raise ValueError(f"no handler for RPC methods {', '.join(sorted(missing))}")
        self.db = db
        self.methods = dict(methods)
        self.worker: Any = None
        self.served = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # threads of their own: a lane waiting at the till never queues behind an ingest pass
        # or a job in the loop's shared executor (on a 2-core gateway-sized host it has 6)
        self._pool = ThreadPoolExecutor(RPC_THREADS, thread_name_prefix="rpc")

    def attach(self, worker: Any) -> None:
        """Listen on the ingest worker's connection (call before the worker starts)."""
        self.worker = worker
        worker.subscribe(rpc.REQUESTS_ALL, self.on_message)

    def on_message(self, topic: str, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(topic, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, topic: str, payload: bytes) -> None:
        try:
            store, gateway = rpc.caller(topic)
        except TopicError as err:
            log.warning("RPC on a bad topic ignored: %s", err)
            return
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(self._pool, self.handle, store, gateway, payload)
        if reply is not None:
            self.worker.publish(rpc.reply_topic(store, gateway), reply, 1, False)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def handle(self, store: str, gateway: str, payload: bytes) -> bytes | None:
        """One request → its reply bytes (None when there is no one to answer)."""
        try:
            req = rpc.parse_request(payload)
        except rpc.Invalid as err:
            corr = _corr(payload)
            log.warning("bad RPC request from %s/%s: %s", store, gateway, err)
            if corr is None:
                return None
            return _reply(corr, False, error=f"bad request: {err}", status=400)
        if req.deadline is not None and req.deadline < utcnow():
            log.info("RPC %s %s from %s/%s arrived too late", req.method, req.id, store, gateway)
            return None
        try:
            params = rpc.check_params(req.method, req.params)
        except rpc.Invalid as err:
            return _reply(req.id, False, error=f"{err.loc or 'params'}: {err.msg}", status=422)
        method = self.methods[req.method]
        tx = self.db.reading if getattr(method, "reads_only", False) else self.db.transaction
        try:
            with tx() as s:
                result = method(s, params, Caller(store, gateway, req.lane))
        except Exception as err:
            status = status_of(err)
            if status is None:
                log.exception("RPC %s from %s/%s failed", req.method, store, gateway)
                return _reply(req.id, False, error="hub error", status=500)
            return _reply(req.id, False, error=str(err), status=status)
        self.served += 1
        return _reply(req.id, True, result=result)


def _corr(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    corr = doc.get("id") if isinstance(doc, dict) else None
    return corr if isinstance(corr, str) and 0 < len(corr) <= 64 else None


def _reply(
    corr: str,
    ok: bool,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> bytes:
    r = rpc.Reply(id=corr, ok=ok, result=result, error=error, status=status)
    return rpc.encode(r)
