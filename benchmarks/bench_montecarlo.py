"""Benchmark: path-steps per second of the Monte Carlo engine at the paper's §4 size.

Runs ``hs.montecarlo.simulate`` (compiled numba kernel, parallel over paths) with a
tabulated, price-dependent, near-optimal policy (the order-1 expansion of the OU problem on
a ``(t, s, q)`` table; ``--policy solve`` uses the finite-difference optimum instead) at
10,000 paths × 1000 steps, and compares it with

* ``reference``: a plain numpy loop written here, vectorised over paths with a Python loop
  over steps: exact Gaussian price step, table lookup (bilinear in ``t`` and ``s``), and a
  Poisson number of fills per side per step at the grid price and the quotes of the start of
  the step (the usual vectorised scheme; it does not re-quote after a fill, so it is slightly
  biased — its mean is printed too);
* ``numpy engine``: the package's own numpy twin of the kernel (same exact market, same
  random numbers), on fewer paths.

Usage::

    python benchmarks/bench_montecarlo.py [--paths 10000] [--steps 1000] [--ref-paths 10000]
                                          [--threads N] [--policy expansion|solve]

Prints path-steps per second of each and the ratios. Compilation is excluded (a warm-up run
precedes the timing; numba caches the kernel on disk).
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

import hjbsolve as hs
from hjbsolve.montecarlo import price_range, simulate


def build_policy(model, s0, n_paths, kind):
    lo, hi = price_range(model, s0, n_paths)
    if kind == "solve":
        from hjbsolve.solver import solve
        return solve(model, q_max=400, s_range=(lo, hi), t_eval=np.linspace(0.0, model.T, 1001)).tabulate()
    from hjbsolve.expansion import expansion
    return expansion(model, 1).tabulate(model, t=np.linspace(0.0, model.T, 201), s=np.linspace(lo, hi, 41), q_max=400)


def reference_numpy(model, tab, n_paths, n_steps, s0=3000.0, seed=0):
    """Plain numpy loop over steps, vectorised over paths (see module docstring).

    Returns
    -------
    objective : ndarray, shape (n_paths,)
    """
    rng = np.random.default_rng(seed)
    rho, c, sd = model.price.transition(model.T / n_steps)
    dt = model.T / n_steps
    A, k, z, alpha = model.A, model.k, model.z, model.alpha
    tt, ts, nq = tab.t, tab.s, tab.ask.shape[2]
    S = np.full(n_paths, s0)
    q = np.zeros(n_paths, np.int64)
    x = np.zeros(n_paths)
    pen = np.zeros(n_paths)
    for i in range(n_steps):
        t = i * dt
        it = min(np.searchsorted(tt, t, side="right") - 1, tt.size - 2)
        wt = (t - tt[it]) / (tt[it + 1] - tt[it])
        if ts.size > 1:
            js = np.clip(np.searchsorted(ts, S, side="right") - 1, 0, ts.size - 2)
            ws = np.clip((S - ts[js]) / (ts[js + 1] - ts[js]), 0.0, 1.0)
        else:
            js = np.zeros(n_paths, np.int64)
            ws = np.zeros(n_paths)
        qi = np.clip(q - tab.q_min, 1, nq - 2)   # interior columns (limits handled below)
        quotes = []
        for tb in (tab.ask, tab.bid):
            j1 = np.minimum(js + 1, ts.size - 1)
            v = ((1 - wt) * ((1 - ws) * tb[it, js, qi] + ws * tb[it, j1, qi])
                 + wt * ((1 - ws) * tb[it + 1, js, qi] + ws * tb[it + 1, j1, qi]))
            quotes.append(v)
        da, db = quotes
        la = np.where(q - tab.q_min <= 0, 0.0, A * np.exp(-k * (z + da)))
        lb = np.where(q - tab.q_min >= nq - 1, 0.0, A * np.exp(-k * (z + db)))
        na = np.minimum(rng.poisson(la * dt), q - tab.q_min)
        nb = np.minimum(rng.poisson(lb * dt), tab.q_max - q)
        x += na * (S + da - alpha) - nb * (S - db + alpha)
        q += nb - na
        pen += q * q * dt
        S = rho * S + c + sd * rng.standard_normal(n_paths)
    return x + q * S - model.terminal_penalty * q**2 - model.running_penalty * pen


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--ref-paths", type=int, default=None, help="paths for the numpy reference (default: --paths)")
    ap.add_argument("--twin-paths", type=int, default=1000, help="paths for the package's numpy engine")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--policy", choices=("expansion", "solve"), default="expansion")
    args = ap.parse_args(argv)
    if args.threads:
        numba.set_num_threads(args.threads)
    ref_paths = args.ref_paths or args.paths
    model = hs.paper_model("ou")
    t0 = time.perf_counter()
    tab = build_policy(model, 3000.0, args.paths, args.policy)
    print(f"policy: {tab.name}, table {tab.ask.shape} (t, s, q) built in {time.perf_counter() - t0:.2f} s; "
          f"OU paper parameters; {numba.get_num_threads()} numba threads")

    simulate(model, tab, n_paths=64, n_steps=10, progress=False)          # compile / load cache
    t0 = time.perf_counter()
    res = simulate(model, tab, n_paths=args.paths, n_steps=args.steps, progress=False, seed=1)
    wall = time.perf_counter() - t0
    rate = args.paths * args.steps / wall
    m, se = res.estimate("plain")
    print(f"compiled      : {args.paths:>6} paths × {args.steps} steps in {wall:7.2f} s = {rate:10.3e} "
          f"path-steps/s   mean {m:.3f} ± {se:.3f}")

    t0 = time.perf_counter()
    obj = reference_numpy(model, tab, ref_paths, args.steps)
    wall_r = time.perf_counter() - t0
    rate_r = ref_paths * args.steps / wall_r
    print(f"numpy loop    : {ref_paths:>6} paths × {args.steps} steps in {wall_r:7.2f} s = {rate_r:10.3e} "
          f"path-steps/s   mean {obj.mean():.3f} ± {obj.std(ddof=1) / math.sqrt(obj.size):.3f}")

    t0 = time.perf_counter()
    res_t = simulate(model, tab, n_paths=args.twin_paths, n_steps=args.steps, progress=False, seed=1, engine="numpy")
    wall_t = time.perf_counter() - t0
    rate_t = args.twin_paths * args.steps / wall_t
    print(f"numpy engine  : {args.twin_paths:>6} paths × {args.steps} steps in {wall_t:7.2f} s = {rate_t:10.3e} "
          f"path-steps/s   (same market and numbers as compiled; first paths equal: "
          f"{np.allclose(res_t.objective, res.objective[:args.twin_paths], rtol=1e-12, atol=1e-9)})")
    print(f"ratio compiled / numpy loop   = {rate / rate_r:6.1f}")
    print(f"ratio compiled / numpy engine = {rate / rate_t:6.1f}")


if __name__ == "__main__":
    main()
