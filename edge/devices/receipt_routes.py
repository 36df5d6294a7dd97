"""The lane's receipt routes: an e-receipt of a sale (text or PNG) and a reprint, served by the
printer that printed it. Wired by the gateway (edge/gateway.py)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aiohttp import web

from edge.devices.base import DeviceError

if TYPE_CHECKING:
    from edge.devices.printer import Printer
    from edge.devices.registry import Devices


def routes(devices: Devices) -> list[web.RouteDef]:
    def find(sale_id: str, lane: str | None = None) -> Printer:
        from edge.devices.printer import printers_of  # loaded already when a printer runs

        for p in printers_of(devices.ctx):
            if (lane is None or p.spec.lane == lane) and p.queue.by_sale(sale_id, p.spec.id):
                return p
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no receipt for sale {sale_id}"}),
            content_type="application/json",
        )

    async def receipt(request: web.Request) -> web.Response:
        sale_id, fmt = request.match_info["sale_id"], request.match_info["fmt"]
        p = find(sale_id)
        from edge.fonts import cjk_font_path  # previews' only: not at start
        from protocols.escpos import preview

        doc, _ = p._document_for({"sale_id": sale_id}, copy=False)
        if fmt == "txt":
            return web.Response(text=preview.text_preview(bytes(doc.out), p.paper.columns))
        draw = preview.png_preview  # ~0.5 s: in a thread, so the loop serves the lanes meanwhile
        out, font = bytes(doc.out), cjk_font_path()
        png = (await asyncio.to_thread(draw, out, p.paper.dots, p.paper.columns, font_path=font))[0]
        return web.Response(body=png, content_type="image/png")

    async def reprint(request: web.Request) -> web.Response:
        lane, sale_id = request.match_info["lane"], request.match_info["sale_id"]
        p = find(sale_id, lane)
        try:
            job = await p.action("reprint", {"sale_id": sale_id})
        except DeviceError as err:
            return web.json_response({"error": str(err)}, status=409)
        return web.json_response({"job": job})

    return [
        web.get(r"/api/receipts/{sale_id}.{fmt:txt|png}", receipt),
        web.post("/api/lanes/{lane}/receipts/{sale_id}/reprint", reprint),
    ]
