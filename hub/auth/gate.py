"""The one check every hub API route passes (hub/deps.py::authorize, and inline on the 360°
view): who is calling (a signed access token or an API key, as a bearer token), then what the
policy row of the matched route allows them. No credential or a wrong one is a 401; a
credential the row does not allow is a 403; a route without a row is refused to all but
hq_admin (and fails tests/hub/auth/test_matrix.py)."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request, status

from hub import http_errors
from hub.accounts.roles import HQ_ADMIN, STORE_MANAGER
from hub.auth import policy
from hub.auth.principal import Principal
from hub.auth.service import Tokens
from hub.auth.signing import Signer

log = logging.getLogger(__name__)


class Gate:
    def __init__(self, tokens: Tokens, signer: Signer) -> None:
        self.tokens = tokens
        self.signer = signer
        # (method, the matched route's own path) → its OpenAPI template: one regex scan per
        # route, then a dict lookup (the 360° view is the hot path)
        self._templates: dict[tuple[str, str], str] = {}

    def principal(self, request: Request) -> Principal | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return None
        claims = self.signer.verify(value)
        if claims is not None:
            return Principal(
                "user",
                int(claims["sub"]),
                str(claims["name"]),
                role=str(claims["role"]),
                stores=frozenset(claims.get("stores") or ()),
            )
        return self.tokens.principal(value)

    def authorize(self, request: Request) -> Principal | None:
        path = self.template(request)
        rule = policy.rule(request.method, path)
        if rule is not None and rule.public:
            return None
        who = self.principal(request)
        if who is None:
            log.warning("refused %s %s: missing or wrong bearer token", request.method, path)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        reason = self.refusal(who, rule, path, request.path_params)
        if reason:
            log.warning(
                "refused %s %s to %s %s: %s", request.method, path, who.kind, who.name, reason
            )
            raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
        request.state.principal = who
        return who

    def template(self, request: Request) -> str:
        route_path = getattr(request.scope.get("route"), "path", None)
        key = (request.method, route_path or "")
        found = self._templates.get(key) if route_path else None
        if found is None:
            found = http_errors.template(request.app, request.method, request.url.path)
            found = found or request.url.path
            if route_path:
                self._templates[key] = found
        return found

    @staticmethod
    def refusal(
        who: Principal, rule: policy.Rule | None, path: str, params: dict[str, str]
    ) -> str | None:
        """Why `who` may not call the route, or None when they may."""
        if rule is None:
            if who.role == HQ_ADMIN or who.has_scope("*"):
                return None
            return "this route has no access rule: only hq_admin may call it"
        if who.kind == "key":
            if rule.signed_in or who.has_scope(rule.scope):
                return None
            return f"this API key lacks the scope {rule.scope}"
        if not rule.allows_role(who.role):
            return f"the role {who.role} may not call this route"
        if who.role == STORE_MANAGER and not rule.signed_in:
            for name in policy.STORE_PARAMS:
                if name in params and params[name] not in who.stores:
                    return f"store {params[name]} is not one of this account's stores"
        return None
