"""BG/NBD and Gamma-Gamma: the vectorised log-likelihoods against the model's definition
(an integral over the individual-level likelihood), and the fits recovering the parameters of
data drawn from the model itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from hub.analytics import ltv_model as L


def _bgnbd_by_integral(r, alpha, a, b, x, t_x, T) -> float:
    """L(r,α,a,b | x,t_x,T) = ∫∫ L(λ,p | x,t_x,T) g(λ|r,α) f(p|a,b) dλ dp, with the
    individual likelihood (1-p)^x λ^x e^(-λT) + [x>0] p(1-p)^(x-1) λ^x e^(-λ t_x)."""

    # the densities written out (scipy.stats' pdf per point is 100x slower)
    log_g = r * math.log(alpha) - math.lgamma(r)
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def inner(lam: float, p: float) -> float:
        like = (1 - p) ** x * lam**x * math.exp(-lam * T)
        if x > 0:
            like += p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x)
        g = math.exp(log_g + (r - 1) * math.log(lam) - alpha * lam) if lam > 0 else 0.0
        f = math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p) - log_beta)
        return like * g * f

    val, _ = integrate.dblquad(inner, 1e-12, 1 - 1e-12, 0, np.inf, epsabs=1e-12, epsrel=1e-8)
    return math.log(val)


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 5.0), (1, 2.0, 5.0), (3, 4.5, 6.0), (2, 0.5, 10.0)]
)
def test_bgnbd_loglik_matches_the_integral(x: int, t_x: float, T: float) -> None:
    r, alpha, a, b = 1.3, 2.0, 1.7, 3.1  # a, b > 1: the beta density is bounded, dblquad converges
    closed = L.bgnbd_loglik_each(r, alpha, a, b, [x], [t_x], [T])[0]
    assert closed == pytest.approx(_bgnbd_by_integral(r, alpha, a, b, x, t_x, T), abs=1e-6)


def test_bgnbd_loglik_hand_case() -> None:
    """x = 0: the likelihood is B(a,b)/B(a,b) · (α/(α+T))^r = (α/(α+T))^r."""
    r, alpha, a, b, T = 0.5, 3.0, 0.9, 2.0, 7.0
    assert L.bgnbd_loglik_each(r, alpha, a, b, [0], [0], [T])[0] == pytest.approx(
        r * math.log(alpha / (alpha + T))
    )


def test_p_alive_and_expectation_limits() -> None:
    m = L.BgNbd(0.3, 5.0, 0.8, 2.0)
    # never bought again: alive for sure in the model; bought long ago and not since: less so
    assert L.p_alive(m, [0], [0], [30])[0] == 1.0
    recent, stale = L.p_alive(m, [4, 4], [29, 3], [30, 30])
    assert 0 < stale < recent <= 1
    # expected purchases grow with the horizon and with a customer's frequency
    e = L.expected_purchases(m, 10, [1, 1, 5], [20, 20, 28], [30, 30, 30])
    e2 = L.expected_purchases(m, 20, [1], [20], [30])
    assert e[0] < e2[0]
    assert e[1] < e[2]


def test_bgnbd_recovers_known_parameters() -> None:
    true = L.BgNbd(r=0.25, alpha=4.0, a=0.8, b=2.5)
    x, t_x, T = L.simulate_bgnbd(true, 20000, 39.0, np.random.default_rng(7))
    fit = L.fit_bgnbd(x, t_x, T)
    assert fit.r == pytest.approx(true.r, rel=0.15)
    assert fit.alpha == pytest.approx(true.alpha, rel=0.25)
    assert fit.a == pytest.approx(true.a, rel=0.3)
    assert fit.b == pytest.approx(true.b, rel=0.35)
    # the optimum is at least as likely as the truth
    assert fit.loglik >= L.bgnbd_loglik(true.r, true.alpha, true.a, true.b, x, t_x, T) - 1e-6


def test_gamma_gamma_recovers_known_parameters() -> None:
    p, q, v = 6.0, 4.0, 15.0
    rng = np.random.default_rng(3)
    n = 8000
    nu = rng.gamma(q, 1 / v, n)  # each customer's spend rate
    x = rng.integers(1, 8, n)
    mx = np.array([rng.gamma(p, 1 / nu[i], x[i]).mean() for i in range(n)])
    fit = L.fit_gamma_gamma(x, mx)
    assert fit.p == pytest.approx(p, rel=0.15)
    assert fit.q == pytest.approx(q, rel=0.25)
    assert fit.v == pytest.approx(v, rel=0.35)
    # the conditional mean lies between the customer's own average and the population's
    pop = fit.p * fit.v / (fit.q - 1)
    own = 1000.0
    e = L.expected_value(fit, [3], [own])[0]
    assert min(pop, own) < e < max(pop, own)


def test_gamma_gamma_loglik_hand_case() -> None:
    """x = 1, p = 1, q = 1, v = 1: Γ(2)/(Γ(1)Γ(1)) · 1 · m^0 · 1 / (1+m)^2 = 1/(1+m)^2."""
    assert L.gamma_gamma_loglik_each(1, 1, 1, [1], [3.0])[0] == pytest.approx(math.log(1 / 16))


def test_fit_refuses_impossible_summaries() -> None:
    with pytest.raises(ValueError, match="t_x"):
        L.fit_bgnbd([1], [5], [3])
    with pytest.raises(ValueError, match="no customer"):
        L.fit_gamma_gamma([0, 0], [0, 0])


def test_holdout_check_buckets() -> None:
    s = L.summarise({"a": {0: 5.0, 3: 7.0}, "b": {1: 2.0}, "c": {9: 1.0}}, calibration_end=5)
    assert s.customers == ["a", "b"]  # c first bought after calibration
    assert list(s.x) == [1, 0] and list(s.t_x) == [3, 0] and list(s.T) == [5, 4]
    assert list(s.mx) == [7.0, 0.0]
    out = L.holdout_check(L.BgNbd(0.5, 2.0, 1.5, 2.0), s, np.array([2.0, 0.0]), 4.0)
    assert [b["frequency"] for b in out["buckets"]] == ["0", "1"]
    assert out["actual"] == 2
    assert out["predicted"] > 0
