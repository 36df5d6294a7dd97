"""Who may call which route: the role × endpoint matrix, in this one table.

A row is one route, `(method, path as FastAPI declares it)` → the roles allowed. `hq_admin` may
call every route and is not repeated; PUBLIC needs no credential; SIGNED_IN is any account or
key. A store manager allowed on a route that takes a store (`{store_id}` in the path) may call
it for their own stores only. An API key is allowed where it holds the row's scope: by default
`<area>:read` for GET and `<area>:write` otherwise, the area being the path's first part after
/api (`members:read`); `*` holds every scope.

tests/hub/auth/test_matrix.py walks every route of the OpenAPI with every role against this
table, and fails for a route without a row: adding a route means adding its line here.
docs/security.md shows the table (`python -m hub.auth.policy` prints it)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.accounts.roles import HQ_ADMIN, HQ_ANALYST, HQ_MARKETING, ROLES, STORE_MANAGER
from hub.accounts.roles import TECHNICIAN as TECH

PUBLIC = "public"
SIGNED_IN = "signed_in"
STORE_PARAMS = ("store_id", "store")

MKT, ANA, MGR = HQ_MARKETING, HQ_ANALYST, STORE_MANAGER
HQ = (MKT, ANA)  # every HQ role (hq_admin is always in)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    scope: str
    public: bool = False
    signed_in: bool = False

    def allows_role(self, role: str | None) -> bool:
        return self.signed_in or role == HQ_ADMIN or role in self.roles


def _scope(method: str, path: str) -> str:
    area = path.removeprefix("/api/").lstrip("/").split("/", 1)[0] or "api"
    return f"{area}:{'read' if method == 'GET' else 'write'}"


def _table(*rows: tuple[str, str, tuple[str, ...]]) -> dict[tuple[str, str], Rule]:
    table: dict[tuple[str, str], Rule] = {}
    for method, path, who in rows:
        assert (method, path) not in table, f"two rows for {method} {path}"
        table[(method, path)] = Rule(
            frozenset(r for r in who if r in ROLES),
            _scope(method, path),
            public=PUBLIC in who,
            signed_in=SIGNED_IN in who,
        )
    return table


# fmt: off
POLICY = _table(
    ("GET",    "/health",                                        (PUBLIC,)),
    ("GET",    "/metrics",                                       (ANA, TECH)),
    # accounts, sessions, API keys (hub/accounts, hub/auth)
    ("POST",   "/api/auth/token",                                (PUBLIC,)),
    ("POST",   "/api/auth/revoke",                               (PUBLIC,)),
    ("GET",    "/api/auth/me",                                   (SIGNED_IN,)),
    ("GET",    "/api/accounts",                                  ()),
    ("POST",   "/api/accounts",                                  ()),
    ("GET",    "/api/accounts/{user_id}",                        ()),
    ("PATCH",  "/api/accounts/{user_id}",                        ()),
    ("GET",    "/api/api-keys",                                  ()),
    ("POST",   "/api/api-keys",                                  ()),
    ("POST",   "/api/api-keys/{key_id}/rotate",                  ()),
    ("POST",   "/api/api-keys/{key_id}/revoke",                  ()),
    # the HQ audit log (hub/audit)
    ("GET",    "/api/audit",                                     ()),
    ("GET",    "/api/audit/verify",                              ()),
    # stores, sales, ingest
    ("GET",    "/api/stores",                                    (*HQ, TECH)),
    ("PUT",    "/api/stores/{store_id}",                         ()),
    ("GET",    "/api/stores/{store_id}",                         (*HQ, MGR, TECH)),
    ("GET",    "/api/stores/{store_id}/gateways",                (*HQ, MGR, TECH)),
    ("GET",    "/api/stores/{store_id}/sales",                   (ANA, MGR)),
    ("GET",    "/api/sales/{sale_id}",                           (ANA,)),
    ("GET",    "/api/refunds/unmatched",                         (ANA,)),
    ("GET",    "/api/refunds/issues",                            (ANA,)),
    ("GET",    "/api/ingest/status",                             (ANA, TECH)),
    ("GET",    "/api/ingest/rejected",                           (TECH,)),
    ("GET",    "/api/ingest/conflicts",                          (TECH,)),
    # members (the service desk's lookups are a store manager's too)
    ("POST",   "/api/members",                                   (MKT, MGR)),
    ("GET",    "/api/members",                                   (MKT, MGR)),
    ("GET",    "/api/members/{member_id}",                       (MKT, ANA, MGR)),
    ("PATCH",  "/api/members/{member_id}",                       (MKT, MGR)),
    ("POST",   "/api/members/{member_id}/merge",                 (MKT,)),
    ("POST",   "/api/members/{member_id}/card/renew",            (MKT, MGR)),
    ("GET",    "/api/members/{member_id}/360",                   (MKT, ANA, MGR)),
    ("GET",    "/api/members/{member_id}/history",               (MKT, ANA, MGR)),
    ("GET",    "/api/members/{member_id}/contact",               (MKT, MGR)),
    ("GET",    "/api/members/{member_id}/export",                (MKT,)),
    ("POST",   "/api/members/{member_id}/erase",                 ()),
    # points, tiers, mall, loyalty jobs
    ("GET",    "/api/members/{member_id}/points",                (MKT, ANA, MGR)),
    ("GET",    "/api/members/{member_id}/points/ledger",         (MKT, ANA, MGR)),
    ("POST",   "/api/members/{member_id}/points/adjust",         (MKT,)),
    ("POST",   "/api/points/reservations",                       ()),
    ("POST",   "/api/points/reservations/{rid}/commit",          ()),
    ("POST",   "/api/points/reservations/{rid}/release",         ()),
    ("GET",    "/api/points/reservations/{rid}",                 (ANA,)),
    ("GET",    "/api/points/liability",                          (*HQ,)),
    ("GET",    "/api/points/books",                              (*HQ,)),
    ("GET",    "/api/loyalty/issues",                            (*HQ,)),
    ("POST",   "/api/loyalty/jobs/{name}/run",                   ()),
    ("GET",    "/api/points/settings",                           (*HQ,)),
    ("PATCH",  "/api/points/settings",                           (MKT,)),
    ("GET",    "/api/points/rules",                              (*HQ,)),
    ("POST",   "/api/points/rules",                              (MKT,)),
    ("PUT",    "/api/points/rules/{rule_id}",                    (MKT,)),
    ("GET",    "/api/mall/items",                                (*HQ, MGR)),
    ("POST",   "/api/mall/items",                                (MKT,)),
    ("PUT",    "/api/mall/items/{item_id}",                      (MKT,)),
    ("POST",   "/api/mall/orders",                               (MKT, MGR)),
    ("POST",   "/api/mall/orders/{order_id}/cancel",             (MKT, MGR)),
    ("POST",   "/api/mall/orders/{order_id}/fulfil",             (MKT, MGR)),
    ("GET",    "/api/tiers",                                     (*HQ, MGR)),
    ("PUT",    "/api/tiers/{code}",                              (MKT,)),
    ("GET",    "/api/tiers/changes",                             (*HQ,)),
    ("GET",    "/api/members/{member_id}/tier",                  (MKT, ANA, MGR)),
    ("PUT",    "/api/members/{member_id}/tier",                  (MKT,)),
    ("POST",   "/api/members/{member_id}/tier/evaluate",         (MKT,)),
    # coupons
    ("GET",    "/api/coupons/templates",                         (*HQ,)),
    ("POST",   "/api/coupons/templates",                         (MKT,)),
    ("PUT",    "/api/coupons/templates/{template_id}",           (MKT,)),
    ("POST",   "/api/coupons/templates/{template_id}/issue",     (MKT,)),
    ("GET",    "/api/coupons/{code}",                            (*HQ, MGR)),
    ("POST",   "/api/coupons/{code}/check",                      (MKT, MGR)),
    ("POST",   "/api/coupons/{code}/redeem",                     ()),
    ("POST",   "/api/coupons/{code}/void",                       (MKT,)),
    ("GET",    "/api/members/{member_id}/coupons",               (MKT, ANA, MGR)),
    # catalog, prices, promotions
    ("PUT",    "/api/catalog/items/{sku}",                       (MKT,)),
    ("GET",    "/api/catalog/items",                             (*HQ, MGR, TECH)),
    ("PUT",    "/api/stores/{store_id}/prices/{sku}",            (MKT, MGR)),
    ("POST",   "/api/promotions",                                (MKT,)),
    ("PUT",    "/api/promotions/{promotion_id}",                 (MKT,)),
    ("GET",    "/api/promotions",                                (*HQ, MGR)),
    ("GET",    "/api/pricing/differences",                       (*HQ, MGR)),
    ("POST",   "/api/catalog/publish",                           (MKT,)),
    ("GET",    "/api/stores/{store_id}/snapshots",               (MGR, TECH)),
    # member analytics (hub/analytics; issue 16)
    ("POST",   "/api/analytics/jobs/{name}",                     (ANA,)),
    ("GET",    "/api/analytics/rfm/cells",                       (*HQ,)),
    ("GET",    "/api/analytics/rfm/grid",                        (*HQ,)),
    ("GET",    "/api/analytics/rfm/members",                     (*HQ,)),
    ("GET",    "/api/analytics/heat",                            (*HQ,)),
    ("GET",    "/api/analytics/heat/members",                    (*HQ,)),
    ("GET",    "/api/analytics/churn",                           (*HQ,)),
    ("POST",   "/api/analytics/interactions",                    (MKT,)),
    ("GET",    "/api/analytics/intimacy/members",                (*HQ,)),
    ("GET",    "/api/analytics/segments",                        (*HQ,)),
    ("POST",   "/api/analytics/segments",                        (MKT,)),
    ("PATCH",  "/api/analytics/segments/{seg_id}",               (MKT,)),
    ("GET",    "/api/analytics/segments/{seg_id}/members",       (*HQ,)),
    ("GET",    "/api/analytics/segments/{seg_id}/sizes",         (*HQ,)),
    ("GET",    "/api/analytics/ltv/fits",                        (*HQ,)),
    ("GET",    "/api/analytics/ltv/members",                     (*HQ,)),
    ("GET",    "/api/analytics/ltv/acquisition",                 (*HQ,)),
    ("GET",    "/api/analytics/members/{member_id}",             (MKT, ANA, MGR)),
    # stock, purchasing, pickup, notifications (a store manager only on routes naming a store)
    ("GET",    "/api/stock/stores/{store}",                      (*HQ, MGR)),
    ("GET",    "/api/stock/stores/{store}/skus/{sku}/moves",     (*HQ, MGR)),
    ("GET",    "/api/stock/alerts",                              (*HQ,)),
    ("GET",    "/api/stock/check",                               (ANA,)),
    ("POST",   "/api/stock/stores/{store}/stocktakes",           (MGR,)),
    ("GET",    "/api/stock/stocktakes/{count_id}",               (*HQ,)),
    ("POST",   "/api/stock/stores/{store}/write-offs",           (MGR,)),
    ("POST",   "/api/stock/transfers",                           ()),
    ("POST",   "/api/stock/transfers/{transfer_id}/receive",     ()),
    ("GET",    "/api/stock/transfers/{transfer_id}",             (*HQ,)),
    ("GET",    "/api/stock/demand",                              (ANA,)),
    ("POST",   "/api/stock/stores/{store}/skus/{sku}/subscriptions", (MKT, MGR)),
    ("PUT",    "/api/suppliers/{supplier_id}",                   ()),
    ("GET",    "/api/suppliers/{supplier_id}",                   (*HQ,)),
    ("POST",   "/api/purchase-orders",                           ()),
    ("GET",    "/api/purchase-orders/{po_id}",                   (*HQ,)),
    ("POST",   "/api/purchase-orders/{po_id}/send",              ()),
    ("POST",   "/api/purchase-orders/{po_id}/cancel",            ()),
    ("POST",   "/api/purchase-orders/{po_id}/close",             ()),
    ("POST",   "/api/receipts",                                  ()),
    ("GET",    "/api/receipts/{receipt_id}",                     (*HQ,)),
    ("POST",   "/api/pickups",                                   ()),
    ("POST",   "/api/pickups/expire",                            ()),
    ("GET",    "/api/pickups/{order_id}",                        (*HQ,)),
    ("POST",   "/api/pickups/{order_id}/cancel",                 ()),
    ("GET",    "/api/notifications",                             (*HQ,)),
    ("POST",   "/api/notifications/dispatch",                    (MKT,)),
    # pairing gateways with the hub's CA (hub/pairing): the gateway's calls are open,
    # bounded in size and rate; its certificate request proves nothing until HQ enters its code
    ("POST",   "/api/pairing/requests",                          (PUBLIC,)),
    ("GET",    "/api/pairing/requests/{request_id}",             (PUBLIC,)),
    ("POST",   "/api/pairing/renewals",                          (PUBLIC,)),
    ("GET",    "/api/pairing/requests",                          (TECH,)),
    ("POST",   "/api/pairing",                                   (TECH,)),
    ("POST",   "/api/gateways/{store_id}/{gateway_id}/decommission", ()),
    # forecast and replenishment (hub/replenishment)
    ("GET",    "/api/replenishment/stores/{store_id}/plan",      (ANA, MGR)),
    ("POST",   "/api/replenishment/stores/{store_id}/run",       (MGR,)),
    ("GET",    "/api/replenishment/stores/{store_id}/forecast",  (ANA, MGR)),
    ("GET",    "/api/replenishment/stores/{store_id}/skus/{sku}/chart", (ANA, MGR)),
    ("PUT",    "/api/replenishment/stores/{store_id}/skus/{sku}/setting", (MGR,)),
    ("GET",    "/api/replenishment/stores/{store_id}/classification", (*HQ, MGR)),
    ("GET",    "/api/replenishment/alerts",                      (ANA,)),
    ("GET",    "/api/replenishment/transfers",                   (ANA,)),
    ("GET",    "/api/replenishment/runs",                        (ANA,)),
)
# fmt: on


def rule(method: str, path: str) -> Rule | None:
    return POLICY.get((method.upper(), path))


def markdown() -> str:
    """The matrix as the Markdown table docs/security.md shows."""
    roles = [HQ_ADMIN, MKT, ANA, MGR, TECH]
    head = "| method | path | " + " | ".join(roles) + " | API key scope |"
    lines = [head, "|" + "---|" * (len(roles) + 3)]
    for (method, path), r in POLICY.items():
        if r.public:
            cells = ["public"] * len(roles)
            scope = "none"
        else:
            cells = [
                ("own stores" if role == MGR and _takes_store(path) else "yes")
                if r.allows_role(role)
                else "—"
                for role in roles
            ]
            scope = "any" if r.signed_in else f"`{r.scope}`"
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + f" | {scope} |")
    return "\n".join(lines)


def _takes_store(path: str) -> bool:
    return any("{" + p + "}" in path for p in STORE_PARAMS)


if __name__ == "__main__":
    print(markdown())
