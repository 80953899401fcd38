"""Benchmark: the exact multi-asset solve (paper §5) — time and peak memory, FD and expm.

Cases (the sizes of issue 11, default options: ``tol=1e-5``, ``value_rtol=1e-6``):

* M = 2, the issue's model (correlation 0.6), ``q_max = [100, 100]`` (40,401 cells);
* M = 3 (correlations of both signs, drifts), ``q_max = 25`` per asset (132,651 cells).

Each case runs in a fresh process (``--case NAME``, spawned by the driver) so that its peak
resident memory (``ru_maxrss``) is its own; the kernels are compiled (numba's cache) by a small
warm-up solve first, which is not timed. The machine's load average is printed with the numbers:
the reference machine has two cores shared with other work, and the solve time scales with the
load, so the CPU seconds of the solve (both threads) are printed too: on an idle two-core machine
the wall time is about half of them. For each solve the error estimate is printed (quotes, units of
``1/k``; expm: of the interpolation between its exact stored times). Not a test::

    python benchmarks/bench_multiasset.py [--cases m2-fd m2-expm m3-fd m3-expm]
    python benchmarks/bench_multiasset.py --memory     # the largest box that fits in 8 GB (about 6 min)

**The largest box in 8 GB** (``--memory``: peak RSS at q_max = 40 and 80 per asset, M = 2, default
options, each in a fresh process, and a check at a much larger box; measured on the 2-core reference
machine under load, 2026-11-30)::

    m2-expm-40     6561 cells   0.2 s   212 MB peak RSS (  3 MB stored,   57 times)
    m2-expm-80    25921 cells   1.3 s   242 MB peak RSS ( 12 MB stored,   57 times)
    m2-expm-350  491401 cells 197.6 s  2110 MB peak RSS (554 MB stored,  141 times)
    m2-fd-40       6561 cells   1.6 s   219 MB peak RSS (  7 MB stored,  131 times)
    m2-fd-80      25921 cells  18.0 s   295 MB peak RSS ( 52 MB stored,  249 times)
    m2-fd-150     90601 cells 107.4 s  2710 MB peak RSS (1508 MB stored, 2081 times)

A model linear in the cells, fitted on the two small boxes, is wrong for large ones (it said 959 MB
at ±350 with expm: measured 2.20×), because the stored time nodes grow with the box (57 → 141 for
expm, 131 → 2081 for FD: the penalties at the bound grow like q_max²). Linear in the *stored
values* it holds: peak ≈ 202 MB + 3.3 × stored (expm; predicted 2048 MB at ±350, measured 2110) and
≈ 207 MB + 1.7 × stored (FD; predicted 2755 MB at ±150, measured 2710). So 8 GB would hold about
2.3 GB of stored values with expm and 4.6 GB with FD — but the solver's own limits bind first: FD
refuses more than 3 GB of stored values (``MAX_BYTES``; ±200 is refused in its third round, 5.2 GB
asked), expm refuses an estimated time over 120 s (±400 is refused, 129 s estimated). **The largest
two-asset boxes that run are about ±150–170 (FD, ≤ 5.3 GB peak) and ±350–380 (expm, ≈ 2.1 GB peak):
both well inside 8 GB**; with three assets the cell limit scales as the cube root (±25 in the table
above is 132,651 cells).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

import hjbsolve as hs

M2 = dict(A=[300.0, 120.0], k=[1.2, 1.2], z=[0.2, 0.35], alpha=[0.01, -0.01], cov=[[0.25, 0.24], [0.24, 0.64]],
          T=1.0, eps=0.01, eta=1.0, nu=1.0)
M3 = dict(A=[300.0, 120.0, 200.0], k=1.2, z=[0.2, 0.35, 0.3], alpha=[0.01, -0.01, 0.0],
          cov=[[0.25, 0.24, 0.1], [0.24, 0.64, -0.2], [0.1, -0.2, 0.5]], T=1.0, eps=0.01, eta=1.0, nu=1.0,
          drift=[0.05, -0.1, 0.0])
CASES = {"m2-fd": (M2, [100, 100], "fd"), "m2-expm": (M2, [100, 100], "expm"),
         "m3-fd": (M3, [25, 25, 25], "fd"), "m3-expm": (M3, [25, 25, 25], "expm"),
         # the memory model (--memory): peak RSS at two box sizes of each method
         "m2-expm-40": (M2, [40, 40], "expm"), "m2-expm-80": (M2, [80, 80], "expm"),
         "m2-fd-40": (M2, [40, 40], "fd"), "m2-fd-80": (M2, [80, 80], "fd"),
         # the check of the model at a box 19× (expm) and 6× (FD) larger than its fit
         "m2-expm-350": (M2, [350, 350], "expm"), "m2-fd-150": (M2, [150, 150], "fd")}
#: The check run of each method's memory model (``--memory``).
CHECK = {"expm": "m2-expm-350", "fd": "m2-fd-150"}
#: Memory of the machine the largest box must fit in (bytes).
BUDGET = 8e9


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_case(name: str) -> dict:
    params, q_max, method = CASES[name]
    mm = hs.MultiAssetModel(**params)
    warnings.simplefilter("ignore", hs.BoundWarning)
    hs.solve(mm, q_max=[3] * mm.n_assets, method=method)           # compile / load the kernels
    t0, c0 = time.perf_counter(), _cpu()
    sol = hs.solve(mm, q_max=q_max, method=method)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    out = {"case": name, "cells": int(np.prod([2 * q + 1 for q in q_max])), "seconds": wall, "cpu_seconds": cpu,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "stored_mb": sol.g.nbytes / 1e6, "n_stored": int(sol.t.size),
           "error_estimate": sol.info.get("error_estimate"), "load": os.getloadavg()[0]}
    if method == "fd":
        out["n_steps"] = int(sol.info["n_steps"])
        out["rounds"] = [r["steps"] for r in sol.info["rounds"]]
    return out


def _run(name: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def memory_model(method: str) -> dict:
    """Peak resident memory ``a + b · cells`` fitted through two box sizes of ``method`` (M = 2), and the
    largest square two-asset box and cube three-asset box whose estimate fits in :data:`BUDGET` (the
    per-cell cost grows with the stored time nodes, which do not depend much on the box: a linear model)."""
    small, large = _run(f"m2-{method}-40"), _run(f"m2-{method}-80")
    b = (large["peak_rss_mb"] - small["peak_rss_mb"]) * 1e6 / (large["cells"] - small["cells"])
    a = small["peak_rss_mb"] * 1e6 - b * small["cells"]
    cells = (BUDGET - a) / b
    from hjbsolve.solver.setup import MAX_CELLS

    # the second model: peak = base + c × stored values (the stored time nodes grow with the box)
    c = (large["peak_rss_mb"] - small["peak_rss_mb"]) / (large["stored_mb"] - small["stored_mb"])
    base = small["peak_rss_mb"] - c * small["stored_mb"]
    check = _run(CHECK[method])
    check["model_mb"] = (a + b * check["cells"]) / 1e6
    check["stored_model_mb"] = base + c * check["stored_mb"]
    return {"method": method, "runs": [small, large], "check": check, "bytes_per_cell": b, "base_mb": a / 1e6,
            "per_stored": c, "stored_budget_gb": (BUDGET / 1e6 - base) / c / 1e3,
            "cells_in_budget": cells, "q_max_m2": int((math.sqrt(cells) - 1) // 2),
            "q_max_m3": int((cells ** (1 / 3) - 1) // 2), "max_cells": MAX_CELLS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES)[:4], choices=list(CASES))
    ap.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    ap.add_argument("--memory", action="store_true", help="fit the memory per cell and estimate the largest box "
                                                          "that fits in 8 GB")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    if args.memory:
        for method in ("expm", "fd"):
            r = memory_model(method)
            for run in r["runs"]:
                print(f"{run['case']:12s} {run['cells']:8d} cells {run['seconds']:7.1f} s {run['peak_rss_mb']:8.0f} MB "
                      f"peak RSS ({run['stored_mb']:.0f} MB stored, {run['n_stored']} times)")
            c = r["check"]
            print(f"{c['case']:12s} {c['cells']:8d} cells {c['seconds']:7.1f} s {c['peak_rss_mb']:8.0f} MB peak RSS "
                  f"({c['stored_mb']:.0f} MB stored, {c['n_stored']} times): per cell the model said "
                  f"{c['model_mb']:.0f} MB (measured/model {c['peak_rss_mb'] / c['model_mb']:.2f}), per stored value "
                  f"{c['stored_model_mb']:.0f} MB ({c['peak_rss_mb'] / c['stored_model_mb']:.2f}): "
                  f"{r['per_stored']:.2f} bytes of peak per stored byte, so 8 GB holds "
                  f"{r['stored_budget_gb']:.2f} GB of stored values")
            print(f"{method}: {r['bytes_per_cell']:.0f} bytes per cell + {r['base_mb']:.0f} MB -> {r['cells_in_budget']:.3g} "
                  f"cells in 8 GB: q_max = {r['q_max_m2']} (M = 2), {r['q_max_m3']} (M = 3); the solver refuses "
                  f"boxes over {r['max_cells']:.3g} cells")
        return
    print(f"{'case':10s} {'cells':>8s} {'seconds':>8s} {'CPU s':>7s} {'peak RSS MB':>12s} {'stored MB':>10s} "
          f"{'estimate':>9s} {'load':>5s}  steps/rounds")
    for name in args.cases:
        r = _run(name)
        est = r["error_estimate"]
        print(f"{r['case']:10s} {r['cells']:8d} {r['seconds']:8.1f} {r['cpu_seconds']:7.1f} {r['peak_rss_mb']:12.0f} "
              f"{r['stored_mb']:10.0f} "
              f"{est if est is None else format(est, '.1e'):>9s} {r['load']:5.1f}  {r.get('rounds', r['n_stored'])}")


if __name__ == "__main__":
    main()
