"""Generate the golden values of ``tests/golden/golden.json`` (regression tests of the formulas).

Run from the repository root::

    python -m hjbsolve.validation.make_golden            # rewrite tests/golden/golden.json
    python -m hjbsolve.validation.make_golden --check    # compare with the stored file, print the drifts

What is stored, for several parameter sets (Brownian and OU, α > 0 and a rebate α < 0) at
chosen points ``(t, q, s)``: the ask and bid half-spreads, the spread, the centre and the value
from

* the closed forms, order 0 (eq. 9) and order 1 (eqs. 16–26): ``hs.expansion``;
* the exact references: ``hs.exact_brownian`` (matrix exponential, Brownian) and ``hs.solve``
  (finite differences) with **explicit** grids (``q_max``, ``n_steps``, ``ds``, ``s_range``), so
  that a change of the solver's defaults does not move them but a change of the scheme does.

Tolerances (``tests/test_golden.py``; stored in the file beside the values)
-------------------------------------------------------------------------
* Closed forms and the matrix exponential: 1e-10 relative (plus 1e-12 absolute). They are
  deterministic quadratures / series summed to an ulp; rounding differences between machines
  are ~1e-13.
* FD solver: the computation is deterministic at fixed settings, so the tolerance only has to
  cover rounding differences between machines, compilers and thread counts, and must sit well
  below the solver's discretisation error (a few 1e-6 in the quotes at these settings, measured
  by this script against the matrix exponential and against a refined grid and stored as
  ``fd_accuracy``), so that any change of the discretisation is caught. The script measures
  the rounding spread as the difference between the numba kernels and their numpy twins
  (``compiled=False``: same formulas, different operation order) and stores it as
  ``fd_rounding``: ≤ 5e-13 on the quotes and ≤ 3e-16 relative on the values (2026-11). The
  tolerance is 1e-9 absolute on quotes/spreads/centres (≥ 1000× that rounding, and 6× to
  10⁴× below the discretisation errors 6e-9 … 1.3e-5 of the four cases) and 1e-10 relative on
  values.

A change that moves a golden value must say why: regenerate with this script and explain the
change in the commit message (the test failure prints the drift).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np

import hjbsolve as hs

#: ``tests/golden/golden.json`` of the source checkout this module belongs to (``hjbsolve/validation/`` →
#: the root); the generator only makes sense in a source checkout.
GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "golden" / "golden.json"

TOL = {"closed_form": {"rtol": 1e-10, "atol": 1e-12},
       "exact_brownian": {"rtol": 1e-10, "atol": 1e-12},
       "fd_quotes": {"rtol": 0.0, "atol": 1e-9},
       "fd_values": {"rtol": 1e-10, "atol": 1e-8}}


def cases() -> dict:
    """Parameter sets and the explicit solver settings of their FD goldens."""
    return {
        "paper_brownian": {"model": hs.paper_model("brownian"),
                           "fd": {"q_max": 150, "n_steps": 120}, "exact_q_max": 150, "s": [3000.0]},
        "brownian_rebate": {"model": hs.Model(price=hs.Brownian(0.8), A=400.0, k=1.5, z=0.3, T=0.5, eps=5e-3,
                                              eta=2.0, nu=0.5, alpha=-0.03),
                            "fd": {"q_max": 80, "n_steps": 100}, "exact_q_max": 80, "s": [100.0]},
        "paper_ou": {"model": hs.paper_model("ou"),
                     "fd": {"q_max": 300, "n_steps": 120, "ds": 0.12, "s_range": (2999.0, 3001.0)},
                     "s": [2999.5, 3000.0, 3000.5]},
        "ou_rebate": {"model": hs.Model(price=hs.OrnsteinUhlenbeck(a=0.5, mu=3002.0, sigma=0.7), A=300.0, k=1.2,
                                        z=0.4, T=1.0, eps=2e-3, eta=1.0, nu=1.0, alpha=-0.02),
                      "fd": {"q_max": 150, "n_steps": 100, "ds": 0.1, "s_range": (2999.0, 3001.0)},
                      "s": [2999.5, 3001.0]},
    }


def points(m, s_list):
    t = [0.0, 0.5 * m.T, 0.9 * m.T]
    q = [-10, 0, 3, 10]
    return [(tt, qq, ss) for tt in t for qq in q for ss in s_list]


def _quantities(obj, pts):
    t = np.array([p[0] for p in pts])
    q = np.array([p[1] for p in pts])
    s = np.array([p[2] for p in pts])
    ask, bid = obj.quotes(t, q, s)
    ask, bid = np.asarray(ask, float), np.asarray(bid, float)
    return {"ask": ask.tolist(), "bid": bid.tolist(), "spread": (ask + bid).tolist(),
            "centre": (s + 0.5 * (ask - bid)).tolist(), "value": np.asarray(obj.value(t, q, s), float).tolist()}


def compute(case: dict, *, compiled: bool = True) -> dict:
    """All golden quantities of one case (the same code the test runs)."""
    m, pts = case["model"], points(case["model"], case["s"])
    out = {f"order{o}": _quantities(hs.expansion(m, o), pts) for o in (0, 1)}
    fd = dict(case["fd"])
    t_eval = sorted({p[0] for p in pts})
    sol = hs.solve(m, t_eval=t_eval, compiled=compiled, **fd)
    out["fd"] = _quantities(sol, pts)
    if m.price.is_martingale:
        ref = hs.exact_brownian(m, case["exact_q_max"], t=sorted(set(t_eval) | {m.T}))
        out["exact_brownian"] = _quantities(ref, pts)
    return out


def _max_abs_diff(a: dict, b: dict, keys=("ask", "bid", "spread", "centre")) -> float:
    return float(max(np.max(np.abs(np.subtract(a[k], b[k]))) for k in keys))


def generate() -> dict:
    data = {"generated_by": "python -m hjbsolve.validation.make_golden", "hjbsolve_version": hs.__version__,
            "generated_at": time.strftime("%Y-%m-%d"), "tolerances": TOL, "cases": {}}
    try:
        data["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                            cwd=GOLDEN.parents[2]).stdout.strip()
    except OSError:  # pragma: no cover
        data["git_commit"] = ""
    for name, case in cases().items():
        m = case["model"]
        vals = compute(case)
        twin = compute(case, compiled=False)
        # accuracy of the FD goldens: against the matrix exponential (Brownian) or a refined grid (OU)
        if m.price.is_martingale:
            acc = _max_abs_diff(vals["fd"], vals["exact_brownian"])
        else:
            fine = dict(case["fd"], n_steps=2 * case["fd"]["n_steps"], ds=case["fd"]["ds"] / 2)
            pts = points(m, case["s"])
            sol = hs.solve(m, t_eval=sorted({p[0] for p in pts}), **fine)
            acc = _max_abs_diff(vals["fd"], _quantities(sol, pts))
        data["cases"][name] = {
            "model": m.to_dict(), "fd_settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in case["fd"].items()},
            "exact_q_max": case.get("exact_q_max"), "points": points(m, case["s"]), "values": vals,
            "fd_rounding": {"quotes": _max_abs_diff(vals["fd"], twin["fd"]),
                            "values_relative": float(np.max(np.abs(np.subtract(vals["fd"]["value"], twin["fd"]["value"])) /
                                                            np.maximum(np.abs(vals["fd"]["value"]), 1.0)))},
            "fd_accuracy": {"quotes": acc,
                            "against": "matrix exponential" if m.price.is_martingale else "grid refined 2x in t and s"}}
    return data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    a = p.parse_args(argv)
    if not (GOLDEN.parents[2] / "pyproject.toml").exists():
        raise SystemExit(f"{GOLDEN.parents[2]} is not a source checkout of hjbsolve (installed package?): "
                         "run python -m hjbsolve.validation.make_golden from an editable install")
    data = generate()
    if a.check:
        old = json.loads(GOLDEN.read_text())
        for name, c in data["cases"].items():
            for src, q in c["values"].items():
                for k, v in q.items():
                    d = np.max(np.abs(np.subtract(v, old["cases"][name]["values"][src][k])))
                    print(f"{name:16s} {src:15s} {k:7s} max drift {d:.3e}")
        return 0
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1))
    for name, c in data["cases"].items():
        print(f"{name}: FD rounding (numba vs numpy twin) {c['fd_rounding']['quotes']:.2e} (quotes), "
              f"{c['fd_rounding']['values_relative']:.2e} (values, rel.); FD accuracy {c['fd_accuracy']['quotes']:.2e}")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
