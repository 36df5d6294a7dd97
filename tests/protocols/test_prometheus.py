"""The Prometheus text format the sides' /metrics answer with: HELP and TYPE per family, label
values escaped, integers without a decimal point, NaN and infinities spelled as Prometheus
reads them."""

from __future__ import annotations

from protocols.prometheus import Family, render
from tests.metrics_text import parse


def test_families_render_as_the_text_format() -> None:
    text = render([
        Family("storegw_sales_total", "counter", "sales\nbooked").add(3),
        Family("storegw_device_up", "gauge", "up").add(1, device='scale "A"\\1', kind="scale"),
        Family("storegw_age_seconds", "gauge", "age").add(float("nan")),
        Family("storegw_rate", "gauge", "rate").add(0.25).add(float("inf"), lane="2"),
        Family("storegw_empty", "gauge", "no samples"),
    ])  # fmt: skip
    lines = text.splitlines()
    assert lines[:3] == [
        "# HELP storegw_sales_total sales\\nbooked",
        "# TYPE storegw_sales_total counter",
        "storegw_sales_total 3",
    ]
    assert 'storegw_device_up{device="scale \\"A\\"\\\\1",kind="scale"} 1' in lines
    assert "storegw_age_seconds NaN" in lines
    assert 'storegw_rate{lane="2"} +Inf' in lines and "storegw_rate 0.25" in lines
    assert text.endswith("\n") and "# TYPE storegw_empty gauge" in lines
    assert parse(text)["storegw_sales_total"] == 3
