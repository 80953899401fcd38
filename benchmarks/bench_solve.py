"""Benchmark: `hs.solve` at the paper's OU parameters (q_max=600) against a numpy baseline.

Prints wall time, grid cells × time steps per second, the ratio to the plain-numpy twin of the
same scheme (`compiled=False`, vectorised numpy + scipy, run in the same process), and the
accuracy of the default grids against a refined solve. Not a test: run it by hand::

    python benchmarks/bench_solve.py [--repeat 5] [--q-max 600]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import hjbsolve as hs
from hjbsolve.grid import price_grid
from hjbsolve.solver import default_n_steps


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--q-max", type=int, default=600)
    args = ap.parse_args(argv)
    m = hs.paper_model("ou")
    sr = (2995.0, 3005.0)
    kw = dict(q_max=args.q_max, s_range=sr)
    hs.solve(m, **kw)  # compile (cached on disk after the first run)
    # what a user gets: automatic step selection to tol=1e-5 (two or more solves)
    t_auto, sol = best_of(lambda: hs.solve(m, **kw), args.repeat)
    n = sol.info["n_steps"]
    # kernel throughput: one solve at that many steps, compiled vs its numpy twin
    t_c, one = best_of(lambda: hs.solve(m, n_steps=n, **kw), args.repeat)
    t_np, one_np = best_of(lambda: hs.solve(m, n_steps=n, compiled=False, **kw), max(1, args.repeat // 2))
    cells = one.info["n_s"] * one.info["n_q"] * (one.info["n_steps"])
    g = price_grid(m, sr)
    ref = hs.solve(m, n_steps=4 * n, ds=g.ds / 2, **kw)
    q = np.arange(-args.q_max // 2, args.q_max // 2 + 1, 10)[:, None]
    s = np.linspace(*sr, 5)[None, :]
    err = np.abs(np.array(sol.quotes(0.0, q, s)) - np.array(ref.quotes(0.0, q, s))).max()
    same = np.abs(one.g - one_np.g).max()
    print(f"threads: {numba.get_num_threads()}  grid: n_s={one.info['n_s']} n_q={one.info['n_q']} "
          f"steps={one.info['n_steps']} (tried {sol.info['n_steps_tried']})")
    print(f"hs.solve (automatic steps, tol=1e-5): {t_auto:.3f} s   error estimate {sol.info['error_estimate']:.1e}, "
          f"measured error vs 4x steps & ds/2 (|q| <= {args.q_max // 2}): {err:.1e}")
    print(f"one solve, compiled (numba): {t_c:.3f} s   {cells / t_c:.3e} cells×steps/s")
    print(f"one solve, numpy baseline  : {t_np:.3f} s   {cells / t_np:.3e} cells×steps/s")
    print(f"ratio baseline/compiled: {t_np / t_c:.1f}x   (max |g| difference {same:.1e})")


if __name__ == "__main__":
    main()
