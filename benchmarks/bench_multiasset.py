"""Benchmark: the exact multi-asset solve (paper §5) — time and peak memory, FD and expm.

Cases (the sizes of issue 11, default options: ``tol=1e-5``, ``value_rtol=1e-6``):

* M = 2, the issue's model (correlation 0.6), ``q_max = [100, 100]`` (40,401 cells);
* M = 3 (correlations of both signs, drifts), ``q_max = 25`` per asset (132,651 cells).

Each case runs in a fresh process (``--case NAME``, spawned by the driver) so that its peak
resident memory (``ru_maxrss``) is its own; the kernels are compiled (numba's cache) by a small
warm-up solve first, which is not timed. The machine's load average is printed with the numbers:
the reference machine has two cores shared with other work, and the solve time scales with the
load. For the FD solve the automatic error estimate is printed; against expm the measured quote
difference on ``|q_i| <= q_max_i/2`` at a few times (units of ``1/k``). Not a test::

    python benchmarks/bench_multiasset.py [--cases m2-fd m2-expm m3-fd m3-expm]
"""

from __future__ import annotations

import argparse
import json
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
         "m3-fd": (M3, [25, 25, 25], "fd"), "m3-expm": (M3, [25, 25, 25], "expm")}


def run_case(name: str) -> dict:
    params, q_max, method = CASES[name]
    mm = hs.MultiAssetModel(**params)
    warnings.simplefilter("ignore", hs.BoundWarning)
    hs.solve(mm, q_max=[3] * mm.n_assets, method=method)           # compile / load the kernels
    t0 = time.perf_counter()
    sol = hs.solve(mm, q_max=q_max, method=method)
    wall = time.perf_counter() - t0
    out = {"case": name, "cells": int(np.prod([2 * q + 1 for q in q_max])), "seconds": wall,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "stored_mb": sol.g.nbytes / 1e6, "n_stored": int(sol.t.size),
           "error_estimate": sol.info.get("error_estimate"), "load": os.getloadavg()[0]}
    if method == "fd":
        out["n_steps"] = int(sol.info["n_steps"])
        out["rounds"] = [r["steps"] for r in sol.info["rounds"]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    print(f"{'case':10s} {'cells':>8s} {'seconds':>8s} {'peak RSS MB':>12s} {'stored MB':>10s} {'estimate':>9s} "
          f"{'load':>5s}  steps/rounds")
    for name in args.cases:
        res = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        est = r["error_estimate"]
        print(f"{r['case']:10s} {r['cells']:8d} {r['seconds']:8.1f} {r['peak_rss_mb']:12.0f} {r['stored_mb']:10.0f} "
              f"{est if est is None else format(est, '.1e'):>9s} {r['load']:5.1f}  {r.get('rounds', r['n_stored'])}")


if __name__ == "__main__":
    main()
