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
Promotions sharing an exclusive group: at most one applies; the engine tries every
combination when there are at most `Policy.exhaustive_limit` of them, else picks per group
the member that is best alone (greedy). The cheapest basket wins; ties go to the earlier
combination (promotions in id order).

Every discount is a whole number of fen, rounded once (half up) where it is computed, then
spread over its lines by largest remainder (ties by line order), so the line totals always
add up to the receipt total. No line goes below its margin floor (cost × (1 + min margin),
never above the line's own price) unless the cashier's override is given; what the floor held
back is reported, and `override_used` says when a line ended below its floor."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec

from protocols import bounds, coupons
from protocols.pricing import rules
from protocols.pricing.arithmetic import extend

Fen = Annotated[int, msgspec.Meta(ge=0, le=bounds.MAX_FEN)]


class Item(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One basket line as the engine needs it (cost: per unit, like the price)."""

    sku: str
    qty_milli: int
    unit_price_fen: int
    cost_fen: int | None = None
    category: str | None = None
    weighed: bool = False

    @classmethod
    def of_line(cls, ln: dict[str, Any]) -> Item:
        """A sale's or a basket's line (the contract's shape) as the engine prices it: the lane
        and the hub's recompute build items the same way, so they price alike."""
        return cls(
            sku=ln["sku"],
            qty_milli=ln["qty_milli"],
            unit_price_fen=ln["unit_price_fen"],
            cost_fen=ln.get("cost_fen"),
            category=ln.get("category"),
            weighed=ln.get("weighed", False),
        )


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


def _half_up_pct(amount: int, pct: int) -> int:
    return (amount * pct + 50) // 100


def floor_fen(item: Item, gross: int, min_margin_bp: int) -> int:
    """cost × qty × (1 + margin), rounded up to the fen, never above the line's price."""
    if not item.cost_fen:
        return 0
    num = item.qty_milli * item.cost_fen * (10_000 + min_margin_bp)
    return min(gross, -(-num // 10_000_000))


class _Basket:
    """Discounts so far, per line, and how much more each line can give."""

    def __init__(self, gross: list[int], floors: list[int], override: bool) -> None:
        self.gross = gross
        self.stop = [0] * len(gross) if override else floors
        self.disc = [0] * len(gross)
        self.held = 0
        self.gross_total = sum(gross)
        self.off = 0  # sum(disc), kept as discounts are taken

    def restore(self, disc: list[int], held: int) -> None:
        self.disc, self.held, self.off = list(disc), held, sum(disc)

    def net(self, i: int) -> int:
        return self.gross[i] - self.disc[i]

    def room(self, i: int) -> int:
        return self.gross[i] - self.disc[i] - self.stop[i]

    def take(
        self, amount: int, idx: Sequence[int], weights: Sequence[int]
    ) -> tuple[int, list[int]]:
        """Take `amount` fen off the lines `idx` (ascending) in proportion to `weights`
        (`split`); a share beyond a line's room is cut to it and the excess split again over
        the lines with room left, until all is placed. What no room can hold is recorded as
        held by the floor. Returns the fen taken and the lines that gave something."""
        disc, gross, stop = self.disc, self.gross, self.stop
        if len(idx) == 1:  # most item promotions: one line, nothing to split
            i = idx[0]
            s = min(amount, gross[i] - disc[i] - stop[i])
            self.held += amount - s
            self.off += s
            disc[i] += s
            return s, [i] if s else []
        room = [gross[i] - disc[i] - stop[i] for i in idx]
        left = min(amount, sum(room))
        self.held += amount - left
        taken = left
        share = [0] * len(idx)
        live = list(range(len(idx)))
        while left > 0 and live:
            w = [weights[j] for j in live]
            if not any(w):  # nothing to weigh by: by what each can still give
                w = [room[j] for j in live]
            for j, part in zip(live, split(left, w), strict=True):
                s = min(part, room[j])
                room[j] -= s
                share[j] += s
                left -= s
            live = [j for j in live if room[j] > 0]
        for j, i in enumerate(idx):
            disc[i] += share[j]
        self.off += taken
        return taken, [i for j, i in enumerate(idx) if share[j]]


def split(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` in whole fen in proportion to `weights` (not all zero): each its floor
    share, then the fen left over one each to the largest remainders, ties to the earlier."""
    total = sum(weights)
    parts = [amount * w // total for w in weights]
    rest = amount - sum(parts)
    if rest:
        by_rem = sorted(range(len(weights)), key=lambda k: (-(amount * weights[k] % total), k))
        for k in by_rem[:rest]:
            parts[k] += 1
    return parts


class _CouponLine(msgspec.Struct, frozen=True):
    """A line as `coupons.stack` reads it (its `Line` protocol), after the promotions."""

    sku: str
    category: str | None
    unit_price_fen: int
    discount_fen: int
    total_fen: int


class _Offer(msgspec.Struct):
    """What one item promotion would save, given the pieces still free: `use` the pieces it
    takes per line, `weights` the value it discounts per line (how the saving is spread)."""

    saving: int
    use: dict[int, int]
    weights: list[int]
    raw: int = 0  # the saving before the margin floor capped it

    @property
    def lines(self) -> list[int]:
        return sorted(self.use)


def _grouped(
    items: Sequence[Item], free: Sequence[int], idx: Iterable[int], size: int, skip: int
) -> _Offer | None:
    """The free pieces of `idx`, dearest first, cut into complete groups of `size`; in each
    group the pieces after the first `skip` are discounted. An offer of their full value
    (the caller applies the percentage); it takes every piece of the complete groups."""
    runs = sorted(((items[i].unit_price_fen, i, free[i]) for i in idx), key=lambda r: (-r[0], r[1]))
    end = sum(r[2] for r in runs) // size * size
    if end == 0:
        return None

    def count(x: int) -> int:  # discounted positions in [0, x)
        return x // size * (size - skip) + max(0, x % size - skip)

    use, weight, pos = {}, {}, 0
    for unit, i, n in runs:
        if pos >= end:
            break
        use[i] = min(n, end - pos)
        weight[i] = (count(pos + use[i]) - count(pos)) * unit
        pos += n
    lines = sorted(use)
    return _Offer(sum(weight.values()), use, [weight[i] for i in lines])


def _bundle(
    rule: rules.Bundle, items: Sequence[Item], free: Sequence[int], idx: Iterable[int]
) -> _Offer | None:
    have: dict[str, list[int]] = {}
    for i in idx:
        have.setdefault(items[i].sku, []).append(i)
    sets = min(sum(free[i] for i in have.get(b.sku, [])) // b.qty for b in rule.items)
    if sets == 0:
        return None
    use: dict[int, int] = {}
    for b in rule.items:
        need = sets * b.qty
        for i in have[b.sku]:
            if n := min(need, free[i]):
                use[i] = n
                need -= n
    lines = sorted(use)
    weights = [use[i] * items[i].unit_price_fen for i in lines]
    saving = sum(weights) - sets * rule.price_fen
    return _Offer(saving, use, weights) if saving > 0 else None


class _Outcome:
    def __init__(
        self,
        chosen: Sequence[int],
        b: _Basket,
        savings: list[Saving],
        handouts: list[Handout],
        refused: list[tuple[str, str]],
    ) -> None:
        self.chosen, self.b, self.savings = chosen, b, savings
        self.handouts, self.refused = handouts, refused

    @property
    def total(self) -> int:
        return self.b.gross_total - self.b.off


class _Engine:
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
                if coupons.in_scope(t, _CouponLine(it.sku, it.category, 0, 0, 0))
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

    def _capped(self, offer: _Offer | None) -> _Offer | None:
        """At most what the lines can give above their floors (or at all, overridden)."""
        if offer is None:
            return None
        stop = [0] * len(self.gross) if self.override else self.floors
        offer.raw = offer.saving
        offer.saving = min(offer.saving, sum(self.gross[i] - stop[i] for i in offer.use))
        return offer if offer.saving > 0 else None

    def _offers(self, n: int, free: Sequence[int], idx: Iterable[int]) -> list[_Offer]:
        """Promotion n's offers (n == member_n: the member prices) on the free pieces of the
        lines idx: one per line for line kinds, one for the pool for pooled kinds."""
        idx = [i for i in idx if free[i]]
        if not idx:
            return []
        found: list[_Offer | None] = []
        if n == self.member_n:
            prices = self.member.prices if self.member else {}
            for i in idx:
                it, k = self.items[i], free[i]
                mp = prices.get(it.sku)
                if mp is not None and mp < it.unit_price_fen:
                    at_mp = k * mp if self.by_piece[i] else extend(it.qty_milli, mp)
                    found.append(_Offer(self._value(i, k) - at_mp, {i: k}, [1]))
            return [o for o in map(self._capped, found) if o is not None]
        rule = self.promos[n].rule
        if isinstance(rule, rules.PercentOff):
            found = [
                _Offer(_half_up_pct(self._value(i, free[i]), rule.percent_off), {i: free[i]}, [1])
                for i in idx
            ]
        elif isinstance(rule, rules.MultiBuy | rules.BuyXGetY):
            size, skip = (
                (rule.n, 0) if isinstance(rule, rules.MultiBuy) else (rule.buy + rule.get, rule.buy)
            )
            g = _grouped(self.items, free, idx, size, skip)
            if g is not None:
                g.saving = _half_up_pct(g.saving, rule.percent_off)
            found = [g]
        elif isinstance(rule, rules.Bundle):
            found = [_bundle(rule, self.items, free, idx)]
        return [o for o in map(self._capped, found) if o is not None]

    # -- one evaluation: a given set of promotions ------------------------------------------
    def evaluate(self, chosen: Sequence[int]) -> _Outcome:
        return self.with_coupons(self.promoted(chosen))

    def promoted(self, chosen: Sequence[int]) -> _Outcome:
        """Stages 1-3 for one combination (coupons: `with_coupons`)."""
        b = _Basket(list(self.gross), self.floors, self.override)
        out = _Outcome(chosen, b, [], [], [])
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

    def with_coupons(self, out: _Outcome) -> _Outcome:
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

    def coupon_bound(self, out: _Outcome) -> int:
        """The most the coupons could still take off this combination's basket: every
        coupon at its face value (the search skips a combination that cannot win even so)."""
        total, most = out.total, 0
        for t in self.terms:
            if t.kind == "percent_off":
                off = _half_up_pct(total, t.percent_off)
                most += off if t.cap_fen is None else min(off, t.cap_fen)
            elif t.kind == "gift":
                most += max(
                    (it.unit_price_fen for it in self.items if it.sku == t.gift_sku), default=0
                )
            else:
                most += t.amount_fen
        return min(most, total)

    def _items(self, b: _Basket, chosen: Sequence[int], savings: list[Saving]) -> set[int]:
        """Greedy: the biggest offer first. An offer some of whose pieces went to a bigger one
        meanwhile is worked out again on what is still free, and one the floor now caps lower
        is put back at its new size (a lazy greedy). The exact assignment is a set packing,
        NP-hard in general; the greedy is exact when scopes do not overlap, the usual case.
        Returns the lines any item promotion touched."""
        heap: list[tuple[int, int, int, int, _Offer]] = []
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

    def _tier(self, b: _Basket, taken: set[int], savings: list[Saving]) -> None:
        m = self.member
        if m is None or m.discount_pct >= 100:
            return
        idx = [i for i in range(len(self.items)) if i not in taken]
        nets = [b.net(i) for i in idx]
        off = _half_up_pct(sum(nets), 100 - m.discount_pct)
        saved, gave = b.take(off, idx, nets)
        if saved:
            savings.append(Saving("tier", "member", f"tier {m.tier or ''}".strip(), saved, gave))

    def _order(
        self, b: _Basket, key: tuple[int, ...], chosen: Sequence[int], savings: list[Saving]
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

    def _coupons(self, b: _Basket, savings: list[Saving]) -> list[tuple[str, str]]:
        if not self.terms:
            return []
        lines = [
            _CouponLine(it.sku, it.category, it.unit_price_fen, b.disc[i], b.net(i))
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

    # -- the search over exclusive groups ---------------------------------------------------
    def _can_apply(self, n: int) -> bool:
        """Whether promotion n can give anything in this basket, whatever else is chosen:
        an item promotion with an offer on the untouched basket, an order promotion whose
        scope reaches its threshold before any discount."""
        rule = self.promos[n].rule
        if isinstance(rule, rules.SpendSave | rules.Gift):
            return sum(self.gross[i] for i in self.scope[n]) >= rule.threshold_fen
        return bool(self.first[n])

    def choices(self, limit: int) -> tuple[list[list[int]], str]:
        """The combinations to evaluate: every ungrouped promotion that can apply, and per
        exclusive group one of its members or none (a member may cost the customer more
        than none: it can keep a coupon off a promoted line or under its threshold, or
        block two smaller offers)."""
        live = [n for n in range(len(self.promos)) if self._can_apply(n)]
        free = [n for n in live if self.promos[n].group is None]
        groups: dict[str, list[int | None]] = {}
        for n in live:
            if (g := self.promos[n].group) is not None:
                groups.setdefault(g, [None]).append(n)
        if not self.terms:  # an order promotion only ever takes more off: then none of an
            for g, members in groups.items():  # order-only group never beats a member
                if all(self.kinds[n] in rules.ORDER_KINDS for n in members[1:]):
                    groups[g] = members[1:]
        options = [groups[g] for g in sorted(groups)]
        combos = 1
        for o in options:
            combos *= len(o)
        if combos <= limit:
            return [
                sorted(free + [n for n in c if n is not None]) for c in itertools.product(*options)
            ], "exhaustive"
        picked: list[int] = []
        for o in options:  # each group's choice that is best alone, beside the ungrouped
            best = min(o, key=lambda n: self._total(sorted(free + ([] if n is None else [n]))))
            picked += [] if best is None else [best]
        return [sorted(free + picked)], "greedy"

    def _total(self, chosen: list[int]) -> int:
        return self.evaluate(chosen).total


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
    eng = _Engine(items, live, member, coupons_presented, store, policy, override)
    combos, search = eng.choices(policy.exhaustive_limit)
    # stages 1-3 for every combination; then the coupons, the most promising first, skipping
    # a combination whose best case with coupons cannot beat the best found (ties go to the
    # earlier combination, as if all were evaluated in order)
    pre = [eng.promoted(chosen) for chosen in combos]
    best, best_k = None, 0
    for k in sorted(range(len(pre)), key=lambda k: (pre[k].total, k)):
        if best is not None:
            floor = pre[k].total - eng.coupon_bound(pre[k])
            if (floor, k) > (best.total, best_k):
                continue
        out = eng.with_coupons(pre[k])
        if best is None or (out.total, k) < (best.total, best_k):
            best, best_k = out, k
    assert best is not None
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
        search=search,
        promotions=[eng.promos[n].id for n in best.chosen],
    )
