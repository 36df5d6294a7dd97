"""The gateway publishes its lane and device API: a valid OpenAPI 3.1 document that covers every
route the gateway serves (and nothing it does not), generated from the types that validate the
bodies, reachable without a token along with a docs page that loads nothing from elsewhere —
while every data route still needs the token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import msgspec
import pytest
from openapi_spec_validator import validate

from edge.admin import PREFIX as ADMIN
from edge.gateway import Gateway
from edge.lane import RefundIn, SaleIn, ShiftIn
from edge.openapi import OPS, document
from edge.pages import OWN_AUTH
from tests.conftest import Broker, Edge


def test_the_document_is_valid_openapi() -> None:
    spec = document()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"
    }  # fmt: skip
    assert spec["security"] == [{"bearer": []}]


def test_it_covers_exactly_the_routes_the_gateway_serves(tmp_path: Path) -> None:
    gw = Gateway("s1", "gw1", tmp_path, "mqtt://127.0.0.1:9")  # built, not started
    served = set()
    for route in gw.app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical
        # the shop-floor pages (paired screens) and the technician's: HTML behind a sign-in
        if path.startswith((*OWN_AUTH, ADMIN)):
            continue
        for p in [path.replace("{fmt}", f) for f in ("txt", "png")] if "{fmt}" in path else [path]:
            served.add((route.method.lower(), p))
    spec = document()
    documented = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert served - {("get", "/openapi.json"), ("get", "/docs")} == documented


def test_bodies_are_the_validating_types_and_the_examples_fit_them() -> None:
    spec = document()
    schemas = spec["components"]["schemas"]
    body = spec["paths"]["/api/lanes/{lane}/sales"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/SaleIn"}
    _, generated = msgspec.json.schema_components(
        [SaleIn, RefundIn, ShiftIn], ref_template="#/components/schemas/{name}"
    )
    assert {"SaleIn", "LineIn", "RefundIn", "ShiftIn", "Payment"} <= set(generated)
    for name, schema in generated.items():  # the very schemas msgspec validates with
        assert schemas[name] == schema, name
    # money is integer fen in the document as it is in the types
    assert schemas["LineIn"]["properties"]["unit_price_fen"]["type"] == "integer"
    assert schemas["SaleIn"]["additionalProperties"] is False
    for op in OPS:
        if op.example:
            msgspec.convert(op.example, op.body)  # raises if an example does not fit


@pytest.fixture
def edge(tmp_path: Path, broker: Broker) -> Edge:
    e = Edge(tmp_path / "edge", "s1", "gw1", broker.url)
    e.start()
    yield e
    e.stop()


def test_served_without_a_token_while_data_needs_one(edge: Edge) -> None:
    anon = httpx.Client(base_url=edge.http.base_url, timeout=10)
    spec = anon.get("/openapi.json")
    assert spec.status_code == 200 and spec.headers["content-type"].startswith("application/json")
    assert spec.json() == msgspec.json.decode(msgspec.json.encode(document()))
    page = anon.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text
    # nothing from the internet: no absolute URL anywhere, and the browser may load nothing else
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page.text), "external asset"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for path in ("/api/journal", "/api/devices", "/api/lanes/1/payments"):
        assert anon.get(path).status_code == 401, path
    assert anon.post("/api/lanes/1/sales", json={}).status_code == 401
    assert edge.http.get("/api/journal").status_code == 200
