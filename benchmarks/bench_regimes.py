"""Benchmark: solve time and peak memory of ``hs.solve`` against the number of market regimes.

Cases: the paper's Brownian model at its inventory bound (``q_max = 400``,
``hs.solver.default_q_max``) and a small OU model (the paper's OU at ``q_max = 20``, the default
price range), each with 1, 2, 6 and 20 regimes. The chain is a CIR volatility factor
(``hs.Regimes.cir_factor("sigma", mean=σ, ...)``: positive volatilities around the paper's σ);
one regime is the chain ``[[0]]`` (the chain-free numbers). Accuracy ``tol=1e-4``,
``value_rtol=1e-5`` (the ``simulate`` defaults).

Each case runs in its own subprocess (after an untimed warm-up solve that loads the compiled
kernels), which reports the solve's wall time, the peak of the memory it allocated (tracemalloc:
numpy's arrays included) and the process's peak resident size (``ru_maxrss``, the interpreter,
numba and the kernels included). The table gives each time and memory as a ratio to the
1-regime case of the same kind, measured in the same run.

With an OU price the joint propagator is dense over (regime × price node): a step costs about
``(regimes × price nodes)²`` per inventory. A case that does not finish within ``--timeout``
seconds (default 120) is stopped — or is refused by the solver before any work (its limit: 30 s
estimated for the first round) — and the solver's own cost model (``hjbsolve.solver.api``:
the estimate it refuses runs by, for the first round of the automatic mode) is printed instead,
marked ``est``. Measured (2 shared cores, other work running; 2026-12, branch regime-factors)::

    price    regimes  n_s  steps   time s  x1-reg   peak MB  x1-reg  maxrss MB
    brownian       1    1     80     0.27    1.00       1.1    1.00        211
    brownian       2    1    136     1.65    6.16       4.3    4.00        216
    brownian       6    1    218     2.63    9.81      17.2   16.13        229
    brownian      20    1    374     5.63   21.00      86.9   81.48        297
    ou             1   79    222     1.32    1.00       5.4    1.00        252
    ou             2  187    222    41.89   31.76      41.3    7.65        289
    ou             6  187     —   refused by the solver's cost model: est 43.1 s (first round)
    ou            20  187     —   refused by the solver's cost model: est 1.57e3 s (first round)

(the OU price grid widens from 79 to 187 nodes with the chain: the most volatile regime's reach).
Not a test: run it by hand::

    python benchmarks/bench_regimes.py [--kinds brownian,ou] [--regimes 1,2,6,20] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import tracemalloc
import warnings

TOL, VALUE_RTOL = 1e-4, 1e-5
Q_MAX = {"brownian": 400, "ou": 20}


def build(kind: str, n: int):
    """The model of a case and its solve options."""
    import hjbsolve as hs

    m = hs.paper_model(kind)
    chain = (hs.Regimes(generator=[[0.0]]) if n == 1 else
             hs.Regimes.cir_factor("sigma", mean=m.sigma, reversion=4.0, vol=0.3, n=n))
    return m.replace(regimes=chain), dict(q_max=Q_MAX[kind], tol=TOL, value_rtol=VALUE_RTOL)


def run_case(kind: str, n: int) -> dict:
    """One case, in this process: warm-up, then the timed solve (time, tracemalloc peak, maxrss)."""
    import resource

    import hjbsolve as hs

    warnings.simplefilter("ignore", hs.BoundWarning)
    m, opts = build(kind, n)
    hs.solve(m.replace(regimes=None), q_max=4, n_steps=4)            # load the compiled kernels
    tracemalloc.start()
    t0 = time.perf_counter()
    sol = hs.solve(m, **opts)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return dict(seconds=wall, peak_mb=peak / 1e6, maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
                n_s=int(sol.info["n_s"]), steps=int(sol.info["n_steps"]),
                error_estimate=float(sol.info["error_estimate"]))


def cost_estimate(kind: str, n: int) -> float | None:
    """The solver's cost model for the first round of the case (seconds), read from the refusal it
    gives when its time limit is set to zero."""
    import hjbsolve as hs
    from hjbsolve.solver import api

    warnings.simplefilter("ignore", hs.BoundWarning)
    m, opts = build(kind, n)
    saved = api.MAX_SECONDS
    api.MAX_SECONDS = 0.0
    try:
        hs.solve(m, **opts)
    except ValueError as e:
        found = re.search(r"about ([0-9.eE+-]+) s", str(e))
        return float(found.group(1)) if found else None
    finally:
        api.MAX_SECONDS = saved
    return None


def in_subprocess(kind: str, n: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--case", f"{kind}:{n}"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(timeout=True, estimate=cost_estimate(kind, n))
    if r.returncode != 0:
        return dict(error=r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", default="brownian,ou", help="price kinds (default brownian,ou)")
    ap.add_argument("--regimes", default="1,2,6,20", help="numbers of regimes (default 1,2,6,20)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case before the cost model "
                    "is printed instead (default 120)")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)     # kind:n, run in this process
    args = ap.parse_args(argv)
    if args.case:
        kind, n = args.case.split(":")
        print(json.dumps(run_case(kind, int(n))))
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    ns = [int(x) for x in args.regimes.split(",") if x]
    head = (f"{'price':>9} {'regimes':>7} {'q_max':>5} {'n_s':>4} {'steps':>6} | {'time s':>9} {'x 1-reg':>8} | "
            f"{'peak MB':>9} {'x 1-reg':>8} | {'maxrss MB':>9}")
    print(f"hs.solve(tol={TOL:g}, value_rtol={VALUE_RTOL:g}); chain: CIR volatility factor; one subprocess a case")
    print(head)
    print("-" * len(head))
    for kind in kinds:
        base = None
        for n in ns:
            r = in_subprocess(kind, n, args.timeout)
            if "seconds" in r:
                base = base or (r if n == 1 else None)
                rt = f"{r['seconds'] / base['seconds']:8.2f}" if base else f"{'—':>8}"
                rm = f"{r['peak_mb'] / base['peak_mb']:8.2f}" if base else f"{'—':>8}"
                print(f"{kind:>9} {n:>7} {Q_MAX[kind]:>5} {r['n_s']:>4} {r['steps']:>6} | {r['seconds']:9.2f} {rt} | "
                      f"{r['peak_mb']:9.1f} {rm} | {r['maxrss_mb']:9.0f}")
            elif r.get("timeout"):
                est = r["estimate"]
                what = f"est {est:.3g} s (first round, cost model)" if est is not None else "no estimate"
                print(f"{kind:>9} {n:>7} {Q_MAX[kind]:>5} {'':>4} {'':>6} | > {args.timeout:g} s stopped; {what}")
            else:
                found = re.search(r"about ([0-9.eE+-]+) s", r["error"])
                what = (f"refused by the solver's cost model: est {float(found.group(1)):.3g} s (first round)"
                        if found else f"failed: {r['error']}")
                print(f"{kind:>9} {n:>7} {Q_MAX[kind]:>5} {'':>4} {'':>6} | {what}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
