"""Heuristic vs optimal: the article's inventory skew on the Fodra–Labadie market (issue 5, part 3).

The article (../shared/seeds/article-inventory-and-price-impact.md) quotes a base half-spread
and widens the side that would grow ``|q|`` by ``γ|q|``: :class:`hjbsolve.InventorySkew`. Here
that rule trades on the paper's §4 market (``hs.paper_model("brownian")`` and
``hs.paper_model("ou")``, ``S0 = 3000``, ``q0 = 0``) against the HJB-optimal policy
(:func:`hjbsolve.solve`):

* **Search by exact evaluation.** The expected objective of each heuristic is computed by
  :func:`hjbsolve.evaluate` (the policy's linear verification equation, same grids and scheme
  as the optimal solve), over a grid of ``γ`` for a few base half-spreads (the article's 0.5,
  the ε = 0 optimum ``1/k + α``, and a wider one). Around the best grid point the search is
  refined in ``log γ`` (bounded Brent) for every base, then jointly in ``(base, log γ)``
  (Nelder–Mead).
* **Confirmation by Monte Carlo** (:func:`hjbsolve.simulate`, one seed: common random numbers
  for every policy). Levels by the ``control`` estimator, paired differences
  (optimal − heuristic, heuristic − heuristic at γ = 0) by the ``compensated`` estimator; both
  are documented in :mod:`hjbsolve.montecarlo` as unbiased for every policy. The heuristic's
  quotes depend on ``q`` only and are re-set after every fill, so its simulation is exact at
  any number of grid steps.
* **The OU market needs no separate search.** A price-blind heuristic that is symmetric in
  ``q`` (``InventorySkew`` is) started at ``q0 = 0`` has ``E[Q_t] = 0`` with ``Q`` independent
  of ``S``, so ``E ∫ Q dS = ∫ E[Q_t] E[dS_t] = 0``, and the penalties depend on ``Q`` and ``σ``
  only: its expected objective on the OU market *equals* that on the Brownian market of the
  same ``σ``. The search therefore runs on the Brownian market, and the identity is checked
  by evaluating a few heuristics on the OU price grid as well (differences ~1e-12).

``run_heuristic_comparison(out_dir, quick=False)`` writes ``heuristic_objective.png`` and
``heuristic_inventory.png`` into ``out_dir`` and returns a JSON-serialisable dict (finite
numbers only) with a markdown fragment under ``"markdown"`` (its image links are relative to
``out_dir``).

Run: ``python -m hjbsolve.validation.heuristic [--quick] [--out DIR]`` (default ``./hjbsolve-out/heuristic``).
"""

from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np
from scipy import optimize
from tqdm import tqdm  # text bars (tqdm.auto warns in notebooks without ipywidgets)

import hjbsolve as hs
from hjbsolve.montecarlo import price_range
from hjbsolve.plotting import legend_outside, log_ticks
from hjbsolve.solver import BoundWarning
from hjbsolve.solver.setup import binding_q_max

from .report import check_finite, fmt, jsonable, md_table

__all__ = ["run_heuristic_comparison", "HeuristicSettings", "heuristic_value", "GammaSearch",
           "paired_difference", "inventory_ranges", "optimal_skew_slopes", "DEFAULT_SEED"]

S0 = hs.PAPER_S0
DEFAULT_SEED = 2024
MARKETS = ("brownian", "ou")
PNL_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
INV_QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)


# ============================================================================ settings
@dataclass(frozen=True)
class HeuristicSettings:
    """How much :func:`run_heuristic_comparison` computes (never what the answer is).

    ``base_names`` pick base half-spreads from :func:`base_half_spreads`. ``fd_steps`` time
    steps are used by every solve and evaluation (both markets, same grids for optimal and
    heuristic; the OU optimum is also solved with twice as many for a Richardson value); the
    value error they leave (~1e-5 Brownian, ~1e-2 OU at 40 steps) is far below the gaps measured.
    """

    quick: bool
    gammas: tuple = (0.0,) + tuple(float(g) for g in np.logspace(-4, -1, 7))
    base_names: tuple = ("article", "eps0", "wide")
    fd_steps: int = 40
    q_max_heuristic: int = 150      # the heuristic's own inventory limit and its grid bound
    q_max_ou: int = 300             # the OU optimal solve (doubled while paths come within 80 %)
    refine_xatol: float = 0.01      # log10 γ
    refine_maxiter: int = 20
    joint_maxfev: int = 30          # Nelder–Mead evaluations in (base, log10 γ); 0: skipped
    n_paths: int = 2000             # optimal, best heuristic, γ = 0
    n_paths_grid: int = 1000        # each γ of the grid (base 1/k + α)
    mc_steps: int = 100

    @classmethod
    def make(cls, quick: bool) -> "HeuristicSettings":
        if quick:
            return cls(quick=True)
        return cls(quick=False,
                   gammas=(0.0,) + tuple(float(g) for g in np.logspace(-5, 0, 21)),
                   fd_steps=80, q_max_heuristic=200, q_max_ou=400,
                   refine_xatol=0.002, refine_maxiter=40, joint_maxfev=80,
                   n_paths=20000, n_paths_grid=5000, mc_steps=400)


def base_half_spreads(model: hs.Model) -> dict:
    """Candidate base half-spreads: the article's 0.5, the ε = 0 optimum ``1/k + α``, and that plus ``1/(2k)``."""
    opt0 = 1.0 / model.k + model.alpha
    return {"article": 0.5, "eps0": opt0, "wide": opt0 + 0.5 / model.k}


# ============================================================================ exact evaluation
def heuristic_value(model: hs.Model, half_spread: float, gamma: float, q_max: int, n_steps: int,
                    s_range=None) -> float:
    """Expected objective of ``InventorySkew(half_spread, gamma, q_max)`` from ``(0, q=0, S0)``.

    Exact policy evaluation (:func:`hjbsolve.evaluate`) on an inventory grid bounded by the
    policy's own limit ``q_max``, with ``n_steps`` time steps; ``s_range`` only for an OU price.
    """
    pol = hs.InventorySkew(half_spread, gamma, q_max)
    with warnings.catch_warnings():
        # the grid bound is the policy's own inventory limit (it stops quoting there): the
        # BoundWarning about a bound that clips the optimal inventory does not apply
        warnings.simplefilter("ignore", BoundWarning)
        return _heuristic_value(model, pol, q_max, n_steps, s_range)


def _heuristic_value(model, pol, q_max, n_steps, s_range) -> float:
    if s_range is None and model.price.is_martingale:
        # one price node: the kernels' parallel loop over price nodes has one iteration, and
        # its threading overhead (~10 ms per step on a busy machine) would dominate
        with _numba_threads(1):
            ev = hs.evaluate(model, pol, q_max=q_max, n_steps=n_steps)
    else:
        ev = hs.evaluate(model, pol, q_max=q_max, s_range=s_range, n_steps=n_steps)
    return float(ev.value(0.0, 0, S0))


@contextmanager
def _numba_threads(n: int):
    """Run the enclosed numba kernels on ``n`` threads (restored afterwards)."""
    old = numba.get_num_threads()
    numba.set_num_threads(min(n, old))
    try:
        yield
    finally:
        numba.set_num_threads(old)


class GammaSearch:
    """Cached exact values of the heuristic family on one model; grid and refined searches.

    Parameters
    ----------
    model : Model
        A market with a price-independent value for price-blind policies (Brownian).
    q_max, n_steps : int
        Inventory limit (policy and grid) and time steps of every evaluation.
    bar : tqdm, optional
        Updated once per evaluation.
    """

    def __init__(self, model: hs.Model, q_max: int, n_steps: int, bar=None):
        self.model, self.q_max, self.n_steps, self.bar = model, q_max, n_steps, bar
        self.cache: dict = {}

    def value(self, b: float, g: float) -> float:
        key = (round(float(b), 12), round(float(g), 15))
        if key not in self.cache:
            self.cache[key] = heuristic_value(self.model, b, g, self.q_max, self.n_steps)
            if self.bar is not None:
                self.bar.update(1)
        return self.cache[key]

    def grid(self, b: float, gammas) -> np.ndarray:
        return np.array([self.value(b, g) for g in gammas])

    def refine(self, b: float, gammas, values, xatol: float, maxiter: int) -> tuple[float, float]:
        """Best ``γ`` for base ``b`` near the best grid point: bounded Brent in ``log10 γ``.

        Brackets ``[γ_{i−1}, γ_{i+1}]`` around the best grid index ``i`` (a bracket touching
        ``γ = 0`` is searched in ``γ`` itself). Returns ``(γ, value)``, the best point seen
        (grid included).
        """
        gammas = np.asarray(gammas, float)
        i = int(np.argmax(values))
        lo, hi = gammas[max(i - 1, 0)], gammas[min(i + 1, gammas.size - 1)]
        best = (float(gammas[i]), float(values[i]))
        if hi <= lo:
            return best
        if lo > 0:
            f = lambda x: -self.value(b, 10.0 ** x)  # noqa: E731
            r = optimize.minimize_scalar(f, bounds=(math.log10(lo), math.log10(hi)), method="bounded",
                                         options={"xatol": xatol, "maxiter": maxiter})
            cand = (10.0 ** float(r.x), -float(r.fun))
        else:  # bracket [0, γ_1]: linear in γ, tolerance relative to the bracket
            f = lambda x: -self.value(b, x)  # noqa: E731
            r = optimize.minimize_scalar(f, bounds=(0.0, hi), method="bounded",
                                         options={"xatol": hi * xatol, "maxiter": maxiter})
            cand = (float(r.x), -float(r.fun))
        return cand if cand[1] > best[1] else best

    def joint(self, b0: float, g0: float, maxfev: int) -> tuple[float, float, float]:
        """Nelder–Mead in ``(b, log10 γ)`` from ``(b0, g0)`` (``g0 > 0``); returns ``(b, γ, value)``."""
        f = lambda x: -self.value(x[0], 10.0 ** x[1])  # noqa: E731
        x0 = np.array([b0, math.log10(g0)])
        simplex = np.array([x0, x0 + [0.02, 0.0], x0 + [0.0, 0.15]])
        r = optimize.minimize(f, x0, method="Nelder-Mead",
                              options={"maxfev": maxfev, "initial_simplex": simplex, "xatol": 1e-4, "fatol": 1e-9})
        return float(r.x[0]), 10.0 ** float(r.x[1]), -float(r.fun)


# ============================================================================ Monte Carlo helpers
def paired_difference(res_a, res_b, estimator: str = "compensated") -> tuple[float, float]:
    """Mean and standard error of ``a − b`` per path (common random numbers: same seed and paths)."""
    if res_a.n_paths != res_b.n_paths or res_a.settings["seed"] != res_b.settings["seed"]:
        raise ValueError("paired differences need two runs with the same seed and number of paths")
    d = res_a.estimator_values(estimator) - res_b.estimator_values(estimator)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def inventory_ranges(res) -> dict:
    """Quantiles over paths of the intraday minimum and maximum inventory, and of ``Q_T``."""
    out = {"reach": int(max(abs(int(res.q_min.min())), abs(int(res.q_max.max())))),
           "mean_abs_q_final": float(np.abs(res.q_final).mean()),
           "mean_inventory_integral": float(res.inventory_integral.mean())}
    for name, arr in (("q_min", res.q_min), ("q_max", res.q_max), ("q_final", res.q_final)):
        for p, v in zip(INV_QUANTILES, np.quantile(arr, INV_QUANTILES)):
            out[f"{name}_q{p:g}"] = float(v)
    return out


def _mc_summary(res, exact: float | None, exact_error: float = 0.0) -> dict:
    m, se = res.estimate("control")
    out = {"mean": m, "stderr": se, "estimator": "control", "plain_mean": res.estimate("plain")[0],
           "plain_stderr": res.estimate("plain")[1], "pnl": res.statistics("pnl", quantiles=PNL_QUANTILES),
           "inventory": inventory_ranges(res), "fills_per_day": float(res.n_fills.mean()),
           "wall_time": float(res.info["wall_time"])}
    if exact is not None:
        out["exact"] = exact
        out["exact_error"] = exact_error
        u = math.hypot(se, exact_error)
        out["z_vs_exact"] = (m - exact) / u if u > 0 else 0.0
    return out


def optimal_skew_slopes(sol, s: float = S0, q_half: int = 20) -> dict:
    """Least-squares slopes ``dδ⁻/dq`` and ``dδ⁺/dq`` of the optimal quotes on ``|q| ≤ q_half``.

    At ``t = 0`` and ``t = T/2``; the heuristic's slopes are ``γ`` (bid, ``q > 0``) and ``−γ``
    (ask, ``q < 0``) on one side only and 0 on the other.
    """
    q = np.arange(-q_half, q_half + 1)
    out = {}
    for lab, t in (("t0", 0.0), ("tmid", 0.5 * sol.model.T)):
        ask, bid = sol.quotes(t, q, s)
        out[f"bid_{lab}"] = float(np.polyfit(q, bid, 1)[0])
        out[f"ask_{lab}"] = float(np.polyfit(q, ask, 1)[0])
        out[f"ask_q0_{lab}"] = float(ask[q_half])
        out[f"bid_q0_{lab}"] = float(bid[q_half])
    return out


# ============================================================================ the run
def _solve_ou(mo, st, n_paths, seed, log):
    """OU optimum on a price range that holds every path; ``q_max`` doubled while paths come within 80 %.

    Solved with ``fd_steps`` and ``2 fd_steps`` time steps: the finer solution trades in the
    simulation, and the value is Richardson-extrapolated (second order in Δt) with the error
    estimate ``|v_2n − v_n| / 3``. Returns ``(solution, result, s_range, q_max, value, error)``.
    """
    s_range = price_range(mo, S0, n_paths)
    Q = max(st.q_max_ou, binding_q_max(mo, s_range))    # a bound that does not clip the optimum
    for _ in range(4):
        sol = hs.solve(mo, q_max=Q, s_range=s_range, n_steps=2 * st.fd_steps)
        res = hs.simulate(mo, sol, n_paths=n_paths, n_steps=st.mc_steps, s0=S0, q0=0, seed=seed,
                          progress=False, estimator="control")
        reach = max(abs(int(res.q_min.min())), abs(int(res.q_max.max())))
        if reach < 0.8 * Q:
            break
        log(f"OU optimal inventory reached {reach} with q_max={Q}: solving again with {2 * Q}")
        Q *= 2
    else:  # pragma: no cover
        raise RuntimeError(f"OU optimal inventory still reaches {reach} at q_max={Q // 2}")
    coarse = hs.solve(mo, q_max=Q, s_range=s_range, n_steps=st.fd_steps)
    v2, v1 = float(sol.value(0.0, 0, S0)), float(coarse.value(0.0, 0, S0))
    return sol, res, s_range, Q, v2 + (v2 - v1) / 3.0, abs(v2 - v1) / 3.0


def run_heuristic_comparison(out_dir, quick: bool = False, progress: bool = True, seed: int = DEFAULT_SEED) -> dict:
    """Compare the article's inventory-skew heuristic with the HJB-optimal policy (issue 5, part 3).

    Parameters
    ----------
    out_dir : str or Path
        Folder for the figures (created).
    quick : bool
        8 values of ``γ``, 2000 paths (1000 per grid ``γ``), 40 time steps: about 15 s on 2
        cores. Otherwise 22 values of ``γ``, 20,000 paths (5000 per grid ``γ``), 80 time steps,
        finer refinements: under 4 minutes. Both use three base half-spreads and the joint refinement.
    progress : bool
        tqdm progress bar (one tick per evaluation or simulation).
    seed : int
        Monte Carlo seed, shared by every policy (common random numbers).

    Returns
    -------
    dict
        JSON-serialisable, finite numbers only: ``settings``, ``markets`` (per market: the
        optimal policy's exact value and Monte Carlo summary, the ``γ`` grid per base with
        exact values, the best ``γ`` per base and overall, the heuristic at ``γ = 0``, paired
        gaps), ``ou_identity`` (the check described in the module docstring), ``figures``,
        ``timings`` and ``markdown`` (a report fragment; image links relative to ``out_dir``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    st = HeuristicSettings.make(quick)
    t_start = time.perf_counter()
    timings = {}
    notes = []
    log = (lambda msg: (notes.append(msg), tqdm.write(msg))) if progress else notes.append
    mb, mo = hs.paper_model("brownian"), hs.paper_model("ou")
    bases = {k: v for k, v in base_half_spreads(mb).items() if k in st.base_names}
    Qh, n_fd = st.q_max_heuristic, st.fd_steps
    mc_kw = dict(n_steps=st.mc_steps, s0=S0, q0=0, seed=seed, progress=False, estimator="control")
    bar = tqdm(desc="heuristic vs optimal", unit="run", disable=not progress, leave=False)

    # ---- 1. exact search on the Brownian market (valid for OU by the identity)
    t0 = time.perf_counter()
    search = GammaSearch(mb, Qh, n_fd, bar)
    grid = {name: search.grid(b, st.gammas) for name, b in bases.items()}
    refined = {name: search.refine(b, st.gammas, grid[name], st.refine_xatol, st.refine_maxiter)
               for name, b in bases.items()}
    best_name = max(refined, key=lambda n: refined[n][1])
    best_b, (best_g, best_v) = bases[best_name], refined[best_name]
    if st.joint_maxfev > 0 and best_g > 0:
        jb, jg, jv = search.joint(best_b, best_g, st.joint_maxfev)
        if jv > best_v:  # the jointly refined base joins the table with its own γ grid
            bases["joint"] = jb
            grid["joint"] = search.grid(jb, st.gammas)
            refined["joint"] = (jg, jv)
            best_b, best_g, best_v, best_name = jb, jg, jv, "joint"
    timings["search"] = time.perf_counter() - t0
    timings["n_evaluations"] = len(search.cache)

    # ---- 2. optimal policies (same inventory bound and steps as the heuristic's evaluation)
    t0 = time.perf_counter()
    sol_b = hs.solve(mb, q_max=Qh, n_steps=n_fd)
    # the Brownian optimum's value error: against the matrix-exponential solution (hs.exact_brownian)
    err_b = abs(float(sol_b.value(0.0, 0, S0)) - float(hs.exact_brownian(mb, Qh).value(0.0, 0, S0)))
    bar.update(1)
    sol_o, res_opt_o, s_range_o, Q_o, v_ou, err_ou = _solve_ou(mo, st, st.n_paths, seed, log)
    bar.update(2)
    v_opt = {"brownian": float(sol_b.value(0.0, 0, S0)), "ou": v_ou}
    v_err = {"brownian": err_b, "ou": err_ou}
    timings["optimal_solves"] = time.perf_counter() - t0

    # ---- 3. the identity: price-blind heuristics are worth the same on the OU market
    t0 = time.perf_counter()
    b_eps0 = base_half_spreads(mb)["eps0"]
    checks = [(b_eps0, 0.0), (best_b, best_g)]
    ident = []
    for b, g in checks:
        v_h = heuristic_value(mo, b, g, Qh, n_fd, s_range=s_range_o)
        bar.update(1)
        ident.append({"half_spread": b, "gamma": g, "value_brownian": search.value(b, g), "value_ou": v_h,
                      "abs_diff": abs(v_h - search.value(b, g))})
    ou_identity = {"checks": ident, "max_abs_diff": max(c["abs_diff"] for c in ident)}
    timings["ou_identity"] = time.perf_counter() - t0

    # ---- 4. Monte Carlo, common random numbers per market
    t0 = time.perf_counter()
    heur_best = hs.InventorySkew(best_b, best_g, Qh)
    heur_zero = hs.InventorySkew(b_eps0, 0.0, Qh)
    markets = {}
    grid_runs = {}
    for mk, model in (("brownian", mb), ("ou", mo)):
        r_opt = hs.simulate(model, sol_b, n_paths=st.n_paths, **mc_kw) if mk == "brownian" else res_opt_o
        bar.update(1)
        r_best = hs.simulate(model, heur_best, n_paths=st.n_paths, **mc_kw)
        r_zero = hs.simulate(model, heur_zero, n_paths=st.n_paths, **mc_kw)
        bar.update(2)
        runs = []
        for g in st.gammas:
            r = hs.simulate(model, hs.InventorySkew(b_eps0, g, Qh), n_paths=st.n_paths_grid, **mc_kw)
            bar.update(1)
            runs.append({"gamma": g, "exact": search.value(b_eps0, g), **_mc_summary(r, search.value(b_eps0, g))})
        grid_runs[mk] = runs
        reach = max([r_best.q_min.min(), r_zero.q_min.min()], key=abs), max(r_best.q_max.max(), r_zero.q_max.max())
        reach = max(abs(int(reach[0])), abs(int(reach[1])), *(r["inventory"]["reach"] for r in runs))
        if reach >= 0.8 * Qh:
            log(f"{mk}: a heuristic's inventory reached {reach} of its limit {Qh}: the limit shapes its value")
        gap_best = v_opt[mk] - best_v
        gap_zero = v_opt[mk] - search.value(b_eps0, 0.0)
        pg_c = paired_difference(r_opt, r_best, "compensated")
        pg_p = paired_difference(r_opt, r_best, "plain")
        pz_c = paired_difference(r_best, r_zero, "compensated")
        markets[mk] = {
            "optimal": {"value_exact": v_opt[mk], "value_error": v_err[mk],
                        **_mc_summary(r_opt, v_opt[mk], v_err[mk])},
            "best": {"base": best_name, "half_spread": best_b, "gamma": best_g, "value_exact": best_v,
                     "gap_exact": gap_best, **_mc_summary(r_best, best_v)},
            "gamma0": {"half_spread": b_eps0, "gamma": 0.0, "value_exact": search.value(b_eps0, 0.0),
                       "gap_exact": gap_zero, **_mc_summary(r_zero, search.value(b_eps0, 0.0))},
            "paired": {
                "optimal_minus_best": {"exact": gap_best, "mean": pg_c[0], "stderr": pg_c[1],
                                       "z_vs_zero": pg_c[0] / pg_c[1] if pg_c[1] > 0 else 0.0,
                                       "z_vs_exact": (pg_c[0] - gap_best) / pg_c[1] if pg_c[1] > 0 else 0.0,
                                       "estimator": "compensated",
                                       "plain_mean": pg_p[0], "plain_stderr": pg_p[1]},
                "best_minus_gamma0": {"exact": best_v - search.value(b_eps0, 0.0), "mean": pz_c[0],
                                      "stderr": pz_c[1], "estimator": "compensated",
                                      "z_vs_exact": ((pz_c[0] - (best_v - search.value(b_eps0, 0.0))) / pz_c[1]
                                                     if pz_c[1] > 0 else 0.0)},
            },
            "grid_mc": runs,
        }
    timings["monte_carlo"] = time.perf_counter() - t0
    bar.close()
    search.bar = None

    # ---- 5. shared search results, slopes of the optimal quotes
    search_out = {
        "gammas": list(st.gammas),
        "bases": {name: {"half_spread": b, "values_exact": grid[name].tolist(),
                         "gap_brownian": (v_opt["brownian"] - grid[name]).tolist(),
                         "gap_ou": (v_opt["ou"] - grid[name]).tolist(),
                         "best_grid_gamma": float(st.gammas[int(np.argmax(grid[name]))]),
                         "refined_gamma": refined[name][0], "refined_value": refined[name][1]}
                  for name, b in bases.items()},
        "best": {"base": best_name, "half_spread": best_b, "gamma": best_g, "value_exact": best_v},
        "evaluated": [{"half_spread": k[0], "gamma": k[1], "value": v} for k, v in sorted(search.cache.items())],
    }
    slopes = {"brownian": optimal_skew_slopes(sol_b), "ou": optimal_skew_slopes(sol_o)}

    # ---- 6. figures and markdown
    t0 = time.perf_counter()
    figs = [_plot_objective(out, st, bases, search, v_opt, search_out["best"], grid_runs,
                            (markets["brownian"]["best"]["mean"], markets["brownian"]["best"]["stderr"])),
            _plot_inventory(out, st, markets)]
    timings["figures"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start

    result = {
        "settings": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(st).items()},
                     "seed": seed, "s0": S0, "q0": 0, "model_brownian": mb.to_dict(), "model_ou": mo.to_dict(),
                     "ou_grid": {"q_max": Q_o, "s_range": list(s_range_o), "n_s": sol_o.info["n_s"],
                                 "ds": sol_o.info["ds"], "n_steps": sol_o.info["n_steps"]}},
        "search": search_out,
        "markets": markets,
        "optimal_skew_slopes": slopes,
        "ou_identity": ou_identity,
        "figures": figs,
        "notes": notes,
        "timings": timings,
    }
    result = jsonable(result)
    result["markdown"] = _markdown(result, st)
    bad = check_finite(result)
    if bad:
        raise ValueError(f"non-finite numbers in the heuristic comparison: {bad[:10]}")
    return result


# ============================================================================ figures
GAMMA_LABEL = "γ, extra half-spread per unit of inventory (price units)"


def _params_label(m: hs.Model) -> str:
    """The parameter set in a figure title: the paper's §4 values of the model."""
    return (f"paper's §4 market: A = {m.A:g}, k = {m.k:g}, z = {m.z:g}, σ = {m.price.sigma:g}, ε = {m.eps:g}, "
            f"α = {m.alpha:g}, T = {m.T:g} day, S0 = {S0:g}, q0 = 0")


def _symlog_x(ax, gammas):
    pos = [g for g in gammas if g > 0]
    ax.set_xscale("symlog", linthresh=min(pos) if pos else 1e-4)
    ax.set_xlim(0.0, max(gammas) * 1.5 if pos else 1.0)
    ax.set_xlabel(GAMMA_LABEL + "\n(symmetric-log axis: γ = 0 at the left edge)")


def _plot_objective(out, st, bases, search, v_opt, best, grid_runs, mc_best) -> str:
    """(a) objective against γ per base, both optimal levels; (b) zoom near the optimum; (c) value lost."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 5.6), layout="constrained")
    axes = fig.subplots(1, 3)
    g = np.asarray(st.gammas)
    curves = dict(bases)
    vals = {name: search.grid(b, g) for name, b in curves.items()}
    colors = {name: f"C{i}" for i, name in enumerate(curves)}

    ax = axes[0]
    for name, b in curves.items():
        ax.plot(g, vals[name], "o-", ms=3, lw=1, color=colors[name], label=f"heuristic, base half-spread {b:.4g}")
    ax.axhline(v_opt["brownian"], color="k", ls="--", lw=1.2, label=f"optimal, Brownian ({v_opt['brownian']:.6g})")
    ax.axhline(v_opt["ou"], color="k", ls="-.", lw=1.2, label=f"optimal, OU ({v_opt['ou']:.6g})")
    ax.plot([best["gamma"]], [best["value_exact"]], "*", color="C3", ms=12,
            label=f"best heuristic: base {best['half_spread']:.4g}, γ = {best['gamma']:.3g}")
    _symlog_x(ax, st.gammas)
    ax.set_ylabel("expected objective v(0, q = 0, S0) (price units)")
    ax.set_title("heuristic vs optimal (the heuristic's value\nis the same on both markets)")
    legend_outside(ax)

    ax = axes[1]  # dense exact curves around the best γ (cheap: one price node)
    lo_g, hi_g = (best["gamma"] / 30.0, best["gamma"] * 10.0) if best["gamma"] > 0 else (1e-5, 1e-2)
    dense = np.logspace(math.log10(lo_g), math.log10(hi_g), 31)
    for name, b in curves.items():
        if name in ("eps0", "joint"):
            ax.plot(dense, search.grid(b, dense), "-", lw=1.2, color=colors[name],
                    label=f"heuristic, base {b:.5g} (exact)")
    runs = [r for r in grid_runs["brownian"] if lo_g <= r["gamma"] <= hi_g]
    ax.errorbar([r["gamma"] for r in runs], [r["mean"] for r in runs], yerr=[3 * r["stderr"] for r in runs], fmt="o",
                ms=3, mfc="none", color=colors["eps0"], capsize=2, lw=0.8,
                label="Monte Carlo ± 3 s.e. (base 1/k+α)")
    ax.errorbar([best["gamma"]], [mc_best[0]], yerr=[3 * mc_best[1]], fmt="s", ms=4, mfc="none", color="C3",
                capsize=2, lw=0.8, label="Monte Carlo ± 3 s.e. (best heuristic)")
    ax.axhline(v_opt["brownian"], color="k", ls="--", lw=1.2, label="optimal")
    ax.plot([best["gamma"]], [best["value_exact"]], "*", color="C3", ms=12)
    ax.set_xscale("log")
    log_ticks(ax, "x")
    ax.set_xlabel(GAMMA_LABEL)
    ax.set_ylabel("expected objective (price units)")
    ax.set_ylim(v_opt["brownian"] - 0.1, v_opt["brownian"] + 0.015)
    ax.set_title("zoom near the best γ, Brownian market")
    legend_outside(ax)

    ax = axes[2]
    for name, b in curves.items():
        loss = v_opt["brownian"] - vals[name]
        ax.plot(g[g > 0], loss[g > 0], "o-", ms=3, lw=1.2, color=colors[name], label=f"base half-spread {b:.4g}")
        ax.axhline(loss[0], color=colors[name], ls=":", lw=0.8)
    ax.plot([best["gamma"]], [v_opt["brownian"] - best["value_exact"]], "*", color="C3", ms=12, label="best heuristic")
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ticks(ax, "x")
    ax.set_xlabel(GAMMA_LABEL + "\n(dotted lines: the same base at γ = 0)")
    ax.set_ylabel("optimal − heuristic objective (price units)")
    ax.set_title(f"value lost by the heuristic, Brownian market\n(on the OU market add "
                 f"{v_opt['ou'] - v_opt['brownian']:.4g})")
    legend_outside(ax)
    fig.suptitle("Inventory-skew heuristic vs optimal quotes\n" + _params_label(hs.paper_model("brownian")))
    name = "heuristic_objective.png"
    fig.savefig(out / name, dpi=110)
    return name


#: Reader-facing names of the intraday inventory extremes.
_SIDES = {"q_max": "largest intraday inventory", "q_min": "smallest intraday inventory"}


def _plot_inventory(out, st, markets) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5.6), layout="constrained")
    axes = fig.subplots(1, 2)
    g = np.asarray(st.gammas)
    mo = hs.paper_model("ou")
    titles = {"brownian": "Brownian mid-price",
              "ou": f"OU mid-price (a = {mo.price.a:g}, μ = {mo.price.mu:g})"}
    for ax, mk in zip(axes, MARKETS):
        runs = markets[mk]["grid_mc"]
        for side, col in (("q_max", "C0"), ("q_min", "C1")):
            med = [r["inventory"][f"{side}_q0.5"] for r in runs]
            lo = [r["inventory"][f"{side}_q0.01"] for r in runs]
            hi = [r["inventory"][f"{side}_q0.99"] for r in runs]
            ax.fill_between(g, lo, hi, color=col, alpha=0.2, label=f"heuristic: {_SIDES[side]}, 1–99 % of days")
            ax.plot(g, med, "o-", color=col, ms=3, lw=1, label=f"heuristic: {_SIDES[side]}, median day")
            inv = markets[mk]["optimal"]["inventory"]
            ax.axhline(inv[f"{side}_q0.5"], color=col, ls="--", lw=1.2, label=f"optimal: {_SIDES[side]}, median day")
            ax.axhspan(inv[f"{side}_q0.01"], inv[f"{side}_q0.99"], color=col, alpha=0.07, hatch="//",
                       label=f"optimal: {_SIDES[side]}, 1–99 % of days")
        ax.axhline(0.0, color="grey", lw=0.5)
        _symlog_x(ax, st.gammas)
        ax.set_ylabel("inventory (units of the asset)")
        ax.set_title(f"{titles[mk]}: intraday inventory range\n(heuristic with base half-spread 1/k + α)")
    legend_outside(axes[0], where="figure")
    fig.suptitle("Inventory held by the heuristic vs the optimal quotes\n" + _params_label(hs.paper_model("brownian")))
    name = "heuristic_inventory.png"
    fig.savefig(out / name, dpi=110)
    return name


# ============================================================================ markdown
def _pm(m, se):
    """``mean ± se`` with the mean's decimals set by the standard error (two significant digits)."""
    if not se > 0:
        return f"{fmt(m, 8)} ± 0"
    d = max(0, 1 - math.floor(math.log10(se)))
    return f"{m:.{d}f} ± {se:.2g}"


def _markdown(R, st) -> str:
    S, M = R["search"], R["markets"]
    mb, mo = R["settings"]["model_brownian"], R["settings"]["model_ou"]
    best = S["best"]
    B, O = M["brownian"], M["ou"]
    v_b, v_o = B["optimal"]["value_exact"], O["optimal"]["value_exact"]
    par = (f"A = {mb['A']:g}, k = {mb['k']:g}, z = {mb['z']:g}, σ = {mb['price']['sigma']:g}, T = {mb['T']:g}, "
           f"ε = {mb['eps']:g}, η = {mb['eta']:g}, ν = {mb['nu']:g}, α = {mb['alpha']:g}")
    lines = [
        "## Heuristic vs optimal: the article's inventory skew on the Fodra–Labadie market", "",
        "The article's rule as `hs.InventorySkew(base, γ)`: quote `base` on both sides and widen the side that "
        f"would grow `|q|` by `γ|q|`. It trades the paper's §4 market ({par}; a Brownian mid-price, and the OU "
        f"one with a = {mo['price']['a']:g}, μ = {mo['price']['mu']:g}; S0 = {S0:g}, q0 = 0) against the "
        "HJB-optimal quotes (`hs.solve`). The search over `(base, γ)` uses exact policy evaluation "
        f"(`hs.evaluate`, {st.fd_steps} time steps, inventory bound {st.q_max_heuristic}; the optimal solve on the "
        f"same grids): {R['timings']['n_evaluations']} evaluations, refined around the best grid point. Monte "
        f"Carlo (`hs.simulate`, {st.n_paths} paths, {st.mc_steps} steps, seed {R['settings']['seed']}) uses the "
        "same random numbers for every policy of a market; levels by the `control` estimator, paired differences "
        "by the `compensated` estimator (both unbiased for any policy).", "",
        f"**Best heuristic** (exact search): base **{best['half_spread']:.5g}**, **γ = {best['gamma']:.4g}** "
        "(the same on both markets, see the OU finding below).", "",
    ]
    rows = []
    for mk in MARKETS:
        m = M[mk]
        p = m["paired"]["optimal_minus_best"]
        rows.append([mk, fmt(m["optimal"]["value_exact"], 8), fmt(m["best"]["value_exact"], 8),
                     fmt(m["gamma0"]["value_exact"], 8), fmt(m["best"]["gap_exact"], 4), _pm(p["mean"], p["stderr"]),
                     fmt(p["z_vs_zero"], 3), fmt(m["gamma0"]["gap_exact"], 4)])
    lines += [md_table(["market", "optimal (exact)", "best heuristic (exact)", "γ = 0, base 1/k+α (exact)",
                        "gap optimal − best (exact)", "gap, MC paired", "gap / s.e.", "gap optimal − γ=0"], rows), ""]

    # the γ grid
    eps0 = S["bases"]["eps0"]
    hdr = (["γ"] + [f"base {b['half_spread']:.5g}: objective" for b in S["bases"].values()]
           + ["MC (base 1/k+α) ± s.e.", "gap Brownian (base 1/k+α)", "gap OU (base 1/k+α)"])
    rows = []
    for i, g in enumerate(S["gammas"]):
        r = B["grid_mc"][i]
        rows.append([fmt(g, 3)] + [fmt(b["values_exact"][i], 8) for b in S["bases"].values()]
                    + [_pm(r["mean"], r["stderr"]), fmt(eps0["gap_brownian"][i], 4), fmt(eps0["gap_ou"][i], 4)])
    lines += [f"Exact expected objective over the γ grid (identical on both markets); Monte Carlo on the Brownian "
              f"market with {st.n_paths_grid} paths per γ.", "", md_table(hdr, rows), ""]
    rows = [[f"{b['half_spread']:.5g}" + (" (joint)" if name == "joint" else ""), fmt(b["best_grid_gamma"], 3),
             fmt(b["refined_gamma"], 4), fmt(b["refined_value"], 8), fmt(v_b - b["refined_value"], 4)]
            for name, b in S["bases"].items()]
    lines += ["Best γ per base half-spread (exact evaluation; refined in log γ, then jointly in (base, log γ)):", "",
              md_table(["base", "best grid γ", "refined γ", "objective", "gap to optimal (Brownian)"], rows), ""]

    # PnL and inventory
    rows = []
    for mk in MARKETS:
        for lab, key in (("optimal", "optimal"), ("best heuristic", "best"), ("γ = 0, base 1/k+α", "gamma0")):
            x = M[mk][key]
            pn, inv = x["pnl"], x["inventory"]
            rows.append([mk, lab, _pm(x["mean"], x["stderr"]), fmt(pn["mean"], 6), fmt(pn["std"], 4),
                         fmt(pn["sharpe"], 3), fmt(pn["q0.01"], 5), fmt(pn["q0.5"], 5), fmt(pn["q0.99"], 5),
                         f"{fmt(inv['q_min_q0.01'])} / {fmt(inv['q_min_q0.5'])}",
                         f"{fmt(inv['q_max_q0.5'])} / {fmt(inv['q_max_q0.99'])}", fmt(inv["mean_abs_q_final"], 3)])
    lines += [f"Monte Carlo ({st.n_paths} paths, common random numbers): objective (control estimator), PnL "
              "`X_T + Q_T S_T` and intraday inventory ranges (quantiles over paths).", "",
              md_table(["market", "policy", "objective ± s.e.", "PnL mean", "PnL std", "Sharpe (daily)", "PnL 1 %",
                        "PnL median", "PnL 99 %", "min q: 1 % / median", "max q: median / 99 %", "mean |Q_T|"], rows),
              ""]

    # findings
    pb, po = B["paired"]["optimal_minus_best"], O["paired"]["optimal_minus_best"]
    sb, so = R["optimal_skew_slopes"]["brownian"], R["optimal_skew_slopes"]["ou"]
    z0 = B["paired"]["best_minus_gamma0"]
    gap_b, gap_o = B["best"]["gap_exact"], O["best"]["gap_exact"]
    opt_mc = "; ".join(
        f"{mk} {_pm(M[mk]['optimal']['mean'], M[mk]['optimal']['stderr'])} against "
        f"{fmt(M[mk]['optimal']['value_exact'], 8)} ± {fmt(M[mk]['optimal']['value_error'], 2)} "
        f"(z = {fmt(M[mk]['optimal']['z_vs_exact'], 2)})" for mk in MARKETS)
    lines += [
        "Findings:", "",
        f"- **Brownian market.** The best heuristic (base {best['half_spread']:.5g}, γ = {best['gamma']:.4g}) "
        f"comes within {fmt(gap_b, 3)} of the optimum {fmt(v_b, 8)} ({fmt(100 * gap_b / v_b, 2)} %); on common "
        f"random numbers the paired gap is {_pm(pb['mean'], pb['stderr'])} ({fmt(pb['z_vs_zero'], 3)} s.e. above "
        f"0; {fmt(pb['z_vs_exact'], 2)} s.e. from the exact gap). The raw objectives cannot see it: their plain "
        f"paired difference is {_pm(pb['plain_mean'], pb['plain_stderr'])} (the daily PnL std is "
        f"{fmt(B['best']['pnl']['std'], 3)}). Its improvement over γ = 0 at base 1/k+α is {fmt(z0['exact'], 3)} "
        f"exactly and {_pm(z0['mean'], z0['stderr'])} by Monte Carlo.",
        "- **Why the heuristic cannot close the gap.** The optimal quotes are skewed on *both* sides: on "
        f"|q| ≤ 20 dδ⁻/dq = {fmt(sb['bid_t0'], 3)} and dδ⁺/dq = {fmt(sb['ask_t0'], 3)} at t = 0 "
        f"({fmt(sb['bid_tmid'], 3)} and {fmt(sb['ask_tmid'], 3)} at t = T/2), i.e. a long market maker widens its "
        "bid *and* tightens its ask, while the article only widens the side that would grow |q|. The best "
        f"heuristic uses base {best['half_spread']:.5g} ({best['half_spread'] - B['gamma0']['half_spread']:+.3g} "
        f"from 1/k+α) and a one-sided slope γ = {best['gamma']:.3g} ({fmt(best['gamma'] / sb['bid_t0'], 3)} × the "
        "optimal bid slope at t = 0).",
        f"- **OU market.** The optimum ({fmt(v_o, 8)}) trades the drift towards μ = {mo['price']['mu']:g}: at "
        f"q = 0, t = 0 it quotes δ⁺ = {fmt(so['ask_q0_t0'], 4)}, δ⁻ = {fmt(so['bid_q0_t0'], 4)} (buying more "
        "readily than selling) and it holds a long inventory (median intraday maximum "
        f"{fmt(O['optimal']['inventory']['q_max_q0.5'])}). The price-blind, symmetric heuristic cannot: its "
        "expected objective on the OU market equals that on the Brownian market (E[Q_t] = 0 and Q independent of "
        f"S; checked on the OU price grid to {fmt(R['ou_identity']['max_abs_diff'], 2)}), so the gap is "
        f"{fmt(gap_o, 4)} ({fmt(100 * gap_o / v_o, 3)} % of the optimum); Monte Carlo paired: "
        f"{_pm(po['mean'], po['stderr'])}.",
        f"- **Monte Carlo vs exact.** Every Monte Carlo level of a heuristic is within {fmt(_max_abs_z(M), 2)} "
        "standard errors of its exact value (control estimator; the heuristic's simulation has no time-step bias "
        f"since its quotes depend on q only); the optimal policy's: {opt_mc}. The optimal values are "
        "finite-difference values on the heuristic's grids; their error is measured against the "
        "matrix-exponential solution (Brownian) or estimated by Richardson extrapolation in Δt (OU, which leaves "
        "the price-grid error of a few 1e-3).",
        "",
        f"![Objective against γ]({R['figures'][0]})", "",
        "*Left: expected objective of the inventory-skew heuristic against γ (exact evaluation, one curve per base "
        "half-spread) and the optimal levels; middle: zoom near the best γ with Monte Carlo ± 3 s.e.; right: value "
        "lost to the optimum (log scale).*", "",
        f"![Inventory ranges]({R['figures'][1]})", "",
        "*Intraday minimum and maximum inventory over paths (median and 1–99 % band) against γ, the optimal "
        "policy's as dashed lines and hatched bands.*", "",
    ]
    return "\n".join(lines)


def _max_abs_z(M) -> float:
    """Largest |z| of a heuristic's Monte Carlo level against its exact value."""
    zs = []
    for mk in MARKETS:
        for key in ("best", "gamma0"):
            zs.append(abs(M[mk][key]["z_vs_exact"]))
        zs += [abs(r["z_vs_exact"]) for r in M[mk]["grid_mc"]]
    return max(zs)


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="hjbsolve-out/heuristic")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args()
    res = run_heuristic_comparison(args.out, quick=args.quick, seed=args.seed)
    out = Path(args.out)
    (out / "heuristic.md").write_text(res["markdown"])
    (out / "heuristic.json").write_text(json.dumps({k: v for k, v in res.items() if k != "markdown"}, indent=1,
                                                    allow_nan=False))
    print(res["markdown"])
    print(f"written to {out.resolve()} in {res['timings']['total']:.1f} s")
