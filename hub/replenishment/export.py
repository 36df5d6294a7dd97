"""Tables as CSV downloads (UTF-8 with a BOM, so a spreadsheet opens the Chinese right)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from fastapi import Response


def csv_response(rows: list[dict[str, Any]], columns: Sequence[str], name: str) -> Response:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(columns)
    for r in rows:
        out.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


PLAN_COLUMNS = (
    "sku",
    "supplier_id",
    "lead_days",
    "review_days",
    "on_hand_milli",
    "available_milli",
    "on_order_milli",
    "forecast_7d_milli",
    "forecast_lead_milli",
    "safety_milli",
    "reorder_point_milli",
    "target_milli",
    "suggested_milli",
    "value_fen",
    "below_reorder_point",
)
CLASS_COLUMNS = ("sku", "revenue_fen", "units_milli", "abc", "xyz", "cv", "mover", "seasonal")
TRANSFER_COLUMNS = ("sku", "from_store", "to_store", "qty_milli")
