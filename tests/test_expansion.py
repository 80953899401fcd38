"""Tests of :mod:`hjbsolve.expansion`.

Every numerical check compares against a reference computed independently of the module's
closed forms: brute-force quadrature of Gaussian densities, a Crank–Nicolson solve of the
linear PDEs the pieces satisfy, a Monte Carlo of the OU path integrals, the residual of the
full nonlinear HJB equation (eq. 25), or exact symmetries. Tolerances are justified where
they are set.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.sparse as sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.sparse.linalg import splu

import hjbsolve as hs
from hjbsolve.expansion import (
    ORDERS,
    Expansion,
    _delta_law,
    _e_cosh,
    _e_sinh,
    _e_sinh_sinh,
    _unit_rule,
    expansion,
)
from hjbsolve.hamiltonian import ask_marginal, bid_marginal, side_hamiltonian
from hjbsolve.policies import TabulatedPolicy

# A problem where every piece matters: Δ(0, 98) = 2(1 − e^{−1}) ≈ 1.26, so kΔ ≈ 1.5.
OU = dict(a=1.0, mu=100.0, sigma=0.6)
BASE = dict(A=20.0, k=1.2, z=0.4, T=1.0, eps=0.01, eta=1.0, nu=2.0, alpha=0.05)


def ou_model(a=OU["a"], mu=OU["mu"], sigma=OU["sigma"], **changes) -> hs.Model:
    return hs.Model(price=hs.OrnsteinUhlenbeck(a, mu, sigma), **{**BASE, **changes})


def brownian_model(sigma=OU["sigma"], **changes) -> hs.Model:
    return hs.Model(price=hs.Brownian(sigma), **{**BASE, **changes})


def c_alpha(m: hs.Model) -> float:
    """``A e^{−k(z+α)}/(e k)`` typed from the paper (eq. 9 with the costs of §3.8)."""
    return m.A * math.exp(-m.k * (m.z + m.alpha)) / (math.e * m.k)


def delta_ou(m: hs.Model, t, s):
    """``Δ = (μ − s)(1 − e^{−a(T−t)})`` typed from §4 (with the mean-reverting sign)."""
    p = m.price
    return (p.mu - np.asarray(s, float)) * (1.0 - np.exp(-p.a * (m.T - np.asarray(t, float))))


# ============================================================================ quadrature rule
@pytest.mark.parametrize("lam", [0.0, 1.5, 50.0, 1000.0])
def test_unit_rule_integrates_layers_of_width_one_over_lam(lam):
    """Reference: exact integrals of e^{−λx}, e^{−λ(1−x)} and a degree-20 polynomial on [0, 1].

    Tolerance 1e-13: the rule is meant to be accurate to rounding for these shapes.
    """
    x, w = _unit_rule(lam, 48)
    assert np.all(np.diff(x) > 0) and x[0] > 0 and x[-1] < 1
    assert abs(w.sum() - 1.0) < 1e-14
    assert abs(w @ x**20 - 1.0 / 21.0) < 1e-14
    for rate in (lam, 0.3 * lam):
        if rate == 0:
            continue
        exact = -math.expm1(-rate) / rate
        assert abs(w @ np.exp(-rate * x) / exact - 1) < 1e-13
        assert abs(w @ np.exp(-rate * (1 - x)) / exact - 1) < 1e-13


# ============================================================================ Gaussian pieces
def test_delta_law_agrees_with_model_methods():
    """The cancellation-free mean and slope equal ``model.delta``/``price.decay`` (paper model, s ≈ 3000).

    Tolerance: 1e-12·|s| absolute on the mean — the rounding of ``price.mean(s, ·) − s``
    at s = 3000, which the module's formula avoids.
    """
    m = hs.paper_model("ou")
    t, s = 0.2, np.array([2990.0, 3000.0, 3009.0, 3030.0])
    xi = np.linspace(t, m.T, 7)[:, None]
    mean, slope, var = _delta_law(m, t, s, xi)
    assert np.allclose(mean, m.delta(xi, m.price.mean(s, xi - t)), rtol=0, atol=1e-12 * 3030)
    assert np.allclose(slope, 1.0 - m.price.decay(m.T - xi), rtol=1e-14, atol=1e-16)
    assert np.allclose(var, slope**2 * m.price.variance(xi - t), rtol=1e-14, atol=0)


def _density_s(m, t, s, xi):
    """Law of S_ξ given S_t = s from the OU transition typed here (not from the module)."""
    p = m.price
    mean = p.mu + (s - p.mu) * math.exp(-p.a * (xi - t))
    var = p.sigma**2 * (1 - math.exp(-2 * p.a * (xi - t))) / (2 * p.a)
    return mean, math.sqrt(var)


@pytest.mark.parametrize("t, s, xi", [(0.0, 98.0, 0.3), (0.1, 101.5, 0.8), (0.5, 100.2, 0.999)])
def test_gaussian_cosh_sinh_match_quadrature(t, s, xi):
    """E cosh(kΔ_ξ), E sinh(kΔ_ξ) against scipy.quad over the Gaussian density of S_ξ.

    Tolerance 1e-10 relative: quad reaches ~1e-13 on these smooth integrands over ±12 std.
    """
    m = ou_model(a=1.3, sigma=0.9)
    k = m.k
    mu_s, sd = _density_s(m, t, s, xi)

    def expect(f):
        g = lambda x: f(k * delta_ou(m, xi, x)) * stats.norm.pdf(x, mu_s, sd)  # noqa: E731
        return integrate.quad(g, mu_s - 12 * sd, mu_s + 12 * sd, epsabs=0, epsrel=1e-13, limit=200)[0]

    mean, _, var = _delta_law(m, t, s, xi)
    assert abs(_e_cosh(k * mean, k**2 * var) / expect(np.cosh) - 1) < 1e-10
    assert abs(_e_sinh(k * mean, k**2 * var) / expect(np.sinh) - 1) < 1e-10


@pytest.mark.parametrize("t, s, xi, u", [(0.0, 98.0, 0.3, 0.7), (0.2, 101.0, 0.25, 0.95)])
def test_gaussian_sinh_sinh_matches_double_quadrature(t, s, xi, u):
    """E[sinh(kΔ_ξ) sinh(kΔ_u)] against scipy.dblquad over (S_ξ, S_u).

    The reference uses the Markov property (S_u | S_ξ is the OU transition), not the
    covariance formula. Tolerance 1e-7 relative: dblquad with epsrel 1e-9 over ±9 std (the
    truncated Gaussian mass is ~1e-19).
    """
    m = ou_model(a=1.3, sigma=0.9)
    k, p = m.k, m.price
    m1, sd1 = _density_s(m, t, s, xi)

    def integrand(y, x):  # x = S_ξ, y = S_u
        m2, sd2 = _density_s(m, xi, x, u)
        return (np.sinh(k * delta_ou(m, xi, x)) * np.sinh(k * delta_ou(m, u, y))
                * stats.norm.pdf(x, m1, sd1) * stats.norm.pdf(y, m2, sd2))

    def y_lo(x):
        return _density_s(m, xi, x, u)[0] - 9 * _density_s(m, xi, x, u)[1]

    def y_hi(x):
        return _density_s(m, xi, x, u)[0] + 9 * _density_s(m, xi, x, u)[1]

    ref = integrate.dblquad(integrand, m1 - 9 * sd1, m1 + 9 * sd1, y_lo, y_hi, epsabs=0, epsrel=1e-9)[0]
    mx, cx, vx = _delta_law(m, t, s, xi)
    my, cy, vy = _delta_law(m, t, s, u)
    cov = cx * cy * p.variance(xi - t) * p.decay(u - xi)
    got = _e_sinh_sinh(k * mx, k * my, k**2 * vx, k**2 * vy, k**2 * cov)
    assert abs(got / ref - 1) < 1e-7


# ============================================================================ independent PDE solve
def _pde_reference(m, s_eval, half_width, ds, n_t, pi_at_xi=True):
    """Crank–Nicolson solve of the linear PDEs satisfied by h⁰, θ₁¹, θ₀¹ (from eqs. 11, 25).

    ``(∂_t + a(μ−s)∂_s + σ²/2 ∂_ss) f + source = 0``, ``f(T) = 0``, with sources
    ``2C cosh(kΔ)``, ``−4kC π̃ sinh(kΔ)`` and ``2kC(θ₁¹ sinh(kΔ) − π̃ cosh(kΔ))`` (θ₁¹ taken from
    this same solve). At the ends of the s-grid the drift points inwards: upwind drift, no
    diffusion. ``pi_at_xi=False`` freezes π̃ at the evaluation time 0 (the other reading of
    eq. 24). Returns ``(h0, theta1, theta0)`` at ``t = 0`` and ``s_eval``.
    """
    p, k, C, T = m.price, m.k, c_alpha(m), m.T
    s = p.mu + np.arange(-round(half_width / ds), round(half_width / ds) + 1) * ds
    b = p.a * (p.mu - s)
    D = 0.5 * p.sigma**2 / ds**2
    lo, di, up = np.zeros(s.size), np.zeros(s.size), np.zeros(s.size)
    lo[1:-1], di[1:-1], up[1:-1] = D - b[1:-1] / (2 * ds), -2 * D, D + b[1:-1] / (2 * ds)
    di[0], up[0] = -b[0] / ds, b[0] / ds
    di[-1], lo[-1] = b[-1] / ds, -b[-1] / ds
    L = sparse.diags([lo[1:], di, up[:-1]], [-1, 0, 1], format="csc")
    dt = T / n_t
    eye = sparse.identity(s.size, format="csc")
    lu = splu((eye - 0.5 * dt * L).tocsc())
    rhs_op = (eye + 0.5 * dt * L).tocsr()

    def pi(t):
        return m.eta * m.z + m.nu * p.sigma**2 * (T - (t if pi_at_xi else 0.0))

    def src(t):
        d = k * delta_ou(m, t, s)
        return np.stack([2 * C * np.cosh(d), -4 * k * C * pi(t) * np.sinh(d)], axis=1)

    def src0(t, th1):
        d = k * delta_ou(m, t, s)
        return 2 * k * C * (th1 * np.sinh(d) - pi(t) * np.cosh(d))

    f, g = np.zeros((s.size, 2)), np.zeros(s.size)
    for j in range(n_t):
        t_hi, t_lo = T - j * dt, T - (j + 1) * dt
        f_new = lu.solve(rhs_op @ f + 0.5 * dt * (src(t_hi) + src(t_lo)))
        g = lu.solve(rhs_op @ g + 0.5 * dt * (src0(t_hi, f[:, 1]) + src0(t_lo, f_new[:, 1])))
        f = f_new
    return np.interp(s_eval, s, f[:, 0]), np.interp(s_eval, s, f[:, 1]), np.interp(s_eval, s, g)


def test_terms_match_pde_reference():
    """h⁰, θ₁¹, θ₀¹ against a Crank–Nicolson solve, Richardson-extrapolated in (ds, dt).

    The grid is ±7 around μ (the evaluation points are ≥ 5 σ√T from the ends). Observed:
    plain CN errors 1e-6–2e-5 (second order), Richardson ~1e-11. Tolerance 1e-9 relative,
    and the two CN levels must themselves agree to 1e-4 (the reference has converged).
    The alternative reading of eq. (24) — π̃ frozen at t inside ∫Hπ̃dξ — is rejected by a
    margin far above the tolerance.
    """
    m = ou_model()
    s_eval = np.array([98.0, 99.5, 101.0])
    coarse = _pde_reference(m, s_eval, 7.0, 0.02, 500)
    fine = _pde_reference(m, s_eval, 7.0, 0.01, 1000)
    tm = expansion(m).terms(0.0, s_eval)
    for key, c, f in zip(("h0", "theta1_1", "theta0_1"), coarse, fine):
        assert np.all(np.abs(f / c - 1) < 1e-4), key
        rich = (4 * f - c) / 3
        assert np.all(np.abs(tm[key] / rich - 1) < 1e-9), (key, tm[key], rich)
    frozen = _pde_reference(m, s_eval, 7.0, 0.02, 500, pi_at_xi=False)
    assert np.all(np.abs(tm["theta1_1"] / frozen[1] - 1) > 1e-2)


# ============================================================================ Monte Carlo
def _mc_terms(m, t, s, n_paths, n_steps, rng):
    """Path integrals of h⁰, θ₁¹, θ₀¹ over exact OU paths (trapezoid in time).

    θ₀¹ uses ``E[θ₁¹(ξ,S_ξ) sinh(kΔ_ξ)] = −4kC E[sinh(kΔ_ξ) ∫_ξ^T π̃ sinh(kΔ_u) du]`` along
    the same path (tower property), so the joint law of (Δ_ξ, Δ_u) is sampled, not computed.
    Returns ``{name: (mean, standard error)}``.
    """
    p, k, C = m.price, m.k, c_alpha(m)
    xi = np.linspace(t, m.T, n_steps + 1)
    dt = xi[1] - xi[0]
    rho = math.exp(-p.a * dt)
    sd = p.sigma * math.sqrt((1 - rho**2) / (2 * p.a))
    S = np.empty((n_steps + 1, n_paths))
    S[0] = s
    for j in range(n_steps):
        S[j + 1] = p.mu + (S[j] - p.mu) * rho + sd * rng.standard_normal(n_paths)
    D = delta_ou(m, xi[:, None], S)
    pit = (m.eta * m.z + m.nu * p.sigma**2 * (m.T - xi))[:, None]
    w = np.full((n_steps + 1, 1), dt)
    w[0] = w[-1] = dt / 2
    sh, ch = np.sinh(k * D), np.cosh(k * D)
    f = pit * sh
    tail = np.zeros_like(f)
    tail[:-1] = np.cumsum((0.5 * dt * (f[1:] + f[:-1]))[::-1], axis=0)[::-1]
    samples = {
        "h0": 2 * C * np.sum(w * ch, 0),
        "theta1_1": -4 * k * C * np.sum(w * f, 0),
        "theta0_1": -2 * k * C * np.sum(w * pit * ch, 0) - 8 * (k * C) ** 2 * np.sum(w * sh * tail, 0),
    }
    return {key: (v.mean(), v.std(ddof=1) / math.sqrt(n_paths)) for key, v in samples.items()}


@pytest.mark.parametrize("t, s", [(0.0, 98.0), (0.4, 101.0)])
def test_terms_match_monte_carlo(t, s):
    """h⁰, θ₁¹, θ₀¹ within 4 standard errors of a fixed-seed Monte Carlo (10⁴ exact OU paths).

    The trapezoid bias (200 steps, O(dt²) ≈ 1e-5 relative) is < 1 % of the standard error.
    """
    m = ou_model()
    mc = _mc_terms(m, t, s, 10_000, 200, np.random.default_rng(20130403))
    tm = expansion(m).terms(t, s)
    for key, (mean, se) in mc.items():
        assert abs(float(tm[key]) - mean) < 4 * se, (key, float(tm[key]), mean, se)


# ============================================================================ the full HJB equation
def _h(ex: Expansion, t, q, s):
    """Reduced value ``h_q = v_q − q(s + Δ)`` assembled from ``terms`` (no q·s cancellation)."""
    T = ex.terms(t, s)
    h = T["h0"]
    if ex.order == 1:
        h = h + ex.model.eps * (T["theta0_1"] + q * T["theta1_1"] + q**2 * T["theta2_1"])
    return h


def _hjb_residual(ex: Expansion, t, q, s, ht=1e-3, hs_=1e-2):
    """Residual of eq. (25) in the reduced variables, with 4th-order finite differences.

    ``(∂_t + L) h_q + H(p⁺) + H(p⁻) − ε ν σ² q²`` with ``H`` = :func:`side_hamiltonian`.
    Finite-difference error: ~1e-9 (truncation ht⁴, hs⁴ times O(10) derivatives; rounding
    1e-16·|h|/hs² ≈ 1e-11).
    """
    m, p = ex.model, ex.model.price
    d1 = np.array([1.0, -8.0, 8.0, -1.0]) / 12
    d2 = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / 12
    h_t = d1 @ np.array([_h(ex, t + j * ht, q, s) for j in (-2, -1, 1, 2)]) / ht
    hs_vals = np.array([_h(ex, t, q, s + j * hs_) for j in (-2, -1, 0, 1, 2)])
    h_s = d1 @ hs_vals[[0, 1, 3, 4]] / hs_
    h_ss = d2 @ hs_vals / hs_**2
    Delta = m.delta(t, s)
    hq, hm, hp = _h(ex, t, q, s), _h(ex, t, q - 1, s), _h(ex, t, q + 1, s)
    jumps = (side_hamiltonian(ask_marginal(hq, hm, Delta), m.A, m.k, m.z, m.alpha)
             + side_hamiltonian(bid_marginal(hq, hp, Delta), m.A, m.k, m.z, m.alpha))
    return h_t + p.drift(s) * h_s + 0.5 * p.sigma**2 * h_ss + jumps - m.eps * m.nu * p.sigma**2 * q**2


@pytest.mark.parametrize("make", [ou_model, brownian_model], ids=["ou", "brownian"])
@pytest.mark.parametrize("q", [-3, 0, 2])
def test_first_order_expansion_solves_hjb_to_order_eps_squared(make, q):
    """The order-1 value leaves a residual O(ε²) in the nonlinear HJB equation (25).

    Halving ε must divide the residual by 4 (observed 3.96–3.998; the O(ε³) term moves the
    ratio by ~1 % at ε = 8e-3). The smallest residual (~1e-5) is 10⁴ × the FD error.
    The order-0 value, by contrast, leaves an O(ε) residual (ratio 2) when q ≠ 0.
    """
    epss = [8e-3, 4e-3, 2e-3, 1e-3]
    r1 = np.array([_hjb_residual(expansion(make(eps=e), 1), 0.3, q, 98.5) for e in epss])
    ratios = r1[:-1] / r1[1:]
    assert np.all(np.abs(ratios - 4) < 0.2), ratios
    if q != 0:
        r0 = np.array([_hjb_residual(expansion(make(eps=e), 0), 0.3, q, 98.5) for e in epss])
        assert np.all(np.abs(r0[:-1] / r0[1:] - 2) < 0.01)


@pytest.mark.parametrize("make", [ou_model, brownian_model], ids=["ou", "brownian"])
@pytest.mark.parametrize("t", [0.05, 0.5, 0.9])
def test_order0_is_exact_at_eps0(make, t):
    """At ε = 0 the order-0 value solves eq. (25) exactly: residual at the FD error level.

    Tolerance 1e-8 absolute, against jump terms of size ~10 (FD error ~1e-9, see helper).
    """
    ex = expansion(make(eps=0.0), 0)
    for q in (-5, 0, 7):
        assert abs(_hjb_residual(ex, t, q, 99.0)) < 1e-8


@pytest.mark.parametrize("order", ORDERS)
def test_terminal_condition(order):
    """``v_q(T, s) = q s − ε η z q²`` at order 1 (eq. 11; eq. 14's extra ε is a typo), ``q s`` at order 0."""
    m = ou_model()
    q, s = np.arange(-4, 5), 99.3
    expected = q * s - (m.eps * m.eta * m.z * q**2 if order == 1 else 0.0)
    assert np.allclose(expansion(m, order).value(m.T, q, s), expected, rtol=1e-15, atol=1e-12)


# ============================================================================ limits and symmetries
def test_ou_tends_to_brownian_as_a_to_0():
    """OU(a) → the Brownian closed forms as a → 0, at the expected rates and with the expected
    leading coefficients.

    With ``τ = T − t`` and ``d = μ − s``, to leading order ``Δ_ξ ≈ a d (T − ξ)`` and
    ``Var Δ_ξ ≈ a² σ² (T − ξ)² (ξ − t)``, so (integrals done by hand)
    ``θ₁¹ ≈ −4k²C a d (η z τ²/2 + ν σ² τ³/3)`` and
    ``h⁰ − 2Cτ ≈ C k² a² (d² τ³/3 + σ² τ⁴/12)``; ``θ₀¹`` and the quotes approach the Brownian
    values at rates a² and a. Tolerances: the next order is O(a) relative to the leading
    term, so 20·a; rate ratios within 5 %.
    """
    t, q, s = np.array([0.0, 0.5]), 3, 98.0
    b = expansion(brownian_model())
    tb = b.terms(t, s)
    gaps = {}
    for a in (1e-2, 1e-3):
        m = ou_model(a=a)
        ex = expansion(m)
        to = ex.terms(t, s)
        gaps[a] = {key: np.abs(to[key] - tb[key]) for key in ("h0", "theta1_1", "theta0_1")}
        gaps[a]["ask"] = np.abs(ex.quotes(t, q, s)[0] - b.quotes(t, q)[0])
        tau, d, C, k = m.T - t, m.price.mu - s, c_alpha(m), m.k
        th1_lead = -4 * k**2 * C * a * d * (m.eta * m.z * tau**2 / 2 + m.nu * m.sigma**2 * tau**3 / 3)
        h0_lead = C * k**2 * a**2 * (d**2 * tau**3 / 3 + m.sigma**2 * tau**4 / 12)
        assert np.all(np.abs(to["theta1_1"] / th1_lead - 1) < 20 * a)
        assert np.all(np.abs((to["h0"] - 2 * C * tau) / h0_lead - 1) < 20 * a)
    assert np.all(tb["theta1_1"] == 0) and np.allclose(tb["h0"], 2 * c_alpha(m) * (m.T - t), rtol=1e-15)
    for key, rate in (("theta1_1", 10), ("ask", 10), ("h0", 100), ("theta0_1", 100)):
        ratio = gaps[1e-2][key] / gaps[1e-3][key]
        assert np.all(np.abs(ratio / rate - 1) < 0.05), (key, ratio)


params = st.fixed_dictionaries({
    "A": st.floats(1.0, 200.0), "k": st.floats(0.3, 3.0), "z": st.floats(0.0, 1.0),
    "T": st.floats(0.1, 3.0), "eps": st.floats(0.0, 0.05), "eta": st.floats(0.0, 2.0),
    "nu": st.floats(0.0, 2.0), "alpha": st.floats(-0.3, 0.3),
})


@settings(max_examples=40, deadline=None)
@given(params=params, sigma=st.floats(0.05, 2.0), q=st.integers(-50, 50), frac=st.floats(0.0, 1.0))
def test_brownian_quotes_mirror_in_inventory(params, sigma, q, frac):
    """Brownian: ``δ⁺(q) = δ⁻(−q)`` exactly (the problem is symmetric under q → −q)."""
    ex = expansion(hs.Model(price=hs.Brownian(sigma), **params))
    t = frac * params["T"]
    ask, _ = ex.quotes(t, q)
    _, bid = ex.quotes(t, -q)
    assert abs(ask - bid) <= 1e-13 * max(1.0, abs(ask))


@settings(max_examples=25, deadline=None)
@given(params=params, a=st.floats(0.01, 5.0), sigma=st.floats(0.05, 1.5), q=st.integers(-30, 30),
       frac=st.floats(0.0, 1.0), x=st.floats(-2.0, 2.0))
def test_ou_reflection_symmetry(params, a, sigma, q, frac, x):
    """OU: reflecting the price about μ and the inventory about 0 swaps the sides.

    ``δ⁺(t, q, μ+x) = δ⁻(t, −q, μ−x)``; h⁰ and θ₀¹ are even and θ₁¹ odd in ``s − μ``.
    Tolerance: 1e-12 relative — rounding only.
    """
    mu = 50.0
    ex = expansion(hs.Model(price=hs.OrnsteinUhlenbeck(a, mu, sigma), **params))
    t = frac * params["T"]
    ask, _ = ex.quotes(t, q, mu + x)
    _, bid = ex.quotes(t, -q, mu - x)
    assert abs(ask - bid) <= 1e-12 * max(1.0, abs(ask))
    up, dn = ex.terms(t, mu + x), ex.terms(t, mu - x)
    for key, sign in (("h0", 1), ("theta0_1", 1), ("theta1_1", -1)):
        assert abs(up[key] - sign * dn[key]) <= 1e-12 * max(1.0, abs(up[key])), key


@settings(max_examples=30, deadline=None)
@given(params=params, a=st.floats(0.01, 5.0), sigma=st.floats(0.05, 1.5), q=st.integers(-30, 30),
       frac=st.floats(0.0, 1.0), x=st.floats(-2.0, 2.0), brownian=st.booleans())
def test_eps0_first_order_equals_order0(params, a, sigma, q, frac, x, brownian):
    """With ε = 0 the order-1 quotes and value are the order-0 ones, exactly."""
    price = hs.Brownian(sigma) if brownian else hs.OrnsteinUhlenbeck(a, 50.0, sigma)
    m = hs.Model(price=price, **{**params, "eps": 0.0})
    t, s = frac * params["T"], 50.0 + x
    e0, e1 = expansion(m, 0), expansion(m, 1)
    assert np.array_equal(e0.quotes(t, q, s), e1.quotes(t, q, s))
    assert e0.value(t, q, s) == e1.value(t, q, s)


@settings(max_examples=40, deadline=None)
@given(params=params, a=st.floats(0.01, 5.0), sigma=st.floats(0.05, 1.5), q=st.integers(-30, 30),
       frac=st.floats(0.0, 1.0), x=st.floats(-2.0, 2.0), brownian=st.booleans())
def test_spread_and_centre_formulas(params, a, sigma, q, frac, x, brownian):
    """Eqs. (22)–(23), (26): ``ψ = 2/k + 2α + 2επ̃``, ``r = s + Δ + ε(θ₁¹ − 2qπ̃)``.

    π̃ and Δ are typed here from the paper; for a Brownian price ``θ₁¹ = 0`` so the centre
    is fully independent: ``r = s − 2qεπ̃`` (§3.7). Tolerance: rounding of O(|q|·επ̃) terms.
    """
    price = hs.Brownian(sigma) if brownian else hs.OrnsteinUhlenbeck(a, 50.0, sigma)
    m = hs.Model(price=price, **params)
    ex = expansion(m, 1)
    t, s = frac * m.T, 50.0 + x
    pi = m.eta * m.z + m.nu * sigma**2 * (m.T - t)
    tol = 1e-12 * (1 + abs(q)) * (1 + abs(s) + 1 / m.k + m.eps * pi)
    assert abs(ex.spread(t, q, s) - (2 / m.k + 2 * m.alpha + 2 * m.eps * pi)) <= tol
    Delta = 0.0 if brownian else float(delta_ou(m, t, s))
    th1 = float(ex.terms(t, s)["theta1_1"])
    assert abs(ex.centre(t, q, s) - (s + Delta + m.eps * (th1 - 2 * q * pi))) <= tol + 1e-12 * abs(m.eps * th1)
    if brownian:
        assert th1 == 0.0


@pytest.mark.parametrize("make", [ou_model, brownian_model], ids=["ou", "brownian"])
def test_order0_quotes_are_one_over_k_plus_alpha_plus_minus_delta(make):
    """Eq. (9) with costs (eq. 26 at ε = 0): ``δ^± = 1/k + α ± Δ``, Δ typed from §4."""
    m = make()
    t, q, s = np.linspace(0, m.T, 5)[:, None], np.array([-7, 0, 4]), 98.7
    ask, bid = expansion(m, 0).quotes(t, q, s)
    Delta = delta_ou(m, t, s) if isinstance(m.price, hs.OrnsteinUhlenbeck) else 0.0
    assert np.allclose(ask, 1 / m.k + m.alpha + Delta + 0 * q, rtol=1e-14, atol=1e-14)
    assert np.allclose(bid, 1 / m.k + m.alpha - Delta + 0 * q, rtol=1e-14, atol=1e-14)


def test_long_inventory_lowers_the_ask_and_raises_the_bid():
    """Eq. (26) (and the paper's §4 narrative): a long market maker quotes a cheaper ask.

    ``∂δ⁺/∂q = −2επ̃ < 0``, ``∂δ⁻/∂q = +2επ̃`` — the §3.7 prose states the opposite (ERRATA).
    """
    m = ou_model()
    ex = expansion(m)
    q = np.arange(-3, 4)
    ask, bid = ex.quotes(0.2, q, 99.0)
    pi = m.eta * m.z + m.nu * m.sigma**2 * (m.T - 0.2)
    assert np.allclose(np.diff(ask), -2 * m.eps * pi, rtol=1e-12)
    assert np.allclose(np.diff(bid), 2 * m.eps * pi, rtol=1e-12)


def test_value_is_assembled_from_terms():
    """``value = q(s + Δ) + h⁰ + ε(θ₀¹ + qθ₁¹ + q²θ₂¹)`` (order 1) and ``q(s+Δ) + h⁰`` (order 0)."""
    m = ou_model()
    t, q, s = np.array([[0.0], [0.6]]), np.array([-2, 0, 5]), np.array([[97.5], [100.5]])
    T = expansion(m).terms(t, s)
    v1 = q * (s + T["Delta"]) + T["h0"] + m.eps * (T["theta0_1"] + q * T["theta1_1"] + q**2 * T["theta2_1"])
    assert np.allclose(expansion(m, 1).value(t, q, s), v1, rtol=1e-14, atol=1e-12)
    assert np.allclose(expansion(m, 0).value(t, q, s), q * (s + T["Delta"]) + T["h0"], rtol=1e-14, atol=1e-12)
    assert expansion(m).value(t, q, s).shape == (2, 3)


# ============================================================================ quadrature convergence
@pytest.mark.parametrize("price", [
    hs.OrnsteinUhlenbeck(0.1, 3009.0, 0.5),      # the paper's §4
    hs.OrnsteinUhlenbeck(2.0, 100.0, 1.0),
    hs.OrnsteinUhlenbeck(50.0, 100.0, 2.0),      # graded panels
    hs.OrnsteinUhlenbeck(1000.0, 100.0, 10.0),   # strongly graded
    hs.OrnsteinUhlenbeck(0.5, 100.0, 3.0),       # k²Var(Δ)/2 ≈ 3
], ids=["paper", "a2", "a50", "a1000", "wide"])
def test_quadrature_converges_on_doubling(price):
    """Doubling the Gauss–Legendre nodes changes h⁰, θ₁¹, θ₀¹ by < 1e-12 relative."""
    m = hs.Model(price=price, A=100.0, k=2.0 if price.a == 0.5 else 1.0, z=0.3, T=1.0, eps=1e-2, alpha=0.02)
    mu = price.mu
    t, s = np.array([0.0, 0.3, 0.99]), np.array([mu - 9.0, mu - 0.5, mu + 2.0])
    e1 = expansion(m, 1).terms(t, s)
    e2 = expansion(m, 1, n_quad=2 * Expansion(m).n_quad).terms(t, s)
    for key in ("h0", "theta1_1", "theta0_1"):
        assert np.all(np.abs(e1[key] - e2[key]) <= 1e-12 * np.abs(e2[key])), key


def test_no_floating_point_exceptions_with_strong_mean_reversion():
    """Under ``np.errstate(all='raise')`` (as a strict conftest would set) nothing trips at a T = 10⁴."""
    m = ou_model(a=1e4, sigma=50.0)
    ex = expansion(m, 1, n_quad=16)
    with np.errstate(all="raise"):
        terms = ex.terms(np.array([0.0, 0.5, 1.0]), 99.0)
        ask, bid = ex.quotes(0.0, 3, 99.0)
        ex.value(0.2, 3, 99.0)
    assert all(np.all(np.isfinite(v)) for v in terms.values()) and np.isfinite(ask + bid)


# ============================================================================ tabulation
@pytest.mark.parametrize("order", ORDERS)
def test_tabulate_reproduces_quotes_ou(order):
    """Tables equal ``quotes`` at every node (affine-in-q fill vs direct evaluation, 1e-12)."""
    m = ou_model()
    ex = expansion(m, order)
    s = np.linspace(97.0, 103.0, 7)
    pol = ex.tabulate(n_t=11, s=s, q_max=20)
    assert isinstance(pol, TabulatedPolicy) and pol.ask.shape == (11, 7, 41)
    q = np.arange(-20, 21)
    ask, bid = ex.quotes(pol.t[:, None, None], q, s[None, :, None])
    assert np.allclose(pol.ask[..., 1:], ask[..., 1:], rtol=1e-12, atol=1e-12)
    assert np.allclose(pol.bid[..., :-1], bid[..., :-1], rtol=1e-12, atol=1e-12)
    assert np.all(np.isinf(pol.ask[..., 0])) and np.all(np.isinf(pol.bid[..., -1]))
    a2, b2 = pol.quotes(pol.t[3], 5, s[2])
    assert np.isclose(a2, ex.quotes(pol.t[3], 5, s[2])[0], rtol=1e-12)
    assert np.isclose(b2, ex.quotes(pol.t[3], 5, s[2])[1], rtol=1e-12)


def test_tabulate_brownian_is_price_free():
    m = brownian_model()
    ex = expansion(m)
    pol = ex.tabulate(m, n_t=5, q_max=3)
    assert pol.s.tolist() == [0.0] and pol.ask.shape == (5, 1, 7)
    assert np.allclose(pol.ask[2, 0, 1:], ex.quotes(pol.t[2], np.arange(-2, 4))[0], rtol=1e-13)


def test_tabulate_is_fast():
    """201 times × 100 prices: the expansion's work (θ₁¹ on the grid) takes well under a second."""
    ex = expansion(hs.paper_model("ou"))
    ex.tabulate(n_t=3, s=np.array([3000.0, 3001.0]), q_max=2)  # warm-up
    start = time.perf_counter()
    ex.tabulate(n_t=201, s=np.linspace(2990.0, 3020.0, 100), q_max=10)
    assert time.perf_counter() - start < 1.0


# ============================================================================ bad input
@pytest.mark.parametrize("kwargs, name", [
    (dict(order=2), "order"), (dict(order=-1), "order"), (dict(order=1.0), "order"),
    (dict(order=True), "order"), (dict(n_quad=1), "n_quad"),
])
def test_bad_construction_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        expansion(ou_model(), **kwargs)


def test_bad_model_is_rejected():
    with pytest.raises(ValueError, match="model"):
        expansion("not a model")


@pytest.mark.parametrize("call, name", [
    (lambda ex: ex.quotes(1.5, 0, 100.0), "t"),
    (lambda ex: ex.quotes(-0.1, 0, 100.0), "t"),
    (lambda ex: ex.value(np.nan, 0, 100.0), "t"),
    (lambda ex: ex.terms(2.0, 100.0), "t"),
    (lambda ex: ex.quotes("noon", 0, 100.0), "t"),
    (lambda ex: ex.quotes(0.5, 0.5, 100.0), "q"),
    (lambda ex: ex.quotes(0.5, True, 100.0), "q"),
    (lambda ex: ex.quotes(0.5, 0, "high"), "s"),
    (lambda ex: ex.quotes(0.5, 0), "s"),
    (lambda ex: ex.value(0.5, 0, np.inf), "s"),
    (lambda ex: ex.tabulate(n_t=11), "s"),
    (lambda ex: ex.tabulate(n_t=11, s=np.array([101.0, 100.0])), "s"),
    (lambda ex: ex.tabulate(n_t=1, s=np.array([100.0])), "n_t"),
    (lambda ex: ex.tabulate(n_t=11, s=np.array([100.0]), q_max=0), "q_max"),
    (lambda ex: ex.tabulate(ou_model(T=2.0), n_t=11, s=np.array([100.0])), "T"),
])
def test_bad_call_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(expansion(ou_model()))


def test_brownian_value_needs_s():
    with pytest.raises(ValueError, match=r"\bs\b"):
        expansion(brownian_model()).value(0.5, 1, None)
