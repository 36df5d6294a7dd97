"""Lifetime value models, pure numerics (no database, no files): BG/NBD for how often a
customer buys and whether he is still "alive" (Fader, Hardie & Lee 2005), Gamma-Gamma for how
much he spends per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

Per customer the inputs are the calibration summary
  x    repeat transactions (transactions after the first),
  t_x  time of the last transaction, counted from the first,
  T    time from the first transaction to the end of calibration,
  m    average value of the repeat transactions (Gamma-Gamma only, customers with x > 0),
all in one time unit (a day or a week). Fits are maximum likelihood over log-parameters
(so every parameter stays positive) with L-BFGS-B; the log-likelihoods are vectorised over
all customers with scipy.special.gammaln / betaln and never exponentiate before they must
(logaddexp), so 100,000 customers fit in a few seconds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

_BOUND = (-12.0, 12.0)  # log-parameters: e^±12 is far beyond any plausible value


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    loglik: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _arrays(*cols: object) -> list[np.ndarray]:
    return [np.asarray(c, dtype=float) for c in cols]


def bgnbd_loglik_each(
    r: float, alpha: float, a: float, b: float, x: object, t_x: object, T: object
) -> np.ndarray:
    """Each customer's log-likelihood (the paper's equation 6, in logs):
    L = B(a,b+x)/B(a,b) · Γ(r+x)α^r / (Γ(r)(α+T)^(r+x))
        + [x>0] B(a+1,b+x-1)/B(a,b) · Γ(r+x)α^r / (Γ(r)(α+t_x)^(r+x))."""
    x, t_x, T = _arrays(x, t_x, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    # for x = 0 the second term is absent: b + x - 1 may be ≤ 0 there, so give it b + 1
    bx1 = np.where(repeat, b + x - 1, b + 1)
    dropped = np.where(repeat, betaln(a + 1, bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return common + np.logaddexp(alive, dropped)


def bgnbd_loglik(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: object,
    t_x: object,
    T: object,
    weights: object | None = None,
) -> float:
    each = bgnbd_loglik_each(r, alpha, a, b, x, t_x, T)
    return float(np.sum(each if weights is None else each * np.asarray(weights, dtype=float)))


def _compress(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Identical customers share one likelihood term: fit over the unique rows, weighted by
    how many customers each stands for (with daily data most customers repeat few patterns)."""
    rows, counts = np.unique(np.column_stack(cols), axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], counts.astype(float)


def fit_bgnbd(x: object, t_x: object, T: object) -> BgNbd:
    """Maximum likelihood fit of (r, α, a, b)."""
    x, t_x, T = _arrays(x, t_x, T)
    if len(x) == 0:
        raise ValueError("no customers to fit")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("need x ≥ 0 and 0 ≤ t_x ≤ T for every customer")
    (ux, ut, uT), w = _compress(x, t_x, T)
    scale = max(float(np.mean(T)), 1e-9)  # α is in time units: start it near them

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        v = -bgnbd_loglik(r, alpha, a, b, ux, ut, uT, w)
        return v if np.isfinite(v) else 1e300

    start = np.log([1.0, scale, 1.0, 1.0])
    res = minimize(nll, start, method="L-BFGS-B", bounds=[_BOUND] * 4)
    r, alpha, a, b = (float(v) for v in np.exp(res.x))
    return BgNbd(r, alpha, a, b, -float(res.fun))


def p_alive(m: BgNbd, x: object, t_x: object, T: object) -> np.ndarray:
    """P(still a customer | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))."""
    x, t_x, T = _arrays(x, t_x, T)
    repeat = x > 0
    bx1 = np.where(repeat, m.b + x - 1, 1.0)
    log_odds = np.log(m.a) - np.log(bx1) + (m.r + x) * (np.log(m.alpha + T) - np.log(m.alpha + t_x))
    return np.where(repeat, 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700.0))), 1.0)


def expected_purchases(m: BgNbd, t: float, x: object, t_x: object, T: object) -> np.ndarray:
    """E[transactions in the next t | x, t_x, T] (the paper's equation 10)."""
    x, t_x, T = _arrays(x, t_x, T)
    rx = m.r + x
    z = t / (m.alpha + T + t)
    head = (m.a + m.b + x - 1) / (m.a - 1)
    with np.errstate(all="ignore"):
        tail = 1.0 - np.exp(rx * (np.log(m.alpha + T) - np.log(m.alpha + T + t))) * hyp2f1(
            rx, m.b + x, m.a + m.b + x - 1, z
        )
        alive = p_alive(m, x, t_x, T)
        exact = head * tail * alive
    # a ≈ 1 or ₂F₁ near its singularity: the closed form is 0/0; there, the alive customer's
    # expected rate (r+x)/(α+T) over t, times P(alive) (an upper bound: no drop-out in t)
    rough = alive * t * rx / (m.alpha + T)
    return np.where(np.isfinite(exact) & (exact >= 0), exact, rough)


def gamma_gamma_loglik_each(p: float, q: float, v: float, x: object, mx: object) -> np.ndarray:
    """Each customer's log-likelihood of his average repeat value mx over x transactions:
    Γ(px+q)/(Γ(px)Γ(q)) · v^q · mx^(px-1) · x^(px) / (v + x·mx)^(px+q)."""
    x, mx = _arrays(x, mx)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(mx)
        + px * np.log(x)
        - (px + q) * np.log(v + x * mx)
    )


def fit_gamma_gamma(x: object, mx: object) -> GammaGamma:
    """Maximum likelihood fit of (p, q, v) on customers with at least one repeat transaction
    and a positive average value (others are left out: the model is of positive spend)."""
    x, mx = _arrays(x, mx)
    keep = (x > 0) & (mx > 0)
    x, mx = x[keep], mx[keep]
    if len(x) == 0:
        raise ValueError("no customer with a repeat transaction of positive value")
    (ux, um), w = _compress(x, mx)
    scale = max(float(np.mean(mx)), 1e-9)

    def nll(theta: np.ndarray) -> float:
        p, q, v = np.exp(theta)
        val = -float(np.sum(gamma_gamma_loglik_each(p, q, v, ux, um) * w))
        return val if np.isfinite(val) else 1e300

    start = np.log([1.0, 2.0, scale])
    res = minimize(nll, start, method="L-BFGS-B", bounds=[_BOUND] * 3)
    p, q, v = (float(val) for val in np.exp(res.x))
    return GammaGamma(p, q, v, -float(res.fun))


def expected_value(g: GammaGamma, x: object, mx: object) -> np.ndarray:
    """E[value of a transaction | x, mx] = p(v + x·mx) / (px + q - 1): the customer's own
    average shrunk towards the population's p·v/(q-1), less the more transactions he has."""
    x, mx = _arrays(x, mx)
    mx = np.where(x > 0, mx, 0.0)
    return g.p * (g.v + x * mx) / (g.p * x + g.q - 1)


def simulate_purchases(
    m: BgNbd, n: int, horizon: float, rng: np.random.Generator
) -> list[list[float]]:
    """Repeat-purchase times of customers drawn from the model itself (for tests and the
    bench): each gets a rate λ ~ Gamma(r, α) and a drop-out probability p ~ Beta(a, b), buys
    by a Poisson process from his first purchase at 0, and after each repeat purchase leaves
    with probability p."""
    lam = rng.gamma(m.r, 1.0 / m.alpha, n)
    drop = rng.beta(m.a, m.b, n)
    out: list[list[float]] = []
    for i in range(n):
        times: list[float] = []
        t = rng.exponential(1.0 / lam[i])
        while t <= horizon:
            times.append(t)
            if rng.random() < drop[i]:
                break
            t += rng.exponential(1.0 / lam[i])
        out.append(times)
    return out


def simulate_bgnbd(
    m: BgNbd, n: int, T: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of `n` simulated customers all observed for T."""
    times = simulate_purchases(m, n, T, rng)
    x = np.array([len(t) for t in times], dtype=float)
    t_x = np.array([t[-1] if t else 0.0 for t in times])
    return x, t_x, np.full(n, float(T))


@dataclass
class Summary:
    """The calibration summary of customers, in one time unit (`period_days` days)."""

    customers: list[str]
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    mx: np.ndarray  # average value of the repeat transactions (0 when x = 0)


def summarise(
    purchases: dict[str, dict[int, float]], calibration_end: int, period_days: int = 1
) -> Summary:
    """`purchases`: customer → {day number: amount of that day} (one transaction per customer
    and day). Customers whose first purchase is after `calibration_end` are not in it."""
    names: list[str] = []
    xs: list[float] = []
    txs: list[float] = []
    Ts: list[float] = []
    ms: list[float] = []
    for who, days in purchases.items():
        cal = sorted(d for d in days if d <= calibration_end)
        if not cal:
            continue
        first = cal[0]
        repeat = cal[1:]
        names.append(who)
        xs.append(len(repeat))
        txs.append((cal[-1] - first) / period_days)
        Ts.append((calibration_end - first) / period_days)
        ms.append(sum(days[d] for d in repeat) / len(repeat) if repeat else 0.0)
    return Summary(names, *_arrays(xs, txs, Ts, ms))


BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")


def holdout_check(m: BgNbd, s: Summary, actual: np.ndarray, length: float) -> dict[str, object]:
    """Predicted vs actual transactions in the holdout (`length` periods after calibration)
    per calibration frequency bucket: the model's conditional expectation summed over the
    bucket's customers against what they really did."""
    predicted = expected_purchases(m, length, s.x, s.t_x, s.T)
    bucket = np.minimum(s.x, 7).astype(int)
    rows = []
    for i, name in enumerate(BUCKETS):
        sel = bucket == i
        n = int(sel.sum())
        if n == 0:
            continue
        rows.append(
            {
                "frequency": name,
                "customers": n,
                "predicted": round(float(predicted[sel].sum()), 3),
                "actual": int(actual[sel].sum()),
                "predicted_mean": round(float(predicted[sel].mean()), 4),
                "actual_mean": round(float(actual[sel].mean()), 4),
            }
        )
    return {
        "length": length,
        "buckets": rows,
        "predicted": round(float(predicted.sum()), 3),
        "actual": int(actual.sum()),
    }
