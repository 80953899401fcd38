"""Command line: ``hjbsolve solve | simulate | validate | paper | article``.

``hjbsolve solve [params.toml]`` solves the paper's model (or the file's), prints exact vs
ε=0 vs ε-first-order quotes, and writes the solution (``.npz``, compact unless ``--full``) and a
plot (PNG). ``solve`` and ``simulate`` read the parameter files of :mod:`hjbsolve.config`;
``paper``, ``validate`` and ``article`` run fixed studies.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]


def _cmd_solve(args) -> int:
    from ._validation import check_int
    from .config import load_config
    from .expansion import expansion
    from .plotting import plot_quotes_vs_q, save_figure
    from .solution import Solution
    from .solver import default_q_max, solve
    from .solver.setup import MIN_Q_MAX

    cfg = load_config(args.params)
    if cfg.multi_asset:
        return _solve_assets(cfg, args)
    m = cfg.model
    opts = dict(cfg.solve)
    if args.q_max is not None:
        opts["q_max"] = args.q_max
    # the accuracy contract covers |q| <= q_max/2: twice the largest reported inventory, and at least
    # the library's default bound (hs.solver.default_q_max: the one the README and notebooks use)
    if "q_max" not in opts:
        opts["q_max"] = max(20, 2 * max(abs(x) for x in cfg.q), default_q_max(m, opts.get("s_range")))
    opts["q_max"] = check_int("q_max", opts["q_max"], ge=MIN_Q_MAX)
    if not any(abs(x) < opts["q_max"] for x in cfg.q):
        raise ValueError(f"[report] q = {cfg.q}: no inventory with |q| < q_max={opts['q_max']}")
    t0 = time.perf_counter()
    sol = solve(m, progress=not args.no_progress, **opts)
    wall = time.perf_counter() - t0
    q = np.asarray([x for x in cfg.q if abs(x) < sol.q_max], dtype=int)
    if q.size < len(cfg.q):
        print(f"[report] q: inventories with |q| >= q_max={sol.q_max} omitted")
    t, s = cfg.t, cfg.s0
    out = Path(args.out)
    print(f"hjbsolve solve: {m.replace(regimes=None)}" + ("" if m.regimes is None else
          f" with {m.regimes.n} regimes {list(m.regimes.names)} (fields {list(m.regimes.fields())})"))
    print(f"grid: q_max={sol.q_max}, n_s={sol.info['n_s']}, steps={sol.info['n_steps']}, "
          f"scheme={sol.info['scheme']}, solved in {wall:.2f} s")
    print(f"quotes at t={t:g}, s={s:g}  (δ⁺ = ask − s, δ⁻ = s − bid)")
    if m.regimes is None:
        policies = _report_vs_closed_forms(sol, expansion(m, order=0), expansion(m, order=1), t, q, s)
    else:
        policies = _report_regimes(sol, m.regimes, t, q, s)
    replaced = [str(f) for f in (out / "solution.npz", out / "quotes_vs_q.png") if f.exists()]
    if replaced:
        print(f"replacing {', '.join(replaced)}")
    npz = sol.save(out / "solution.npz", compact=not args.full)
    qq = np.arange(-min(sol.q_max - 1, max(abs(q).max(), 10)), min(sol.q_max - 1, max(abs(q).max(), 10)) + 1)
    ax = plot_quotes_vs_q(policies, t, s, qq)
    png = save_figure(ax, out / "quotes_vs_q.png")
    what = ("the whole grid" if args.full else
            f"{Solution.load(npz).info['stored']}, within the solve's accuracy; --full: the whole grid")
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.2g} MB: {what}) and {png}")
    return 0


def _solve_assets(cfg, args) -> int:
    """``hjbsolve solve`` of an ``[assets]`` file: exact vs order-0 vs order-1 quotes per asset at the
    ``[report]`` inventory vectors (the quotes do not depend on the prices), ``solution.npz`` (the box;
    compact unless ``--full``) and, for two assets, ``iso_risk.png``."""
    from ._validation import check_int
    from .expansion import expansion
    from .plotting import plot_iso_risk, save_figure
    from .solution import Solution
    from .solver import default_q_max, solve
    from .solver.setup import MIN_Q_MAX

    m = cfg.model
    M = m.n_assets
    q = np.asarray(cfg.q, dtype=int)
    opts = dict(cfg.solve)
    if args.q_max is not None:
        opts["q_max"] = args.q_max
    if "q_max" not in opts:       # each asset's own default bound, or twice its largest reported |q_i|
        opts["q_max"] = [max(4, 2 * int(np.abs(q[:, i]).max()), default_q_max(m.asset_model(i))) for i in range(M)]
    bounds = opts["q_max"] if isinstance(opts["q_max"], list) else [opts["q_max"]] * M
    bounds = [check_int(f"q_max[{i}]", b, ge=MIN_Q_MAX) for i, b in enumerate(bounds)]
    inside = np.all(np.abs(q) < np.array(bounds), axis=1)
    if not inside.any():
        raise ValueError(f"[report] q = {cfg.q}: no inventory vector with |q_i| < q_max_i = {bounds}")
    t0 = time.perf_counter()
    sol = solve(m, progress=not args.no_progress, **opts)
    wall = time.perf_counter() - t0
    if not inside.all():
        print(f"[report] q: inventory vectors with some |q_i| >= q_max_i = {bounds} omitted")
    q, t, zero = q[inside], cfg.t, np.zeros(M)
    ex0, ex1 = expansion(m, order=0), expansion(m, order=1)
    out = Path(args.out)
    print(f"hjbsolve solve: {M} assets, A={list(m.A)}, k={list(m.k)}, z={list(m.z)}, alpha={list(m.alpha)}, "
          f"cov={m.cov.tolist()}, drift={m.drifts.tolist()}, T={m.T:g}, eps={m.eps:g}, eta={m.eta:g}, nu={m.nu:g}")
    print(f"grid: q_max={list(sol.q_max)} ({int(np.prod(sol.inventory_shape))} cells), method={sol.info['method']}"
          + (f", steps={sol.info['n_steps']}, scheme={sol.info['scheme']}" if "n_steps" in sol.info else "")
          + f", solved in {wall:.2f} s")
    print(f"quotes at t={t:g} per asset (δ⁺ = ask − s_i, δ⁻ = s_i − bid; independent of the prices)")
    e, z0, z1 = sol.quotes(t, q, np.zeros(q.shape)), ex0.quotes(t, q), ex1.quotes(t, q)
    head = (f"{'q':>14} {'asset':>5} | {'exact δ⁺':>10} {'exact δ⁻':>10} | {'ε⁰ δ⁺':>10} {'ε⁰ δ⁻':>10} | "
            f"{'ε¹ δ⁺':>10} {'ε¹ δ⁻':>10} | {'|err ε⁰|':>9} {'|err ε¹|':>9}")
    print(head)
    print("-" * len(head))
    for r, qq in enumerate(q):
        for i in range(M):
            err0 = max(abs(z0[0][r, i] - e[0][r, i]), abs(z0[1][r, i] - e[1][r, i]))
            err1 = max(abs(z1[0][r, i] - e[0][r, i]), abs(z1[1][r, i] - e[1][r, i]))
            label = str(tuple(int(x) for x in qq)) if i == 0 else ""
            print(f"{label:>14} {i:>5d} | {e[0][r, i]:10.6f} {e[1][r, i]:10.6f} | {z0[0][r, i]:10.6f} "
                  f"{z0[1][r, i]:10.6f} | {z1[0][r, i]:10.6f} {z1[1][r, i]:10.6f} | {err0:9.2e} {err1:9.2e}")
    g = float(sol.value(t, [0] * M, zero))
    print(f"value v(t={t:g}, q=0) = {g:.6f}   (order 0: {float(ex0.value(t, [0] * M, zero)):.6f}, "
          f"order 1: {float(ex1.value(t, [0] * M, zero)):.6f})")
    files = [out / "solution.npz"] + ([out / "iso_risk.png"] if M == 2 else [])
    replaced = [str(f) for f in files if f.exists()]
    if replaced:
        print(f"replacing {', '.join(replaced)}")
    npz = sol.save(files[0], compact=not args.full)
    what = ("the whole box" if args.full else
            f"{Solution.load(npz).info['stored']}, within the solve's accuracy; --full: the whole box")
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.2g} MB: {what})"
          + (f" and {save_figure(plot_iso_risk(sol, t), files[1])}" if M == 2 else " (iso_risk.png: two assets only)"))
    return 0


def _report_vs_closed_forms(sol, ex0, ex1, t, q, s) -> dict:
    """Print the exact quotes next to the order-0 and order-1 closed forms; the policies to plot."""
    e = sol.quotes(t, q, s)
    z0 = ex0.quotes(t, q, s)
    z1 = ex1.quotes(t, q, s)
    head = f"{'q':>6} | {'exact δ⁺':>10} {'exact δ⁻':>10} | {'ε⁰ δ⁺':>10} {'ε⁰ δ⁻':>10} | {'ε¹ δ⁺':>10} {'ε¹ δ⁻':>10} | {'|err ε⁰|':>9} {'|err ε¹|':>9}"
    print(head)
    print("-" * len(head))
    for i, qq in enumerate(q):
        err0 = max(abs(z0[0][i] - e[0][i]), abs(z0[1][i] - e[1][i]))
        err1 = max(abs(z1[0][i] - e[0][i]), abs(z1[1][i] - e[1][i]))
        print(f"{qq:>6d} | {e[0][i]:10.6f} {e[1][i]:10.6f} | {z0[0][i]:10.6f} {z0[1][i]:10.6f} | "
              f"{z1[0][i]:10.6f} {z1[1][i]:10.6f} | {err0:9.2e} {err1:9.2e}")
    v = sol.value(t, 0, s)
    print(f"value v_0(t={t:g}, s={s:g}) = {float(v):.6f}   (order 0: {float(ex0.value(t, 0, s)):.6f}, "
          f"order 1: {float(ex1.value(t, 0, s)):.6f})")
    return {"exact": sol, "order 0": ex0, "order 1": ex1}


class _RegimeQuotes:
    """One regime of a regime solution as a policy to plot (``quotes(t, q, s)``)."""

    def __init__(self, sol, regime: int):
        self.sol, self.regime = sol, regime

    def quotes(self, t, q, s):
        return self.sol.quotes(t, q, s, regime=self.regime)


#: Most regimes drawn in quotes_vs_q.png (evenly spread over the chain; the table prints them all).
_PLOTTED_REGIMES = 4


def _report_regimes(sol, chain, t, q, s) -> dict:
    """Print the exact quotes and value of every regime; the policies to plot."""
    print(f"{chain.n} market regimes (exact quotes; the closed forms with the chain: hs.expansion(model, order), "
          f"queried with regime=r); π = stationary probability")
    pi = chain.stationary()
    fields = chain.fields()
    width = max(8, *(len(n) for n in chain.names))
    head = f"{'regime':>{width}} {'π':>6} | {'q':>5} | {'δ⁺':>10} {'δ⁻':>10} {'spread':>10} | {'v_q':>12}"
    print(head)
    print("-" * len(head))
    for r, name in enumerate(chain.names):
        dp, dm = sol.quotes(t, q, s, regime=r)
        v = sol.value(t, q, s, regime=r)
        for i, qq in enumerate(q):
            label = (f"{name:>{width}} {pi[r]:6.3f}" if i == 0 else " " * (width + 7))
            print(f"{label} | {qq:>5d} | {dp[i]:10.6f} {dm[i]:10.6f} {dp[i] + dm[i]:10.6f} | {v[i]:12.6f}")
        if fields:
            print(" " * (width + 7) + " | " + ", ".join(f"{k} = {vals[r]:g}" for k, vals in fields.items()))
    shown = np.unique(np.linspace(0, chain.n - 1, min(chain.n, _PLOTTED_REGIMES)).round().astype(int))
    if shown.size < chain.n:
        print(f"quotes_vs_q.png shows regimes {[chain.names[r] for r in shown]} of {chain.n}")
    return {f"regime {chain.names[r]}": _RegimeQuotes(sol, int(r)) for r in shown}


_POLICIES = ("optimal", "order0", "order1", "constant", "skew")


def _cmd_simulate(args) -> int:
    from .config import load_config
    from .montecarlo import pnl_statistics, price_range, simulate
    from .plotting import plot_day, plot_pnl_density, save_figure
    from .solver import default_q_max, solve

    if not (math.isfinite(args.half_spread) and abs(args.half_spread) <= 1e6):
        raise ValueError(f"--half-spread must be a finite number of price units with |δ| <= 1e6, got {args.half_spread}")
    cfg = load_config(args.params)
    m, s0 = cfg.model, cfg.s0
    if cfg.multi_asset:                         # an [assets] table
        if args.regime0 is not None:
            raise ValueError(f"--regime0 applies to a model with [regimes]; an [assets] model has none (got "
                             f"{args.regime0!r})")
        return _simulate_assets(m, args, s0, cfg.solve)
    regime0 = 0
    if m.regimes is not None:                   # checked before any solve
        from .regimes import resolve_regime

        r0 = 0 if args.regime0 is None else args.regime0
        if isinstance(r0, str) and r0 not in m.regimes.names and r0.isdigit():
            r0 = int(r0)                          # an index given on the command line
        regime0 = resolve_regime(m.regimes, r0)
    elif args.regime0 is not None:
        raise ValueError(f"--regime0 applies to a model with [regimes]; this one has none (got {args.regime0!r})")
    if args.policy == "optimal":
        opts = {"tol": 1e-4, "value_rtol": 1e-5, **cfg.solve}
        if args.q_max is not None:
            opts["q_max"] = args.q_max
        if not m.price.is_martingale and "s_range" not in cfg.solve:
            opts["s_range"] = price_range(m, s0, args.paths)    # every simulated day stays inside
        opts.setdefault("q_max", default_q_max(m, opts.get("s_range")))
        policy = solve(m, progress=not args.no_progress, **opts)
    else:
        policy = _fixed_policy(m, args)
    res = simulate(m, policy, n_paths=args.paths, n_steps=args.steps, s0=s0, seed=args.seed, regime0=regime0,
                   progress=not args.no_progress, record=1,
                   estimator="control" if args.paths >= 40 else "plain")   # the controls are fitted on half the paths
    out = Path(args.out)
    print(f"hjbsolve simulate: {m}")
    print(f"policy {args.policy}: {args.paths} days, {args.steps} steps, seed {args.seed}, "
          f"{res.info['wall_time']:.2f} s")
    print(f"objective, {res.estimator} estimate: {res.mean:.6g} ± {res.stderr:.2g} (1 s.e.)"
          + ("; the table below gives plain sample statistics of the simulated days (their mean has a larger s.e.)"
             if res.estimator != "plain" else ""))
    rows = [("objective", res.objective), ("PnL", res.pnl), ("final inventory", res.q_final),
            ("fills (ask + bid)", res.n_ask + res.n_bid)]
    if m.regimes is not None:
        occ = ", ".join(f"{name} {f:.3f}" for name, f in zip(m.regimes.names, res.regime_occupancy))
        print(f"regimes: started in {m.regimes.names[regime0]!r}; mean fraction of the day in each: {occ}; "
              f"{float(np.mean(res.n_switches)):.3g} switches a day")
    head = f"{'':>18} | {'mean':>11} {'std':>10} {'1%':>10} {'50%':>10} {'99%':>10}"
    print(head)
    print("-" * len(head))
    for name, x in rows:
        st = pnl_statistics(np.asarray(x, float))
        print(f"{name:>18} | {st['mean']:11.5g} {st['std']:10.4g} {st['q0.01']:10.5g} {st['q0.5']:10.5g} "
              f"{st['q0.99']:10.5g}")
    files = [out / "simulation.npz", out / "day.png", out / "objective_density.png"]
    replaced = [str(f) for f in files if f.exists()]
    if replaced:
        print(f"replacing {', '.join(replaced)}")
    res.save(files[0])
    save_figure(plot_day(res), files[1])
    save_figure(plot_pnl_density({args.policy: res}), files[2])
    print(f"wrote {', '.join(map(str, files))}")
    return 0


def _fixed_policy(m, args):
    """The policy of ``--policy order0|order1|constant|skew`` for model ``m`` (one asset or several)."""
    from .expansion import expansion
    from .policies import ConstantSpread, InventorySkew

    if args.policy in ("order0", "order1"):
        return expansion(m, order=int(args.policy[-1]))
    if args.policy == "constant":
        return ConstantSpread(args.half_spread)
    if not (math.isfinite(args.skew) and args.skew >= 0):
        raise ValueError(f"--skew must be a finite number >= 0 (the widening per unit of inventory), got {args.skew}")
    return InventorySkew(args.half_spread, args.skew)


def _simulate_assets(m, args, s0, solve_opts: dict) -> int:
    """``hjbsolve simulate`` for a :class:`~hjbsolve.MultiAssetModel` (an ``[assets]`` parameter file): the
    policy (``optimal``: solved on the box — the file's ``[solve]`` options, ``--q-max`` for every asset
    or the solver's default; by default the matrix exponential when all ``k`` are equal, else finite
    differences; ``order0``/``order1``: the
    closed forms of §5; ``constant``/``skew``: the heuristic on every asset, each by its own inventory)
    simulated from flat inventories at the mid-prices ``[assets] s0``; its exact value on the box next
    to the Monte Carlo estimate, a per-asset table, ``simulation.npz``, the objective density and the
    final inventories (over the iso-risk ellipses for two assets)."""
    from .montecarlo import pnl_statistics, simulate
    from .plotting import plot_final_inventories, plot_pnl_density, save_figure
    from .policies import OnBox
    from .solver import evaluate, solve

    M = m.n_assets
    # the exact matrix exponential when every asset and side has one k (Brownian prices), else finite
    # differences at the accuracy `hjbsolve simulate` uses for one asset
    one_k = len({k for i in range(M) for _, k in m.side_params(i)}) == 1
    opts = dict(solve_opts)
    if args.q_max is not None:
        opts["q_max"] = args.q_max
    if isinstance(opts.get("q_max"), int):
        opts["q_max"] = [opts["q_max"]] * M
    accuracy = {"tol": 1e-4, "value_rtol": 1e-5}
    bar = not args.no_progress
    if args.policy == "optimal":
        if "method" not in opts:
            opts.update({"method": "expm"} if one_k and not ({"tol", "value_rtol", "n_steps", "scheme"} & set(opts))
                        else accuracy)
        if opts.get("method", "fd") == "fd":
            opts = {**accuracy, **opts}
        policy = solve(m, progress=bar, **opts)
        exact = policy
    else:
        policy = _fixed_policy(m, args)
        opts.pop("method", None)                 # a fixed policy: its verification equation, by finite differences
        exact = evaluate(m, policy, progress=bar, **{**accuracy, **opts})
        policy = OnBox(policy, exact.q_max)       # the policy the exact value is of: the box's limit rule
    q0 = [0] * M
    res = simulate(m, policy, n_paths=args.paths, n_steps=args.steps, s0=list(s0), q0=q0, seed=args.seed,
                   progress=bar, estimator="control" if args.paths >= 40 else "plain")
    v = float(exact.value(0.0, q0, list(s0)))
    print(f"hjbsolve simulate: {M} assets, mid-prices from {list(s0)}, exact values on the box q_max="
          f"{list(exact.q_max)}")
    print(f"policy {args.policy}: {args.paths} days, {args.steps} steps, seed {args.seed}, "
          f"{res.info['wall_time']:.2f} s")
    print(f"objective, {res.estimator} estimate: {res.mean:.6g} ± {res.stderr:.2g} (1 s.e.); exact value {v:.6g} "
          f"(z-score {(res.mean - v) / res.stderr if res.stderr > 0 else 0.0:+.2f})")
    if args.policy != "optimal":
        print(f"the policy quotes on the box q_max={list(exact.q_max)} with its limit rule (no ask at -Q_i, no bid at "
              f"+Q_i), as its exact value; days at the box's edge: "
              f"{int(np.sum(np.any((res.q_max >= exact.q_max) | (res.q_min <= -np.array(exact.q_max)), axis=1)))}")
    head = f"{'':>22} | {'mean':>11} {'std':>10} {'1%':>10} {'50%':>10} {'99%':>10}"
    print(head)
    print("-" * len(head))
    rows = [("objective", res.objective), ("PnL", res.pnl)]
    for i in range(M):
        rows += [(f"final inventory {i}", res.q_final[:, i]),
                 (f"fills {i} (ask + bid)", res.n_ask[:, i] + res.n_bid[:, i])]
    for name, x in rows:
        st = pnl_statistics(np.asarray(x, float))
        print(f"{name:>22} | {st['mean']:11.5g} {st['std']:10.4g} {st['q0.01']:10.5g} {st['q0.5']:10.5g} "
              f"{st['q0.99']:10.5g}")
    out = Path(args.out)
    files = [out / "simulation.npz", out / "objective_density.png", out / "final_inventories.png"]
    replaced = [str(f) for f in files if f.exists()]
    if replaced:
        print(f"replacing {', '.join(replaced)}")
    out.mkdir(parents=True, exist_ok=True)
    res.save(files[0])
    save_figure(plot_pnl_density({args.policy: res}), files[1])
    save_figure(plot_final_inventories(res, m), files[2])
    print(f"wrote {', '.join(map(str, files))}")
    return 0


def _cmd_paper(args) -> int:
    from .validation.paper_section4 import run_paper_section4

    readings = tuple(r.strip() for r in args.readings.split(",") if r.strip())
    bad = set(readings) - {"printed", "per-step"}
    if bad or not readings:
        raise ValueError(f"--readings must be a comma-separated subset of printed,per-step; got {args.readings!r}")
    path = run_paper_section4(args.out, n_paths=args.paths, n_steps=args.steps, seed=args.seed,
                              progress=not args.no_progress, readings=readings, tol=args.tol)
    print(f"wrote {path}")
    return 0


def _cmd_validate(args) -> int:
    from .validation.suite import run_validation

    path = run_validation(args.out, quick=args.quick, progress=not args.no_progress)
    print(f"wrote {path}")
    return 0


def _cmd_article(args) -> int:
    from .article import write_article_report

    path = write_article_report(args.out, seed=args.seed, n_seeds=args.seeds)
    print(f"wrote {path}")
    return 0


def _check_out(out: str) -> None:
    """Create the output folder and check that it is writable, before any work starts (``OSError`` otherwise)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="hjbsolve", description="Optimal market making (Fodra & Labadie 2013), solved exactly.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    params_help = ("TOML parameter file: tables [price], [model], [regimes] or [assets], [solve], [report]; every "
                   "key is optional "
                   "(README, 'Parameter files'; default: the paper's §4 parameters)")
    fixed = "It runs a fixed study and takes no parameter file."
    s = sub.add_parser("solve", help="solve the HJB system; compare with the paper's closed forms",
                       description="Solve the HJB system of the parameter file's model, print exact vs order-0 vs "
                                   "order-1 quotes at the initial price [model] s0, write solution.npz and "
                                   "quotes_vs_q.png. With [assets] (several assets): the quotes per asset (they do "
                                   "not depend on the prices), the box in solution.npz and, for two assets, "
                                   "iso_risk.png.")
    s.add_argument("params", nargs="?", default=None, help=params_help)
    s.add_argument("--out", default="hjbsolve-out", help="output folder (default: hjbsolve-out)")
    s.add_argument("--q-max", type=int, default=None, help="inventory bound, overrides [solve] q_max (default: "
                   "hs.solver.default_q_max, or twice the largest [report] |q| if larger; the accuracy contract "
                   "covers |q| <= q_max/2)")
    s.add_argument("--full", action="store_true", help="store the whole solved grid in solution.npz (default: "
                   "the inventories |q| <= q_max/2 and every other time and price node, within the solve's "
                   "accuracy; about 8x smaller)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_solve)
    sm = sub.add_parser("simulate", help="Monte Carlo of a policy: PnL table, one simulated day, objective density",
                        description="Simulate trading days from [model] s0 under a policy (the optimal one solved "
                                    "with the file's [solve] options; default tol=1e-4, value_rtol=1e-5 and the "
                                    "s_range every simulated day stays in). With [assets]: from [assets] s0, on the "
                                    "[solve] box (a fixed policy with the box's limit rule), next to the policy's "
                                    "exact value on that box; final_inventories.png instead of day.png.")
    sm.add_argument("params", nargs="?", default=None, help=params_help)
    sm.add_argument("--policy", choices=_POLICIES, default="optimal",
                    help="optimal (exact solve), order0/order1 (closed forms), constant (--half-spread), "
                         "skew (--half-spread, --skew) (default: optimal)")
    sm.add_argument("--half-spread", type=float, default=1.0, help="half-spread of constant/skew, price units (default 1)")
    sm.add_argument("--skew", type=float, default=0.01, help="widening per unit of inventory of skew (default 0.01)")
    sm.add_argument("--paths", type=int, default=2000, help="simulated days (default 2000)")
    sm.add_argument("--steps", type=int, default=1000, help="time steps of a day (default 1000)")
    sm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sm.add_argument("--regime0", default=None,
                    help="regime at the start of each day, an index or a name of [regimes] (default: the first)")
    sm.add_argument("--q-max", type=int, default=None,
                    help="inventory bound of the optimal solve, overrides [solve] q_max (default: "
                         "hs.solver.default_q_max on the simulated price range)")
    sm.add_argument("--out", default="hjbsolve-out/simulate", help="output folder (default: hjbsolve-out/simulate)")
    sm.add_argument("--no-progress", action="store_true", help="no progress bars")
    sm.set_defaults(func=_cmd_simulate)
    pp = sub.add_parser("paper", help="reproduce the paper's §4 simulations (figures 2-7 and tables)",
                        description="Reproduce the paper's §4 (its own parameters, in both readings of its units). "
                                    + fixed)
    pp.add_argument("--paths", type=int, default=10_000, help="simulated days per policy (default 10000)")
    pp.add_argument("--steps", type=int, default=1000, help="time steps of a day (default 1000)")
    pp.add_argument("--seed", type=int, default=2013, help="random seed (default 2013)")
    pp.add_argument("--out", default="hjbsolve-out/paper", help="output folder (default: hjbsolve-out/paper)")
    pp.add_argument("--readings", default="printed,per-step",
                    help="readings of the paper's units: 'printed' (a, σ per day) and/or 'per-step' (per event) "
                         "(default: printed,per-step)")
    pp.add_argument("--tol", type=float, default=None,
                    help="quote tolerance of the solves, units of 1/k (default 1e-3; 1e-2 for a quick look)")
    pp.add_argument("--no-progress", action="store_true", help="no progress bars")
    pp.set_defaults(func=_cmd_paper)
    v = sub.add_parser("validate", help="how wrong are the closed forms: report.md, figures, results.json",
                       description="Measure the closed forms against the exact solver over a fixed grid of models "
                                   "(Brownian and OU, costs, ε, q, T). " + fixed)
    v.add_argument("--quick", action="store_true", help="reduced suite (3-5 minutes on 2 cores)")
    v.add_argument("--out", default="hjbsolve-out/validation", help="output folder (default: hjbsolve-out/validation)")
    v.add_argument("--no-progress", action="store_true", help="no progress bars")
    v.set_defaults(func=_cmd_validate)
    a = sub.add_parser("article", help="the linear price-impact article: scenarios, plots, checked statements",
                       description="The article's heuristic market maker with linear price impact (its own "
                                   "model and four scenarios, not the Fodra-Labadie model). " + fixed)
    a.add_argument("--out", default="hjbsolve-out/article", help="output folder (default: hjbsolve-out/article)")
    a.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    a.add_argument("--seeds", type=int, default=1000, help="seeds for the distributional checks (default 1000)")
    a.set_defaults(func=_cmd_article)
    return p


def main(argv=None) -> int:
    """Run a command; bad input, a failed solve or an unusable ``--out`` end in one line
    ``hjbsolve: error: ...`` on stderr and exit code 2 (no traceback)."""
    from .solver import NonFiniteError

    args = build_parser().parse_args(argv)
    try:
        _check_out(args.out)
        return args.func(args)
    except (ValueError, NonFiniteError, OSError) as e:
        print(f"hjbsolve: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
