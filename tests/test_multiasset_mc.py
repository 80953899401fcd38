"""Monte Carlo of several assets (issue 11, point 5): the same kernel loop with an asset axis.

References, all independent of the simulator: the exact value of the multi-asset problem
(``hs.solve(mm, method="expm")``, the matrix exponential on the inventory box), the Gaussian laws of
the price increments and of the Brownian bridge written here with numpy (conditioning formula),
the single-asset simulator (``M = 1``), and the risk matrix ``η Ω + ν (T − t) Λ`` of the paper's
§5.8. Monte Carlo comparisons are in standard errors with fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve import _mc_kernels as K

S0 = [100.0, 50.0]


def _model(rho, **kw):
    """The issue's two-asset market (sides, costs of both signs, drifts), correlation ``rho``."""
    p = dict(A=[300.0, 120.0], k=[1.2, 1.2], z=[0.2, 0.35], alpha=[0.01, -0.01],
             cov=[[0.25, rho * 0.4], [rho * 0.4, 0.64]], T=1.0, eps=0.05, eta=1.0, nu=1.0, drift=[0.05, -0.1])
    p.update(kw)
    return hs.MultiAssetModel(**p)


@pytest.fixture(scope="module", params=[0.8, -0.8], ids=["rho+0.8", "rho-0.8"])
def solved(request):
    mm = _model(request.param)
    return mm, hs.solve(mm, method="expm", t_eval=np.linspace(0.0, mm.T, 201))


class PlainBox:
    """A plain multi-asset policy (only ``quotes``): runs through the numpy engine."""

    def __init__(self, inner):
        self.inner = inner

    def quotes(self, t, q, s):
        return self.inner.quotes(t, q, s)


# ----------------------------------------------------------------------------- the value
def test_optimal_policy_matches_the_exact_value(solved):
    """MC mean objective of the optimal box policy vs ``sol.value(0, q0, s0)`` (exact expm value).

    The simulated market is exact (event times, price steps and bridges); the only bias is that the
    quotes are re-set at grid and fill times, second order in the quote error at the optimum
    (measured below 1e-6 on the single-asset model, ``montecarlo`` docstring). Each estimator's mean
    must lie within 3 of its own standard errors; the control-variate estimator's s.e. is ~5e-5 on
    a value of ~240 (relative 2e-7), so it checks the whole chain (fills per asset and side, the
    correlated price, both penalty forms, costs, drifts) to that precision. Measured: z = −0.95
    (ρ = 0.8) and −0.34 (ρ = −0.8) for "control", 0.68 and 1.13 for "compensated".
    """
    mm, sol = solved
    q0 = [2, -3]
    res = hs.simulate(mm, sol, n_paths=4000, n_steps=200, s0=S0, q0=q0, seed=1, progress=False)
    v = float(sol.value(0.0, q0, S0))
    assert res.q_final.shape == (4000, 2) and res.inventory_integral.shape == (4000, 2, 2)
    for est in ("plain", "compensated", "control"):
        m, se = res.estimate(est)
        z = (m - v) / se
        print(f"rho={mm.correlation[0, 1]:+.1f} {est}: MC {m:.6f} ± {se:.2g}, exact {v:.6f}, z = {z:+.2f}")
        assert abs(z) <= 3.0, est
    # both assets trade on both sides and the inventories move in the box
    assert np.all(res.n_ask.mean(axis=0) > 20) and np.all(res.n_bid.mean(axis=0) > 20)
    assert np.all(res.q_max.max(axis=0) > 5) and np.all(res.q_min.min(axis=0) < -5)


# ----------------------------------------------------------------------------- prices
def test_price_increments_have_the_covariance_and_drift():
    """The grid-time increments of the recorded price paths have mean ``b dt`` and covariance ``Λ dt``
    (ρ = ±0.8, unequal volatilities): every entry of the sample covariance within 3 standard errors
    (for a Gaussian pair ``Var(x_i x_j) = Λ_ii Λ_jj + Λ_ij²`` per increment, times ``dt²``), and the
    Mahalanobis statistic of the mean a chi-square with 2 degrees of freedom (below its 0.999 quantile
    13.8)."""
    n_paths, n_steps = 400, 50
    for rho in (0.8, -0.8):
        mm = _model(rho)
        pol = hs.BoxPolicy(np.array([0.0, 1.0]), (3, 3), np.full((2, 1, 49, 2), 1.5), np.full((2, 1, 49, 2), 1.5))
        res = hs.simulate(mm, pol, n_paths=n_paths, n_steps=n_steps, s0=S0, q0=[0, 0], seed=3, progress=False,
                          record=n_paths)
        dt = mm.T / n_steps
        d = np.diff(res.paths.s, axis=1).reshape(-1, 2)                  # (n_paths·n_steps, 2)
        n = d.shape[0]
        dev = d - mm.drifts * dt
        C = dev.T @ dev / n
        L = mm.cov * dt
        se = np.sqrt((np.outer(np.diag(L), np.diag(L)) + L**2) / n)
        print(f"rho={rho:+.1f}: sample cov / dt = {(C / dt).round(4).tolist()}, z = {((C - L) / se).round(2).tolist()}")
        assert np.all(np.abs(C - L) <= 3.0 * se)
        mean = d.mean(axis=0) - mm.drifts * dt
        chi2 = float(mean @ np.linalg.solve(L / n, mean))
        print(f"   mean chi2 = {chi2:.2f}")
        assert chi2 <= 13.8


@pytest.mark.parametrize("rho", [0.8, -0.8])
def test_correlated_bridge_has_the_conditional_law(rho):
    """The fill-time price vector the kernel draws (:func:`_bridge_v_np` per asset driven by the
    correlated normals ``L Z``, exactly the kernel's arithmetic) has the law of a Brownian vector
    with covariance ``Λ`` and drift ``b`` at ``u + τ₁`` given its values at ``u`` and
    ``u + τ₁ + τ₂``: the Gaussian conditioning formula computed here on the joint covariance
    (mean within 3 s.e. per asset; each covariance entry within 3 s.e. as in the increment test)."""
    mm = _model(rho)
    _, c0, sig2, chol = hs.montecarlo._price_arrays(mm)
    x, y, tau1, tau2 = np.array([100.0, 50.0]), np.array([100.4, 49.1]), 0.3, 0.2
    n = 200_000
    z = np.random.default_rng(5).standard_normal((n, 2))
    zc = K._correlate_np(chol, z)
    s = np.stack([K._bridge_v_np(x[m], y[m], tau1, tau2, 0.0, c0[m], sig2[0, m] * tau1, sig2[0, m] * tau2, zc[:, m])
                  for m in range(2)], axis=1)
    # joint Gaussian (S_{u+τ1}, S_{u+τ1+τ2}) given S_u = x: condition on the second block
    L, b = mm.cov, mm.drifts
    m1, m2 = x + b * tau1, x + b * (tau1 + tau2)
    S11, S12, S22 = L * tau1, L * tau1, L * (tau1 + tau2)
    mean_ref = m1 + S12 @ np.linalg.solve(S22, y - m2)
    cov_ref = S11 - S12 @ np.linalg.solve(S22, S12.T)
    mean_se = np.sqrt(np.diag(cov_ref) / n)
    assert np.all(np.abs(s.mean(axis=0) - mean_ref) <= 3.0 * mean_se)
    dev = s - mean_ref
    C = dev.T @ dev / n
    se = np.sqrt((np.outer(np.diag(cov_ref), np.diag(cov_ref)) + cov_ref**2) / n)
    print(f"rho={rho:+.1f}: bridge cov z = {((C - cov_ref) / se).round(2).tolist()}")
    assert np.all(np.abs(C - cov_ref) <= 3.0 * se)
    # the kernel's correlate is the numpy twin's (compiled vs numpy, one vector)
    out = np.empty(2)
    K._correlate(chol, z[0], out)
    np.testing.assert_array_equal(out, zc[0])


# ----------------------------------------------------------------------------- one asset, engines
@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")       # a small box: the same box on both sides
def test_one_asset_is_the_single_asset_simulation():
    """``MultiAssetModel.from_model(m)`` simulated with its own (one-axis box) optimal policy gives the
    single-asset simulation of ``m`` with its optimal policy bit for bit (the optimal quotes are
    the solver's, equal bit for bit): the same kernel loop, the
    same random numbers (asset-interleaved streams reduce to the single-asset ones), the same
    coefficients and penalty forms. Brownian price with a drift, asymmetric sides and a cost; the
    compiled and numpy engines; a hand-built one-axis table too."""
    m = hs.Model(price=hs.Brownian(0.3, drift=0.05), A=(140.0, 100.0), k=(1.5, 1.2), z=0.1, T=1.0, eps=0.05,
                 eta=1.0, nu=1.0, alpha=0.02)
    mm = hs.MultiAssetModel.from_model(m)
    single = hs.solve(m, q_max=30)                 # finite differences (expm needs k⁺ = k⁻)
    multi = hs.solve(mm, q_max=[30])
    assert np.array_equal(single.g, multi.g)     # the solver's own M = 1 contract (bit for bit)
    assert isinstance(multi.tabulate(), hs.BoxPolicy)
    names = ("objective", "pnl", "cash", "s_final", "q_final", "q_min", "q_max", "n_ask", "n_bid",
             "inventory_integral", "controls")
    for engine, n in (("numba", 500), ("numpy", 60)):
        kw = dict(n_paths=n, n_steps=40, seed=4, progress=False, record=2, engine=engine)
        a = hs.simulate(m, single, s0=10.0, q0=3, **kw)
        b = hs.simulate(mm, multi, s0=[10.0], q0=[3], **kw)
        for name in names:
            x, y = getattr(a, name), getattr(b, name)
            y = y.reshape(x.shape) if y.size == x.size else y
            assert np.array_equal(x, y), (engine, name)
        for name in ("s", "q", "x", "ask", "bid"):
            assert np.array_equal(getattr(a.paths, name), np.asarray(getattr(b.paths, name)).reshape(
                getattr(a.paths, name).shape)), (engine, name)
    const = hs.ConstantSpread(0.9, skew=0.05, q_max=12)
    a = hs.simulate(m, const, n_paths=300, n_steps=30, s0=10.0, q0=0, seed=2, progress=False)
    b = hs.simulate(mm, const.tabulate(m), n_paths=300, n_steps=30, s0=[10.0], q0=[0], seed=2, progress=False)
    assert np.array_equal(a.objective, b.objective) and np.array_equal(a.q_final, b.q_final[:, 0])


def test_numpy_twin_matches_kernel(solved):
    """The numpy engine reproduces the compiled kernel path by path with two correlated assets
    (fill counts and inventories exactly; money to rounding), and a plain multi-asset policy (only
    ``quotes(t, q, s)`` with the trailing asset axis) runs the same market."""
    mm, sol = solved
    kw = dict(n_paths=150, n_steps=40, s0=S0, q0=[1, -1], seed=6, progress=False, record=2)
    a = hs.simulate(mm, sol, **kw)
    b = hs.simulate(mm, sol, engine="numpy", **kw)
    c = hs.simulate(mm, PlainBox(sol), **kw)
    assert (a.info["engine"], b.info["engine"], c.info["engine"]) == ("numba", "numpy", "numpy")
    for other in (b, c):
        for name in ("n_ask", "n_bid", "q_final", "q_min", "q_max"):
            np.testing.assert_array_equal(getattr(a, name), getattr(other, name))
        np.testing.assert_allclose(a.objective, other.objective, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(a.s_final, other.s_final, rtol=1e-13)
        np.testing.assert_allclose(a.controls, other.controls, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(a.inventory_integral, other.inventory_integral, rtol=1e-12, atol=1e-12)
        for name in ("s", "q", "x", "ask", "bid"):
            np.testing.assert_allclose(getattr(a.paths, name), getattr(other.paths, name), rtol=1e-12, atol=1e-9)


# ----------------------------------------------------------------------------- §5.8
def _principal_angle(q, e_high):
    """Angle (degrees, in [0, 90]) between the major axis of the sample covariance of ``q`` (n, 2)
    and ``e_high``, and the variance ratio along ``e_low`` (⊥ ``e_high``) and ``e_high``."""
    w, v = np.linalg.eigh(np.cov(q.T))
    major = v[:, -1]
    e_low = np.array([-e_high[1], e_high[0]])
    angle = math.degrees(math.acos(min(1.0, abs(float(major @ e_high)))))
    ratio = float(np.var(q @ e_low, ddof=1) / np.var(q @ e_high, ddof=1))
    return angle, ratio


@pytest.mark.parametrize("rho", [0.8, -0.8])
def test_inventory_favours_the_low_risk_direction(rho):
    """§5.8, "favour a well-diversified portfolio", with numbers: the optimal policy's simulated
    inventory ``Q_T`` spreads along the low-risk direction of ``Π``, the eigenvector of the smallest
    eigenvalue of ``η Ω + ν (T − t) Λ`` (here the same at every ``t``: equal ``σ`` and ``z``, so the
    eigenvectors are ``(1, ±1)/√2``; the high-risk one is ``(1, 1)`` for ρ > 0, ``(1, −1)`` for ρ < 0).

    Two exchangeable assets make the inventory law symmetric under swapping them, so the true
    principal axes are exactly these two diagonals: the major axis is either at 90° from the
    high-risk direction (the claim) or at 0° (a policy that favoured the risky direction). The
    test asserts 90° within 3 jackknife standard errors (20 groups) and a variance ratio
    (low-risk / high-risk) above 1 by more than 3 standard errors. Measured (4000 paths): angle
    89.20° ± 1.50° (ρ = 0.8) and 89.76° ± 1.36° (ρ = −0.8) from the high-risk direction; variance
    ratio 1.98 ± 0.06 and 2.01 ± 0.08 (below 2.52, the square root of the risk matrix's eigenvalue
    ratio at t = 0, the stationary ratio of a linear skew: the day starts flat and ends with the
    isotropic terminal penalty).
    """
    mm = hs.MultiAssetModel(A=[200.0, 200.0], k=[1.0, 1.0], z=[0.1, 0.1], alpha=[0.0, 0.0],
                            cov=[[1.0, rho], [rho, 1.0]], T=1.0, eps=0.05, eta=1.0, nu=1.0)
    sol = hs.solve(mm, q_max=[30, 30], method="expm", t_eval=np.linspace(0.0, mm.T, 101))
    res = hs.simulate(mm, sol, n_paths=4000, n_steps=50, s0=[0.0, 0.0], q0=[0, 0], seed=8, progress=False)
    w, v = np.linalg.eigh(mm.eta * mm.Omega_matrix + mm.nu * mm.T * mm.cov)
    e_high = v[:, -1]
    q = res.q_final.astype(float)
    angle, ratio = _principal_angle(q, e_high)
    groups = np.array_split(np.arange(q.shape[0]), 20)
    jack = np.array([_principal_angle(np.delete(q, g, axis=0), e_high) for g in groups])
    se = np.sqrt((len(groups) - 1) * jack.var(axis=0))
    print(f"rho={rho:+.1f}: high-risk direction {e_high.round(3).tolist()}, angle of the inventory's major axis "
          f"{angle:.2f}° ± {se[0]:.2f}°, variance ratio low/high {ratio:.3f} ± {se[1]:.3f}, "
          f"sqrt penalty ratio {math.sqrt(w[-1] / w[0]):.3f}")
    assert abs(angle - 90.0) <= 3.0 * se[0] + 1e-9
    assert ratio - 1.0 > 3.0 * se[1]
    assert res.q_max.max() < 30 and res.q_min.min() > -30        # the box does not shape the distribution


# ----------------------------------------------------------------------------- bad input
def test_bad_multi_asset_arguments(solved):
    mm, sol = solved
    run = dict(n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match=r"s0 must be a sequence of M=2"):
        hs.simulate(mm, sol, s0=[1.0, 2.0, 3.0], q0=[0, 0], **run)
    with pytest.raises(ValueError, match=r"q0 must be a sequence of M=2"):
        hs.simulate(mm, sol, s0=S0, q0=[0, 0, 0], **run)
    with pytest.raises(ValueError, match=r"q0 must be a sequence of M=2"):
        hs.simulate(mm, sol, s0=S0, q0=[[0, 0]], **run)
    # one number for every asset; the prices default to 0 (they enter the value only through q0·s0)
    a = hs.simulate(mm, sol, q0=1, seed=5, **run)
    b = hs.simulate(mm, sol, s0=[0.0, 0.0], q0=[1, 1], seed=5, **run)
    np.testing.assert_array_equal(a.objective, b.objective)
    with pytest.raises(ValueError, match=r"q0\[1\]"):
        hs.simulate(mm, sol, s0=S0, q0=[0, 1.5], **run)
    with pytest.raises(ValueError, match=r"s0\[0\]"):
        hs.simulate(mm, sol, s0=[float("nan"), 1.0], q0=[0, 0], **run)
    Q = sol.q_max
    with pytest.raises(ValueError, match=r"q0=\[0, " + str(Q[1] + 1) + r"\] lies outside .* box"):
        hs.simulate(mm, sol, s0=S0, q0=[0, Q[1] + 1], **run)
    with pytest.raises(ValueError, match=r"quotes 1 asset\(s\) but the model has M=2"):
        hs.simulate(mm, hs.solve(hs.paper_model("brownian"), q_max=20), s0=S0, q0=[0, 0], **run)
    with pytest.raises(ValueError, match=r"quotes 1 asset\(s\) but the model has M=2"):
        one = hs.BoxPolicy(np.array([0.0, 1.0]), (2,), np.ones((2, 1, 5, 1)), np.ones((2, 1, 5, 1)))
        hs.simulate(mm, one, s0=S0, q0=[0, 0], **run)
    ou = _model(0.5, drift=None, mean_reversion=[0.5, 0.0], mu=[100.0, 0.0])
    with pytest.raises(ValueError, match=r"mean_reversion=.*Brownian prices"):
        hs.simulate(ou, PlainBox(sol), s0=S0, q0=[0, 0], **run)
    with pytest.raises(ValueError, match=r"q_max must be a sequence"):
        hs.BoxPolicy(np.array([0.0, 1.0]), 3, np.ones((2, 1, 7, 1)), np.ones((2, 1, 7, 1)))
    with pytest.raises(ValueError, match=r"ask must have shape \(2, 1, 9, 2\)"):
        hs.BoxPolicy(np.array([0.0, 1.0]), (1, 1), np.ones((2, 1, 8, 2)), np.ones((2, 1, 9, 2)))
    with pytest.raises(ValueError, match=r"trailing axis of length M=2"):
        sol.tabulate().quotes(0.0, [1, 2, 3])
    # the cost estimate counts every asset's fastest side before any path runs
    fast = hs.BoxPolicy(np.array([0.0, 1.0]), (3, 3), np.full((2, 1, 49, 2), -40.0), np.full((2, 1, 49, 2), 1.0))
    with pytest.raises(ValueError, match=r"ask half-spread δ=-40 of asset 0.*cannot be simulated"):
        hs.simulate(mm, fast, s0=S0, q0=[0, 0], n_paths=10_000, n_steps=5, progress=False)


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")       # a small box: the table's rules, not its accuracy
def test_box_policy_quotes_are_the_solutions():
    """``Solution.quotes`` of a multi-asset solution reads its ``BoxPolicy`` (the table the simulator
    trades): the limit rule per axis, ``+inf`` outside; interpolation in ``t`` through the one table
    interpolation (at stored times, the nodes' values: the quote assembly of ``side_tables``)."""
    mm = _model(0.8)
    sol = hs.solve(mm, q_max=[6, 4], method="expm", t_eval=np.linspace(0.0, 1.0, 11))
    pol = sol.tabulate()
    assert pol is sol.tabulate() and pol.q_max == (6, 4)
    q = np.array([[0, 0], [-6, 4], [6, -4], [3, -2]])
    dp, dm = sol.quotes(0.3, q, S0)
    pp, pm = pol.quotes(0.3, q)
    np.testing.assert_array_equal(dp, pp)
    np.testing.assert_array_equal(dm, pm)
    assert np.isinf(dp[1, 0]) and np.isinf(dm[1, 1]) and np.isinf(dm[2, 0]) and np.isinf(dp[2, 1])
    assert np.all(np.isfinite(dp[[0, 3]])) and np.all(np.isfinite(dm[[0, 3]]))
    ask, bid = pol.box_quotes(np.array([0.3]), np.array([[7, 0]]))
    assert np.all(np.isinf(ask)) and np.all(np.isinf(bid))
    # at a stored time, the quote assembly from the value (paper eq. 34): 1/k + α + v(q) − v(q ∓ e_i) ∓ s_i
    t = sol.t[3]
    v = lambda qq: sol.value(t, qq, S0)                                   # noqa: E731
    q0 = np.array([3, -2])
    for i in range(2):
        e = np.eye(2, dtype=int)[i]
        want_ask = 1.0 / mm.k[i] + mm.alpha[i] + v(q0) - v(q0 - e) - S0[i]
        want_bid = 1.0 / mm.k[i] + mm.alpha[i] + v(q0) - v(q0 + e) + S0[i]
        assert pol.quotes(t, q0)[0][i] == pytest.approx(want_ask, abs=1e-9)
        assert pol.quotes(t, q0)[1][i] == pytest.approx(want_bid, abs=1e-9)


# ----------------------------------------------------------------------------- results, command line
@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")       # --q-max 25: a small box, simulated as solved
def test_multi_asset_result_save_and_load(tmp_path):
    """A multi-asset result saves and loads with its per-asset shapes (and a reordered field is
    refused)."""
    from hjbsolve.montecarlo import SimulationResult

    mm = _model(0.8, eps=0.2)
    sol = hs.solve(mm, q_max=[20, 20], method="expm")
    res = hs.simulate(mm, sol, n_paths=64, n_steps=20, s0=S0, q0=[1, 0], seed=2, progress=False, record=3)
    path = res.save(tmp_path / "multi")
    back = SimulationResult.load(path)
    assert back.model == mm and back.q_final.shape == (64, 2) and back.inventory_integral.shape == (64, 2, 2)
    for name in ("objective", "q_final", "n_ask", "s_final", "inventory_integral", "controls"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.paths.s.shape == (3, 21, 2) and np.array_equal(back.paths.bid, res.paths.bid)
    f = dict(np.load(path))
    f["q_final"] = f["q_final"][:, :1]
    np.savez(tmp_path / "bad.npz", **f)
    with pytest.raises(ValueError, match=r"field 'q_final' must be an integer array of shape \(64, 2\)"):
        SimulationResult.load(tmp_path / "bad.npz")


ASSETS_FILE = """
[model]
T = 1.0
eps = 0.05
[assets]
cov = [[0.25, 0.32], [0.32, 0.64]]
A = [300.0, 120.0]
k = 1.2
z = [0.2, 0.35]
alpha = [0.01, -0.01]
drift = [0.05, -0.1]
s0 = [100.0, 50.0]
[solve]
q_max = 16
"""


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")       # q_max 16: a small box, simulated as solved
@pytest.mark.parametrize("policy", ["optimal", "order1", "skew"])
def test_the_simulate_command_with_an_assets_file(tmp_path, capsys, policy):
    """``hjbsolve simulate multi.toml --policy P``: the policy (the solved box, the closed forms of §5,
    the heuristic on every asset) simulated from the file's ``s0`` on its ``[solve]`` box; the Monte Carlo
    objective within 3
    standard errors of the policy's exact value on the box (hs.solve / hs.evaluate), the result file and
    the two figures written."""
    from hjbsolve.cli import main
    from hjbsolve.montecarlo import SimulationResult

    f = tmp_path / "multi.toml"
    f.write_text(ASSETS_FILE)
    out_dir = tmp_path / policy
    rc = main(["simulate", str(f), "--policy", policy, "--paths", "400", "--steps", "20", "--seed", "3",
               "--out", str(out_dir), "--no-progress"])
    out = capsys.readouterr().out
    print(out)
    assert rc == 0, out
    # the file's [solve] q_max is the box of the exact value
    assert "2 assets, mid-prices from [100.0, 50.0], exact values on the box q_max=[16, 16]" in out
    assert "final inventory 1" in out
    z = float(out.split("(z-score ")[1].split(")")[0])
    assert abs(z) <= 3.0, out
    res = SimulationResult.load(out_dir / "simulation.npz")
    assert res.n_paths == 400 and res.q_final.shape == (400, 2)
    np.testing.assert_array_equal(res.s_final.shape, (400, 2))
    for png in ("objective_density.png", "final_inventories.png"):
        assert (out_dir / png).stat().st_size > 10_000


def test_assets_file_s0_is_checked(tmp_path):
    from hjbsolve.config import load_config

    f = tmp_path / "bad.toml"
    f.write_text(ASSETS_FILE.replace("s0 = [100.0, 50.0]", "s0 = [100.0, 50.0, 1.0]"))
    with pytest.raises(ValueError, match=r"\[assets\] s0 must be a number or one entry per asset \(M=2"):
        load_config(f)
    f.write_text(ASSETS_FILE.replace("s0 = [100.0, 50.0]", "s0 = 7.5"))
    assert load_config(f).s0 == (7.5, 7.5)
    f.write_text(ASSETS_FILE.replace("s0 = [100.0, 50.0]\n", ""))
    assert load_config(f).s0 == (0.0, 0.0)
    from hjbsolve.cli import main

    assert main(["simulate", str(f), "--regime0", "1", "--paths", "10", "--no-progress"]) == 2


def test_final_inventory_figure(solved):
    """The figure of where the days end: the scatter, the major axis of the sample and the model's
    low-risk direction (M = 2); per-asset histograms otherwise; bad arguments refused."""
    from hjbsolve.plotting import plot_final_inventories

    mm, sol = solved
    res = hs.simulate(mm, sol, n_paths=300, n_steps=10, s0=S0, q0=[0, 0], seed=4, progress=False)
    ax = plot_final_inventories(res, mm)
    assert ax.get_xlabel().startswith("final inventory Q₁(T)") and len(ax.collections) >= 1
    pts = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(pts), res.q_final[:300].astype(float))
    with pytest.raises(ValueError, match=r"M=3 assets"):
        cube = hs.MultiAssetModel(A=100.0, k=1.0, z=0.1, alpha=0.0, cov=np.eye(3), T=1.0)
        plot_final_inventories(res, cube)
    with pytest.raises(ValueError, match="max_points"):
        plot_final_inventories(res, mm, max_points=0)
    from hjbsolve.plotting import plot_inventory_extremes

    with pytest.raises(ValueError, match=r"results\['m'\] is a simulation of several assets"):
        plot_inventory_extremes({"m": res})

