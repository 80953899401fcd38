"""The finite-difference solver against independent references.

References used here: the matrix-exponential solution of the Brownian system
(:mod:`hjbsolve.exact`), the exact ε=0 solution (paper eq. 9), the closed forms of the
ε-expansion (their *error scaling*, not their values), a refined grid (convergence orders),
a linear system solved by scipy's matrix exponential (policy evaluation), and symmetries.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

import hjbsolve as hs
from hjbsolve.solver import SCHEMES, default_q_max, evaluate, solve

SR = (2995.0, 3005.0)


@pytest.fixture(scope="module")
def ou_solution(ou):
    """A fixed-step OU solution (API and error-path tests; accuracy is tested elsewhere)."""
    return solve(ou, q_max=600, s_range=SR, n_steps=40)


# --------------------------------------------------------------------------- Brownian: exact reference
@pytest.mark.parametrize("alpha", [0.05, -0.02])
def test_brownian_fd_matches_matrix_exponential(brownian, alpha):
    """FD quotes agree with the matrix-exponential solution to ≤ 1e-6 at every stored time.

    Solved with ``tol=5e-7`` (the contract covers |q| ≤ Q/2 at every t; the check covers every
    stored time up to 0.9 T and every inventory for the quotes); the reference is exact to ~1e-13.
    Values are compared on ``h = v − q s`` (``value(t, q, 0)``), relative to ``max(1, |h|)``, on
    ``|q| ≤ Q/2`` as promised (next to the bound, e.g. q = −575, the value error of the automatic
    scheme reaches 1.8e-6: outside the contract, and not claimed).
    """
    m = brownian.replace(alpha=alpha)
    sol = solve(m, q_max=600, tol=5e-7)
    ex = hs.exact_brownian(m, q_max=600, t=sol.t)
    q = np.arange(-599, 600)
    worst = 0.0
    for t in sol.t[sol.t <= 0.9 * m.T]:
        worst = max(worst, np.abs(np.array(sol.quotes(t, q, 0.0)) - np.array(ex.quotes(t, q, 0.0))).max())
    assert worst <= 1e-6
    qc = q[np.abs(q) <= 300]
    h_fd, h_ex = sol.value(sol.t[:, None], qc[None, :], 0.0), ex.value(sol.t[:, None], qc[None, :], 0.0)
    assert (np.abs(h_fd - h_ex) / np.maximum(1.0, np.abs(h_ex))).max() <= sol.info["value_rtol"]


def test_brownian_time_error_is_second_order(brownian):
    ex = hs.exact_brownian(brownian, q_max=300, t=[0.0, 1.0])
    q = np.arange(-250, 251)
    ref = np.array(ex.quotes(0.0, q, 0.0))
    errs = [np.abs(np.array(solve(brownian, q_max=300, n_steps=n).quotes(0.0, q, 0.0)) - ref).max()
            for n in (25, 50, 100)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 1.8), orders


def test_extrapolated_jumps_are_third_order(brownian):
    """``strang-x`` (ROS2 locally extrapolated) on a pure-jump problem (Brownian: the price part is
    exact): third order in Δt against the matrix exponential (observed 2.83, 2.92 on 10/20/40 steps),
    where plain ROS2 is second order."""
    ex = hs.exact_brownian(brownian, q_max=300, t=[0.0, 1.0])
    q = np.arange(-250, 251)
    ref = np.array(ex.quotes(0.0, q, 0.0))
    errs = np.array([np.abs(np.array(solve(brownian, q_max=300, n_steps=n, scheme="strang-x").quotes(0.0, q, 0.0))
                            - ref).max() for n in (10, 20, 40)])
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all(orders > 2.7), orders


# --------------------------------------------------------------------------- ε = 0: eq. (9)
def test_eps0_brownian_reproduces_eq9(brownian):
    m = brownian.replace(eps=0.0)
    sol = solve(m, q_max=300)
    q = np.arange(-100, 101)
    dp, dm = sol.quotes(0.0, q, 3000.0)
    # eq. (9): δ± = 1/k + α ± Δ with Δ = 0; exact in the scheme up to rounding
    assert np.abs(dp - (1 / m.k + m.alpha)).max() < 1e-10
    assert np.abs(dm - (1 / m.k + m.alpha)).max() < 1e-10
    # value: q s + h with h = (2A/(ek)) e^{−k(z+α)} T; the jump part is constant in time so ROS2 is
    # exact: h (s = 0, no q s to hide behind) to rounding, 1e-12 relative (measured 8e-16)
    h = 2 * m.A / (math.e * m.k) * math.exp(-m.k * (m.z + m.alpha)) * m.T
    assert np.abs(sol.value(0.0, q, 0.0) - h).max() < 1e-12 * h
    assert np.array_equal(sol.value(0.0, q, 3000.0), sol.value(0.0, q, 0.0) + q * 3000.0)


def test_eps0_ou_reproduces_eq9(ou):
    m = ou.replace(eps=0.0)
    sr = (2998.0, 3002.0)
    # the ε=0 inventory drifts by ~ 2λT sinh(kΔ) ≈ 400 here: q_max = 600 keeps |q| ≤ 50 clear
    sol = solve(m, q_max=600, s_range=sr, n_steps=120)
    s = np.linspace(*sr, 9)[None, :]
    q = np.arange(-50, 51, 5)[:, None]
    D = m.delta(0.0, s)
    dp, dm = sol.quotes(0.0, q, s)
    # eq. (9): δ± = 1/k + α ± Δ(t, s). The scheme carries qΔ exactly (the price generator is
    # exact on functions linear in s) away from the ends of the price grid, whose perturbation
    # decays fast with the number of steps (2e-8 at s_range's edge with 40 steps, 1e-12 with 120).
    assert np.abs(dp - (1 / m.k + m.alpha + D)).max() < 1e-9
    assert np.abs(dm - (1 / m.k + m.alpha - D)).max() < 1e-9
    # the value h⁰ = 2C∫E cosh(kΔ) (closed form in hjbsolve.expansion) is carried with the
    # second-order time and price errors of the scheme (≈ 2e-5 relative at the defaults);
    # halving dt and ds divides the error by about 4
    v0 = hs.expansion(m, order=0).value(0.0, q, s)
    err = np.abs(sol.value(0.0, q, s) - v0).max()
    assert err < 1e-4 * np.abs(v0 - q * s).max()
    fine = solve(m, q_max=600, s_range=sr, n_steps=240, ds=sol.info["ds"] / 2)
    err_fine = np.abs(fine.value(0.0, q, s) - v0).max()
    assert err_fine < err / 3.0, (err, err_fine)


# --------------------------------------------------------------------------- the expansion's error scaling
EPS = np.array([1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3])


def _reference_quotes(kind, eps):
    m = hs.paper_model(kind, eps=float(eps))
    if kind == "brownian":
        return m, np.array(hs.exact_brownian(m, q_max=300, t=[0.0, 1.0]).quotes(0.0, 5, 3000.0))
    # FD error ∝ ε·dt² (exact at ε=0): ≈ 2.5e-7·ε/1e-3 at 400 steps, far below the
    # expansion errors (≥ 1.4e-7 at ε = 1e-6)
    sol = solve(m, q_max=600, s_range=(2999.0, 3001.0), n_steps=400, t_eval=[0.0, 1.0])
    return m, np.array(sol.quotes(0.0, 5, 3000.0))


@pytest.mark.parametrize("kind", ["brownian", "ou"])
def test_expansion_error_scales_like_eps_squared(kind):
    """Order 1 error ∝ ε², order 0 ∝ ε, as ε → 0 (at t=0, q=5, s=3000).

    The local slopes settle only well below the paper's ε = 1e-3 (there they are ≈ 1.75 and
    ≈ 0.8): the test asserts the asymptotic slopes over the smallest decade and that the
    slope is not yet settled at the paper's point (the NOTES' pitfall).
    """
    e1, e0 = [], []
    for eps in EPS:
        m, ref = _reference_quotes(kind, eps)
        e1.append(np.abs(np.array(hs.expansion(m, 1).quotes(0.0, 5, 3000.0)) - ref).max())
        e0.append(np.abs(np.array(hs.expansion(m, 0).quotes(0.0, 5, 3000.0)) - ref).max())
    s1 = np.diff(np.log(e1)) / np.diff(np.log(EPS))
    s0 = np.diff(np.log(e0)) / np.diff(np.log(EPS))
    print(f"{kind}: local slopes order 1 {np.round(s1, 3)}, order 0 {np.round(s0, 3)}")
    assert np.all((s1[:2] > 1.8) & (s1[:2] < 2.2)), s1
    assert np.all((s0[:2] > 0.9) & (s0[:2] < 1.1)), s0
    assert s1[-1] < 1.85  # between 3e-4 and 1e-3 the asymptotic regime has not started


# --------------------------------------------------------------------------- OU → Brownian
def test_ou_converges_to_brownian_as_a_vanishes(brownian):
    ref = hs.exact_brownian(brownian, q_max=300, t=[0.0, 1.0])
    q = np.arange(-100, 101, 10)
    r = np.array(ref.quotes(0.0, q, 3000.0))
    diffs = []
    for a in (1e-2, 1e-3, 1e-4):
        m = brownian.replace(price=hs.OrnsteinUhlenbeck(a=a, mu=3000.5, sigma=0.5))
        sol = solve(m, q_max=300, s_range=(2999.0, 3001.0), n_steps=100)
        diffs.append(np.abs(np.array(sol.quotes(0.0, q, 3000.0)) - r).max())
    # Δ = (μ−s)(1−e^{−aT}) ≈ 0.5 a: the difference is O(a) — shrinks ≈ 10x per decade
    ratios = np.array(diffs[:-1]) / np.array(diffs[1:])
    assert np.all(ratios > 7.0) and np.all(ratios < 13.0), (diffs, ratios)
    assert diffs[-1] < 1e-4


# --------------------------------------------------------------------------- convergence orders
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_time_convergence_order_ou(ou, scheme):
    """Observed order in Δt at fixed Δs against a 16x finer time grid (interior inventories)."""
    order = SCHEMES[scheme].order
    kw = dict(q_max=300, s_range=(2998.0, 3002.0), t_eval=[0.0, 1.0], scheme=scheme)
    q = np.arange(-60, 61, 10)[:, None]
    s = np.array([2998.0, 3000.0, 3002.0])[None, :]
    ref = np.array(solve(ou, n_steps=800, **kw).quotes(0.0, q, s))
    errs = np.array([np.abs(np.array(solve(ou, n_steps=n, **kw).quotes(0.0, q, s)) - ref).max() for n in (25, 50)])
    observed = math.log2(errs[0] / errs[1])
    print(f"scheme {scheme}: errors {errs}, observed order in dt {observed:.2f}")
    assert observed > order - 0.3


def test_price_convergence_order_ou(ou):
    """Observed order in Δs (central differences below the Péclet bound: order 2)."""
    kw = dict(q_max=100, s_range=(2999.0, 3001.0), n_steps=40, t_eval=[0.0, 1.0])
    q = np.arange(-50, 51, 10)[:, None]
    s = np.array([2999.0, 3000.0, 3001.0])[None, :]
    ds = [0.12, 0.06, 0.03]
    ref = np.array(solve(ou, ds=0.0075, **kw).quotes(0.0, q, s))
    errs = np.array([np.abs(np.array(solve(ou, ds=d, **kw).quotes(0.0, q, s)) - ref).max() for d in ds])
    orders = np.log2(errs[:-1] / errs[1:])
    print(f"errors in ds {errs}, observed orders {orders}")
    assert np.all(orders > 1.7)


OU_ = hs.OrnsteinUhlenbeck
# Sized for the CI budget (each solve + its 8x-finer reference under ~1 min on 2 cores): q_max and the
# price window are small, the contract is checked on |q| <= q_max/2 across the window all the same.
# (With q_max=120 on (99, 101), "large_eps" alone took 2 + 6 minutes.)
REGIMES = {
    "paper_ou": (hs.paper_model("ou"), (2999.5, 3000.5), 60),
    "large_eps": (hs.Model(OU_(1.0, 101.0, 0.5), A=200.0, k=1.5, z=0.2, T=1.0, eps=1e-2, alpha=0.02), (99.9, 100.1), 40),
}
# A rebate on a volatile price over two days (σ=2, T=2) needs ~3800 price nodes (~15 min): too slow for
# CI; rebates are checked against the independent OU reference (tests/test_ou_reference.py, "ou_rebate").
# Strong reversion (a=5, σ=1) took over 5 minutes as well.


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REGIMES))
def test_automatic_ou_meets_the_contract_at_every_time(name):
    """The accuracy contract on price-dependent problems: quotes within ``tol`` (units of 1/k) and
    values within ``value_rtol·max(1, |v|)`` at stored and off-grid times (near T too), prices
    across ``s_range`` and ``|q| ≤ q_max/2``, against a reference solved with 4x smaller steps
    and half the price spacing (its own error is ≲ 1/16 of the solution's time error and 1/4 of
    its space error, so the measured difference is the solution's error to within ~30 %); the
    reported estimate is honest: the measured error is at most 3x the estimate.
    """
    m, sr, Q = REGIMES[name]
    sol = solve(m, q_max=Q, s_range=sr, tol=1e-4, value_rtol=1e-5)
    n = sol.info["n_steps"]
    ref = solve(m, q_max=Q, s_range=sr, n_steps=4 * n, ds=sol.info["ds"] / 2, scheme="strang-x")
    rng = np.random.default_rng(3)
    t = np.r_[0.0, rng.uniform(0, m.T, 6), m.T * (1 - np.geomspace(1e-5, 0.05, 5))]
    q = np.arange(-Q // 2, Q // 2 + 1, max(1, Q // 40))
    s = np.linspace(*sr, 5)
    T_, Q_, S_ = np.meshgrid(t, q, s, indexing="ij")
    kmax = max(m.k_plus, m.k_minus)
    err_q = kmax * np.abs(np.array(sol.quotes(T_, Q_, S_)) - np.array(ref.quotes(T_, Q_, S_)))
    err_q = np.where(np.isfinite(err_q), err_q, 0.0).max()
    v_ref = ref.value(T_, Q_, S_)
    err_v = (np.abs(sol.value(T_, Q_, S_) - v_ref) / np.maximum(1.0, np.abs(v_ref))).max()
    print(f"{name}: {n} steps, n_s {sol.info['n_s']}; quotes: error {err_q:.2e}, estimate "
          f"{sol.info['error_estimate']:.2e}; values: error {err_v:.2e}, estimate {sol.info['value_error_estimate']:.2e}")
    assert err_q <= 1e-4 and err_v <= 1e-5
    assert err_q <= 3 * sol.info["error_estimate"] + 1e-9
    assert err_v <= 3 * sol.info["value_error_estimate"] + 1e-12


# --------------------------------------------------------------------------- inventory bound, symmetry
def test_results_near_zero_do_not_depend_on_q_max(brownian, ou):
    """Same time and price grids, only the inventory bound changes (default vs default+50%)."""
    q = np.arange(-20, 21)
    Qb = default_q_max(brownian)
    a = np.array(solve(brownian, q_max=Qb, n_steps=60).quotes(0.0, q, 0.0))
    b = np.array(solve(brownian, q_max=Qb + Qb // 2, n_steps=60).quotes(0.0, q, 0.0))
    assert np.abs(a - b).max() < 1e-10
    Q = default_q_max(ou, SR)
    sr = (2999.0, 3001.0)
    a = np.array(solve(ou, q_max=Q, s_range=sr, n_steps=40).quotes(0.0, q, 3000.0))
    b = np.array(solve(ou, q_max=Q + Q // 2, s_range=sr, n_steps=40).quotes(0.0, q, 3000.0))
    assert np.abs(a - b).max() < 1e-8


@pytest.mark.parametrize("alpha", [0.0, 0.05, -0.03])
def test_symmetry_without_directional_bet(brownian, alpha):
    """Δ = 0: the problem is symmetric under q → −q with ask ↔ bid."""
    sol = solve(brownian.replace(alpha=alpha), q_max=200)
    q = np.arange(-199, 200)
    dp, dm = sol.quotes(0.3, q, 0.0)
    assert np.abs(dp - dm[::-1]).max() < 1e-11


def test_limits_post_no_quote(ou_solution):
    dp, dm = ou_solution.quotes(0.0, [-600, 600], 3000.0)
    assert dp[0] == np.inf and dm[1] == np.inf
    assert np.isfinite(dm[0]) and np.isfinite(dp[1])


def test_spread_and_centre_from_the_values(ou_solution):
    """From the value alone (not the quotes): the centre is the indifference price
    ``(v_{q+1} − v_{q−1})/2`` and the spread ``2/k + 2α − (v_{q+1} − 2v_q + v_{q−1})`` (δ± = 1/k + α ±
    the one-sided differences of v, eq. 7), at a stored time and between stored times."""
    m = ou_solution.model
    q, s = np.arange(-5, 6), 3001.0
    for t in (ou_solution.t[3], 0.5 * (ou_solution.t[3] + ou_solution.t[4])):
        v = ou_solution.value(t, np.arange(-6, 7), s) - np.arange(-6, 7) * s     # h: no q s in the differences
        centre = s + 0.5 * (v[2:] - v[:-2])
        spread = 2 / m.k + 2 * m.alpha - (v[2:] - 2 * v[1:-1] + v[:-2])
        np.testing.assert_allclose(ou_solution.centre(t, q, s), centre, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ou_solution.spread(t, q, s), spread, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- policy evaluation
def test_evaluating_the_optimal_policy_gives_the_value(brownian, ou):
    """The linear equation of the optimal policy reproduces the HJB value.

    Brownian: no splitting, both integrations agree to rounding-level differences. OU: the
    two equations are integrated by different second-order schemes (the HJB's maximiser
    follows the stage values, the policy's quotes do not), so they agree to O(dt²): the gap
    must shrink about 4x when the steps double.
    """
    q = np.arange(-50, 51, 5)
    sol_b = solve(brownian, q_max=300, n_steps=60)
    ev_b = evaluate(brownian, sol_b, q_max=300, n_steps=60)
    assert np.abs(ev_b.value(0.0, q, 3000.0) - sol_b.value(0.0, q, 3000.0)).max() < 1e-8
    sr = (2999.0, 3001.0)
    gaps = []
    for n in (30, 60):
        sol = solve(ou, q_max=600, s_range=sr, n_steps=n)
        ev = evaluate(ou, sol, q_max=600, s_range=sr, n_steps=n)
        v = sol.value(0.0, q, 3000.0)
        gaps.append(np.abs(ev.value(0.0, q, 3000.0) - v).max() / np.abs(v - q * 3000.0).max())
    assert gaps[1] < gaps[0] / 3.0 and gaps[1] < 2e-5, gaps


def test_evaluate_constant_spread_against_linear_algebra(brownian):
    """A fixed policy's verification equation is linear: solve it by scipy's expm."""
    m = brownian.replace(eps=0.01)
    pol = hs.ConstantSpread(1.1, skew=0.05, q_max=8)
    Q = 8
    ev = evaluate(m, pol, q_max=Q, n_steps=200)
    # dh/dτ = λ⁺(δ⁺−α−(h_q−h_{q−1})) 1{q>−Q} + λ⁻(δ⁻−α−(h_q−h_{q+1})) 1{q<Q} − φq²
    n = 2 * Q + 1
    q = np.arange(-Q, Q + 1)
    lam_a = m.A * math.exp(-m.k * (m.z + 1.15))
    lam_b = m.A * math.exp(-m.k * (m.z + 1.05))
    M = np.zeros((n + 1, n + 1))
    for i in range(n):
        if i > 0:
            M[i, i] -= lam_a
            M[i, i - 1] += lam_a
            M[i, n] += lam_a * (1.15 - m.alpha)
        if i < n - 1:
            M[i, i] -= lam_b
            M[i, i + 1] += lam_b
            M[i, n] += lam_b * (1.05 - m.alpha)
        M[i, n] -= m.running_penalty * q[i] ** 2
    y = np.append(-m.terminal_penalty * q**2.0, 1.0)
    h0 = (scipy.linalg.expm(m.T * M) @ y)[:n]
    # ROS2 error on a linear constant-coefficient system at 200 steps: well below 1e-6 relative
    assert np.abs(ev.value(0.0, q, 0.0) - h0).max() < 1e-6 * np.abs(h0).max()


# --------------------------------------------------------------------------- kernels ≡ numpy twins
@pytest.mark.parametrize("kind", ["brownian", "ou"])
def test_compiled_and_numpy_solvers_agree(kind):
    m = hs.paper_model(kind)
    kw = dict(q_max=40, s_range=(2999.0, 3001.0), n_steps=30)
    a = solve(m, compiled=True, **kw)
    b = solve(m, compiled=False, **kw)
    assert np.abs(a.g - b.g).max() < 1e-10 * np.abs(a.g).max()
    pol = hs.ConstantSpread(1.0, q_max=40)
    a = evaluate(m, pol, compiled=True, **kw)
    b = evaluate(m, pol, compiled=False, **kw)
    assert np.abs(a.g - b.g).max() < 1e-10 * np.abs(a.g).max()


# --------------------------------------------------------------------------- results, errors
def test_save_and_load_roundtrip(tmp_path, ou_solution):
    path = ou_solution.save(tmp_path / "sol.npz")
    back = hs.Solution.load(path)
    assert back.model == ou_solution.model
    assert np.array_equal(back.g, ou_solution.g) and back.s_range == ou_solution.s_range
    assert np.array_equal(np.array(back.quotes(0.1, [0, 7], 3001.0)), np.array(ou_solution.quotes(0.1, [0, 7], 3001.0)))
    assert back.info["scheme"] == "strang"


def test_info_has_diagnostics(ou_solution):
    for key in ("method", "scheme", "order", "n_steps", "n_s", "ds", "n_q", "wall_time", "error_estimate"):
        assert key in ou_solution.info


@pytest.mark.parametrize("kwargs,match", [
    (dict(q_max=0), "q_max must be >= 2"),
    (dict(q_max=1), "q_max must be >= 2, got 1"),
    (dict(q_max=2.5), "q_max must be an integer"),
    (dict(n_steps=0), "n_steps must be >= 1"),
    (dict(scheme="rk4"), "scheme must be one of"),
    (dict(s_range=(3005.0, 2995.0)), "s_range must satisfy low < high"),
    (dict(s_range=3000.0), "s_range must be a pair"),
    (dict(ds=-0.1), "ds must be > 0"),
    (dict(t_eval=[2.0]), "t_eval must be"),
])
def test_bad_solver_arguments(ou, kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve(ou, **{"q_max": 50, "s_range": SR, **kwargs})


def test_bad_queries(ou_solution):
    with pytest.raises(ValueError, match="t must lie in"):
        ou_solution.quotes(1.5, 0, 3000.0)
    with pytest.raises(ValueError, match="q must lie in"):
        ou_solution.quotes(0.0, 601, 3000.0)
    with pytest.raises(ValueError, match="q must be integer"):
        ou_solution.value(0.0, 0.5, 3000.0)
    with pytest.raises(ValueError, match="s must lie in s_range"):
        ou_solution.quotes(0.0, 0, 2990.0)
    with pytest.raises(ValueError, match="model must be"):
        solve("paper")


def test_overflowing_bound_is_refused_at_once(brownian):
    """A terminal penalty so steep that exp(k·ϖ·(2q−1)) would overflow at the bound: refused before any
    work, naming q_max and the largest bound that works (ϖ = 2.5, k = 1: (690 − 5.36 + 1)/5 → 137)."""
    with pytest.raises(ValueError, match=r"q_max=200 is too large.*largest bound that works is q_max=137"):
        solve(brownian.replace(eps=5.0), q_max=200, n_steps=20)
    solve(brownian.replace(eps=5.0), q_max=137, n_steps=20)


def test_policy_returning_nan_is_rejected(brownian):
    class Bad:
        def quotes(self, t, q, s):
            return np.full(np.broadcast(t, q, s).shape, np.nan), np.ones(np.broadcast(t, q, s).shape)

    with pytest.raises(ValueError, match="NaN"):
        evaluate(brownian, Bad(), q_max=10, n_steps=5)


def test_progress_bars_only_on_a_terminal(brownian, capsys):
    """``progress=True`` draws tqdm bars only when standard error is a terminal (here it is captured)."""
    solve(brownian, q_max=40, progress=True)
    hs.simulate(brownian, hs.ConstantSpread(1.0), n_paths=50, n_steps=20, s0=0.0, progress=True)
    assert capsys.readouterr().err == ""


def test_automatic_evaluation_of_a_time_dependent_policy_against_radau(brownian):
    """The automatic mode's extrapolated jump steps need a fixed policy's quotes at the middle of
    each step. Strongly time-dependent, non-optimal quotes (the ε=0 quotes of a market with a drift,
    δ± = 1/k + α ± b(T − t), traded without one) evaluated automatically agree with a Radau
    integration of the policy's linear equation (written here, independently of the solver)."""
    from scipy.integrate import solve_ivp

    m, Q = brownian, 40
    pol = hs.expansion(m.replace(price=hs.Brownian(m.sigma, drift=0.5)), order=0)
    q = np.arange(-Q, Q + 1)
    la, lb = m.log_rates()

    def rhs(tau, h):
        da, db = pol.quotes(np.full(q.shape, m.T - tau), q, np.zeros(q.shape))
        out = -m.running_penalty * q**2.0
        out[1:] += np.exp(la - m.k_plus * da[1:]) * (da[1:] - m.alpha - (h[1:] - h[:-1]))     # ask: q -> q-1
        out[:-1] += np.exp(lb - m.k_minus * db[:-1]) * (db[:-1] - m.alpha - (h[:-1] - h[1:]))  # bid: q -> q+1
        return out

    ref = solve_ivp(rhs, (0.0, m.T), -m.terminal_penalty * q**2.0, method="Radau", rtol=1e-11, atol=1e-10).y[:, -1]
    got = evaluate(m, pol, q_max=Q, tol=1e-7, value_rtol=1e-9).value(0.0, q, 0.0)
    inner = np.abs(q) <= Q // 2
    err = (np.abs(got - ref) / np.maximum(1.0, np.abs(ref)))[inner].max()
    assert err <= 1e-9 + 1e-10, err


@pytest.mark.parametrize("n_regimes", [1, 3])
def test_sparse_expm_matches_the_dense_exponential(n_regimes):
    """The state propagator beyond ``dense_rows`` rows comes from a sparse scaling-and-squaring
    Taylor exponential with entries below 1e-17 of their row dropped. Against scipy's dense
    ``expm`` of the same augmented generator (an OU price with drift; three regimes coupled by a
    chain with their own σ) at a short, a medium and a long step: the dropped entries and the
    Taylor remainder are below 1e-17 per entry, the rounding of ~20 products of row-stochastic
    matrices a few 1e-15; 1e-13 bounds both with room for the long step's larger norm (relative
    to the drift column's scale, which reaches ~5 price units at the long step)."""
    from hjbsolve.grid import InventoryAxis, PriceAxis, StateGrid
    from hjbsolve.solver.operators import StateGenerator
    m = hs.Model(price=hs.OrnsteinUhlenbeck(a=3.0, mu=100.0, sigma=0.5), A=100.0, k=1.0, z=0.1, T=1.0)
    if n_regimes > 1:
        gen = [[-2.0, 1.0, 1.0], [0.5, -1.0, 0.5], [3.0, 0.0, -3.0]]
        m = m.replace(regimes=hs.Regimes(generator=gen, sigma=[0.2, 0.5, 0.9]))
    prices = PriceAxis.uniform(97.0, 103.5, 0.02, (99.0, 101.0))
    op = StateGenerator.for_model(m, StateGrid(prices, (InventoryAxis(2),), n_regimes))
    n = op.L.shape[0]
    assert n > StateGenerator.dense_rows                    # the sparse path is the one tested
    for dt in (1e-3, 0.02, 0.5):
        aug = np.zeros((n + 1, n + 1))
        aug[:n, :n], aug[:n, n] = op.L.toarray(), op.b
        E = scipy.linalg.expm(dt * aug)
        indptr, indices, data, beta = op.matrices(dt)
        P = np.zeros((n, n))
        P[np.repeat(np.arange(n), np.diff(indptr)), indices] = data
        assert np.abs(P - E[:n, :n]).max() < 1e-13, dt
        assert np.abs(beta - E[:n, n]).max() < 1e-13 * max(1.0, np.abs(E[:n, n]).max()), dt
