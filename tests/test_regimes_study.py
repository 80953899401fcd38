"""The validation report's market-regime section (hjbsolve/validation/regimes_study.py).

The section itself compares every number with an independent reference (exact solves, exact policy
evaluations, Monte Carlo intervals); here it runs at reduced settings and its results are checked:
finite, Monte Carlo within 3 standard errors (seed ``Settings.mc_seed`` = 2024), the regime-aware
value above the best blind one, figures with labelled axes, and every number of its text taken from
its results. Its helpers are checked against references written here (the stationary law of a
two-state chain by hand, the diffusions' moment ODEs by Radau).
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import hjbsolve as hs
from hjbsolve.validation import regimes_study as RS
from hjbsolve.validation.report import Context, check_finite, fmt, jsonable
from hjbsolve.validation.settings import Settings

#: The quick preset made smaller: half the inventory bound (the tables' |q| <= 40 stay inside the
#: accuracy contract |q| <= q_max/2) and half the paths and steps. Measured about 17 s with two other
#: jobs on the 2 cores.
SMALL = dict(reg_q_max=100, reg_mc_paths=1000, reg_mc_steps=100)


class _Recording(Context):
    """A report context that keeps the figures it saves."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.saved = {}

    def save(self, fig, name):
        self.saved[name] = fig
        return super().save(fig, name)


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    out = tmp_path_factory.mktemp("regimes")
    ctx = _Recording(out, dataclasses.replace(Settings.make(True), **SMALL), progress=False)
    RS.section_regimes(ctx)
    return ctx


def _numbers(obj, out):
    """Every number of a JSON-like structure."""
    if isinstance(obj, dict):
        for v in obj.values():
            _numbers(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _numbers(v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.append(obj)
    return out


def test_section_results_are_finite_and_agree_with_monte_carlo(section):
    res = jsonable(section.results["regimes"])
    assert not check_finite(res)
    assert res["mc"]["seed"] == 2024
    for c in res["chains"]:
        for x in c["mc"]:
            for what in ("aware", "blind", "difference"):
                assert abs(x[what]["z"]) <= 3.0, (c["name"], x["regime"], what, x[what])
            # the regime controls matter: a spread chain's fills follow the time spent in each regime
            assert x["aware"]["stderr"] < x["control_stderr"]
            assert x["switches_per_day"] > 1.0
        for b in c["best_blind"]:
            assert b["value_of_knowing"] >= -b["value_of_knowing_error"], b
            assert b["aware_at_least_blind"]
        # the closed forms: order 1 better than order 0 in every regime; quotes inside their contract
        assert all(p["order1_max"] < p["order0_max"] for p in c["per_regime"])
        assert c["solve"]["error_estimate"] < res["tol"]
    assert res["checks_pass"]
    for f in res["factors"]:
        assert len(f["differences"]) == len(f["levels"]) - 1 and len(f["orders"]) == len(f["levels"]) - 2
        # the chain refinement moves the quotes by far more than the solves' error estimates
        assert f["ratio_to_error_estimate"] > 30
        # the chain's own second moment converges to the diffusion's (first order: the error shrinks)
        errs = [lv["moment_error"] for lv in f["levels"]]
        assert all(a > b for a, b in zip(errs, errs[1:])), errs


def test_section_figures_have_labelled_axes(section):
    assert set(section.saved) == {"regimes_quotes", "regimes_factor_convergence"}
    for name, fig in section.saved.items():
        assert (section.out / f"{name}.png").stat().st_size > 10_000
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), name
            assert ax.get_legend() is not None, name


def test_every_number_of_the_text_is_in_the_results(section):
    """Numbers of the markdown (outside code spans, image links and cross-references to other
    sections, paper sections or equations) are numbers of results.json as :func:`fmt` prints them
    (3, 5 or 7 significant digits)."""
    res = jsonable(section.results["regimes"])
    text = "".join(section.md)
    assert text.startswith(f"## {RS.SECTION}. Market regimes") and "**In plain words.**" in text
    assert "**Symbols.**" in text and "**References.**" in text
    allowed = {fmt(x, d) for x in _numbers(res, []) for d in (3, 5, 7)} | {str(RS.SECTION)}
    body = re.sub(r"`[^`]*`|!\[[^\]]*\]\([^)]*\)|section \d+|§[\d.]+|eqs?\. [\d–-]+", " ", text)
    body = re.sub(r"^## \d+\.", " ", body)
    tokens = re.findall(r"(?<![\w.+\-/^{])-?\d+(?:\.\d+)?(?:e[-+]\d+)?(?![\w.])", body)
    missing = sorted({t for t in tokens if t not in allowed})
    assert not missing, missing
    # the summary line of the report's opening is built from the same results
    head = RS.regimes_headline(res)
    assert head.startswith(f"Market regimes (section {RS.SECTION})")
    assert fmt(res["chains"][0]["best_blind"][0]["value_of_knowing"]) in head


def test_averaged_model_uses_the_stationary_law():
    """Two states with rates a (0 → 1) and b (1 → 0): π = (b, a)/(a + b). σ is averaged in σ², z linearly."""
    a, b = 2.0, 3.0
    pi = np.array([b, a]) / (a + b)
    chain = hs.Regimes(generator=[[-a, a], [b, -b]], sigma=[0.5, 1.25], z=[0.5, 1.0])
    m = RS.averaged_model(RS.market(chain))
    assert m.regimes is None
    assert m.price.sigma == pytest.approx(math.sqrt(pi @ np.array([0.25, 1.5625])), rel=1e-12)
    assert m.z == pytest.approx(pi @ np.array([0.5, 1.0]), rel=1e-12)
    assert m.A == RS.market(None).A
    with pytest.raises(ValueError, match="no regime chain"):
        RS.averaged_model(RS.market(None))


@pytest.mark.parametrize("kind", ["ou", "cir"])
def test_factor_moment_against_the_moment_odes(kind):
    """E[∫X²] from the moment ODEs by Radau: dM1 = κ(m − M1), dM2 = 2κ(m M1 − M2) + ξ² (OU) or
    + ξ² M1 (CIR, Itô: d(X²) = 2X dX + ξ² X dt), dI = M2. rtol 1e-12: agreement to 1e-10 is rounding."""
    m, kap, xi, x0, T = 0.5, 2.0, 0.4, 0.61, 1.0

    def rhs(_, y):
        m1, m2, _i = y
        noise = xi**2 if kind == "ou" else xi**2 * m1
        return [kap * (m - m1), 2 * kap * (m * m1 - m2) + noise, m2]

    ref = solve_ivp(rhs, (0.0, T), [x0, x0**2, 0.0], method="Radau", rtol=1e-12, atol=1e-14).y[2, -1]
    assert RS.factor_moment(kind, m, kap, xi, x0, T) == pytest.approx(ref, rel=1e-10)
    with pytest.raises(ValueError, match="kind"):
        RS.factor_moment("gbm", m, kap, xi, x0, T)


@pytest.mark.parametrize("bad", [(5, 9), (5, 8, 17), (9, 5, 17), (1, 5, 9)])
def test_factor_sizes_are_checked_before_any_solve(bad):
    st = dataclasses.replace(Settings.make(True), reg_factor_n=bad)
    with pytest.raises(ValueError, match=r"reg_factor_n must be at least three increasing odd integers"):
        RS.study_regimes(st)
