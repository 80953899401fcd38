"""Golden values of the closed forms and the exact references (regression tests of the formulas).

``tests/golden/golden.json`` is written by ``python -m hjbsolve.validation.make_golden`` (see its
docstring for what is stored and why the tolerances are what they are). These tests recompute
every stored quantity with the same code and fail if one drifts beyond its stated tolerance. A
change that moves a golden value must say why: regenerate the file and explain the change.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.validation.make_golden import TOL, cases, compute

GOLDEN = json.loads((Path(__file__).parent / "golden" / "golden.json").read_text())
QUANTITIES = ("ask", "bid", "spread", "centre", "value")


@functools.lru_cache(maxsize=None)
def _computed(name):
    """The package's values at the golden points of case ``name`` (computed once per session)."""
    return compute(cases()[name])


def test_golden_file_matches_the_generator_cases():
    """The stored models, settings and points are the generator's (no silent edits of either)."""
    cs = cases()
    assert set(GOLDEN["cases"]) == set(cs)
    assert GOLDEN["tolerances"] == json.loads(json.dumps(TOL))
    for name, c in cs.items():
        g = GOLDEN["cases"][name]
        assert hs.Model.from_dict(g["model"]) == c["model"]
        assert g["fd_settings"] == {k: (list(v) if isinstance(v, tuple) else v) for k, v in c["fd"].items()}


def test_golden_tolerances_are_justified():
    """FD tolerance: far above the measured rounding spread (numba vs numpy twin) and below the
    solver's own discretisation error at the stored settings (so any change of scheme is caught).

    The stored measurements are checked, and for the Brownian cases measured again here: the
    rounding spread by the numpy twins of the kernels, the discretisation error against the matrix
    exponential (the OU cases' refined-grid measurement is repeated by ``make_golden --check``)."""
    from hjbsolve.validation.make_golden import _max_abs_diff

    atol = TOL["fd_quotes"]["atol"]
    acc = [c["fd_accuracy"]["quotes"] for c in GOLDEN["cases"].values()]
    for c in GOLDEN["cases"].values():
        assert c["fd_rounding"]["quotes"] * 100 < atol
        assert c["fd_rounding"]["values_relative"] * 100 < TOL["fd_values"]["rtol"]
    assert max(acc) > 100 * atol and min(acc) > atol
    for name in ("paper_brownian", "brownian_rebate"):
        vals = _computed(name)
        twin = compute(cases()[name], compiled=False)
        rounding = _max_abs_diff(vals["fd"], twin["fd"])
        assert rounding * 100 < atol, (name, rounding)
        measured = _max_abs_diff(vals["fd"], vals["exact_brownian"])
        assert measured > atol, (name, measured)
        np.testing.assert_allclose(measured, GOLDEN["cases"][name]["fd_accuracy"]["quotes"], rtol=1e-3)


@pytest.mark.parametrize("name", sorted(GOLDEN["cases"]))
def test_golden_values(name):
    got = _computed(name)
    stored = GOLDEN["cases"][name]["values"]
    assert set(got) == set(stored)
    failures = []
    for src, vals in stored.items():
        for k in QUANTITIES:
            if src == "fd":
                tol = TOL["fd_values"] if k == "value" else TOL["fd_quotes"]
            elif src == "exact_brownian":
                tol = TOL["exact_brownian"]
            else:
                tol = TOL["closed_form"]
            a, b = np.asarray(got[src][k]), np.asarray(vals[k])
            bad = ~np.isclose(a, b, rtol=tol["rtol"], atol=tol["atol"])
            if bad.any():
                i = int(np.argmax(np.abs(a - b)))
                failures.append(f"{src}.{k}: {int(bad.sum())} points drift, worst {a[i]!r} vs golden {b[i]!r} "
                                f"at (t, q, s) = {GOLDEN['cases'][name]['points'][i]}")
    assert not failures, f"{name}: golden values moved (regenerate with `python -m hjbsolve.validation.make_golden` " \
                         "and say why):\n" + "\n".join(failures)


@pytest.mark.parametrize("name", sorted(GOLDEN["cases"]))
def test_golden_order1_is_closer_to_exact_than_order0_at_small_inventory(name):
    """On the package's values (not the stored ones): at q = 0, t = 0 the order-1 ask is closer to the
    reference (matrix exponential or FD) than the order-0 ask."""
    v = _computed(name)
    ref = v["exact_brownian"] if "exact_brownian" in v else v["fd"]
    for i, (t, q, s) in enumerate(GOLDEN["cases"][name]["points"]):
        if q == 0 and t == 0.0:
            e1 = abs(v["order1"]["ask"][i] - ref["ask"][i])
            e0 = abs(v["order0"]["ask"][i] - ref["ask"][i])
            assert e1 < e0, (name, t, q, s)
