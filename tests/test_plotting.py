"""Figures: labelled axes on every plotting function, and the shared style helpers of hjbsolve.plotting."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

import hjbsolve as hs
from hjbsolve import plotting as P


def _labelled(ax):
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), (ax.get_xlabel(), ax.get_ylabel())
    assert ax.get_title().strip()
    return ax


class _Paths(SimpleNamespace):
    def __len__(self):
        return len(self.s)


def _fake_result(n_paths=40, n_t=21, seed=0):
    """The fields of a SimulationResult the plots read."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_t)
    s = 3000.0 + np.cumsum(rng.normal(0, 0.05, (n_paths, n_t)), axis=1)
    paths = _Paths(t=t, s=s, ask=np.full((n_paths, n_t), 1.0), bid=np.full((n_paths, n_t), 1.1),
                   q=rng.integers(-5, 5, (n_paths, n_t)), x=rng.normal(0, 1, (n_paths, n_t)))
    return SimpleNamespace(paths=paths, settings={"policy": "optimal"}, objective=rng.normal(400, 20, n_paths),
                           pnl=rng.normal(401, 20, n_paths), q_min=rng.integers(-9, 0, n_paths),
                           q_max=rng.integers(0, 9, n_paths))


def test_package_plots_have_labelled_axes():
    m = hs.paper_model("brownian")
    ax = _labelled(P.plot_quotes_vs_q({"order 0": hs.expansion(m, 0)}, 0.0, 3000.0, np.arange(-5, 6)))
    assert ax.get_legend() is not None
    ax = _labelled(P.plot_day(_fake_result()))
    assert ax.right.get_ylabel()
    _labelled(P.plot_pnl_density({"a": _fake_result(), "b": _fake_result(seed=1)}))
    ex0, ex1 = hs.expansion(m, 0), hs.expansion(m, 1)
    ax = _labelled(P.plot_value_vs_q({"order 0": ex0, "order 1": ex1}, 0.0, 3000.0, np.arange(-5, 6),
                                     relative_to="order 0"))
    y = ax.get_lines()[0].get_ydata()                     # the difference order 1 − order 0 is what is drawn
    q = np.arange(-5, 6)
    np.testing.assert_allclose(y, ex1.value(0.0, q, 3000.0) - ex0.value(0.0, q, 3000.0))
    err = np.outer(np.linspace(0.5, 1.5, 4), np.logspace(-4, 0, 6))
    ax = _labelled(P.plot_error_map(np.logspace(-5, 0, 6), np.arange(4), err, marker=(1e-3, 0, "paper")))
    assert ax.get_xscale() == "log" and ax.get_legend() is not None


def test_section4_panels_take_axes_and_draw_the_recorded_path():
    """The §4 report's figures are library functions taking Axes (the report only saves them)."""
    res = _fake_result()
    axes = Figure(layout="constrained").subplots(4, 1)
    out = P.plot_day_panels(res, 2, axes, mu=3000.0, t_scale=10.0, t_label="events")
    assert list(out) == list(axes) and all(a.get_ylabel() for a in out) and out[-1].get_xlabel() == "events"
    np.testing.assert_array_equal(out[0].get_lines()[0].get_xdata(), res.paths.t * 10.0)
    np.testing.assert_array_equal(out[0].get_lines()[0].get_ydata(), res.paths.s[2])
    ext = P.plot_inventory_extremes({"a": res, "b": _fake_result(seed=1)})
    assert len(ext) == 2 and all(a.get_xlabel() and a.get_ylabel() for a in ext)
    ax = _labelled(P.plot_pnl_density({"a": res.pnl, "b": _fake_result(seed=1)}, "pnl", kde=True))
    assert len(ax.get_lines()) == 2                          # one KDE curve per entry
    with pytest.raises(ValueError, match="axes must be 4 Axes"):
        P.plot_day_panels(res, 0, axes[:2])
    with pytest.raises(ValueError, match=r"results\['a'\] must be a SimulationResult or a 1-D array"):
        P.plot_pnl_density({"a": [1.0, np.nan]})
    with pytest.raises(ValueError, match="axes must be 1 Axes"):
        P.plot_inventory_extremes({"a": res}, axes)


def test_quote_and_value_plots_take_a_regime():
    """A regime solution needs ``regime=``: the plots pass it through and draw that regime's
    numbers (compared with the solution's own queries)."""
    chain = hs.Regimes(generator=[[-2.0, 2.0], [5.0, -5.0]], z=[0.1, 0.4], sigma=[0.3, 1.0], names=["calm", "wild"])
    m = hs.Model(price=hs.Brownian(sigma=0.3), A=200.0, k=1.5, z=0.1, T=1.0, eps=0.01, eta=1.0, nu=1.0, regimes=chain)
    sol = hs.solve(m, q_max=10, n_steps=50)
    q = np.arange(-4, 5)
    ax = _labelled(P.plot_quotes_vs_q({"exact": sol}, 0.2, 0.0, q, regime="wild"))
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), sol.quotes(0.2, q, 0.0, regime=1)[0])
    assert "wild" in ax.get_title()
    ax = _labelled(P.plot_value_vs_q({"exact": sol}, 0.2, 0.0, q, regime=0))
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), sol.value(0.2, q, 0.0, regime=0))


def test_article_plots_have_labelled_axes():
    from hjbsolve import article as art

    run = art.simulate(num_steps=30)
    for plot in (art.plot_quotes, art.plot_inventory, art.plot_utility):
        ax = plot(run)
        assert ax.get_xlabel() and ax.get_ylabel()
        assert "(" in ax.get_ylabel()                      # a unit
    fig = art.plot_scenario(run, "t")
    assert fig.axes[-1].get_xlabel() and all(a.get_ylabel() for a in fig.axes)


def test_log_ticks_label_only_the_given_values():
    ax = Figure().subplots()
    ax.loglog([25, 50, 100, 200, 400], [1e-6, 3e-7, 1e-7, 2e-8, 6e-9])
    P.log_ticks(ax, "x", [25, 50, 100, 200, 400])
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["25", "50", "100", "200", "400"]
    assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())


def test_reference_line_does_not_rescale_and_says_where_the_level_is():
    ax = Figure().subplots()
    ax.plot([0, 1], [3000.0, 3000.6])
    before = ax.get_ylim()
    art = P.reference_line(ax, 3009.0, "μ = 3009")
    assert ax.get_ylim() == before
    assert "μ = 3009" in art.get_text() and "above" in art.get_text()
    line = P.reference_line(ax, 3000.3, "inside")
    assert ax.get_ylim() == before and line.get_label() == "inside"


def test_clip_spikes_caps_a_dominating_bar_and_labels_it():
    ax = Figure().subplots()
    rng = np.random.default_rng(0)
    bins = np.arange(-10.5, 200.5)
    a = ax.hist(np.zeros(300), bins=bins)[:2]                   # every day at 0
    b = ax.hist(rng.normal(120, 15, 300).round(), bins=bins)[:2]
    assert P.clip_spikes(ax, [a, b], unit=" days")
    assert ax.get_ylim()[1] < 300
    assert any("300 days" in t.get_text() for t in ax.texts)
    ax2 = Figure().subplots()
    c = ax2.hist(rng.normal(0, 5, 300).round(), bins=bins)[:2]
    assert not P.clip_spikes(ax2, [b, c])


def test_legend_outside_is_outside_the_axes(tmp_path):
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="a")
    ax.set_xlabel("two\nlines")
    leg = P.legend_outside(ax)
    fig.savefig(tmp_path / "x.png")
    r = fig._get_renderer()
    assert leg.get_window_extent(r).y1 < ax.xaxis.label.get_window_extent(r).y0 + 1
    with pytest.raises(ValueError, match="where"):
        P.legend_outside(ax, where="inside")


def test_label_contours_are_horizontal_and_outlined():
    ax = Figure().subplots()
    x = np.linspace(0, 1, 20)
    cs = ax.contour(x, x, np.add.outer(x, x), levels=[0.5, 1.0])
    texts = P.label_contours(ax, cs, {0.5: "50 %", 1.0: "100 %"})
    assert texts and {t.get_text() for t in texts} <= {"50 %", "100 %"}
    assert all(t.get_rotation() == 0.0 and t.get_path_effects() for t in texts)


def test_plotting_refuses_bad_inputs_with_named_errors():
    """Found by the hostile tests: each bad input is a ValueError naming the argument."""
    m = hs.paper_model("brownian")
    with pytest.raises(ValueError, match="policies must be a non-empty dict"):
        P.plot_quotes_vs_q(None, 0.0, 0.0, np.arange(3))
    with pytest.raises(ValueError, match=r"policies\['c'\] must have a .value\(\) method"):
        P.plot_value_vs_q({"c": hs.ConstantSpread(1.0)}, 0.0, 0.0, np.arange(3))
    with pytest.raises(ValueError, match="relative_to must be one of the labels"):
        P.plot_value_vs_q({"a": hs.expansion(m, 0)}, 0.0, 0.0, np.arange(3), relative_to="b")
    with pytest.raises(ValueError, match="path must index a recorded path"):
        P.plot_day(_fake_result(), 1.7)
    with pytest.raises(ValueError, match="results must be a non-empty dict"):
        P.plot_pnl_density({})
    with pytest.raises(ValueError, match="bins must be an integer"):
        P.plot_pnl_density({"a": _fake_result()}, bins=-3)
    with pytest.raises(ValueError, match=r"err must have shape \(len\(y\), len\(x\)\)"):
        P.plot_error_map(np.arange(3.0) + 1, np.arange(2.0), np.ones((3, 2)))
    with pytest.raises(ValueError, match="some finite positive errors"):
        P.plot_error_map(np.arange(3.0) + 1, np.arange(2.0), np.full((2, 3), np.nan))


def _two_assets(rho):
    from hjbsolve.validation.multiasset_study import market

    return hs.solve(market(rho, 0.01, drift=None), q_max=[12, 10], method="expm", t_eval=[0.0, 0.5])


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")
def test_iso_risk_figure_draws_the_risk_and_the_solutions_drift():
    """The quiver's data are the drift of the solution's quotes, λ⁻ − λ⁺ with λ± = A e^{−k(z + δ±)} typed
    here; the contour levels are Π(q) = ε[η q'Ωq + ν(T − t) q'Λq] typed here (each drawn vertex lies on
    its level to the contouring's linear interpolation of a quadratic across a grid cell, relative error
    ~ (h/r)² with h = 0.06 the grid spacing and r ≈ 1.3 the smallest ellipse's short semi-axis: measured
    1.0e-3, hence 3e-3); the ellipses of ρ = 0.8 are longest along (1, −1)."""
    from matplotlib.quiver import Quiver

    sol = _two_assets(0.8)
    m = sol.model
    ax = _labelled(P.plot_iso_risk(sol, t=0.5))
    assert ax.get_legend() is not None and "ρ = 0.8" in ax.get_title()
    (qv,) = [c for c in ax.collections if isinstance(c, Quiver)]
    q = np.stack([qv.X, qv.Y], axis=-1)
    assert q.shape[0] > 30 and np.all(np.abs(q) <= [6, 5]) and np.all(q == np.round(q))
    ask, bid = sol.quotes(0.5, q.astype(int), np.zeros(q.shape))
    A, k, z = np.array(m.A), 1.2, np.array(m.z)
    want = A * np.exp(-k * (z + bid)) - A * np.exp(-k * (z + ask))
    np.testing.assert_allclose(np.stack([qv.U, qv.V], axis=-1), want, rtol=1e-13, atol=0)
    form = 0.01 * (np.diag(z) + 0.5 * np.array(m.cov))
    (cs,) = [c for c in ax.collections if hasattr(c, "levels") and not isinstance(c, Quiver)]
    for level, path in zip(cs.levels, cs.get_paths()):
        v = path.vertices
        np.testing.assert_allclose(np.einsum("ni,ij,nj->n", v, form, v), level, rtol=3e-3)
    far = max(cs.get_paths()[-1].vertices, key=lambda v: np.hypot(*v))
    assert far[0] * far[1] < 0                      # the long axis of ρ > 0 is the hedged direction


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")
def test_risk_alignment_is_computed_from_the_solution():
    """The alignment numbers of the report's section 10 from the solution's drift and ∇Π = 2ε(ηΩ + ν(T−t)Λ)q
    typed here; at ρ = ±0.8 the drift follows −∇Π better than −q, lowers the risk everywhere, and the
    cross-asset drift at q = (n, 0) has the sign of −ρ (the hedge)."""
    from hjbsolve.validation.multiasset_study import risk_alignment

    for rho in (-0.8, 0.8):
        sol = _two_assets(rho)
        m = sol.model
        got = risk_alignment(sol, 0.0, extent=(4, 3))
        axes = np.meshgrid(np.arange(-4, 5), np.arange(-3, 4), indexing="ij")
        q = np.stack([a.ravel() for a in axes], axis=-1)
        q = q[np.any(q != 0, axis=1)]
        d = sol.inventory_drift(0.0, q, np.zeros(q.shape))
        g = 2 * 0.01 * q @ (np.diag(m.z) + np.array(m.cov)).T
        cos = -np.sum(d * g, axis=1) / np.linalg.norm(d, axis=1) / np.linalg.norm(g, axis=1)
        naive = np.sum(q * g, axis=1) / np.linalg.norm(q, axis=1) / np.linalg.norm(g, axis=1)
        assert got["n_points"] == q.shape[0] == 62
        assert got["cos_mean"] == pytest.approx(cos.mean(), rel=1e-12)
        assert got["cos_min"] == pytest.approx(cos.min(), rel=1e-12)
        assert got["naive_cos_mean"] == pytest.approx(naive.mean(), rel=1e-12)
        assert got["descent_fraction"] == 1.0 and got["cos_mean"] > got["naive_cos_mean"]
        assert got["cross_q"] == [2, 0] and np.sign(got["cross_drift"][1]) == -np.sign(rho)
        print(f"rho={rho}: cos(drift, -grad Pi) mean {got['cos_mean']:.4f} min {got['cos_min']:.4f}, "
              f"naive {got['naive_cos_mean']:.4f}, cross drift {got['cross_drift']}")


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")
def test_iso_risk_figure_refuses_bad_inputs():
    with pytest.raises(ValueError, match="sol must be a two-asset Solution"):
        P.plot_iso_risk(hs.expansion(hs.paper_model("brownian"), 0))
    sol = hs.solve(hs.MultiAssetModel(A=[12.0, 8.0], k=1.2, z=[0.2, 0.3], alpha=[0.0, 0.0],
                                      cov=[[1.0, 0.1], [0.1, 1.0]], T=1.0, eps=0.01), q_max=[4, 4], n_steps=4)
    with pytest.raises(ValueError, match=r"extent must be two integers in 1..q_max = \[4, 4\]"):
        P.plot_iso_risk(sol, extent=(5, 1))
    with pytest.raises(ValueError, match="n_levels must be an integer in 1..20"):
        P.plot_iso_risk(sol, n_levels=0)
