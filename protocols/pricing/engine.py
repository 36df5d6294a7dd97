"""The pricing engine: `price(...)` takes a basket, the member, the promotions, the coupons
presented and the store's policy, and returns every line's discount, what each promotion
saved (for the receipt) and the total. The lane prices with it and the hub recomputes each
booked sale with it, so both must get the same fen from the same inputs: everything here is
integer arithmetic in a fixed order, and the time is an argument.

Stages, in this order (docs/pricing.md says why):
1. item promotions (percent off, N件M折, bundles, buy-X-get-Y) and member prices: each line
   is taken by at most one of them, the biggest saving first (a greedy: see `_items`);
2. the member tier's discount, on the lines stage 1 left alone;
3. order promotions (满减, 满赠), each judged on its scope's spend after stages 1-2;
4. coupons, by `protocols.coupons.stack` (its stacking rules), judged after promotions.
Promotions sharing an exclusive group: at most one applies; `search.py` chooses the
combinations to evaluate and the cheapest of them. `basket.py` holds the lines' arithmetic
(margin floor, discounts taken, largest-remainder spreading), `offers.py` what an item
promotion would save.

Every discount is a whole number of fen, rounded once (half up) where it is computed, then
spread over its lines by largest remainder (ties by line order), so the line totals always
add up to the receipt total. No line goes below its margin floor (cost × (1 + min margin),
never above the line's own price) unless the cashier's override is given; what the floor held
back is reported, and `override_used` says when a line ended below its floor."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec

from protocols import bounds, coupons
from protocols.pricing import rules, search
from protocols.pricing.arithmetic import extend
from protocols.pricing.basket import Basket, Item, floor_fen, half_up_pct
from protocols.pricing.offers import CouponLine, Offer, bundle, grouped

Fen = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_FEN)]


class Member(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The identified member: tier discount (95 = 95折, 100 = none) and member prices."""

    tier: str | None = None
    discount_pct: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    prices: dict[str, Fen] = {}


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The store's pricing policy: the margin every line keeps over its cost (basis points:
    500 = 5%), and how many exclusive-group combinations are searched exhaustively."""

    min_margin_bp: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    exhaustive_limit: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 64


class PricedLine(msgspec.Struct, frozen=True):
    sku: str
    qty_milli: int
    unit_price_fen: int
    gross_fen: int  # extend(qty, unit price)
    discount_fen: int
    total_fen: int  # gross - discount
    floor_fen: int  # the least this line may cost without an override
    below_floor: bool = False


class Saving(msgspec.Struct, frozen=True):
    """One line of the receipt's savings: a promotion (ref = its id), the member price or
    tier ("member"), or a coupon (ref = its code)."""

    kind: str
    ref: str
    name: str
    saved_fen: int
    lines: list[int]  # 0-based indexes of the lines it took money off


class Handout(msgspec.Struct, frozen=True):
    """A 满赠 gift that is not in the basket: hand it over (and list it on the receipt)."""

    ref: str
    sku: str
    qty: int  # pieces


class Priced(msgspec.Struct, frozen=True):
    lines: list[PricedLine]
    gross_fen: int
    discount_fen: int
    total_fen: int
    savings: list[Saving]
    handouts: list[Handout] = []
    coupons_refused: list[tuple[str, str]] = []  # (code, reason)
    override_used: bool = False  # some line ended below its floor: the lane journals it
    held_by_floor_fen: int = 0  # what the margin floor kept from the customer
    search: str = "exhaustive"  # or "greedy" (too many exclusive combinations)
    promotions: list[int] = []  # the combination chosen, by id (those that could apply)


class Outcome:
    def __init__(
        self,
        chosen: Sequence[int],
        b: Basket,
        savings: list[Saving],
        handouts: list[Handout],
        refused: list[tuple[str, str]],
    ) -> None:
        self.chosen, self.b, self.savings = chosen, b, savings
        self.handouts, self.refused = handouts, refused

    @property
    def total(self) -> int:
        return self.b.gross_total - self.b.off


class Engine:
    """One basket's pricing: what no choice of promotions changes, worked out once, and the
    four stages for a given combination (`evaluate`), with the work combinations share."""

    def __init__(
        self,
        items: Sequence[Item],
        promotions: Sequence[rules.Promotion],
        member: Member | None,
        terms: Sequence[coupons.Terms],
        store: str | None,
        policy: Policy,
        override: bool,
    ) -> None:
        self.items = items
        self.promos = sorted(promotions, key=lambda p: p.id)
        self.member = member
        self.terms = list(terms)
        self.store = store
        self.override = override
        self.gross = [extend(it.qty_milli, it.unit_price_fen) for it in items]
        self.floors = [
            floor_fen(it, g, policy.min_margin_bp) for it, g in zip(items, self.gross, strict=True)
        ]
        # a line of whole pieces can be split between promotions piece by piece; a weighed
        # line (or an odd quantity) is one unit, taken whole by a line promotion or none
        self.by_piece = [not it.weighed and it.qty_milli % 1000 == 0 for it in items]
        self.units = [
            it.qty_milli // 1000 if whole else 1
            for it, whole in zip(items, self.by_piece, strict=True)
        ]
        # the search's shared work: stages 1-2 by the item promotions chosen, stage 4 by the
        # basket stage 3 left
        self._memo: dict[tuple[int, ...], tuple[list[int], int, list[Saving]]] = {}
        self._coupon_memo: dict[tuple[int, ...], tuple[list[int], int, list[Saving], Any]] = {}
        # after stages 1-2 and a prefix of the order promotions (in id order): the basket
        # state, shared by every combination of the search that starts the same way
        self._after: dict[tuple[int, ...], tuple[list[int], int, list[Saving], list[Handout]]]
        self._after = {}
        self.by_sku: dict[str, list[int]] = {}
        self.by_cat: dict[str | None, list[int]] = {}
        for i, it in enumerate(items):
            self.by_sku.setdefault(it.sku, []).append(i)
            self.by_cat.setdefault(it.category, []).append(i)
        self.kinds = [p.kind for p in self.promos]
        # each coupon's lines by sku and category (whether promoted lines count is asked
        # per combination)
        self.coupon_scope = {
            t.code: [
                i
                for i, it in enumerate(items)
                if coupons.in_scope(t, CouponLine(it.sku, it.category, 0, 0, 0))
            ]
            for t in self.terms
        }
        # what no choice changes, worked out once: each promotion's lines, and its offers
        # on a basket where every piece is still free (the search starts from these)
        self.member_n = len(self.promos)  # the member price: after every promotion
        self.scope = [self._scope(p.rule) for p in self.promos]
        self.scope.append(list(range(len(items))))
        self.first = [
            self._offers(n, self.units, self.scope[n])
            if n == self.member_n or self.kinds[n] in rules.ITEM_KINDS
            else []
            for n in range(len(self.scope))
        ]

    def _scope(self, rule: rules._Rule) -> list[int]:
        """The lines a rule covers (ascending), through the basket's sku and category
        indexes: skus if named, narrowed by categories if named; neither named, every line."""
        if isinstance(rule, rules.Bundle):
            idx: Iterable[int] = (i for b in rule.items for i in self.by_sku.get(b.sku, ()))
            return sorted(i for i in idx if self.by_piece[i])
        if rule.skus:
            idx = {i for sku in rule.skus for i in self.by_sku.get(sku, ())}
            if rule.categories:
                cats = set(rule.categories)
                idx = {i for i in idx if self.items[i].category in cats}
        elif rule.categories:
            idx = {i for c in rule.categories for i in self.by_cat.get(c, ())}
        else:
            idx = range(len(self.items))
        if isinstance(rule, rules.MultiBuy | rules.BuyXGetY):  # whole pieces only
            return sorted(i for i in idx if self.by_piece[i])
        return sorted(idx)

    def _value(self, i: int, units: int) -> int:
        return units * self.items[i].unit_price_fen if self.by_piece[i] else self.gross[i]

    def _capped(self, offer: Offer | None) -> Offer | None:
        """At most what the lines can give above their floors (or at all, overridden)."""
        if offer is None:
            return None
        stop = [0] * len(self.gross) if self.override else self.floors
        offer.raw = offer.saving
        offer.saving = min(offer.saving, sum(self.gross[i] - stop[i] for i in offer.use))
        return offer if offer.saving > 0 else None

    def _offers(self, n: int, free: Sequence[int], idx: Iterable[int]) -> list[Offer]:
        """Promotion n's offers (n == member_n: the member prices) on the free pieces of the
        lines idx: one per line for line kinds, one for the pool for pooled kinds."""
        idx = [i for i in idx if free[i]]
        if not idx:
            return []
        found: list[Offer | None] = []
        if n == self.member_n:
            prices = self.member.prices if self.member else {}
            for i in idx:
                it, k = self.items[i], free[i]
                mp = prices.get(it.sku)
                if mp is not None and mp < it.unit_price_fen:
                    at_mp = k * mp if self.by_piece[i] else extend(it.qty_milli, mp)
                    found.append(Offer(self._value(i, k) - at_mp, {i: k}, [1]))
            return [o for o in map(self._capped, found) if o is not None]
        rule = self.promos[n].rule
        if isinstance(rule, rules.PercentOff):
            found = [
                Offer(half_up_pct(self._value(i, free[i]), rule.percent_off), {i: free[i]}, [1])
                for i in idx
            ]
        elif isinstance(rule, rules.MultiBuy | rules.BuyXGetY):
            size, skip = (
                (rule.n, 0) if isinstance(rule, rules.MultiBuy) else (rule.buy + rule.get, rule.buy)
            )
            g = grouped(self.items, free, idx, size, skip)
            if g is not None:
                g.saving = half_up_pct(g.saving, rule.percent_off)
            found = [g]
        elif isinstance(rule, rules.Bundle):
            found = [bundle(rule, self.items, free, idx)]
        return [o for o in map(self._capped, found) if o is not None]

    # -- one evaluation: a given set of promotions ------------------------------------------
    def evaluate(self, chosen: Sequence[int]) -> Outcome:
        return self.with_coupons(self.promoted(chosen))

    def promoted(self, chosen: Sequence[int]) -> Outcome:
        """Stages 1-3 for one combination (coupons: `with_coupons`)."""
        b = Basket(list(self.gross), self.floors, self.override)
        out = Outcome(chosen, b, [], [], [])
        # stages 1-2 depend only on the item promotions chosen: combinations that differ in
        # order promotions alone (most exclusive groups) share them
        key = tuple(n for n in chosen if self.kinds[n] in rules.ITEM_KINDS)
        if key not in self._memo:
            taken = self._items(b, key, out.savings)
            self._tier(b, taken, out.savings)
            self._memo[key] = (list(b.disc), b.held, list(out.savings))
        disc, held, saved = self._memo[key]
        b.restore(disc, held)
        out.savings = list(saved)
        out.handouts = self._order(b, key, chosen, out.savings)
        return out

    def with_coupons(self, out: Outcome) -> Outcome:
        """Stage 4. Combinations that left the basket the same share its result."""
        key = tuple(out.b.disc)
        hit = self._coupon_memo.get(key)
        if hit is None:
            before, saved = out.b.held, []
            refused = self._coupons(out.b, saved)
            self._coupon_memo[key] = (list(out.b.disc), out.b.held - before, saved, refused)
        else:
            disc, extra, saved, refused = hit
            out.b.restore(disc, out.b.held + extra)
        out.savings += saved
        out.refused = refused
        return out

    def _items(self, b: Basket, chosen: Sequence[int], savings: list[Saving]) -> set[int]:
        """Greedy: the biggest offer first. An offer some of whose pieces went to a bigger one
        meanwhile is worked out again on what is still free, and one the floor now caps lower
        is put back at its new size (a lazy greedy). The exact assignment is a set packing,
        NP-hard in general; the greedy is exact when scopes do not overlap, the usual case.
        Returns the lines any item promotion touched."""
        heap: list[tuple[int, int, int, int, Offer]] = []
        for n in [*chosen, self.member_n]:
            for o in self.first[n]:
                heap.append((-o.saving, n, o.lines[0], len(heap), o))
        heapq.heapify(heap)
        free = list(self.units)
        got: dict[int, tuple[int, list[int]]] = {}
        tick = len(heap)
        while heap:
            _, n, _, _, o = heapq.heappop(heap)
            if any(k > free[i] for i, k in o.use.items()):  # pieces gone: work it out again
                pooled = n != self.member_n and self.kinds[n] in rules.POOLED_KINDS
                again = self._offers(n, free, self.scope[n] if pooled else o.lines)
            else:
                room = min(o.raw, sum(b.room(i) for i in o.use))
                if room >= o.saving:
                    lines = o.lines
                    _, gave = b.take(o.saving, lines, o.weights)
                    b.held += o.raw - o.saving
                    for i, k in o.use.items():
                        free[i] -= k
                    saved, had = got.get(n, (0, []))
                    got[n] = (saved + o.saving, had + gave)
                    continue
                o.saving = room  # smaller now: back in line at its new size
                again = [o] if room > 0 else []
            for a in again:
                tick += 1
                heapq.heappush(heap, (-a.saving, n, a.lines[0], tick, a))
        for n in sorted(got):
            saved, lines = got[n]
            if n == self.member_n:
                name = "member price"
                savings.append(Saving("member_price", "member", name, saved, sorted(set(lines))))
            else:
                p = self.promos[n]
                savings.append(Saving(p.kind, str(p.id), p.name, saved, sorted(set(lines))))
        return {i for i in range(len(free)) if free[i] != self.units[i]}

    def _tier(self, b: Basket, taken: set[int], savings: list[Saving]) -> None:
        m = self.member
        if m is None or m.discount_pct >= 100:
            return
        idx = [i for i in range(len(self.items)) if i not in taken]
        nets = [b.net(i) for i in idx]
        off = half_up_pct(sum(nets), 100 - m.discount_pct)
        saved, gave = b.take(off, idx, nets)
        if saved:
            savings.append(Saving("tier", "member", f"tier {m.tier or ''}".strip(), saved, gave))

    def _order(
        self, b: Basket, key: tuple[int, ...], chosen: Sequence[int], savings: list[Saving]
    ) -> list[Handout]:
        """Stage 3. Every threshold is judged on the basket as stages 1-2 left it, and each
        discount spread by the lines' values then; applied in id order."""
        order = [n for n in chosen if self.kinds[n] in rules.ORDER_KINDS]
        nets = [g - d for g, d in zip(b.gross, b.disc, strict=True)]
        everything = sum(nets)
        handouts: list[Handout] = []
        done = 0  # resume from the longest prefix another combination already applied
        for k in range(len(order), 0, -1):
            if (hit := self._after.get((*key, -1, *order[:k]))) is not None:
                disc, held, had, handed = hit
                b.restore(disc, held)
                savings[:], handouts, done = had, list(handed), k
                break
        for k in range(done, len(order)):
            n = order[k]
            p, rule, idx = self.promos[n], self.promos[n].rule, self.scope[n]
            base = everything if len(idx) == len(nets) else sum(nets[i] for i in idx)
            saved, gave = 0, []
            if isinstance(rule, rules.SpendSave) and base >= rule.threshold_fen:
                times = base // rule.threshold_fen if rule.repeat else 1
                off = rule.save_fen * times
                if rule.cap_fen is not None:
                    off = min(off, rule.cap_fen)
                saved, gave = b.take(off, idx, [nets[i] for i in idx])
            elif isinstance(rule, rules.Gift) and base >= rule.threshold_fen:
                left = rule.gift_qty
                for i, it in enumerate(self.items):
                    if it.sku == rule.gift_sku and self.by_piece[i] and left:
                        q = min(left, self.units[i])
                        got, where = b.take(q * it.unit_price_fen, [i], [1])
                        saved, gave = saved + got, gave + where
                        left -= q
                if left:
                    handouts.append(Handout(str(p.id), rule.gift_sku, left))
            if saved:
                savings.append(Saving(p.kind, str(p.id), p.name, saved, gave))
            self._after[(*key, -1, *order[: k + 1])] = (
                list(b.disc),
                b.held,
                list(savings),
                list(handouts),
            )
        return handouts

    def _coupons(self, b: Basket, savings: list[Saving]) -> list[tuple[str, str]]:
        if not self.terms:
            return []
        lines = [
            CouponLine(it.sku, it.category, it.unit_price_fen, b.disc[i], b.net(i))
            for i, it in enumerate(self.items)
        ]
        result = coupons.stack(lines, self.terms, self.store)
        by_code = {t.code: t for t in self.terms}
        for a in result.applied:
            t = by_code[a.code]
            idx = [i for i in self.coupon_scope[t.code] if t.on_promoted_lines or not b.disc[i]]
            if t.kind == "gift":
                idx = [i for i in idx if lines[i].sku == t.gift_sku][:1]
            saved, gave = b.take(a.discount_fen, idx, [lines[i].total_fen for i in idx])
            if saved:
                savings.append(Saving("coupon", a.code, t.kind, saved, gave))
        return [(r.code, r.reason) for r in result.refused]


def price(
    items: Sequence[Item],
    promotions: Sequence[rules.Promotion] = (),
    *,
    at: datetime,
    member: Member | None = None,
    coupons_presented: Sequence[coupons.Terms] = (),
    store: str | None = None,
    policy: Policy = Policy(),  # noqa: B008 - frozen, shared safely
    override: bool = False,
) -> Priced:
    """Price a basket (module docstring). `at` (aware) selects the promotions in force;
    `override` is the manager's permission to go below the margin floor."""
    if at.tzinfo is None:
        raise ValueError("the pricing time must carry a UTC offset")
    for n, it in enumerate(items):
        if it.qty_milli <= 0 or it.unit_price_fen < 0 or (it.cost_fen or 0) < 0:
            raise ValueError(f"line {n + 1} ({it.sku}): quantity must be > 0, money >= 0")
    live = [p for p in promotions if p.active(at)]
    eng = Engine(items, live, member, coupons_presented, store, policy, override)
    combos, how = search.choices(eng, policy.exhaustive_limit)
    best = search.cheapest(eng, combos)
    b = best.b
    lines = []
    below = False
    for i, it in enumerate(items):
        net = b.net(i)
        under = net < eng.floors[i]
        below |= under
        lines.append(
            PricedLine(
                sku=it.sku,
                qty_milli=it.qty_milli,
                unit_price_fen=it.unit_price_fen,
                gross_fen=b.gross[i],
                discount_fen=b.disc[i],
                total_fen=net,
                floor_fen=eng.floors[i],
                below_floor=under,
            )
        )
    return Priced(
        lines=lines,
        gross_fen=sum(b.gross),
        discount_fen=sum(b.disc),
        total_fen=best.total,
        savings=best.savings,
        handouts=best.handouts,
        coupons_refused=best.refused,
        override_used=below,
        held_by_floor_fen=b.held,
        search=how,
        promotions=[eng.promos[n].id for n in best.chosen],
    )
