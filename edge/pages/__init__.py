"""The pages the gateway serves to the shop floor: the cashier page bound to its lane and the
staff mobile order page (docs/lanes.md "Pages").

What the gateway needs from start is here and small: the route table and the paths the pages
guard themselves. The handlers (routes.py, returns.py), the baskets behind them and the pricing
engine load at the first request to one of these routes or the lane's first scan
(edge/gateway.py, edge/first_use.py)."""

from __future__ import annotations

from pathlib import Path

STATIC = ("/pages/static", Path(__file__).parent / "static")
OWN_AUTH = ("/lane/", "/order/", STATIC[0])  # the token middleware leaves these to us
GUARDED = ("/lane/", "/order/")  # paired screens only (routes.Pages.guard)


def _basket(prefix: str) -> tuple[tuple[str, str, str], ...]:
    return (
        ("GET", f"{prefix}/basket", "get_basket"),
        ("POST", f"{prefix}/basket/scan", "scan"),
        ("POST", f"{prefix}/basket/lines/{{no}}", "line"),
        ("DELETE", f"{prefix}/basket/lines/{{no}}", "line"),
        ("POST", f"{prefix}/basket/member", "member"),
        ("DELETE", f"{prefix}/basket/member", "member"),
        ("POST", f"{prefix}/basket/suspend", "suspend"),
        ("POST", f"{prefix}/basket/resume/{{basket}}", "resume"),
    )


def _till(prefix: str) -> tuple[tuple[str, str, str], ...]:
    """What only a lane does (not a staff phone): take the money, claim coupons, and a
    manager's override of the margin floor."""
    return (
        ("POST", f"{prefix}/basket/pay", "pay"),
        ("POST", f"{prefix}/basket/points", "redeem"),
        ("POST", f"{prefix}/basket/payments/void", "void_payments"),
        ("POST", f"{prefix}/basket/coupons", "coupon"),
        ("DELETE", f"{prefix}/basket/coupons/{{code}}", "coupon"),
        ("POST", f"{prefix}/basket/override", "override"),
    )


# (method, path, the handler's name on routes.Pages)
ROUTES: tuple[tuple[str, str, str], ...] = (
    *_basket("/api/lanes/{lane}"),
    *_till("/api/lanes/{lane}"),
    ("POST", "/api/lanes/{lane}/pairing", "new_code"),
    ("POST", "/api/pairing/staff", "new_code"),
    ("GET", "/api/paired", "list_paired"),
    ("DELETE", "/api/paired/{id}", "unpair"),
    ("GET", "/lane/", "home"),
    ("POST", "/lane/pair", "pair"),
    ("GET", "/lane/{lane}/", "cashier"),
    ("GET", "/lane/{lane}/events", "events"),
    ("GET", "/lane/{lane}/state", "lane_state"),
    ("GET", "/lane/{lane}/items", "items"),
    *_till("/lane/{lane}"),
    *_basket("/lane/{lane}"),
    ("GET", "/order/", "order"),
    ("GET", "/order/events", "events"),
    ("GET", "/order/items", "items"),
    *_basket("/order"),
)

# the returns screen on a paired lane (the handler's name on returns.ReturnsScreen)
RETURNS_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/lane/{lane}/returns", "page"),
    ("GET", "/lane/{lane}/returns/receipt", "receipt"),
    ("POST", "/lane/{lane}/returns/quote", "quote"),
    ("POST", "/lane/{lane}/returns/refund", "confirm"),
)
