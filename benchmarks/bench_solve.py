"""Benchmark: ``hs.solve`` at the paper's OU parameters, against baselines run in the same process.

What is compared, at EQUAL ACCURACY over every time (not only t = 0):

1. ``hs.solve`` in its automatic mode (``tol=1e-5``, ``value_rtol=1e-6``): graded time grid,
   Richardson control at every node, the state propagator outside one locally extrapolated ROS2 jump stage per step ("strang-sx");
2. the previous release's scheme — Strang splitting with one ROS2 step per stage on a uniform
   grid ("strang", ``n_steps`` fixed, as ``hs.solve(n_steps=N, scheme="strang")`` still runs it):
   (a) at the ``N`` the previous release's own control chose (it checked t = 0 only), with the
   error that choice leaves later in the day; (b) under the previous release's control loop
   (doubling ``N`` from 30) run until its quotes are as accurate as (1)'s at every checked time —
   the cost of an answer that comes with the same evidence; (c) at the smallest such ``N`` known in
   advance (bisection: an oracle a user does not have, and which gives no error estimate);
3. the kernels' plain-numpy twins (``compiled=False``) for one fixed-step solve.

Errors are measured against a reference solved with 4x smaller steps and half the price spacing,
over times 0 … T (random and clustered near T), prices across ``s_range`` and ``|q| ≤ q_max/2``,
in units of ``1/k``. Not a test: run it by hand (takes a few minutes)::

    python benchmarks/bench_solve.py [--q-max 200] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import hjbsolve as hs


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def quote_error(sol, ref, T, q_max, s_range, seed=0):
    rng = np.random.default_rng(seed)
    t = np.unique(np.r_[0.0, rng.uniform(0, T, 10), T * (1 - np.geomspace(1e-6, 0.2, 8))])
    q = np.arange(-(q_max // 2), q_max // 2 + 1, max(1, q_max // 50))
    s = np.linspace(*s_range, 5)
    tt, qq, ss = np.meshgrid(t, q, s, indexing="ij")
    d = np.abs(np.array(sol.quotes(tt, qq, ss)) - np.array(ref.quotes(tt, qq, ss)))
    d = np.where(np.isfinite(d), d, 0.0)
    worst_t = t[np.unravel_index(np.argmax(d.max(axis=0)), tt.shape)[0]]
    return float(d.max()), float(worst_t)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--q-max", type=int, default=200)
    args = ap.parse_args(argv)
    m = hs.paper_model("ou")
    sr = (2995.0, 3005.0)
    kw = dict(q_max=args.q_max, s_range=sr)
    hs.solve(m, n_steps=5, **kw)  # compile (cached on disk after the first run)
    t_auto, sol = best_of(lambda: hs.solve(m, **kw), args.repeat)
    n_auto = sol.info["n_steps"]
    ref = hs.solve(m, n_steps=4 * n_auto, ds=sol.info["ds"] / 2, scheme="strang-x", **kw)
    err_auto, _ = quote_error(sol, ref, m.T, args.q_max, sr)
    print(f"threads: {numba.get_num_threads()}   grid: n_s={sol.info['n_s']} n_q={sol.info['n_q']}")
    print(f"1. hs.solve automatic (tol=1e-5, value_rtol=1e-6): {t_auto:.2f} s, {n_auto} steps, "
          f"estimate {sol.info['error_estimate']:.1e}, measured error at all times {err_auto:.1e}")
    # 2. the previous scheme at the accuracy the previous control aimed at (t = 0) ...
    ds = sol.info["ds"]
    prev = hs.solve(m, n_steps=30, ds=ds, scheme="strang", **kw)
    e_prev, worst_t = quote_error(prev, ref, m.T, args.q_max, sr)
    e0 = float(np.abs(np.array(prev.quotes(0.0, 0, 3000.0)) - np.array(ref.quotes(0.0, 0, 3000.0))).max())
    print(f"2a. previous scheme at the 30 steps its t=0 control chose: error {e0:.1e} at t=0 but {e_prev:.1e} "
          f"at t={worst_t:.3g}")
    # ... and at equal accuracy over every time: (b) the previous release's control loop (doubling N from
    # 30, each solve compared with the one before), checked at every time: the sum of its solves;
    # (c) an oracle that knows the smallest uniform N in advance (bisection after the doubling)
    n, spent, tried = 30, 0.0, {}
    while True:
        t_old, old = best_of(lambda: hs.solve(m, n_steps=n, ds=ds, scheme="strang", **kw), 1)
        spent += t_old
        tried[n] = (t_old, quote_error(old, ref, m.T, args.q_max, sr)[0])
        if tried[n][1] <= err_auto or n >= 30 * 2**8:
            break
        n *= 2
    print(f"2b. previous scheme under its own doubling control, checked at every time: {len(tried)} solves up to "
          f"{n} steps, {spent:.2f} s (error {tried[n][1]:.1e})   ratio previous/automatic: {spent / t_auto:.2f}x")
    lo, hi = n // 2, n
    while hi - lo > max(2, hi // 25):
        mid = (lo + hi) // 2
        t_mid, sol_mid = best_of(lambda: hs.solve(m, n_steps=mid, ds=ds, scheme="strang", **kw), 1)
        tried[mid] = (t_mid, quote_error(sol_mid, ref, m.T, args.q_max, sr)[0])
        lo, hi = (lo, mid) if tried[mid][1] <= err_auto else (mid, hi)
    t_or, e_or = tried[hi]
    print(f"2c. previous scheme with the smallest sufficient N known in advance (an oracle, no error estimate): "
          f"{hi} uniform steps, {t_or:.2f} s (error {e_or:.1e})   ratio oracle/automatic: {t_or / t_auto:.2f}x")
    # 3. the kernels against their numpy twins, one fixed-step solve
    nf = 60
    t_c, one = best_of(lambda: hs.solve(m, n_steps=nf, **kw), args.repeat)
    t_np, one_np = best_of(lambda: hs.solve(m, n_steps=nf, compiled=False, **kw), 1)
    cells = one.info["n_s"] * one.info["n_q"] * one.info["n_steps"]
    print(f"3. one {nf}-step solve: compiled {t_c:.2f} s ({cells / t_c:.2e} cells×steps/s), numpy twins "
          f"{t_np:.2f} s; ratio numpy/compiled {t_np / t_c:.1f}x (max |g| difference {np.abs(one.g - one_np.g).max():.1e})")


if __name__ == "__main__":
    main()
