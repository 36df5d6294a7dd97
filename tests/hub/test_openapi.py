"""The hub's OpenAPI document declares its bearer token, so the docs page's "Try it out" sends
it: every /api operation requires the scheme but the public ones (hub/auth/policy.py: the
OAuth2 token endpoint, revocation) and /health, and a call made the way the
scheme says (as Swagger UI does) is answered while one without it is refused."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.auth import policy
from tests.conftest import Broker, Hub


def test_the_hub_openapi_declares_the_bearer_scheme_and_try_it_out_works(
    tmp_path: Path, broker: Broker, hub_db_url: str | None
) -> None:
    hub = Hub(tmp_path / "hub", broker.url, hub_db_url)
    hub.start()
    try:
        anon = httpx.Client(base_url=hub.http.base_url, timeout=10)
        spec = anon.get("/openapi.json").json()
        schemes = spec["components"]["securitySchemes"]
        ((name, scheme),) = schemes.items()
        assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
        api_ops = [
            (path, method, op)
            for path, item in spec["paths"].items()
            for method, op in item.items()
            if path.startswith("/api/")
        ]
        assert len(api_ops) > 50
        for path, method, op in api_ops:
            row = policy.rule(method, path)
            if row is not None and row.public:
                assert not op.get("security"), f"{method} {path} is public"
            else:
                assert {name: []} in op.get("security", []), f"{method} {path} declares no token"
        assert not spec["paths"]["/health"]["get"].get("security")
        # "Try it out": the header the scheme describes, with the HQ token
        header = {"Authorization": f"{scheme['scheme'].capitalize()} test-hq-token"}
        assert anon.get("/api/stores", headers=header).status_code == 200
        assert anon.get("/api/stores").status_code == 401
    finally:
        hub.stop()
