"""Exact evaluation of fixed quoting policies with several assets (``hs.evaluate`` of a
``MultiAssetModel``), and the policies that several assets accept.

References, independent of the code under test:

* the linear verification equation of a fixed policy on the inventory box, written here cell by cell
  from the model (fill rates ``A±_i e^{−k±_i(z_i+δ)}``, the cash of a fill ``δ − α_i``, the drift
  ``q·b``, the running penalty ``q'Φq``, the terminal ``−q'Ω̃q`` and the inventory-limit rule) and
  integrated with scipy's Radau at tight tolerances;
* the exact optimal value from the matrix exponential (``method="expm"``: another algorithm);
* the single-asset evaluation, for ``M = 1`` (the same problem and the same code);
* the exact-event Monte Carlo (its own random paths), within 3 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import hjbsolve as hs
from hjbsolve.policies import check_policy_assets, policy_assets

pytestmark = pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")   # small boxes on purpose

COV2 = [[0.25, 0.24], [0.24, 0.64]]          # correlation 0.6


def brief_model(**changes):
    kw = dict(A=[300.0, 120.0], k=[1.2, 1.2], z=[0.2, 0.35], alpha=[0.01, -0.01], cov=COV2, T=1.0, eps=0.01,
              eta=1.0, nu=1.0, drift=[0.1, -0.2])
    kw.update(changes)
    return hs.MultiAssetModel(**kw)


def box(q_max):
    axes = [np.arange(-q, q + 1) for q in q_max]
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)


def radau_policy_value(mm, policy, q_max, t_eval):
    """``g(t, q) = v − q·s`` of ``policy`` on the box from the verification equation
    ``∂_t g + q·b − q'Φq + Σ_i Σ_± λ±_i(δ±_i) (δ±_i − α_i + g(q ∓ e_i) − g(q)) = 0``, ``g(T) = −q'Ω̃q``,
    written cell by cell and integrated backwards by Radau; rows of the result follow ``t_eval``."""
    cells = box(q_max)
    n, M = cells.shape
    index = {tuple(c): j for j, c in enumerate(cells)}
    Phi, Om = mm.running_penalty_form, mm.terminal_penalty_form
    source = cells @ mm.drifts - np.einsum("ni,ij,nj->n", cells, Phi, cells)
    nb = {}
    for i in range(M):
        e = np.eye(M, dtype=int)[i]
        for sign, name in ((-1, "ask"), (1, "bid")):       # an ask fill lowers q_i, a bid fill raises it
            nb[(i, name)] = np.array([index.get(tuple(c + sign * e), -1) for c in cells])

    def linear(tau):                # tau = T − t: dg/dtau = L g + c (the generator of the policy)
        t = mm.T - tau
        ask, bid = policy.quotes(np.asarray(t), cells[None], np.zeros((1, n, M)))
        ask, bid = ask[0], bid[0]
        L, c = np.zeros((n, n)), source.copy()
        rows = np.arange(n)
        for i in range(M):
            (Ap, kp), (Am, km) = mm.side_params(i)
            for name, d, A, k in (("ask", ask[:, i], Ap, kp), ("bid", bid[:, i], Am, km)):
                j = nb[(i, name)]
                ok = (j >= 0) & np.isfinite(d)
                lam = np.where(ok, A * np.exp(-k * (mm.z[i] + np.where(ok, d, 0.0))), 0.0)
                c += lam * (np.where(ok, d, 0.0) - mm.alpha[i])
                L[rows, rows] -= lam
                np.add.at(L, (rows[ok], j[ok]), lam[ok])
        return L, c

    def rhs(tau, g):
        L, c = linear(tau)
        return L @ g + c

    g_T = -np.einsum("ni,ij,nj->n", cells, Om, cells)
    taus = mm.T - np.asarray(t_eval, float)
    order = np.argsort(taus)
    sol = solve_ivp(rhs, (0.0, mm.T), g_T, method="Radau", t_eval=taus[order], rtol=1e-11, atol=1e-11,
                    jac=lambda tau, g: linear(tau)[0])
    assert sol.success
    out = np.empty((len(taus), n))
    out[order] = sol.y.T
    return cells, out


@pytest.mark.parametrize("policy_kind", ["order1", "skew"])
def test_evaluation_of_a_fixed_policy_against_radau(policy_kind):
    """Every stored time and inventory inside the contract (|q_i| <= q_max_i/2) within value_rtol."""
    mm = brief_model()
    Q = (5, 4)
    policy = hs.expansion(mm, order=1) if policy_kind == "order1" else hs.InventorySkew(1.0, 0.1)
    value_rtol = 1e-6
    ev = hs.evaluate(mm, policy, q_max=list(Q), value_rtol=value_rtol)
    t_eval = np.array([0.0, 0.37, 0.8, 0.99])
    cells, ref = radau_policy_value(mm, policy, Q, t_eval)
    inside = np.all(np.abs(cells) <= np.array(Q) // 2, axis=1)
    s = np.array([1.3, -0.4])                  # v = q·s + g at any price
    got = np.stack([ev.value(t, cells[inside], s) for t in t_eval]) - cells[inside] @ s
    err = np.abs(got - ref[:, inside]) / np.maximum(1.0, np.abs(ref[:, inside]))
    print(f"{policy_kind}: largest relative error vs Radau {err.max():.2e} (value_rtol {value_rtol:g})")
    assert err.max() <= value_rtol


def test_evaluating_the_optimal_policy_gives_the_exact_value():
    """The optimal policy's value is the HJB value: the evaluation of the FD solution's quotes against
    the matrix-exponential solution (an independent algorithm), at several times."""
    mm = brief_model()
    Q = [14, 14]
    fd = hs.solve(mm, q_max=Q)
    ref = hs.solve(mm, q_max=Q, method="expm")
    value_rtol = 1e-7
    ev = hs.evaluate(mm, fd, value_rtol=value_rtol)                # the policy's own box by default
    assert ev.q_max == tuple(Q)
    q = box([7, 7])
    for t in (0.0, 0.5, 0.9):
        v_ref = ref.value(t, q, [0.0, 0.0])
        err = np.abs(ev.value(t, q, [0.0, 0.0]) - v_ref) / np.maximum(1.0, np.abs(v_ref))
        # the policy is the FD solution's (quotes within tol/k = 1e-5/k of the optimum): its value differs
        # from the optimum at second order in the quote error (~1e-10 here), below the evaluation's tolerance
        print(f"t={t}: evaluation of the FD optimum vs the matrix-exponential value: {err.max():.2e}")
        assert err.max() <= value_rtol, (t, err.max())
    # a worse policy is worth less (the optimum is a maximum), by more than the tolerance
    worse = hs.evaluate(mm, hs.ConstantSpread(1.0), q_max=Q)
    assert np.all(worse.value(0.0, q, [0.0, 0.0]) < ref.value(0.0, q, [0.0, 0.0]) - 1e-3)


def test_one_asset_evaluation_is_the_single_asset_one():
    """``M = 1``: the same problem and the same code give the same numbers (to rounding)."""
    m = hs.paper_model("brownian", T=0.5)
    mm = hs.MultiAssetModel.from_model(m)
    for policy in (hs.ConstantSpread(0.9), hs.InventorySkew(0.8, 0.02)):
        one = hs.evaluate(m, policy, q_max=60)
        multi = hs.evaluate(mm, policy, q_max=[60])
        q = np.arange(-30, 31)
        for t in (0.0, 0.25):
            a = one.value(t, q, 3000.0)
            b = multi.value(t, q[:, None], [[3000.0]])
            assert np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a))) <= 1e-12


def test_evaluation_agrees_with_the_monte_carlo():
    """Exact evaluation vs exact-event simulation of the same policy (the heuristic on every asset,
    each by its own inventory), within 3 standard errors; the simulation starts at flat inventories
    and the prices s0 (default 0: the value depends on them through q0·s0 only)."""
    from hjbsolve.policies import OnBox

    mm = brief_model()
    policy = hs.InventorySkew(1.0, 0.05)
    ev = hs.evaluate(mm, policy, q_max=[40, 40])
    q0, s0 = [3, -2], [100.0, 50.0]
    v = float(ev.value(0.0, q0, s0))
    # the same policy: the box's limit rule in the simulation too (OnBox), so that the two are comparable
    res = hs.simulate(mm, OnBox(policy, (40, 40)), n_paths=2000, n_steps=50, q0=q0, s0=s0, seed=11, progress=False,
                      estimator="control")
    z = (res.mean - v) / res.stderr
    print(f"skew policy, M=2: exact {v:.6f}, Monte Carlo {res.mean:.6f} ± {res.stderr:.2g} (z = {z:+.2f})")
    assert abs(z) < 3.0
    # one number for every asset
    again = hs.simulate(mm, policy, n_paths=50, n_steps=5, q0=0, s0=2.0, seed=1, progress=False)
    assert again.q_final.shape == (50, 2)


def test_closed_form_quotes_computed_once_per_time_equal_pointwise_ones():
    """The coefficients of the multi-asset closed forms are computed once per distinct (t, s); the
    answers equal the point-by-point ones (Brownian with drifts, and OU where they depend on s)."""
    rng = np.random.default_rng(0)
    for mm in (brief_model(), brief_model(drift=None, mean_reversion=[0.4, 0.9], mu=[1.0, -1.0])):
        ex = hs.expansion(mm, order=1)
        t = rng.choice([0.0, 0.3, 0.7], size=12)
        q = rng.integers(-8, 9, size=(12, 2))
        s = rng.choice([-0.5, 0.0, 0.5], size=(12, 2))
        ask, bid = ex.quotes(t, q, s)
        for j in range(12):
            a, b = ex.quotes(t[j], q[j], s[j])
            np.testing.assert_allclose([a, b], [ask[j], bid[j]], rtol=1e-14, atol=1e-14)


def test_policies_of_another_number_of_assets_are_refused():
    mm = brief_model()
    m1 = hs.paper_model("brownian")
    sol = hs.solve(mm, q_max=[6, 6], method="expm")
    assert policy_assets(sol) == 2 and policy_assets(hs.expansion(m1)) == 1
    assert policy_assets(hs.ConstantSpread(1.0)) is None
    with pytest.raises(ValueError, match=r"quotes 1 asset\(s\) but the model has M=2"):
        hs.evaluate(mm, hs.expansion(m1))
    with pytest.raises(ValueError, match=r"quotes 2 asset\(s\) but the model has M=1"):
        hs.evaluate(m1, sol)
    with pytest.raises(ValueError, match=r"quotes 2 asset\(s\) but the model has M=1"):
        hs.simulate(m1, hs.expansion(mm), n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match=r"quotes 1 asset\(s\) but the model has M=2"):
        check_policy_assets(mm, hs.solve(m1, q_max=20).tabulate())
    with pytest.raises(ValueError, match=r"quotes 3 asset\(s\) but the model has M=2"):
        cube = hs.MultiAssetModel(A=100.0, k=1.0, z=0.1, alpha=0.0, cov=np.eye(3), T=1.0)
        hs.evaluate(mm, hs.expansion(cube))
    with pytest.raises(ValueError, match=r"s_range, ds and price_dependent do not apply"):
        hs.evaluate(mm, sol, s_range=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"policy must have a quotes"):
        hs.evaluate(mm, object())


def test_small_multi_asset_refusals():
    mm = brief_model()
    # a policy too fast to integrate is refused before any step, naming the asset and the rate
    with pytest.raises(ValueError, match=r"ask half-spread δ=-100 of asset 0 at t=0, whose fill rate 3.08e\+54"):
        hs.evaluate(mm, hs.ConstantSpread(-100.0), q_max=[10, 10])
    # a plain callable too slow for the numpy engine is refused before any path runs
    class Plain:
        def quotes(self, t, q, s):
            return np.full(np.shape(q), 0.5), np.full(np.shape(q), 0.5)
    with pytest.raises(ValueError, match=r"plain quotes\(\) callable .* would take about .* s \(limit 600 s\)"):
        hs.simulate(mm.replace(A=[1e6, 120.0]), Plain(), n_paths=20, n_steps=10, progress=False)
    with pytest.raises(ValueError, match=r"q_max\[1\] must be >= 2, got 1"):
        hs.solve(mm, q_max=[3, 1], method="expm")
    small = hs.solve(mm, q_max=[3, 3], method="expm")
    with pytest.raises(ValueError, match=r"value q·s \+ g overflows double precision"):
        small.value(0.0, [1, 1], [1e308, 1e308])
    with pytest.raises(ValueError, match=r"q must be integer inventory vectors of a regular shape"):
        small.value(0.0, [[1, 1], [2]], [0.0, 0.0])
    for bad in (True, 1.5, 2, -1):
        with pytest.raises(ValueError, match=r"asset index i"):
            mm.asset_model(bad)
    with pytest.raises(ValueError, match=r"inventory risk overflows"):
        hs.inventory_risk([1e200, 1e200], Omega=np.eye(2), cov=np.eye(2))
    ex = hs.expansion(mm)
    a0, _ = ex.quotes(0.0, [1, 2], regime=0)             # the interface of the single-asset closed forms
    a1, _ = ex.quotes(0.0, [1, 2])
    assert np.array_equal(a0, a1)
    with pytest.raises(ValueError, match=r"regime=1 given, but the model has no regimes"):
        ex.quotes(0.0, [1, 2], regime=1)
    assert math.isfinite(float(ex.value(0.0, [1, 2], [0.0, 0.0], regime=None)))


def test_a_compact_file_refuses_quotes_at_its_stored_edge(tmp_path):
    """Found by the newcomer: a compact file (|q_i| <= q_max_i/2 + 1 kept) quoted +inf at its stored edge,
    where the solve had no limit. Its quotes are defined one step inside; simulating or evaluating it is
    refused (its edge would act as a limit); a whole-grid file is its solve."""
    mm = brief_model()
    sol = hs.solve(mm, q_max=[8, 6], method="expm")
    small = hs.Solution.load(sol.save(tmp_path / "c.npz", compact=True))
    assert small.q_max == (5, 4) and small.solve_q_max == [8, 6]
    inside = box([4, 3])
    for x, y in zip(small.quotes(0.0, inside, [0.0, 0.0]), sol.quotes(0.0, inside, [0.0, 0.0])):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"q\[\.\.\., 0\] = ±5: this solution keeps \|q\| <= 5 of its solve's bound 8"):
        small.quotes(0.0, [5, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="compact file"):
        hs.simulate(mm, small, n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match="compact file"):
        hs.evaluate(mm, small)
    whole = hs.Solution.load(sol.save(tmp_path / "w.npz"))
    assert whole.solve_q_max == whole.q_max == (8, 6)
    one = hs.solve(hs.paper_model("brownian"), q_max=20, n_steps=20)
    c1 = hs.Solution.load(one.save(tmp_path / "one.npz", compact=True))
    assert c1.q_max == 11 and c1.solve_q_max == 20
    np.testing.assert_array_equal(c1.quotes(0.0, np.arange(-10, 11), 0.0), one.quotes(0.0, np.arange(-10, 11), 0.0))
    with pytest.raises(ValueError, match=r"q = ±11: this solution keeps \|q\| <= 11 of its solve's bound 20"):
        c1.quotes(0.0, 11, 0.0)



def test_a_policy_on_the_box_is_the_policy_the_evaluation_values():
    """``OnBox(policy, Q)`` applies the box's limit rule (no ask at −Q_i, no bid at +Q_i, nothing
    outside): evaluating it on that box gives the policy's own evaluation there, bit for bit, and its
    simulation never leaves the box."""
    from hjbsolve.policies import OnBox

    mm = brief_model()
    pol = hs.InventorySkew(1.0, 0.05)
    boxed = OnBox(pol, (6, 5))
    ask, bid = boxed.quotes(0.0, [[-6, 0], [6, 5], [7, 0]], [0.0, 0.0])
    assert ask[0, 0] == np.inf and bid[1, 0] == np.inf and bid[1, 1] == np.inf and np.all(np.isinf(ask[2]))
    assert np.isfinite(bid[0, 0]) and np.isfinite(ask[1, 0])
    a = hs.evaluate(mm, pol, q_max=[6, 5])
    b = hs.evaluate(mm, boxed, q_max=[6, 5])
    np.testing.assert_array_equal(a.g, b.g)
    res = hs.simulate(mm, boxed, n_paths=200, n_steps=20, seed=1, progress=False)
    assert res.q_max[:, 0].max() <= 6 and res.q_min[:, 1].min() >= -5
    with pytest.raises(ValueError, match=r"q_max\[1\]"):
        OnBox(pol, (6, 0))


def test_second_hostile_round_is_refused_by_name(tmp_path):
    """Found by the second hostile round: a price-dependent user policy was valued at s = 0 (the
    evaluation of several assets has no price axis); complex quotes were accepted; OnBox passed bad
    output on; an evaluation (its quotes are optimal given its value, not the evaluated policy's) was
    traded as a policy; a compact file's table was traded through tabulate(); q0 = 10**20 overflowed."""
    from hjbsolve.policies import OnBox

    mm = brief_model()

    class PriceDependent:
        def quotes(self, t, q, s):
            a = np.where(np.asarray(s) > 50, 0.3, 1.5) + 0 * np.asarray(q, float)
            return a, a

    class Complex:
        def quotes(self, t, q, s):
            return np.ones(np.shape(q)) * (1 + 0j), np.ones(np.shape(q))

    class NoAssetAxis:
        def quotes(self, t, q, s):
            return np.ones(np.shape(q)[:-1] + (1,)), np.ones(np.shape(q)[:-1] + (1,))

    with pytest.raises(ValueError, match=r"quotes depend on the mid-prices s"):
        hs.evaluate(mm, PriceDependent(), q_max=[4, 4])
    with pytest.raises(ValueError, match=r"dtype complex128; quotes must be real"):
        hs.evaluate(mm, Complex(), q_max=[4, 4])
    with pytest.raises(ValueError, match=r"dtype complex128; quotes must be real"):
        hs.simulate(mm, OnBox(Complex(), (4, 4)), n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match=r"NoAssetAxis.quotes returned ask quotes of shape \(1, 1\); expected \(1, 2\)"):
        hs.simulate(mm, OnBox(NoAssetAxis(), (4, 4)), n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match=r"q_max must be a sequence"):
        OnBox(hs.ConstantSpread(1.0), 5)
    with pytest.raises(ValueError, match=r"policy must have a quotes"):
        OnBox(42, (4, 4))
    ev = hs.evaluate(mm, hs.InventorySkew(0.8, 0.05), q_max=[6, 6])
    with pytest.raises(ValueError, match=r"evaluation of a fixed policy"):
        hs.simulate(mm, ev, n_paths=10, n_steps=5, progress=False)
    with pytest.raises(ValueError, match=r"evaluation of a fixed policy"):
        hs.evaluate(mm, ev)
    sol = hs.solve(mm, q_max=[8, 8], method="expm")
    small = hs.Solution.load(sol.save(tmp_path / "c.npz", compact=True))
    with pytest.raises(ValueError, match=r"compact file"):
        small.tabulate()
    with pytest.raises(ValueError, match=r"q0\[0\] must be <= 1000000"):
        hs.simulate(mm, sol, q0=[10**20, 0], n_paths=10, n_steps=5, progress=False)
