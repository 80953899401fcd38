"""Tests of hjbsolve.exact: the Brownian case solved by matrix exponentials in the log domain.

Every check compares against a reference computed independently of the code under test
(closed forms, an ODE integrator on the nonlinear system, a 30-digit matrix exponential, the
published mbt_gym implementation of Cartea–Jaimungal–Penalva eq. 10.11). Tolerances are
justified where they are set. ``exact_brownian(model, q_max, t)`` is
``solve(model, method="expm", t_eval=t)``: a :class:`~hjbsolve.Solution` exact at the stored
times (``t`` among them); ``_h(ex, t)`` reads ``h_q(t) = v_q(t, 0)`` there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from scipy.sparse import diags
from scipy.sparse.linalg import expm_multiply

import hjbsolve as hs
from hjbsolve.exact import _expm_ones, exact_brownian
from hjbsolve.model import Brownian, Model, paper_model
from hjbsolve.policies import TabulatedPolicy


@pytest.fixture(autouse=True)
def _raise_on_fp_errors():
    """The code must not rely on silent overflow/underflow/invalid operations."""
    with np.errstate(all="raise"):
        yield


@pytest.fixture(scope="module")
def paper600():
    """Paper §4 parameters with a Brownian mid-price, Q = 600 (the NOTES.md pitfall case)."""
    return exact_brownian(paper_model("brownian"), q_max=600)


def _h(ex, t):
    """``h_q(t)`` at the stored time(s) ``t`` for every inventory, shape ``(len(t), 2Q+1)``."""
    t = np.atleast_1d(np.asarray(t, float))
    assert np.all(np.isin(t, ex.t)), "not a stored time"
    return ex.value(t[:, None], ex.q[None, :], 0.0)


def _c(model: Model) -> float:
    """``C = A e^{−k(z+α)} / (e k)``, typed independently of the module under test."""
    return model.A * math.exp(-model.k * (model.z + model.alpha)) / (math.e * model.k)


# ---------------------------------------------------------------------------------- ε = 0
def test_eps0_quotes_and_value_are_the_closed_form():
    """ε = 0: quotes 1/k + α (paper eq. 9 with Δ = 0, eq. 26) and h_0(t) = 2C(T − t).

    With Q = 600 the inventory limits are out of reach: with ε = 0 the inventory is a
    symmetric walk with jump rate 2kC ≈ 424 per unit time, and reaching |q| = 550 from
    |q| <= 50 within T = 1 needs >= 550 jumps, P(Poisson(424) >= 550) < 1e-8, whose effect on the
    quotes near 0 is further damped by many orders of magnitude (it is 0.0 in practice). The
    tolerance on h covers rounding only: ~200 slices, each adding ~1 ulp of |h| <= 424
    (6e-14), i.e. < 2e-11.
    """
    m = paper_model("brownian", eps=0.0)
    ex = exact_brownian(m, q_max=600)
    q = np.arange(-50, 51)
    ask, bid = ex.quotes(ex.t[:, None], q[None, :], 3000.0)
    assert np.max(np.abs(ask - (1 / m.k + m.alpha))) <= 1e-12
    assert np.max(np.abs(bid - (1 / m.k + m.alpha))) <= 1e-12
    np.testing.assert_allclose(ex.g[:, 0, ex.q_max], 2 * _c(m) * (m.T - ex.t), rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------- nonlinear ODE
def test_small_system_matches_radau_on_the_nonlinear_h_ode():
    """Q = 3 against solve_ivp(Radau) on the *nonlinear* h-system (not its linearisation).

    Radau with rtol = atol = 1e-12 on |h| <= 5 has a global error of order 1e-11; the exact
    solution is at rounding level, so 1e-8 leaves a wide margin (measured: ~2e-13).
    The penalties are large (kφQ²T = 18, kϖ(2Q−1) = 5) so the nonlinearity matters.
    """
    m = Model(price=Brownian(1.0), A=10.0, k=2.0, z=0.1, T=2.0, eps=0.5, eta=1.0, nu=1.0, alpha=0.02)
    Q = 3
    t = np.linspace(0.0, m.T, 11)
    ex = exact_brownian(m, q_max=Q, t=t)
    q = np.arange(-Q, Q + 1, dtype=float)
    C, k, phi = _c(m), m.k, m.eps * m.nu * m.price.sigma**2
    varpi = m.eps * m.eta * m.z

    def rhs(_, h):
        up = np.r_[h[1:], 0.0]
        dn = np.r_[0.0, h[:-1]]
        jumps = C * (np.where(q > -Q, np.exp(k * (dn - h)), 0.0) + np.where(q < Q, np.exp(k * (up - h)), 0.0))
        return phi * q**2 - jumps

    sol = solve_ivp(rhs, (m.T, 0.0), -varpi * q**2, method="Radau", rtol=1e-12, atol=1e-12, t_eval=t[::-1])
    assert sol.success
    np.testing.assert_allclose(_h(ex, t), sol.y.T[::-1], rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------------- high precision
def test_matches_a_30_digit_matrix_exponential():
    """Q = 15, strong penalty (ε = 0.05): against ω(0) = expm(−T M) ω(T) in 30-digit arithmetic.

    One exponential is exact here because mpmath has no overflow and 30 digits to spare. Our h
    (|h| ≈ 421) may carry ~200 slices × 1 ulp (6e-14) of rounding: tolerance 1e-11 on h and on
    the quotes (measured: 3e-13 and 6e-14).
    """
    import mpmath as mp
    mp.mp.dps = 30
    m = paper_model("brownian", eps=0.05)
    Q = 15
    ex = exact_brownian(m, q_max=Q, t=[0.0, m.T])
    k = mp.mpf(m.k)
    kC = mp.mpf(m.A) * mp.e ** (-k * (mp.mpf(m.z) + mp.mpf(m.alpha))) / mp.e
    phi = mp.mpf(m.eps) * mp.mpf(m.nu) * mp.mpf(m.price.sigma) ** 2
    varpi = mp.mpf(m.eps) * mp.mpf(m.eta) * mp.mpf(m.z)
    n = 2 * Q + 1
    minus_m = mp.zeros(n, n)
    for i in range(n):
        minus_m[i, i] = -k * phi * (i - Q) ** 2
        if i > 0:
            minus_m[i, i - 1] = kC
        if i < n - 1:
            minus_m[i, i + 1] = kC
    omega_T = mp.matrix([mp.e ** (-k * varpi * (i - Q) ** 2) for i in range(n)])
    omega_0 = mp.expm(minus_m * m.T) * omega_T
    h_ref = np.array([float(mp.log(omega_0[i]) / k) for i in range(n)])
    np.testing.assert_allclose(_h(ex, 0.0)[0], h_ref, rtol=0, atol=1e-11)
    q = np.arange(-Q + 1, Q)
    ask, bid = ex.quotes(0.0, q, 0.0)
    np.testing.assert_allclose(ask, 1 / m.k + m.alpha + h_ref[q + Q] - h_ref[q + Q - 1], rtol=0, atol=1e-11)
    np.testing.assert_allclose(bid, 1 / m.k + m.alpha + h_ref[q + Q] - h_ref[q + Q + 1], rtol=0, atol=1e-11)


def test_series_kernel_matches_scipy_expm_multiply():
    """The non-negative Taylor kernel against scipy's expm_multiply on the same rescaled generator.

    expm_multiply is accurate to ~1e-15 in norm; entries of the result range over ~e^{±4} here,
    so 1e-13 relative is its entrywise accuracy with margin.
    """
    rng = np.random.default_rng(20130403)
    n = 201
    ask = rng.uniform(50.0, 400.0, n - 1)
    bid = rng.uniform(50.0, 400.0, n - 1)
    dpen = 90.0 * np.linspace(-1, 1, n) ** 2
    c = dpen.max()
    tau = 4.0 / (c + 800.0)
    total, n_terms = _expm_ones(ask, bid, c - dpen, tau)
    g = diags([ask, -dpen, bid], [-1, 0, 1], format="csr")
    with np.errstate(all="ignore"):  # scipy's internals are not ours to police
        ref = expm_multiply(tau * g, np.ones(n))
    np.testing.assert_allclose(total * math.exp(-c * tau), ref, rtol=1e-13)
    assert 10 < n_terms < 60


# ---------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("slice_norm", [2.0, 1.0])
def test_slicing_does_not_change_the_answer(paper600, slice_norm):
    """Halving (and quartering) the slices changes h only by rounding.

    The slice propagator is exact for any τ, so differences are rounding: with |h| <= 424
    and up to 600 slices, < 600 ulp ≈ 4e-11 in the worst case; measured ~3e-13.
    """
    ex = exact_brownian(paper600.model, q_max=600, slice_norm=slice_norm)
    assert ex.info["slices"] > paper600.info["slices"]
    np.testing.assert_array_equal(ex.t, paper600.t)
    np.testing.assert_allclose(ex.g, paper600.g, rtol=0, atol=1e-10)
    a0, b0 = paper600.quotes(ex.t[:, None], ex.q[None, :], 0.0)
    a1, b1 = ex.quotes(ex.t[:, None], ex.q[None, :], 0.0)
    np.testing.assert_allclose(a1[:, 1:], a0[:, 1:], rtol=0, atol=1e-10)
    np.testing.assert_allclose(b1[:, :-1], b0[:, :-1], rtol=0, atol=1e-10)


def test_paper_parameters_q600_finite_everywhere(paper600):
    """Q = 600 at the paper's parameters: finite quotes on every quoted side (the speed is measured
    by benchmarks/bench_solve.py)."""
    ex = paper600
    ask, bid = ex.quotes(ex.t[:, None], ex.q[None, :], 3000.0)
    assert np.all(np.isfinite(ex.g))
    assert np.all(np.isfinite(ask[:, 1:])) and np.all(np.isposinf(ask[:, 0]))
    assert np.all(np.isfinite(bid[:, :-1])) and np.all(np.isposinf(bid[:, -1]))
    # the log-domain range the NOTES.md pitfall is about is really there
    assert ex.model.k * (ex.g.max() - ex.g.min()) > 500


def test_quotes_near_zero_do_not_depend_on_q_max(paper600):
    """Q = 300 vs Q = 600 for |q| <= 100 at all stored times.

    Under the optimal policy the inventory is a fast mean-reverting walk (±~20 over the day
    from q = 0), so limits 200 units away have no effect at double precision; the tolerance
    covers rounding only (measured 6e-14).
    """
    ex300 = exact_brownian(paper600.model, q_max=300, t=paper600.t)
    q = np.arange(-100, 101)
    a6, b6 = paper600.quotes(paper600.t[:, None], q[None, :], 0.0)
    a3, b3 = ex300.quotes(paper600.t[:, None], q[None, :], 0.0)    # stored in both
    np.testing.assert_allclose(a3, a6, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b3, b6, rtol=0, atol=1e-10)


@pytest.mark.parametrize("alpha", [-0.1, 0.0, 0.05, 0.3])
def test_symmetry_ask_at_q_equals_bid_at_minus_q(alpha):
    """Brownian ⇒ Δ = 0 ⇒ the problem is symmetric under q → −q: δ⁺(q) = δ⁻(−q).

    Only rounding breaks it: 1e-12 is ~20 ulp of |h| ≈ 424 (measured 6e-14).
    """
    ex = exact_brownian(paper_model("brownian", alpha=alpha), q_max=200)
    q = np.arange(-199, 201)
    ask, _ = ex.quotes(ex.t[:, None], q[None, :], 0.0)
    _, bid = ex.quotes(ex.t[:, None], -q[None, :], 0.0)
    np.testing.assert_allclose(ask, bid, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ex.g, ex.g[..., ::-1], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- Cartea–Jaimungal–Penalva
def _cjp_eq_10_11_mbt_gym(lam, kappa, phi, alpha, T, max_inventory, t):
    """CJP (2015) eq. (10.11) exactly as published in mbt_gym.

    Source: github.com/JJJerome/mbt_gym, mbt_gym/agents/BaselineAgents.py,
    ``CarteaJaimungalMmAgent._calculate_a_and_z`` / ``_calculate_omega`` / ``_calculate_ht``:
    matrix ``A[i,i] = −φκq²``, ``A[i,i±1] = λ e^{−1}``, ``z_i = e^{−ακq²}`` with
    ``q = max_inventory − i``; ``ω = expm(A (T − t)) z``; ``h = log(ω)/κ``. One dense
    exponential, as in the source. Returned in ascending q.
    """
    n = 2 * max_inventory + 1
    a = np.zeros((n, n))
    z = np.zeros(n)
    for i in range(n):
        inventory = max_inventory - i
        a[i, i] = -phi * kappa * inventory**2
        z[i] = np.exp(-alpha * kappa * inventory**2)
        if i + 1 < n:
            a[i, i + 1] = lam * np.exp(-1)
        if i > 0:
            a[i, i - 1] = lam * np.exp(-1)
    with np.errstate(all="ignore"):  # scipy's expm internals
        omega = expm(a * (T - t)) @ z
    return (np.log(omega) / kappa)[::-1]


@pytest.mark.parametrize(
    "params",
    [
        # mbt_gym notebooks/Test_2_-_replicate_CJP_2015_-_closed-form_solution_for_value_function.ipynb,
        # get_env() defaults: arrival_rate=140, fill_exponent=1.5, sigma=2, T=1,
        # per_step_inventory_aversion=0.01, terminal_inventory_aversion=0.001, max_inventory=100.
        dict(lam=140.0, kappa=1.5, sigma=2.0, phi=0.01, alpha=0.001, T=1.0, max_inventory=100),
        # mbt_gym CarteaJaimungalMmAgent defaults phi=2e-4, alpha=1e-4, max_inventory=10, with the
        # CJP ch. 10 units (λ = 1 per second, κ = 100 per price unit, T = 30 s).
        dict(lam=1.0, kappa=100.0, sigma=0.01, phi=2e-4, alpha=1e-4, T=30.0, max_inventory=10),
    ],
)
def test_cartea_jaimungal_penalva_eq_10_11_as_published_in_mbt_gym(params):
    """Our solution through Model.cartea_jaimungal equals CJP eq. (10.11) as coded in mbt_gym.

    No printed value-function number could be found in CJP ch. 10 or in mbt_gym (its notebooks
    are stored without outputs), so the reference is the published formula/code. In CJP the
    fills are λe^{−κδ} and the value is x + qS + h(t, q), i.e. our h with A e^{−kz} = λ,
    k = κ, φ = running penalty, α_CJP = terminal penalty.

    The reference takes one dense exponential of a matrix with ‖·‖ up to ~250: scipy's expm
    is accurate in norm to ~1e-15·e^{‖·‖}-scaled, which costs ~1e-12 absolute on h ≈ 68 near
    q = 0 (checked against a 40-digit exponential while writing this test). Tolerance 1e-10
    on h and quotes for |q| <= 20.
    """
    p = params
    m = Model.cartea_jaimungal(sigma=p["sigma"], lam=p["lam"], kappa=p["kappa"], phi=p["phi"],
                               terminal_penalty=p["alpha"], T=p["T"])
    Q = p["max_inventory"]
    times = [0.0, 0.5 * p["T"], p["T"]]
    ex = exact_brownian(m, q_max=Q, t=times)
    near = slice(max(0, Q - 20), Q + 21)
    for t in times:
        ref = _cjp_eq_10_11_mbt_gym(p["lam"], p["kappa"], p["phi"], p["alpha"], p["T"], Q, t)
        np.testing.assert_allclose(_h(ex, t)[0, near], ref[near], rtol=0, atol=1e-10)
        # mbt_gym's quotes: delta_minus = 1/κ − h_{q+1} + h_q, delta_plus = 1/κ − h_{q−1} + h_q
        q = np.arange(-min(Q, 20) + 1, min(Q, 20))
        ask, bid = ex.quotes(t, q, 100.0)
        np.testing.assert_allclose(ask, 1 / p["kappa"] - ref[q + Q - 1] + ref[q + Q], rtol=0, atol=1e-10)
        np.testing.assert_allclose(bid, 1 / p["kappa"] - ref[q + Q + 1] + ref[q + Q], rtol=0, atol=1e-10)
    # value at the notebook's initial state (t = 0, q = 0, S = 100, x = 0) is h_0(0)
    assert ex.value(0.0, 0, 100.0) == pytest.approx(
        _cjp_eq_10_11_mbt_gym(p["lam"], p["kappa"], p["phi"], p["alpha"], p["T"], Q, 0.0)[Q], abs=1e-10)


def test_phi0_matches_the_explicit_spectral_sum():
    """φ = 0 (no running penalty): ω(t) = expm((T−t) λ e^{−1} J) ω(T) as an explicit finite sum.

    J, the path adjacency matrix on N = 2Q+1 nodes, has eigenvalues 2cos(mπ/(N+1)) and
    eigenvectors sin(jmπ/(N+1)), so expm(aJ)_{ij} = 2/(N+1) Σ_m sin(imπ/(N+1)) sin(jmπ/(N+1))
    e^{2a cos(mπ/(N+1))}, evaluated directly (a = λ(T−t)/e ≈ 11, no overflow; terms of one sign
    dominate). Measured agreement 4e-16 for t < T; tolerance 1e-12 on h ~ 0.2 allows for the
    spectral sum's own rounding (1e-13 at t = T, where it must reproduce the identity).
    """
    lam, kappa, T, alpha_cjp, Q = 1.0, 100.0, 30.0, 1e-3, 10
    m = Model.cartea_jaimungal(sigma=0.01, lam=lam, kappa=kappa, phi=0.0, terminal_penalty=alpha_cjp, T=T)
    t = np.linspace(0.0, T, 7)
    ex = exact_brownian(m, q_max=Q, t=t)
    n = 2 * Q + 1
    j = np.arange(1, n + 1)
    s = np.sin(np.outer(j, j) * np.pi / (n + 1))
    q = np.arange(-Q, Q + 1)
    omega_T = np.exp(-kappa * alpha_cjp * q**2)
    for ti in t:
        a = lam * (T - ti) / math.e
        kernel = (2.0 / (n + 1)) * (s * np.exp(2 * a * np.cos(j * np.pi / (n + 1)))) @ s.T
        np.testing.assert_allclose(_h(ex, ti)[0], np.log(kernel @ omega_T) / kappa, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- API
def test_defaults_shapes_and_terminal_condition(paper600):
    ex = paper600
    m = ex.model
    assert isinstance(ex, hs.Solution) and ex.info["method"] == "expm"
    assert ex.t[0] == 0.0 and ex.t[-1] == m.T and np.all(np.diff(ex.t) > 0)
    np.testing.assert_array_equal(ex.q, np.arange(-600, 601))
    assert ex.g.shape == (ex.t.size, 1, 1201)
    np.testing.assert_array_equal(ex.g[-1, 0], -m.terminal_penalty * ex.q.astype(float) ** 2)
    assert not ex.g.flags.writeable and not ex.t.flags.writeable
    assert {"slices", "wall_time", "error_estimate", "value_error_estimate"} <= set(ex.info)
    # the stored times are graded towards T (the terminal layer)
    assert np.diff(ex.t)[-1] < np.diff(ex.t)[0] / 4


def test_value_is_q_s_plus_h_and_broadcasts(paper600):
    ex = paper600
    q = np.array([[-3], [0], [5]])
    s = np.array([2990.0, 3000.0, 3010.5, 3020.0])
    v = ex.value(ex.t[10], q, s)
    assert v.shape == (3, 4)
    np.testing.assert_array_equal(v, q * s + ex.g[10, 0, q + 600])
    assert isinstance(ex.value(0.0, 0, 3000.0), float)
    assert ex.value(0.0, 0, 3000.0) == ex.g[0, 0, 600]


def test_quotes_shapes_limits_and_s_independence(paper600):
    ex = paper600
    ask, bid = ex.quotes(0.5, np.array([-600, -1, 0, 1, 600]), np.array([[2900.0], [3100.0]]))
    assert ask.shape == bid.shape == (2, 5)
    assert np.isposinf(ask[:, 0]).all() and np.isposinf(bid[:, -1]).all()
    np.testing.assert_array_equal(ask[0], ask[1])  # Brownian: no dependence on s
    # more inventory: sell more eagerly (smaller ask), buy more reluctantly (larger bid)
    assert ask[0, 3] < ask[0, 2] < ask[0, 1] and bid[0, 3] > bid[0, 2] > bid[0, 1]


def test_requested_times_are_stored_exactly(paper600):
    """Times passed as ``t`` are stored nodes, and the propagation is exact: h there does not depend on
    which other times are stored (rounding only)."""
    ex = exact_brownian(paper600.model, q_max=600, t=[0.0, 0.25, 0.3337])
    assert {0.25, 0.3337} <= set(ex.t)
    ref = exact_brownian(paper600.model, q_max=600, t=[0.25, 0.3337])
    np.testing.assert_allclose(_h(ex, [0.25, 0.3337]), _h(ref, [0.25, 0.3337]), rtol=0, atol=1e-10)


def test_tabulate_gives_the_same_quotes(paper600):
    pol = paper600.tabulate()
    assert isinstance(pol, TabulatedPolicy)
    q = np.arange(-600, 601)
    a0, b0 = paper600.quotes(0.3, q, 3000.0)
    a1, b1 = pol.quotes(0.3, q, 3000.0)
    np.testing.assert_array_equal(a1, a0)
    np.testing.assert_array_equal(b1, b0)


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(q_max=0), "q_max"),
        (dict(q_max=-3), "q_max"),
        (dict(q_max=2.5), "q_max"),
        (dict(q_max=True), "q_max"),
        (dict(t=[-0.1, 0.5]), "t"),
        (dict(t=[0.0, 2.0]), "t"),
        (dict(t=[0.0, float("nan")]), "t"),
        (dict(t="soon"), "t"),
        (dict(slice_norm=0.0), "slice_norm"),
        (dict(slice_norm=1000.0), "slice_norm"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        exact_brownian(paper_model("brownian"), **{"q_max": 5, **kwargs})


def test_non_brownian_price_is_rejected():
    with pytest.raises(ValueError, match="price"):
        exact_brownian(paper_model("ou"), q_max=5)


def test_non_model_is_rejected():
    with pytest.raises(ValueError, match="model"):
        exact_brownian({"A": 1000.0}, q_max=5)


def test_overflowing_terminal_penalty_is_rejected():
    # the fill rate at the bound at T is exp(ℓ − k(1/k + α) + kϖ(2Q − 1)), ℓ − k(1/k + α) = log(1000) − 1.55:
    # it stays below e^690 up to Q = floor(((690 − 5.358)/1 + 1)/2) = 342 (kϖ = 1)
    m = paper_model("brownian", eps=1.0, eta=2.0)
    with pytest.raises(ValueError, match=r"q_max=600 is too large for the terminal penalty.*q_max=342"):
        exact_brownian(m, q_max=600)


def test_bad_evaluation_points_name_the_parameter(paper600):
    ex = paper600
    with pytest.raises(ValueError, match=r"t must lie in \[0, T"):
        ex.value(1.5, 0, 3000.0)
    with pytest.raises(ValueError, match="q must lie"):
        ex.value(0.0, 601, 3000.0)
    with pytest.raises(ValueError, match="q must be integer"):
        ex.quotes(0.0, 0.5, 3000.0)
    with pytest.raises(ValueError, match="s must be finite"):
        ex.value(0.0, 0, np.inf)


def test_unequal_decays_are_rejected():
    """The exponential substitution linearises both sides only when k⁺ = k⁻ (A⁺ ≠ A⁻ is fine)."""
    m = paper_model("brownian").replace(k=(1.0, 1.2))
    with pytest.raises(ValueError, match="k_plus=1.0, k_minus=1.2"):
        exact_brownian(m, q_max=10)
    exact_brownian(paper_model("brownian").replace(A=(1000.0, 800.0)), q_max=10)


def test_compiled_slice_loop_matches_its_numpy_twin():
    """The numba slice loop (:func:`hjbsolve.exact._expm_march`) and the numpy loop take the same
    slices and sum the same series: equal to rounding (~10 ulp of |h| ≈ 424)."""
    from hjbsolve.exact import expm_values
    from hjbsolve.solver.setup import state_grid
    m = paper_model("brownian", A=(1000.0, 700.0))
    g = state_grid(m, 80)
    c = m.coefficients(g)
    t = np.linspace(0.0, 1.0, 7)
    a, ia = expm_values(c, g, 0.1, 1.0, t, compiled=True)
    b, ib = expm_values(c, g, 0.1, 1.0, t, compiled=False)
    assert ia == ib
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-11)


def test_compiled_slice_loop_survives_rates_beyond_the_int64_range():
    """Steep terminal penalty (ϖ = 1, κ = 1.5, Q = 60): at T the fastest fill rate is e^{1.5·119} ≈ 1e77,
    so ``remaining·‖B‖/slice_norm`` exceeds 2^63. The slice count once went through numba's int64
    ``math.ceil``, overflowed, and the series then never converged (a hang in CI). Same slices and
    values as the numpy twin, which counts in Python integers."""
    from hjbsolve.exact import expm_values
    from hjbsolve.solver.setup import state_grid
    m = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=1.0, T=1.0)
    g = state_grid(m, 60)
    c = m.coefficients(g)
    t = np.array([0.5, 1 - 1e-8, 1 - 1e-9, 1.0])
    a, ia = expm_values(c, g, 0.0, 1.0, t, compiled=True)
    b, ib = expm_values(c, g, 0.0, 1.0, t, compiled=False)
    assert ia == ib
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-11 * np.abs(b).max())
