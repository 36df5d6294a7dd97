"""How many points a sale earns.

Each line earns at the rate of the most specific active rule for its store and category
(store+category, then category, then store; ties by priority), or the programme's base rate.
Rates are milli-points per yuan. Only what the customer paid in money earns: the share of the
sale paid with points or coupon tenders does not, spread over the lines in proportion.
Then the member's tier multiplier and, in the member's birthday month, the birthday
multiplier apply; the result is rounded down to whole points, once, at the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty.models import EarningRule, LoyaltySettings
from hub.loyalty.service import NotFound

NO_EARN_TENDERS = ("points", "coupon")


@dataclass(frozen=True)
class Rule:
    id: int
    store_id: str | None
    category: str | None
    rate_milli: int
    priority: int
    valid_from: datetime | None
    valid_until: datetime | None

    def applies(self, store: str, category: str | None, at: datetime) -> bool:
        if self.store_id is not None and self.store_id != store:
            return False
        if self.category is not None and self.category != category:
            return False
        if self.valid_from is not None and at < self.valid_from:
            return False
        return not (self.valid_until is not None and at >= self.valid_until)

    @property
    def specificity(self) -> int:
        return (2 if self.category is not None else 0) + (1 if self.store_id is not None else 0)


@dataclass
class Earn:
    points: int
    base_fen: int  # what earned
    detail: dict[str, Any]


class Rules:
    def __init__(self, cfg: LoyaltySettings, rules: list[Rule]) -> None:
        self.base_rate_milli = cfg.base_rate_milli
        self.birthday_pct = cfg.birthday_multiplier_pct
        # most specific first, then priority: the first that applies wins
        self.rules = sorted(rules, key=lambda r: (-r.specificity, -r.priority, r.id))
        self._cache: dict[tuple[str, str | None], tuple[int, int | None]] = {}

    @classmethod
    def load(cls, s: Session, cfg: LoyaltySettings) -> Rules:
        rows = s.scalars(select(EarningRule).where(EarningRule.active.is_(True))).all()
        return cls(
            cfg,
            [
                Rule(
                    r.id,
                    r.store_id,
                    r.category,
                    r.rate_milli,
                    r.priority,
                    r.valid_from,
                    r.valid_until,
                )
                for r in rows
            ],
        )

    def rate(self, store: str, category: str | None, at: datetime) -> tuple[int, int | None]:
        """(milli-points per yuan, the rule id or None for the base rate)."""
        timed = any(r.valid_from or r.valid_until for r in self.rules)
        key = (store, category)
        if not timed and key in self._cache:
            return self._cache[key]
        found: tuple[int, int | None] = (self.base_rate_milli, None)
        for r in self.rules:
            if r.applies(store, category, at):
                found = (r.rate_milli, r.id)
                break
        if not timed:
            self._cache[key] = found
        return found

    def for_sale(
        self,
        body: dict[str, Any],
        store: str,
        at: datetime,
        tier_multiplier_pct: int = 100,
        birth_month: int | None = None,
    ) -> Earn:
        goods = sum(int(x["total_fen"]) for x in body["lines"])
        if goods <= 0:
            return Earn(0, 0, {})
        not_money = sum(
            int(p["amount_fen"]) for p in body["payments"] if p["tender"] in NO_EARN_TENDERS
        )
        paid = max(int(body["total_fen"]) - not_money, 0)
        weighted = 0  # Σ line fen × milli-points per yuan
        rules_used: set[int] = set()
        for line in body["lines"]:
            rate, rule_id = self.rate(store, line.get("category"), at)
            weighted += int(line["total_fen"]) * rate
            if rule_id is not None:
                rules_used.add(rule_id)
        day = date.fromisoformat(body["business_day"]) if body.get("business_day") else at.date()
        bday = birth_month == day.month
        bday_pct = self.birthday_pct if bday else 100
        # fen × milli-pt/yuan ÷ 100 fen/yuan ÷ 1000 milli → points; scaled by paid share
        num = weighted * paid * tier_multiplier_pct * bday_pct
        den = 100 * 1000 * goods * 100 * 100
        detail: dict[str, Any] = {"paid_fen": paid, "tier_pct": tier_multiplier_pct}
        if bday:
            detail["birthday_pct"] = bday_pct
        if rules_used:
            detail["rules"] = sorted(rules_used)
        return Earn(num // den, paid, detail)


# --- the rules HQ keeps (PUT/POST /api/points/rules) ------------------------------------------
def add_rule(s: Session, fields: dict[str, Any]) -> EarningRule:
    r = EarningRule(**fields)
    s.add(r)
    s.flush()
    return r


def change_rule(s: Session, rule_id: int, fields: dict[str, Any]) -> EarningRule:
    r = s.get(EarningRule, rule_id)
    if r is None:
        raise NotFound(f"no earning rule {rule_id}")
    for k, v in fields.items():
        setattr(r, k, v)
    return r
