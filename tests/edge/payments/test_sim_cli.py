"""`storegw sim` starts our simulators through start_for_cli: each listens where it says and
speaks its protocol there, and the exit stack shuts it down."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
from pathlib import Path

import aiohttp
import pytest

from edge.sim import aggregator, printer, zvt
from protocols import qrpay
from protocols.zvt import commands as c
from tests.edge.rig import run


def test_simulators_start_for_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREGW_SIM_DIR", str(tmp_path / "receipts"))
    args = argparse.Namespace(host="127.0.0.1")

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            found = {}
            for module in (printer, zvt, aggregator):
                found.update(await module.start_for_cli(stack, args))
            # the 80 mm printer answers DLE EOT 1: idle
            host, port = found["printer 80mm"].rsplit(":", 1)
            r, w = await asyncio.open_connection(host, int(port))
            w.write(b"\x10\x04\x01")
            assert await asyncio.wait_for(r.readexactly(1), 5) == b"\x12"
            w.close()
            # the terminal acknowledges a registration and completes it
            host, port = found["zvt terminal"].rsplit(":", 1)
            r, w = await asyncio.open_connection(host, int(port))
            w.write(c.registration().encode())
            assert await asyncio.wait_for(r.readexactly(3), 5) == c.ACK.encode()
            assert await asyncio.wait_for(r.readexactly(3), 5) == c.completion().encode()
            w.close()
            # the aggregator answers over HTTPS, trusted through its CA file only
            ctx = ssl.create_default_context(cafile=found["aggregator CA file"])
            body = qrpay.sign(qrpay.trade_body("x", "M100", ""), found["aggregator api key"])
            async with aiohttp.ClientSession() as http:
                async with http.post(found["aggregator"] + "/v1/query", json=body, ssl=ctx) as resp:
                    assert (await resp.json())["trade_state"] == "NOT_FOUND"
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await http.post(found["aggregator"] + "/v1/query", json=body)

    run(main())
