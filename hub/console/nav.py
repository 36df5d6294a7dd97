"""The console's navigation, listed in this one place: a page shows in the menu of the roles
named here (hq_admin sees every page). A page's route checks the same roles through
`hub.console.web.page_user(path)`, so the menu and the access never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from hub.accounts.roles import HQ_ADMIN, HQ_ANALYST, HQ_MARKETING, STORE_MANAGER, TECHNICIAN

EVERYONE = (HQ_ADMIN, HQ_MARKETING, HQ_ANALYST, STORE_MANAGER, TECHNICIAN)


@dataclass(frozen=True)
class Page:
    path: str
    label: str  # a message key (messages/<lang>.json)
    roles: tuple[str, ...]


# one line per page, in menu order
NAV: tuple[Page, ...] = (
    Page("/console/", "nav.home", EVERYONE),
    Page("/console/accounts", "nav.accounts", (HQ_ADMIN,)),
    Page("/console/analytics", "nav.analytics", (HQ_MARKETING, HQ_ANALYST)),
    Page("/console/audit", "nav.audit", (HQ_ADMIN,)),
    Page("/console/pairing", "nav.pairing", (HQ_ADMIN, TECHNICIAN)),
    Page("/console/stock", "nav.stock", (HQ_ANALYST, STORE_MANAGER)),
    Page("/console/forecast", "nav.forecast", (HQ_ANALYST, STORE_MANAGER)),
)


def page(path: str) -> Page:
    for p in NAV:
        if p.path == path:
            return p
    raise LookupError(f"{path} is not in hub/console/nav.py's NAV")


def menu(role: str) -> list[Page]:
    return [p for p in NAV if role == HQ_ADMIN or role in p.roles]
