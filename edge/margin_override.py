"""A manager's override of the margin floor at a lane: with their own gateway account
(edge/admin/accounts.py: scrypt, lock-out) a manager lets the basket go below the floor. The
override is kept with the basket (who, when, which lines the floor held), written to the
gateway's audit log, and journaled in the sale's `pricing`; any change to the basket ends it
(`Baskets.keep_override`)."""

from __future__ import annotations

import logging
from typing import Any

from edge.admin.accounts import AccountError
from edge.basket import BasketError, Baskets, now

log = logging.getLogger(__name__)


class MarginOverride:
    def __init__(self, baskets: Baskets) -> None:
        self.baskets = baskets
        # the gateway's manager accounts and audit log (edge/admin), set by the gateway
        self.managers: Any = None
        self.audit: Any = None

    async def grant(self, lane: str, username: Any, password: Any) -> dict[str, Any]:
        """The manager's password lets this basket, as it is now, go below the floor."""
        self.baskets.check(lane)
        if self.managers is None:
            raise BasketError(503, "no manager accounts on this gateway")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise BasketError(400, "username and password: the manager's gateway account",
                              "bad_login")  # fmt: skip
        try:
            role = await self.managers.verify(username, password, f"price override at {lane}")
        except AccountError as err:
            raise BasketError(err.status, str(err), "bad_login") from None
        if role != "manager":
            log.warning("lane %s: price override refused: %s is a %s", lane, username, role)
            raise BasketError(403, f"{username} is not a manager: only a manager may sell "
                                   "below the margin floor", "not_manager")  # fmt: skip
        ov: dict[str, Any] = {}

        def op(doc: dict[str, Any]) -> None:
            _, got, _ = self.baskets.price(doc, now())
            held = self.baskets.held(got)
            if not held:
                raise BasketError(409, "no line is held at the margin floor: nothing to "
                                       "override", "no_floor")  # fmt: skip
            ov.update(by=username, at=now().isoformat(), lines=held,
                      held_fen=got.held_by_floor_fen, basis=self.baskets.basis(doc))  # fmt: skip
            doc["override"] = ov

        view = await self.baskets.change(lane, op)  # saved: only now is it audited
        if self.audit is not None:
            self.audit.record(username, "price.override", f"lane {lane} basket {view['id']}",
                              after={k: ov[k] for k in ("lines", "held_fen")})  # fmt: skip
        log.warning("lane %s: %s overrode the margin floor on basket %s (lines %s, %d fen)",
                    lane, username, view["id"], ov["lines"], ov["held_fen"])  # fmt: skip
        return view
