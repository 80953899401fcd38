"""The validation suite's own code: slope fitter, error-map regions, the collapse variable, end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.validation.analysis import (collapse_variable, fit_slope, local_slopes, observed_orders,
                                          region_boundary, richardson)


# ---------------------------------------------------------------------------- slopes
def test_local_slopes_of_a_power_law_are_exact():
    x = np.logspace(-4, 0, 9)
    xm, s = local_slopes(x, 3.0 * x**2.5)
    np.testing.assert_allclose(s, 2.5, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xm, np.sqrt(x[1:] * x[:-1]))


def test_fit_slope_finds_the_asymptotic_regime():
    """err = c ε² (1 + ε): local slope 2 + ε/(1+ε); the fit must stop where it leaves 2 ± tol."""
    eps = np.logspace(-6, 0, 25)
    err = 7.0 * eps**2 * (1.0 + eps)
    fit = fit_slope(eps, err, tol=0.1)
    assert abs(fit.slope - 2.0) < 0.02
    assert fit.x_lo == pytest.approx(1e-6)
    # local slope at the segment [ε_i, ε_{i+1}] is ≈ 2 + ε/(1+ε): the run ends before ε ≈ 0.11
    assert 0.02 < fit.x_hi <= 0.2
    assert fit.spread <= 0.1
    assert fit.prefactor == pytest.approx(7.0, rel=0.05)


def test_fit_slope_skips_a_precision_floor_and_a_different_large_eps_regime():
    """Below the floor the points are dropped; a slope-1 regime at large ε is not fitted."""
    eps = np.logspace(-8, -1, 29)
    err = eps**2 / (1.0 + eps / 1e-3)                  # slope 2 for ε ≪ 1e-3, slope 1 for ε ≫ 1e-3
    noisy = np.where(eps < 1e-7, 1e-17 * (1 + 0.5 * np.sin(np.arange(eps.size))), err)
    fit = fit_slope(eps, noisy, tol=0.1, floor=1e-16)
    assert abs(fit.slope - 2.0) < 0.05
    assert fit.x_lo >= 1e-7 and fit.x_hi < 2e-4


def test_fit_slope_errors():
    with pytest.raises(ValueError, match="at least"):
        fit_slope([1e-3, 1e-2], [1e-6, 1e-4], min_points=3)
    x = np.logspace(-3, 0, 7)
    with pytest.raises(ValueError, match="agree within"):
        fit_slope(x, np.exp(np.sin(30 * np.log(x))), tol=0.01)


def test_observed_orders_and_richardson():
    h = np.array([0.1, 0.05, 0.025])
    np.testing.assert_allclose(observed_orders(h, 2.0 * h**2), 2.0)
    exact = 1.0
    coarse, fine = exact + 3 * 0.1**2, exact + 3 * 0.05**2
    ext, err = richardson(coarse, fine)
    assert ext == pytest.approx(exact, abs=1e-14)
    assert err == pytest.approx(3 * 0.05**2)


# ---------------------------------------------------------------------------- error maps
def test_region_boundary_known_answer():
    """err(ε, q) = ε·q: the region err ≤ p ends at ε* = p / q exactly (log-log interpolation is exact)."""
    eps = np.logspace(-6, 0, 31)
    q = np.arange(1, 21)
    err = eps[None, :] * q[:, None]
    for p in (0.01, 0.05, 0.1):
        e_star, status = region_boundary(eps, err, p)
        np.testing.assert_allclose(e_star, p / q, rtol=1e-12)
        assert np.all(status == 0)


def test_region_boundary_edge_cases():
    eps = np.logspace(-4, -1, 4)
    err = np.array([[1e-5, 1e-5, 1e-5, 1e-5],      # always within
                    [0.5, 0.6, 0.7, 0.8],          # never within
                    [1e-3, 0.5, 1e-3, 1e-3]])      # leaves the region and comes back: first exit counts
    e_star, status = region_boundary(eps, err, 0.01)
    assert status.tolist() == [1, -1, 0]
    assert e_star[0] == eps[-1] and e_star[1] == eps[0]
    assert eps[0] < e_star[2] < eps[1]


# ---------------------------------------------------------------------------- the collapse variable
def test_collapse_variable_brownian_closed_forms():
    """Brownian: x = 4kελ₀ ∫π̃²/π̃; with ν = 0 it is 4kελ₀ηz(T−t), with η = 0 (4/3)kελ₀νσ²(T−t)²."""
    m = hs.paper_model("brownian", nu=0.0, eps=2e-3)
    lam0 = m.base_rate
    for t in (0.0, 0.3):
        assert collapse_variable(m, t) == pytest.approx(4 * m.k * m.eps * lam0 * m.eta * m.z * (m.T - t), rel=1e-12)
    m = hs.paper_model("brownian", eta=0.0, eps=2e-3)
    assert collapse_variable(m, 0.25) == pytest.approx(
        4.0 / 3.0 * m.k * m.eps * lam0 * m.nu * m.sigma**2 * 0.75**2, rel=1e-12)
    assert collapse_variable(m, m.T) == 0.0


def test_collapse_variable_ou_tends_to_brownian_and_grows_with_delta():
    b = hs.paper_model("brownian")
    o = hs.paper_model("ou").replace(price=hs.OrnsteinUhlenbeck(a=1e-9, mu=3009.0, sigma=0.5))
    assert collapse_variable(o, 0.0, 3000.0) == pytest.approx(collapse_variable(b, 0.0), rel=1e-6)
    ou = hs.paper_model("ou")
    assert collapse_variable(ou, 0.0, 3000.0) > collapse_variable(ou, 0.0, 3009.0) > collapse_variable(b, 0.0)


def test_order1_error_is_x_times_the_correction_at_small_x():
    """The theory of section 4 against the exact (matrix-exponential) solution, for parameter sets
    far from the paper's: at small x the order-1 quotes miss the fraction x of their ε-correction."""
    models = [hs.paper_model("brownian", eps=2e-5),
              hs.paper_model("brownian", A=50.0, k=2.0, z=0.2, T=3.0, eps=1e-4, nu=0.3, eta=2.0, alpha=-0.05),
              hs.paper_model("brownian", A=300.0, k=0.5, z=1.0, T=0.2, eps=4e-4, nu=2.0, eta=0.0, alpha=0.2)
              .replace(price=hs.Brownian(1.5))]
    for m in models:
        x = collapse_variable(m, 0.0)
        assert 1e-3 < x < 0.05
        ref = hs.exact_brownian(m, 150, t=[0.0, m.T])
        q = np.array([0, 3, 12])
        d = np.array(ref.quotes(0.0, q, 0.0))
        d1 = np.array(hs.expansion(m, 1).quotes(0.0, q))
        d0 = np.array(hs.expansion(m, 0).quotes(0.0, q))
        r = np.abs(d1 - d) / np.abs(d1 - d0)
        np.testing.assert_allclose(r, x, rtol=2 * x + 0.01)


# ---------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_run_validation_quick_end_to_end(tmp_path):
    """``hjbsolve validate --quick``'s engine: every section present in results.json with finite numbers,
    the report and its figures written, and the headline numbers physically sensible."""
    from hjbsolve.validation.suite import SECTIONS, run_validation

    path = run_validation(tmp_path, quick=True, progress=False)
    assert path == tmp_path / "report.md" and path.exists()
    text = path.read_text()
    for n in range(1, 10):
        assert f"## {n}." in text
    res = json.loads((tmp_path / "results.json").read_text())      # written with allow_nan=False
    for sec in SECTIONS:
        assert sec in res and res[sec], sec

    def numbers(o):
        if isinstance(o, dict):
            for v in o.values():
                yield from numbers(v)
        elif isinstance(o, list):
            for v in o:
                yield from numbers(v)
        elif isinstance(o, (int, float)) and not isinstance(o, bool):
            yield o

    for sec in SECTIONS:
        vals = list(numbers(res[sec]))
        assert vals and all(math.isfinite(v) for v in vals), sec
    for png in ("errors_vs_eps", "error_maps", "collapse", "convergence", "heuristic_objective"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000
    # headline numbers: slopes ≈ 2 / 1 for the Brownian case, the collapse, Monte Carlo agreement
    sl = {(s["case"], s["order"], s["q"], s["quantity"]): s for s in res["expansion_errors"]["slopes"]}
    assert abs(sl[("Brownian α=0.05", 1, 0, "quote")]["slope"] - 2.0) < 0.05
    assert abs(sl[("Brownian α=0.05", 0, 0, "quote")]["slope"] - 1.0) < 0.05
    assert abs(sl[("OU α=0.05", 1, 0, "quote")]["slope"] - 2.0) < 0.1
    assert res["collapse"]["deviation_log10_from_curve"]["p90_abs_x_le_1"] < 0.05
    assert res["monte_carlo"]["all_agree"]
    assert res["value_loss"]["cases"]["ou"]["loss_order0"] > res["value_loss"]["cases"]["ou"]["loss_order1"] > 0
    # one number of the report recomputed by independent engines: the Brownian value lost by trading
    # the order-1 quotes = matrix-exponential optimum − evaluation of the fixed order-1 policy
    # (the report extrapolates fixed-step FD solves and states an error bound for it)
    d = res["value_loss"]["cases"]["brownian"]
    m = hs.Model.from_dict(d["model"])
    optimum = float(hs.solve(m, q_max=d["q_max"], method="expm", t_eval=[0.0]).value(0.0, 0, 3000.0))
    order1 = float(hs.evaluate(m, hs.expansion(m, order=1), q_max=d["q_max"], tol=1e-6,
                               value_rtol=1e-9).value(0.0, 0, 3000.0))
    assert abs(d["optimal_value"] - optimum) <= 3 * d["optimal_value_error"] + 1e-9 * abs(optimum)
    assert abs(d["loss_order1"] - (optimum - order1)) <= 3 * d["loss_order1_error"] + 2e-9 * abs(optimum)

