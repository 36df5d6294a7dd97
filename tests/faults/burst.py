"""What every fault scenario shares: lanes selling at once through the real lane API, and the
closing account (docs/reliability.md): the hub holds exactly the sales the lanes were
confirmed, each member sale earned points once, the stock ledger moved once per line, and one
printed figure line per scenario."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from rig.processes import Edge, Hub
from rig.samples import sale_body
from rig.waiting import wait_until


class Burst:
    """`lanes` lanes of one gateway, each selling `per_lane` sales as fast as it is answered.
    A lane whose POST got no answer (the gateway died, a timeout) or a refusal (507/503: the
    disk is full) retries the same sale with the same Idempotency-Key, as a POS does: a sale
    counts as confirmed only once a 201 (or its 200 replay) came back."""

    def __init__(
        self,
        edge: Edge,
        prefix: str,
        lanes: int = 4,
        per_lane: int = 100,
        member: str = "",
        pace_s: float = 0.0,
    ) -> None:
        self.edge, self.prefix, self.lanes, self.per_lane = edge, prefix, lanes, per_lane
        self.pace_s = pace_s  # a pause after each sale, so a burst can span an outage
        self.member = member  # every third sale is this member's
        self.confirmed: dict[str, str] = {}  # sale_id -> Idempotency-Key
        self.bodies: dict[str, dict[str, Any]] = {}  # sale_id -> the body the lane sent
        self.refusals: list[tuple[int, str]] = []  # (status, reason) answers to a sale
        self.errors: list[str] = []  # any other answer: a failure of the scenario
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._lane, args=(n,), daemon=True) for n in range(1, lanes + 1)
        ]

    def start(self) -> Burst:
        for t in self._threads:
            t.start()
        return self

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stop.set()
        assert not self.errors, self.errors[:3]
        assert not any(t.is_alive() for t in self._threads), "lanes still selling"

    @property
    def count(self) -> int:
        return len(self.confirmed)

    def _lane(self, lane: int) -> None:
        http = httpx.Client(headers=self.edge.http.headers, timeout=5)
        for i in range(self.per_lane):
            key = f"{self.prefix}-{lane}-{i}"
            body = sale_body(i, self.member if self.member and i % 3 == 0 else None)
            while not self.stop.is_set():
                try:
                    r = http.post(
                        f"{self.edge.http.base_url}/api/lanes/{lane}/sales",
                        json=body,
                        headers={"Idempotency-Key": key},
                    )
                except httpx.HTTPError:  # the gateway is down: the lane waits and retries
                    time.sleep(0.05)
                    continue
                if r.status_code in (503, 507):
                    with self._lock:
                        self.refusals.append((r.status_code, r.json().get("error", r.text)))
                    time.sleep(0.1)
                    continue
                if r.status_code not in (200, 201):  # the lane stops; join() reports it
                    self.errors.append(f"lane {lane} sale {i}: {r.status_code} {r.text}")
                    return
                with self._lock:
                    self.confirmed[r.json()["sale_id"]] = key
                    self.bodies[r.json()["sale_id"]] = body
                break
            time.sleep(self.pace_s)
        http.close()


def drain(hub: Hub, edge: Edge, timeout: float = 90) -> float:
    """Wait until the hub has applied everything the gateway journaled; seconds it took."""
    t0 = time.monotonic()

    def done() -> bool:
        j = edge.journal()
        return j["backlog"] == 0 and hub.last_seq(edge.store, edge.gateway) == j["last_seq"]

    wait_until(done, timeout, 0.1, what=f"drain\n{edge.tail()}\n{hub.tail()}")
    return time.monotonic() - t0


def caught_up(hub: Hub, edge: Edge, timeout: float = 90) -> float:
    """The time to drain after recovery: seconds until the hub holds everything the gateway
    had journaled at the moment of the call (the lanes may go on selling meanwhile)."""
    t0 = time.monotonic()
    target = edge.journal()["last_seq"]
    wait_until(
        lambda: hub.last_seq(edge.store, edge.gateway) >= target,
        timeout,
        0.1,
        what=f"the hub to reach seq {target}\n{edge.tail()}\n{hub.tail()}",
    )
    return time.monotonic() - t0


def new_member(hub: Hub, phone: str = "13800138000") -> str:
    r = hub.http.post("/api/members", json={"phone": phone, "name": "故障演练"})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


@dataclass
class Figures:
    scenario: str
    confirmed: int
    at_hub: int
    lost: int
    duplicated: int
    points_diff: int
    stock_diff: int
    drain_s: float
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"FIGURES {self.scenario}: confirmed {self.confirmed}, at hub {self.at_hub}, "
            f"lost {self.lost}, duplicated {self.duplicated}, points diff {self.points_diff}, "
            f"stock diff {self.stock_diff}, drain {self.drain_s:.1f} s"
            + (f" ({'; '.join(self.notes)})" if self.notes else "")
        )


def _ledger(hub: Hub, member: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    before = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"before": before} if before else {})}
        page = hub.http.get(f"/api/members/{member}/points/ledger", params=params).json()
        entries += page["entries"]
        before = page["next_cursor"]
        if not before:
            return entries


def points_difference(hub: Hub, member: str, member_sales: set[str]) -> int:
    """Member sales without their earning, earnings twice or for no confirmed sale, a balance
    that is not the sum of its ledger, and whatever the loyalty books find."""
    entries = _ledger(hub, member)
    earned = Counter(e["sale_id"] for e in entries if e["sale_id"])
    diff = len(member_sales - set(earned))
    diff += sum(c - 1 for c in earned.values()) + len(set(earned) - member_sales)
    balance = hub.http.get(f"/api/members/{member}/points").json()["balance"]
    diff += abs(balance - sum(e["points"] for e in entries))
    diff += len(hub.http.get("/api/points/books").json()["problems"])
    return diff


def stock_difference(hub: Hub, store: str, bodies: list[dict[str, Any]]) -> int:
    """Milli-units between the hub's on-hand and what the confirmed sales took out (the store
    starts at zero), plus any balance that is not the sum of its moves (GET /api/stock/check)."""
    sold: Counter[str] = Counter()
    for body in bodies:
        for line in body["lines"]:
            sold[line["sku"]] += line["qty_milli"]
    levels = hub.http.get(f"/api/stock/stores/{store}").json()["levels"]
    on_hand = {x["sku"]: x["on_hand_milli"] for x in levels}
    diff = sum(abs(on_hand.get(sku, 0) + qty) for sku, qty in sold.items())
    check = hub.http.get("/api/stock/check", params={"store": store}).json()
    return diff + len(check["mismatches"])


def account(
    scenario: str, hub: Hub, edge: Edge, bursts: list[Burst], drain_s: float, member: str = ""
) -> Figures:
    """The closing account of a scenario, printed; the caller asserts the goal."""
    confirmed = {sid: b for b in bursts for sid in b.confirmed}
    got = hub.sale_ids(edge.store)
    counts = Counter(got)
    bodies = [b.bodies[sid] for sid, b in confirmed.items()]
    member_sales = {sid for sid, b in confirmed.items() if b.bodies[sid].get("member_id")}
    fig = Figures(
        scenario=scenario,
        confirmed=len(confirmed),
        at_hub=len(got),
        lost=len(set(confirmed) - set(got)),
        duplicated=sum(c - 1 for c in counts.values()) + len(set(got) - set(confirmed)),
        points_diff=points_difference(hub, member, member_sales) if member else 0,
        stock_diff=stock_difference(hub, edge.store, bodies),
        drain_s=drain_s,
    )
    print(fig.line(), flush=True)
    return fig


def assert_goal(fig: Figures) -> None:
    assert fig.confirmed > 0
    assert (fig.lost, fig.duplicated, fig.points_diff, fig.stock_diff) == (0, 0, 0, 0), fig.line()
    assert fig.at_hub == fig.confirmed, fig.line()
