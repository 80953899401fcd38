"""The accuracy contract of ``hs.solve`` at every time, and the market features it covers.

Contract (automatic mode): every quote a ``Solution`` returns at any ``t`` in ``[0, T]`` (stored
or not, near ``T`` included), any ``s`` in ``s_range`` and ``|q| ≤ q_max/2`` is within ``tol`` of
the exact solution of the same bounded problem, in units of the quote scale ``1/k``; every value
within ``value_rtol·max(1, |v|)`` (``|g|`` for a price-independent problem); and the reported
estimates are honest (the measured error is at most 3x the estimate).

References, all independent of the finite-difference solver: ``method="expm"`` (the linear system
of the exponential substitution summed as a non-negative series in the log domain; exact at its
stored times, which the comparisons request with ``t_eval``) and, where ``k⁺ ≠ k⁻`` makes that
inapplicable, scipy's Radau on the nonlinear ODE system.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import hjbsolve as hs

TOL, VTOL = 1e-5, 1e-6


def _times(T, seed=0, n_random=12):
    """Stored-or-not times: 0, random ones, and a cluster approaching T (where the layer is)."""
    rng = np.random.default_rng(seed)
    return np.unique(np.r_[0.0, 0.5 * T, rng.uniform(0, T, n_random), T * (1 - np.geomspace(1e-8, 0.3, 12)), T])


def _errors(sol, ref, times, q):
    """Largest quote error (units of 1/k) and relative value error (on h = v − q s, rel. max(1,|h|))."""
    m = sol.model
    kmax = max(m.k_plus, m.k_minus)
    tt, qq = np.meshgrid(times, q, indexing="ij")
    a, b = sol.quotes(tt, qq, 0.0)
    ar, br = ref.quotes(tt, qq, 0.0)
    fin_a, fin_b = np.isfinite(ar), np.isfinite(br)
    assert np.array_equal(fin_a, np.isfinite(a)) and np.array_equal(fin_b, np.isfinite(b))
    eq = kmax * max(np.abs(a - ar)[fin_a].max(initial=0.0), np.abs(b - br)[fin_b].max(initial=0.0))
    h, hr = sol.value(tt, qq, 0.0), ref.value(tt, qq, 0.0)
    ev = float((np.abs(h - hr) / np.maximum(1.0, np.abs(hr))).max())
    return float(eq), ev


def _check_contract(sol, ref, times, label=""):
    Q = sol.q_max
    q = np.arange(-(Q // 2), Q // 2 + 1)
    eq, ev = _errors(sol, ref, times, q)
    est_q, est_v = sol.info["error_estimate"], sol.info["value_error_estimate"]
    print(f"{label}: steps {sol.info['n_steps']}; quotes error {eq:.2e} (estimate {est_q:.2e}); "
          f"values error {ev:.2e} (estimate {est_v:.2e})")
    assert eq <= sol.info["tol"], (label, eq)
    assert ev <= sol.info["value_rtol"], (label, ev)
    assert eq <= 3.0 * est_q + 1e-12, (label, eq, est_q)       # honest estimates
    assert ev <= 3.0 * est_v + 1e-14, (label, ev, est_v)
    return eq, ev


# ----------------------------------------------------------------------------- the cases of the issue
GLFT = hs.Model(price=hs.Brownian(0.3), A=0.9, k=0.3, z=0.0, T=600.0, eps=1.0, eta=0.0, nu=0.005)
CJ_MBT = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.5, phi=2e-4, terminal_penalty=1e-4, T=1.0)
CJ_NOTEBOOK = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=0.001, T=1.0)
CJ_STEEP = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=1.0, T=1.0)
PER_SECOND = hs.Model(price=hs.Brownian(0.01), A=10.0, k=100.0, z=0.005, T=23400.0, eps=1.0)


@pytest.mark.parametrize("name, model, q_max, tol", [
    ("GLFT long horizon (T=600)", GLFT, 30, TOL),
    ("mbt_gym Cartea-Jaimungal agent", CJ_MBT, 10, 1e-7),
    ("Cartea-Jaimungal notebook", CJ_NOTEBOOK, 100, TOL),
    ("paper, Brownian", hs.paper_model("brownian"), 300, TOL),
])
def test_issue_cases_are_accurate_at_every_time(name, model, q_max, tol):
    """Before the redesign these were exact at t = 0 only (GLFT: 4.3e-3 at t = 540; mbt_gym: 1.1e-2
    at t = 0.99); now every time, stored or not, meets the tolerance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)   # mbt_gym's own small bound is the model
        sol = hs.solve(model, q_max=q_max, tol=tol)
        times = _times(model.T)
        ref = hs.solve(model, q_max=q_max, method="expm", t_eval=times)
    _check_contract(sol, ref, times, name)


@pytest.mark.parametrize("name, model, q_max, tol", [
    ("GLFT long horizon (T=600)", GLFT, 30, TOL),
    ("Cartea-Jaimungal notebook", CJ_NOTEBOOK, 100, TOL),
    ("paper, Brownian", hs.paper_model("brownian"), 300, TOL),
])
def test_error_estimates_are_close_to_the_measured_errors(name, model, q_max, tol):
    """Both sides of the estimates (quotes and values) against the exact solution: at least 1.5x the
    measured error and at most 100x. Measured ratios 2.1–2.9 on these cases (each estimate sums
    parts, each asymptotically exact, as maxima over the grid): an estimate that lost a third of
    itself, or one that says nothing, fails."""
    sol = hs.solve(model, q_max=q_max, tol=tol)
    times = _times(model.T)
    ref = hs.solve(model, q_max=q_max, method="expm", t_eval=times)
    Q = sol.q_max
    eq, ev = _errors(sol, ref, times, np.arange(-(Q // 2), Q // 2 + 1))
    for what, err, est in (("quotes", eq, sol.info["error_estimate"]), ("values", ev, sol.info["value_error_estimate"])):
        print(f"{name}: {what} error {err:.2e}, estimate {est:.2e} (ratio {est / err:.2f})")
        assert 1.5 * err <= est <= 100.0 * err, (name, what, err, est)


def test_t_eval_never_weakens_the_control():
    """Many requested times used to put both trial solves on the same grid (estimate 0.0, true error
    3.5e-4): requested times are now extra nodes of both grids, which still differ by a halving."""
    times = np.linspace(0.0, 1.0, 21)
    sol = hs.solve(CJ_NOTEBOOK, q_max=100, t_eval=times, tol=1e-8)
    assert set(times) <= set(sol.t)
    assert sol.info["error_estimate"] > 0.0
    check = _times(1.0, seed=1)
    ref = hs.solve(CJ_NOTEBOOK, q_max=100, method="expm", t_eval=check)
    _check_contract(sol, ref, check, "t_eval")


@pytest.mark.slow
@pytest.mark.parametrize("q_max", [20, 60])
def test_steep_terminal_penalty_at_large_bounds(q_max):
    """ϖ = 1, κ = 1.5: fill rates at the bound at T of e^{1.5·(2Q−1)}, far faster than any time step
    (even than double-precision time resolution for Q = 60); the first step is the exact jump flow
    in ω = e^{kh} and the contract holds (for t ≤ T − 1e-9 T, where the layer is resolvable)."""
    sol = hs.solve(CJ_STEEP, q_max=q_max)
    times = _times(1.0, seed=2)
    times = times[(times <= 1.0 - 1e-9) | (times == 1.0)]
    ref = hs.solve(CJ_STEEP, q_max=q_max, method="expm", t_eval=times)
    _check_contract(sol, ref, times, f"steep, Q={q_max}")


def test_overflowing_bound_is_refused_with_the_largest_that_works():
    with pytest.raises(ValueError, match=r"q_max=400 is too large for the terminal penalty.*q_max=229"):
        hs.solve(CJ_STEEP, q_max=400)
    assert hs.solver.largest_q_max(CJ_STEEP) == 229


def test_realistic_per_second_market_solves_with_default_options():
    """σ = 0.01, A = 10, k = 100, z = 0.005, T = 23400 s, ε = 1: the default bound accounts for the
    penalties (the running penalty confines the inventory to a few units), where it used to be 2600
    and to overflow."""
    Q = hs.solver.default_q_max(PER_SECOND)
    assert 10 <= Q <= 100
    sol = hs.solve(PER_SECOND)
    assert sol.q_max == Q
    times = _times(PER_SECOND.T, seed=3)
    ref = hs.solve(PER_SECOND, method="expm", t_eval=times)
    _check_contract(sol, ref, times, "per-second")
    # the answers near q = 0 do not depend on the bound (doubling it changes them by < tol)
    big = hs.solve(PER_SECOND, q_max=2 * Q)
    q = np.arange(-5, 6)
    diff = np.abs(np.array(sol.quotes(times[:, None], q[None, :], 0.0)) - np.array(big.quotes(times[:, None], q[None, :], 0.0)))
    assert PER_SECOND.k * diff.max() <= 2 * TOL


def test_a_small_bound_that_binds_warns():
    with pytest.warns(hs.BoundWarning, match="q_max=5"):
        hs.solve(hs.paper_model("brownian"), q_max=5, n_steps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hs.BoundWarning)
        hs.solve(hs.paper_model("brownian"), q_max=hs.solver.default_q_max(hs.paper_model("brownian")), n_steps=10)


def test_a_bound_that_a_directional_bet_reaches_warns():
    """The paper's OU point drives the inventory to about +175 in a day: q_max = 150 changes the quotes
    near q = 0 (by 1.7e-2 against q_max = 300, measured here) and warns; q_max = 300 does not warn,
    and doubling it again changes nothing (0.0 at fixed steps)."""
    m, sr = hs.paper_model("ou"), (2999.5, 3000.5)
    with pytest.warns(hs.BoundWarning, match="q_max=150"):
        small = hs.solve(m, q_max=150, s_range=sr, n_steps=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hs.BoundWarning)
        ok = hs.solve(m, q_max=300, s_range=sr, n_steps=100)
    q = np.arange(-10, 11)
    assert np.abs(np.array(small.quotes(0.0, q, 3000.0)) - np.array(ok.quotes(0.0, q, 3000.0))).max() > 1e-3


# ----------------------------------------------------------------------------- property test
@st.composite
def brownian_models(draw):
    k = draw(st.floats(0.3, 3.0))
    A = draw(st.floats(20.0, 2000.0))
    A_minus = A * draw(st.sampled_from([1.0, 0.6, 1.4]))
    pen = draw(st.sampled_from(["paper", "direct"]))
    common = dict(price=hs.Brownian(draw(st.floats(0.05, 2.0)), drift=draw(st.sampled_from([0.0, 0.2, -0.5]))),
                  A=(A, A_minus), k=k, z=draw(st.floats(0.0, 0.5)), T=draw(st.floats(0.2, 5.0)),
                  alpha=draw(st.floats(-0.05, 0.1)))
    if pen == "paper":
        return hs.Model(eps=draw(st.floats(1e-4, 0.05)), eta=draw(st.floats(0.0, 2.0)), nu=draw(st.floats(0.0, 2.0)),
                        **common)
    return hs.Model(phi=draw(st.floats(0.0, 0.05)), varpi=draw(st.floats(0.0, 0.05)), **common)


def _fd_matches_expm(model):
    q_max = min(hs.solver.default_q_max(model), 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)
        sol = hs.solve(model, q_max=q_max)
        times = _times(model.T, seed=int(1e6 * model.T) % 1000)
        ref = hs.solve(model, q_max=q_max, method="expm", t_eval=times)
    _check_contract(sol, ref, times, repr(model))


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(model=brownian_models())
def test_property_fd_matches_expm_at_random_times(model):
    """Random Brownian models (asymmetric A±, drift, paper or direct penalties): the automatic FD
    solution against the exact one at random times, off the stored grid and near T (a few
    examples; the slow variant below draws 30)."""
    _fd_matches_expm(model)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(model=brownian_models())
def test_property_fd_matches_expm_at_random_times_many(model):
    _fd_matches_expm(model)


# ----------------------------------------------------------------------------- k⁺ ≠ k⁻: Radau
def _radau_reference(model, Q, times):
    """The nonlinear h-system (v = q s + h) by Radau, rtol = atol = 1e-12: global error ~1e-10."""
    q = np.arange(-Q, Q + 1, dtype=float)
    (Ap, kp), (Am, km) = model.side_params()
    a, z = model.alpha, model.z
    b = float(model.price.drift_at(0.0))
    phi, varpi = model.running_penalty, model.terminal_penalty

    def H(p, A, k):
        return A / (math.e * k) * np.exp(-k * (z + a + p))

    def rhs(_, h):          # dh/dt (forward time) = −(jumps + q b − φ q²)
        up = np.r_[h[1:], 0.0]
        dn = np.r_[0.0, h[:-1]]
        jumps = np.where(q > -Q, H(h - dn, Ap, kp), 0.0) + np.where(q < Q, H(h - up, Am, km), 0.0)
        return -(jumps + q * b - phi * q**2)

    sol = solve_ivp(rhs, (model.T, 0.0), -varpi * q**2, method="Radau", rtol=1e-12, atol=1e-12,
                    t_eval=times[::-1], dense_output=False)
    assert sol.success
    return sol.y.T[::-1]


def test_unequal_decays_against_radau():
    """k⁺ ≠ k⁻ (and A⁺ ≠ A⁻, a drift): no exponential substitution applies; Radau on the nonlinear
    system is the reference (tolerance: the contract plus Radau's ~1e-10)."""
    m = hs.Model(price=hs.Brownian(0.4, drift=0.3), A=(150.0, 90.0), k=(1.5, 1.0), z=0.1, T=1.0, eps=0.05,
                 alpha=0.02)
    Q = 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)
        sol = hs.solve(m, q_max=Q)
    times = _times(m.T, seed=4)
    h = _radau_reference(m, Q, times)
    q = np.arange(-Q, Q + 1)
    tt, qq = np.meshgrid(times, q, indexing="ij")
    hs_ = sol.value(tt, qq, 0.0)
    inner = np.abs(q) <= Q // 2
    ev = (np.abs(hs_ - h) / np.maximum(1.0, np.abs(h)))[:, inner].max()
    dq = np.abs(np.diff(hs_ - h, axis=1))[:, inner[1:] & inner[:-1]].max() * 1.5
    print(f"k+≠k-: quotes error {dq:.2e} (estimate {sol.info['error_estimate']:.2e}), values {ev:.2e}")
    assert dq <= TOL + 1e-9 and ev <= VTOL + 1e-10
    assert dq <= 3 * sol.info["error_estimate"] + 1e-9
    # the quotes are assembled per side: δ± = 1/k± + α + p±
    a, b = sol.quotes(0.3, np.array([0]), 0.0)
    h0 = sol.value(0.3, np.array([-1, 0, 1]), 0.0)
    assert a[0] == pytest.approx(1 / 1.5 + 0.02 + h0[1] - h0[0], abs=1e-12)
    assert b[0] == pytest.approx(1 / 1.0 + 0.02 + h0[1] - h0[2], abs=1e-12)
    with pytest.raises(ValueError, match="k_plus=1.5, k_minus=1.0"):
        hs.solve(m, q_max=Q, method="expm")


def test_a_very_unequal_decay_is_solved_by_shortening_the_steps():
    """k⁻ = 100 k⁺ makes the jump term strongly nonlinear: the first automatic round's steps overflow
    the fill rates (a non-finite value), the driver shortens them and meets the contract against
    Radau (found by the hostile tests: this ended in NonFiniteError)."""
    m = hs.paper_model("brownian").replace(k=(1.0, 100.0))
    Q = 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)
        sol = hs.solve(m, q_max=Q, tol=1e-4, value_rtol=1e-6)
    assert "non_finite" in sol.info["rounds"][0]
    times = _times(m.T, seed=5)
    h = _radau_reference(m, Q, times)
    q = np.arange(-Q, Q + 1)
    tt, qq = np.meshgrid(times, q, indexing="ij")
    d = sol.value(tt, qq, 0.0) - h
    inner = np.abs(q) <= Q // 2
    assert 100.0 * np.abs(np.diff(d, axis=1))[:, inner[1:] & inner[:-1]].max() <= 1e-4 + 1e-8


def test_cartea_jaimungal_without_volatility_against_its_matrix_exponential():
    """σ = 0 is a valid Cartea–Jaimungal market (the penalties are set directly)."""
    m = hs.Model.cartea_jaimungal(sigma=0.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=0.001, T=1.0)
    sol = hs.solve(m, q_max=100)
    times = _times(1.0, seed=5)
    ref = hs.solve(m, q_max=100, method="expm", t_eval=times)
    _check_contract(sol, ref, times, "CJ sigma=0")


def test_drifted_brownian_eps0_is_the_closed_form():
    """ε = 0 with drift b: v = q(s + b(T − t)) + h⁰, δ± = 1/k± + α ± b(T − t) exactly (eq. 9)."""
    b = 0.4
    m = hs.Model(price=hs.Brownian(0.5, drift=b), A=(300.0, 200.0), k=(1.2, 0.8), z=0.2, T=2.0, alpha=0.01)
    sol = hs.solve(m)            # the default bound keeps |q| ≤ 10 clear of the inventory drift
    t = np.array([0.0, 0.7, 1.9])[:, None]
    q = np.arange(-10, 11)[None, :]
    a, bid = sol.quotes(t, q, 0.0)
    np.testing.assert_allclose(a, 1 / 1.2 + 0.01 + b * (2.0 - t) + 0 * q, atol=1e-9)
    np.testing.assert_allclose(bid, 1 / 0.8 + 0.01 - b * (2.0 - t) + 0 * q, atol=1e-9)
    # the value h⁰ = ∫(C⁺e^{−k⁺Δ} + C⁻e^{k⁻Δ}) (closed form, quadrature to ~1e-13): within the contract
    ex = hs.expansion(m, order=0)
    h_ref = ex.value(t, q, 0.0)
    err = np.abs(sol.value(t, q, 0.0) - h_ref) / np.maximum(1.0, np.abs(h_ref))
    assert err.max() <= sol.info["value_rtol"] and err.max() <= 3 * sol.info["value_error_estimate"]


# ----------------------------------------------------------------------------- one quote path
def test_the_quotes_a_user_reads_are_the_quotes_the_simulator_trades():
    """Recorded quotes of simulated paths (at grid times, their own s and q) equal ``sol.quotes`` there:
    one interpolation, one quote assembly, one limit rule (cubic in t and s, between nodes too)."""
    m = hs.paper_model("ou")
    sol = hs.solve(m, q_max=60, s_range=(2996.0, 3004.0), n_steps=30)
    res = hs.simulate(m, sol, n_paths=60, n_steps=37, s0=3000.0, seed=2, progress=False, record=6)
    p = res.paths
    tt = np.broadcast_to(p.t[None, :], p.s.shape)
    a, b = sol.quotes(tt, p.q.astype(int), p.s)
    np.testing.assert_allclose(p.ask, a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.bid, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["solution", "expansion", "constant"])
def test_numpy_engine_reproduces_the_compiled_engine_for_every_policy_kind(kind):
    """Path by path, ≤ 1e-9, for a Solution (cubic tables), an expansion and a constant spread."""
    m = hs.paper_model("ou")
    if kind == "solution":
        pol = hs.solve(m, q_max=60, s_range=(2994.0, 3006.0), n_steps=30)
    elif kind == "expansion":
        pol = hs.expansion(m, 1)
    else:
        pol = hs.ConstantSpread(1.0, skew=0.02, q_max=60)
    kw = dict(n_paths=40, n_steps=50, s0=3000.0, seed=5, progress=False, record=3)
    a = hs.simulate(m, pol, **kw)
    b = hs.simulate(m, pol, engine="numpy", **kw)
    np.testing.assert_array_equal(a.n_ask, b.n_ask)
    np.testing.assert_array_equal(a.q_final, b.q_final)
    np.testing.assert_allclose(a.objective, b.objective, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.paths.ask, b.paths.ask, rtol=0, atol=1e-9)
