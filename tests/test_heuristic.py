"""The article's inventory-skew heuristic as a policy, and its comparison with the optimal policy (issue 5, part 3)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.validation.heuristic import GammaSearch, heuristic_value, paired_difference, run_heuristic_comparison
from hjbsolve.validation.report import check_finite

S0 = hs.PAPER_S0


# ---------------------------------------------------------------------------- the policy
def test_inventory_skew_widens_the_side_that_would_grow_abs_q():
    pol = hs.InventorySkew(1.0, 0.1, q_max=5)
    q = np.array([-5, -4, -3, -1, 0, 1, 2, 4, 5])
    ask, bid = pol.quotes(0.3, q, S0)
    # short (q < 0): an ask fill lowers q further, so the ask is widened by γ|q|; long: the bid
    np.testing.assert_allclose(ask, [np.inf, 1.4, 1.3, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(bid, [1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, np.inf], rtol=0, atol=1e-15)
    # no ask at the lower limit, no bid at the upper one
    assert ask[0] == np.inf and bid[-1] == np.inf and np.isfinite(ask[1:]).all() and np.isfinite(bid[:-1]).all()


def test_inventory_skew_is_the_articles_rule_in_the_market_makers_position():
    """The article's code: bid = P − base − |min(γI, 0)|, ask = P + base + max(γI, 0), with its tracked
    inventory I = −q (a trader's buy, side = +1, adds to I)."""
    base, gamma = 0.5, 0.1
    pol = hs.InventorySkew(base, gamma, q_max=50)
    q = np.arange(-49, 50)
    I = -q
    ask, bid = pol.quotes(0.0, q, S0)
    np.testing.assert_allclose(ask, base + np.maximum(gamma * I, 0.0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(bid, base + np.abs(np.minimum(gamma * I, 0.0)), rtol=0, atol=1e-14)


def test_inventory_skew_table_matches_its_quotes():
    m = hs.paper_model("brownian")
    pol = hs.InventorySkew(1.05, 0.02, q_max=30)
    tab = pol.tabulate(m)
    q = np.arange(-30, 31)
    for t in (0.0, 0.37, m.T):
        a1, b1 = pol.quotes(t, q, S0)
        a2, b2 = tab.quotes(t, q, S0)
        np.testing.assert_allclose(a2, a1, rtol=0, atol=1e-14)   # inf where a1 is inf
        np.testing.assert_allclose(b2, b1, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kwargs, name", [
    (dict(half_spread=float("nan"), gamma=0.1), "half_spread"),
    (dict(half_spread="1", gamma=0.1), "half_spread"),
    (dict(half_spread=1.0, gamma=-0.1), "gamma"),
    (dict(half_spread=1.0, gamma=float("inf")), "gamma"),
    (dict(half_spread=1.0, gamma=0.1, q_max=0), "q_max"),
    (dict(half_spread=1.0, gamma=0.1, q_max=2.5), "q_max"),
])
def test_inventory_skew_rejects_bad_parameters_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        hs.InventorySkew(**kwargs)


# ---------------------------------------------------------------------------- exact evaluation
def test_at_eps0_the_heuristic_at_gamma0_is_optimal_and_any_gamma_costs():
    """Brownian, ε = 0: the optimal quotes are the constant 1/k + α (away from the inventory limits,
    which the paths do not reach), so InventorySkew(1/k + α, 0) *is* the optimal policy there."""
    m = hs.paper_model("brownian", eps=0.0)
    Q, n = 150, 20
    h0 = 1.0 / m.k + m.alpha
    sol = hs.solve(m, q_max=Q, n_steps=n)
    ask, bid = sol.quotes(0.0, np.arange(-20, 21), S0)
    np.testing.assert_allclose(ask, h0, rtol=0, atol=1e-8)
    np.testing.assert_allclose(bid, h0, rtol=0, atol=1e-8)
    v_opt = float(sol.value(0.0, 0, S0))
    v0 = heuristic_value(m, h0, 0.0, Q, n)
    assert abs(v0 - v_opt) <= 1e-8 * abs(v_opt)
    losses = {g: v_opt - heuristic_value(m, h0, g, Q, n) for g in (1e-4, 1e-3, 1e-2, 1e-1)}
    for g, loss in losses.items():
        assert loss > 100 * abs(v0 - v_opt) + 1e-9 * abs(v_opt), (g, loss)
    # the loss grows with γ (a wider quote on the growing side only ever costs spread income)
    assert np.all(np.diff(list(losses.values())) > 0)


def test_price_blind_heuristic_is_worth_the_same_on_the_ou_market():
    """Symmetric, price-independent quotes from q = 0: E[Q_t] = 0 and Q independent of S, so the
    drift of an OU price adds nothing in expectation (hjbsolve/validation/heuristic.py)."""
    mb, mo = hs.paper_model("brownian"), hs.paper_model("ou")
    for g in (0.0, 3e-3):
        vb = heuristic_value(mb, 1.05, g, 80, 20)
        vo = heuristic_value(mo, 1.05, g, 80, 20, s_range=(S0 - 1.0, S0 + 1.0))
        assert abs(vo - vb) <= 1e-9 * abs(vb)


# ---------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("gamma", [1e-3, 5e-2])
@pytest.mark.parametrize("estimator", ["control", "compensated"])
def test_monte_carlo_of_the_heuristic_matches_exact_evaluation(gamma, estimator):
    """Both estimators are documented in hjbsolve.montecarlo as unbiased for every policy; the
    heuristic's quotes depend on q only and are re-set after each fill, so 20 grid steps are exact."""
    m = hs.paper_model("brownian")
    pol = hs.InventorySkew(1.05, gamma, 150)
    exact = heuristic_value(m, 1.05, gamma, 150, 40)
    res = hs.simulate(m, pol, n_paths=4000, n_steps=20, s0=S0, seed=5, progress=False)
    mean, se = res.estimate(estimator)
    assert 0 < se < 0.05
    assert abs(mean - exact) < 3 * se, (mean, exact, se)


@pytest.mark.parametrize("eps", [1e-3, 1e-2])
def test_optimal_beats_the_best_heuristic_on_common_random_numbers(eps):
    m = hs.paper_model("brownian", eps=eps)
    Q, n = 150, 40
    search = GammaSearch(m, Q, n)
    b = 1.0 / m.k + m.alpha
    gammas = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    g_best, v_best = search.refine(b, gammas, search.grid(b, gammas), xatol=0.02, maxiter=15)
    b_best, g_best, v_best = search.joint(b, g_best, maxfev=30)
    assert g_best > 0
    sol = hs.solve(m, q_max=Q, n_steps=n)
    v_opt = float(sol.value(0.0, 0, S0))
    assert v_opt - v_best > 1e-3
    kw = dict(n_paths=3000, n_steps=50, s0=S0, seed=17, progress=False)
    r_opt = hs.simulate(m, sol, **kw)
    r_heu = hs.simulate(m, hs.InventorySkew(b_best, g_best, Q), **kw)
    d, se = paired_difference(r_opt, r_heu, "compensated")
    assert d > 0 and d > 3 * se, (d, se)
    assert abs(d - (v_opt - v_best)) < 4 * se, (d, v_opt - v_best, se)


def test_paired_difference_needs_common_random_numbers():
    m = hs.paper_model("brownian")
    pol = hs.InventorySkew(1.05, 0.0, 100)
    a = hs.simulate(m, pol, n_paths=50, n_steps=5, seed=1, progress=False)
    b = hs.simulate(m, pol, n_paths=50, n_steps=5, seed=2, progress=False)
    with pytest.raises(ValueError, match="same seed"):
        paired_difference(a, b)


# ---------------------------------------------------------------------------- end to end
@pytest.mark.filterwarnings("error::hjbsolve.solver.setup.BoundWarning")   # no solve is clipped by its bound
def test_run_heuristic_comparison_quick(tmp_path):
    R = run_heuristic_comparison(tmp_path, quick=True, progress=False, seed=3)
    json.dumps(R, allow_nan=False)
    assert check_finite(R) == []
    for name in R["figures"]:
        p = tmp_path / name
        assert p.exists() and p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in R["markdown"]
    md = R["markdown"]
    assert md.startswith("## Heuristic vs optimal") and "nan" not in md.lower().replace("nanc", "")
    best = R["search"]["best"]
    assert best["gamma"] > 0 and best["value_exact"] == max(v["value"] for v in R["search"]["evaluated"])
    for mk in ("brownian", "ou"):
        M = R["markets"][mk]
        p = M["paired"]["optimal_minus_best"]
        assert M["best"]["gap_exact"] > 0 and p["mean"] > 3 * p["stderr"]
        assert M["gamma0"]["gap_exact"] > M["best"]["gap_exact"]
        assert M["best"]["inventory"]["q_min_q0.01"] < 0 < M["best"]["inventory"]["q_max_q0.99"]
        for key in ("optimal", "best", "gamma0"):
            assert set(M[key]["pnl"]) >= {"mean", "std", "sharpe", "q0.01", "q0.5", "q0.99"}
        assert len(M["grid_mc"]) == len(R["search"]["gammas"])
    assert R["markets"]["ou"]["best"]["gap_exact"] > 10.0     # the directional bet a price-blind rule forgoes
    assert R["ou_identity"]["max_abs_diff"] < 1e-8
    assert math.isclose(R["markets"]["ou"]["best"]["value_exact"], R["markets"]["brownian"]["best"]["value_exact"])
