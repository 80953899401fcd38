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
    for png in ("errors_vs_eps", "error_maps", "collapse", "convergence", "heuristic_objective", "regimes_quotes",
                "regimes_factor_convergence"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000
    # headline numbers: slopes ≈ 2 / 1 for the Brownian case, the collapse, Monte Carlo agreement
    sl = {(s["case"], s["order"], s["q"], s["quantity"]): s for s in res["expansion_errors"]["slopes"]}
    assert abs(sl[("Brownian α=0.05", 1, 0, "quote")]["slope"] - 2.0) < 0.05
    assert abs(sl[("Brownian α=0.05", 0, 0, "quote")]["slope"] - 1.0) < 0.05
    assert abs(sl[("OU α=0.05", 1, 0, "quote")]["slope"] - 2.0) < 0.1
    assert res["collapse"]["deviation_log10_from_curve"]["p90_abs_x_le_1"] < 0.05
    assert res["monte_carlo"]["all_agree"]
    # the report opens with its summary, whose Monte Carlo sentence is computed from the tables' z-scores
    from hjbsolve.validation.numerics_study import monte_carlo_headline

    assert [line for line in text.splitlines() if line.startswith("## ")][0] == "## Summary"
    assert monte_carlo_headline(res) in text.split("## Key findings")[0]
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


# ---------------------------------------------------------------------------- the report's headline
def _mc_results(z_control_ou0=-4.01, z_plain_ou0=2.04, z_loss=(0.4, -0.3)):
    """The Monte Carlo parts of results.json as sections 5 and 6 write them (numbers of a quick run)."""
    def row(case, zp, zc, ze, bias=0.0):
        r = {"case": case, "value": 400.0, "value_error": 1e-4, "holding_bias_at_n_steps": bias}
        for k, z in (("plain", zp), ("control", zc), ("control_extrapolated", ze)):
            r[k] = {"mean": 400.0 + z * 1e-3, "stderr": 1e-3, "z": z}
        return r

    from hjbsolve.validation.numerics_study import mc_verdict

    cases = [row("Brownian paper, optimal", -0.48, 0.42, 0.17),
             row("OU paper, order-1 quotes", 2.04, -0.70, 0.21),
             row("OU paper, order-0 quotes", z_plain_ou0, z_control_ou0, 0.0118, bias=-0.0365)]
    for c in cases:
        c["verdict"] = mc_verdict({k: c[k]["z"] for k in ("plain", "control", "control_extrapolated")})
    return {"monte_carlo": {"n_steps": [1000, 2000], "cases": cases},
            "value_loss": {"monte_carlo": {"ou": {"order1": {"z": z_loss[0]}, "order0": {"z": z_loss[1]}}}}}


def _z_cells(rows):
    return [c for r in rows for c in (r[3], r[5], r[7])]


def test_monte_carlo_headline_is_computed_from_the_table_z_scores():
    """'all … agree' only when every z of the tables is within 3; every z outside is named with its value,
    and the table's verdict column says the same as the headline."""
    from hjbsolve.validation.numerics_study import mc_table_rows, monte_carlo_headline

    ok = _mc_results(z_control_ou0=1.0)
    rows = mc_table_rows(ok["monte_carlo"])
    assert all(abs(z) < 3 for z in _z_cells(rows)) and all(r[-1] == "agree" for r in rows)
    assert monte_carlo_headline(ok).startswith("all 11 Monte Carlo estimates agree")

    # the quick run's table: z = −4.01 at 1000 steps (holding bias), extrapolated z = 0.01
    res = _mc_results()
    rows = mc_table_rows(res["monte_carlo"])
    head = monte_carlo_headline(res)
    assert "all" not in head.split(";")[0] and head.startswith("10 of 11")
    assert "z = -4.01" in head and "OU paper, order-0 quotes" in head and "holding" in head
    assert rows[2][-1] == "agree after extrapolation" and "No table verdict is DISAGREE" in head

    # a genuine disagreement (the plain estimator too): the verdict and the headline both say so
    bad = _mc_results(z_plain_ou0=5.0)
    rows = mc_table_rows(bad["monte_carlo"])
    head = monte_carlo_headline(bad)
    assert rows[2][-1] == "DISAGREE" and "1 of 5 table verdicts are DISAGREE" in head
    assert "z = 5.00" in head and "z = -4.01" in head
    n_out = sum(abs(z) >= 3 for z in _z_cells(rows))
    assert head.startswith(f"{11 - n_out} of 11")

    # section 5's z-scores count too
    assert "section 5, z = 3.50" in monte_carlo_headline(_mc_results(z_control_ou0=1.0, z_loss=(3.5, 0.0)))


def _report_ctx(conv_orders=(1.94, 1.97), **mc):
    from types import SimpleNamespace

    res = _mc_results(**mc)
    slope = lambda case, order: {"case": case, "order": order, "q": 0, "quantity": "quote",  # noqa: E731
                                 "slope": 2.0 - (order == 0), "x_lo": 1e-7, "x_hi": 1e-4}
    res.update(
        eps0={"eps0_br": {"max_quote_error": 5.7e-14}, "eps0_ou": {"max_quote_error": 4.1e-12}},
        expansion_errors={"slopes": [slope("Brownian α=0.05", 1), slope("Brownian α=0.05", 0), slope("OU α=0.05", 1),
                                     slope("OU α=0.05", 0)]},
        collapse={"paper_x": {"brownian": 0.448, "ou": 0.515}},
        error_maps={k: {"relative": {"paper_point_error": e}, "of_correction": {"paper_point_error": c}}
                    for k, e, c in (("brownian_eps_q", 2.1e-4, 0.428), ("ou_eps_q", 0.246, 0.533))},
        convergence={"brownian_dt": {"order_quote": list(conv_orders), "order_value": [1.94, 1.98]},
                     "ou_dt": {"order_quote": [2.12], "order_value": [1.99]},
                     "ou_ds": {"order_quote": [1.94], "order_value": [1.95]}})
    res["value_loss"]["cases"] = {"ou": {"loss_order1": 0.445, "loss_order0": 8.19, "loss_order1_relative": 9.6e-4,
                                         "loss_order0_relative": 0.0177}}
    return SimpleNamespace(settings=SimpleNamespace(quick=True), results=res, timings={"total": 60.0, "n_tasks": 127})


def test_validation_report_opens_with_a_plain_summary_that_matches_the_tables():
    from hjbsolve.validation.numerics_study import monte_carlo_headline
    from hjbsolve.validation.suite import _header

    ctx = _report_ctx()
    text = _header(ctx)
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[0] == "## Summary"
    summary = text.split("## Summary")[1].split("## Key findings")[0]
    for part in ("**What was checked.**", "**What agreed.**", "**What did not.**"):
        assert part in summary
    assert monte_carlo_headline(ctx.results) in summary
    assert "within 3 standard errors" in summary and "all 11" not in summary and "z = -4.01" in summary
    assert "42.8 %" in summary and "53.3 %" in summary          # measured at the paper's point (section 3)
    assert "Not converged" not in summary
    # symbols of the collapse variable are defined where the key findings first use them
    assert "λ₀ = A e^{−1−k(z+α)}" in text and "π̃: the q² coefficient" in text


def test_unconverged_series_are_marked_in_the_summary():
    from hjbsolve.validation.numerics_study import unconverged
    from hjbsolve.validation.suite import _header

    ctx = _report_ctx(conv_orders=(1.2, 1.97))
    assert unconverged(ctx.results) == ["Brownian, time step, quotes: observed orders 1.20, 1.97 (expected 2)"]
    text = _header(ctx)
    assert "**Not converged (read with care).**" in text and "observed orders 1.20" in text
    assert "converges at second order" not in text
    assert unconverged(_report_ctx().results) == []


def test_validation_tasks_bind_their_bound_only_in_the_bound_studies():
    """Every solver task of the quick and the full validation plans uses a q_max above the
    BoundWarning threshold, except the studies of the bound itself (flagged, their warnings silenced)."""
    from hjbsolve.solver.setup import binding_q_max
    from hjbsolve.validation.settings import Settings
    from hjbsolve.validation.suite import plan_tasks
    from hjbsolve.validation.tasks import as_model

    for quick in (True, False):
        for key, p in plan_tasks(Settings.make(quick)).items():
            if p.get("q_max") is None or "model" not in p:
                continue
            m = as_model(p["model"])
            sr = tuple(p["s_range"]) if p.get("s_range") else None
            if p["q_max"] < binding_q_max(m, sr):
                assert p.get("bound_study"), (key, p["q_max"], binding_q_max(m, sr))
