"""Validation-report section "Market regimes": the paper's Brownian market whose volatility or spread
follows a Markov chain, and a volatility driven by a diffusion factor approximated by a chain.

Part (a), two two-state chains on ``hs.paper_model("brownian")`` (:func:`chains`): a calm/stressed
volatility chain (σ and 2.5σ) and a tight/wide spread chain (z and 2z), switching a few times a day.
For each,

* the closed forms with the chain (``hs.expansion(m, 0 / 1)``, regime by regime) against the exact
  quotes (``hs.solve``: the automatic finite-difference solver, its error estimate reported; the
  matrix exponential does not take differing regimes);
* how the optimal spread ``δ⁺ + δ⁻`` and skew ``(δ⁺ − δ⁻)/2`` react to the regime, next to the
  optimum of each regime's market alone (``method="expm"``, exact to rounding);
* the value of knowing the regime: the regime-aware optimum's value against the best of a few
  regime-blind policies (the same quotes in every regime: the optimum of each regime's market alone
  and of the market with stationary-averaged parameters, :func:`averaged_model`), each evaluated
  exactly on the chain by ``hs.evaluate``; both values and their difference cross-checked by
  ``hs.simulate(..., regime0=r)`` (z-scores against the exact numbers).

Part (b), :func:`factors`: a volatility following an OU or a CIR diffusion, approximated by
``hs.Regimes.ou_factor`` / ``cir_factor`` on ``n`` nodes; the quotes at the factor's central node as
``n`` doubles (successive differences, observed orders), next to the chain's own ``E[∫σ²]`` against
the diffusion's closed-form moments (:func:`factor_moment`), the quantity the quotes depend on first.

Run inside the suite (:func:`section_regimes`, section 11) or alone via :func:`study_regimes`.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from scipy import integrate

import hjbsolve as hs

from .analysis import observed_orders
from .report import fmt, md_table

__all__ = ["SECTION", "Z_LIMIT", "TABLE_Q", "chains", "factors", "market", "averaged_model", "factor_moment",
           "study_regimes", "plot_regime_quotes", "plot_factor_convergence", "regimes_headline", "section_regimes"]

#: Number of the section in the report.
SECTION = 11
#: A Monte Carlo estimate agrees when it is within this many standard errors of the exact number.
Z_LIMIT = 3.0
#: Inventories of the quote tables (inside the accuracy contract |q| <= q_max/2 of the solves).
TABLE_Q = (-40, -20, -10, 0, 10, 20, 40)
#: The skew per unit inventory is the least-squares slope of the skew over |q| <= SKEW_FIT_Q.
SKEW_FIT_Q = 20


def chains() -> dict:
    """The two chains of part (a): ``{"volatility": calm/stressed σ, "spread": tight/wide z}``.

    Rates per day (the paper's time unit): calm spells last 1/2 day on average, stressed ones 1/3;
    tight spells 1/2 day, wide ones 1/4. σ: the paper's 0.5 and 2.5 times it; z: 0.5 and 1.
    """
    return {"volatility": hs.Regimes(generator=[[-2.0, 2.0], [3.0, -3.0]], sigma=[0.5, 1.25],
                                     names=["calm", "stressed"]),
            "spread": hs.Regimes(generator=[[-2.0, 2.0], [4.0, -4.0]], z=[0.5, 1.0], names=["tight", "wide"])}


def factors() -> dict:
    """The volatility factors of part (b): ``dσ = κ(m − σ)dt + ξ dW`` (OU) and ``ξ√σ dW`` (CIR), with
    ``m = 0.5`` (the paper's σ), ``κ = 2`` per day; ξ gives stationary standard deviations 0.15 and
    0.14. The chain spans 3 stationary standard deviations either side (OU), or the stationary
    quantiles Φ(∓3) (CIR)."""
    return {"OU": dict(kind="ou", field="sigma", mean=0.5, reversion=2.0, vol=0.3, width_sd=3.0),
            "CIR": dict(kind="cir", field="sigma", mean=0.5, reversion=2.0, vol=0.4, width_sd=3.0)}


def market(chain: hs.Regimes | None) -> hs.Model:
    """The paper's §4 Brownian market (``hs.paper_model("brownian")``) with the regime chain ``chain``."""
    return hs.paper_model("brownian", regimes=chain)


def averaged_model(model: hs.Model) -> hs.Model:
    """The chain-free market with the chain's stationary averages ``Σ_r π_r f_r`` of every per-regime
    field (σ through ``σ² = Σ_r π_r σ_r²``: the running penalty ``ε ν σ²`` is then its stationary mean).

    Raises
    ------
    ValueError
        ``model`` has no regime chain.
    """
    if model.regimes is None:
        raise ValueError("averaged_model: the model has no regime chain (regimes=None)")
    pi = model.regimes.stationary()
    changes = {}
    for name, values in model.regimes.fields().items():
        v = np.asarray(values, float)
        changes[name] = float(math.sqrt(pi @ v**2)) if name == "sigma" else float(pi @ v)
    if "sigma" in changes:
        changes["price"] = hs.Brownian(changes.pop("sigma"), drift=model.price.drift)
    return model.replace(regimes=None, **changes)


def factor_moment(kind: str, mean: float, reversion: float, vol: float, x0: float, T: float) -> float:
    """``E[∫_0^T X_t² dt | X_0 = x0]`` of the diffusion (closed-form moments, integrated by quadrature).

    OU: ``E X_t = m + (x0 − m)e^{−κt}``, ``Var X_t = ξ²(1 − e^{−2κt})/(2κ)``; CIR: the same mean,
    ``Var X_t = x0 ξ²(e^{−κt} − e^{−2κt})/κ + m ξ²(1 − e^{−κt})²/(2κ)``. Units: field² × time.
    """
    m, k, xi = float(mean), float(reversion), float(vol)

    def second(t):
        mu = m + (x0 - m) * math.exp(-k * t)
        if kind == "ou":
            var = xi**2 * (1.0 - math.exp(-2.0 * k * t)) / (2.0 * k)
        elif kind == "cir":
            var = x0 * xi**2 * (math.exp(-k * t) - math.exp(-2.0 * k * t)) / k \
                + m * xi**2 * (1.0 - math.exp(-k * t)) ** 2 / (2.0 * k)
        else:
            raise ValueError(f"kind must be 'ou' or 'cir', got {kind!r}")
        return mu * mu + var

    return float(integrate.quad(second, 0.0, T, epsabs=0.0, epsrel=1e-13)[0])


# ----------------------------------------------------------------------------- part (a): two chains
def _value(sol, regime, s0) -> tuple[float, float]:
    """``(v, error)``: the value at ``(t = 0, q = 0, s0)`` and the solve's estimate of its error
    (``value_error_estimate`` is relative to ``max(1, |v|)``)."""
    v = float(sol.value(0.0, 0, s0, regime=regime))
    return v, float(sol.info["value_error_estimate"]) * max(1.0, abs(v))


def regime_controls(res, chain: hs.Regimes, regime0: int, T: float) -> np.ndarray:
    """Zero-mean controls of a simulated regime path, centred by the chain's exact law from ``regime0``.

    Columns: the time spent in each regime but the last (mean ``E_r0[∫_0^T 1{R=j} dt]``,
    ``chain.expectation(T, running=e_j)``), the indicator of ``R_T = j`` for each regime but the last
    (mean ``e^{QT}[r0, j]``), and the number of jumps (mean ``Σ_j E[time in j] (−Q_jj)``).

    Returns
    -------
    ndarray, shape (n_paths, 2 n − 1)
    """
    n = chain.n
    eye = np.eye(n)
    occ = np.array([chain.expectation(T, running=eye[j])[regime0] for j in range(n)])
    p_T = chain.transition(T)[regime0]
    return np.column_stack([res.occupancy[:, :-1] - occ[:-1],
                            (res.regime_final[:, None] == np.arange(n - 1)) - p_T[:-1],
                            res.n_switches - occ @ -np.diag(chain.Q)])


def regime_control_values(res, chain: hs.Regimes, regime0: int, T: float) -> np.ndarray:
    """Per-path objectives corrected by every martingale control of the simulation and the regime
    controls (:func:`regime_controls`), one cross-fitted least-squares fit (unbiased: each half of the
    paths is corrected with the other half's coefficients). The simulation's own ``"control"``
    estimator has no regime control, and the fill income of a spread chain varies with the time spent
    in each regime (its standard error stays near the plain one's there)."""
    from hjbsolve.montecarlo import _cross_fitted

    C = np.column_stack([res.controls[:, res._control_columns()], regime_controls(res, chain, regime0, T)])
    return _cross_fitted(res.objective, C)


def _mc_compare(values, exact: float, exact_error: float) -> dict:
    """The mean of per-path values against an exact number: standard error and z-score."""
    mean, se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))
    return {"mean": mean, "stderr": se, "exact": exact, "exact_error": exact_error,
            "z": (mean - exact) / math.hypot(se, exact_error)}


def _chain_study(label: str, chain: hs.Regimes, st) -> tuple[dict, dict]:
    m = market(chain)
    s0, k, names, q_max = float(m.s0), float(m.k), list(chain.names), int(st.reg_q_max)
    n = chain.n
    tol = dict(tol=st.reg_tol, value_rtol=st.reg_tol)
    sol = hs.solve(m, q_max=q_max, **tol)
    ex = {order: hs.expansion(m, order) for order in (0, 1)}
    alone = [hs.solve(rm, q_max=q_max, method="expm", **tol) for rm in m.regime_models()]
    avg_model = averaged_model(m)
    avg = hs.solve(avg_model, q_max=q_max, method="expm", **tol)
    field = next(iter(chain.fields()))
    out = {"name": label, "field": field, "regimes": names, "generator": np.array(chain.generator).tolist(),
           "values": list(chain.fields()[field]), "stationary": chain.stationary().tolist(),
           "mean_holding_time": (1.0 / -np.diag(chain.Q)).tolist(), "q_max": q_max,
           "solve": {"error_estimate": sol.info["error_estimate"], "value_error_estimate": sol.info["value_error_estimate"],
                     "n_steps": sol.info["n_steps"], "seconds": sol.info["wall_time"]}}
    # ---- closed forms vs exact, spread and skew
    q = np.array(TABLE_Q)
    qf = np.arange(-SKEW_FIT_Q, SKEW_FIT_Q + 1)
    rows, per = [], []
    for r in range(n):
        a, b = sol.quotes(0.0, q, s0, regime=r)
        aa, ba = alone[r].quotes(0.0, q, s0)
        errs = {}
        for order, e in ex.items():
            ea, eb = e.quotes(0.0, q, s0, regime=r)
            errs[order] = k * np.maximum(np.abs(ea - a), np.abs(eb - b))
        for j, qq in enumerate(TABLE_Q):
            rows.append({"regime": names[r], "q": qq, "ask": float(a[j]), "bid": float(b[j]),
                         "order0_error": float(errs[0][j]), "order1_error": float(errs[1][j]),
                         "spread": float(a[j] + b[j]), "skew": float((a[j] - b[j]) / 2),
                         "spread_alone": float(aa[j] + ba[j]), "skew_alone": float((aa[j] - ba[j]) / 2)})
        fa, fb = sol.quotes(0.0, qf, s0, regime=r)
        ga, gb = alone[r].quotes(0.0, qf, s0)
        # a martingale price with symmetric sides: δ⁺(q) = δ⁻(−q), so the spread is even and the skew odd in q
        per.append({"regime": names[r], "order0_max": float(errs[0].max()), "order1_max": float(errs[1].max()),
                    "skew_slope": float(np.polyfit(qf, (fa - fb) / 2, 1)[0]),
                    "skew_slope_alone": float(np.polyfit(qf, (ga - gb) / 2, 1)[0]),
                    "symmetry_defect": float(np.max(np.abs(fa - fb[::-1])))})
    out["quotes"], out["per_regime"] = rows, per
    out["order_ratios"] = [p["order0_max"] / p["order1_max"] for p in per]
    # does each regime's quote lie between the two markets' own (the chain mixes them)?
    lo = {key: np.minimum(*[[x[key + "_alone"] for x in rows if x["regime"] == nm] for nm in names[:2]])
          for key in ("spread", "skew")}
    hi = {key: np.maximum(*[[x[key + "_alone"] for x in rows if x["regime"] == nm] for nm in names[:2]])
          for key in ("spread", "skew")}
    out["between_alone"] = bool(all(
        np.all((lo[key] - 1e-12 <= v) & (v <= hi[key] + 1e-12))
        for key in ("spread", "skew") for nm in names
        for v in [np.array([x[key] for x in rows if x["regime"] == nm])]))
    out["spread_variation"] = max(np.ptp([x["spread"] for x in rows if x["regime"] == nm]) for nm in names)
    out["skew_variation"] = min(np.ptp([x["skew"] for x in rows if x["regime"] == nm]) for nm in names)
    # ---- the value of knowing the regime: exact values on the chain
    cands = [(f"{names[r]} market alone", alone[r]) for r in range(n)] + [("stationary average", avg)]
    out["averaged_parameter"] = float(avg_model.price.sigma if field == "sigma" else getattr(avg_model, field))
    aware = [_value(sol, r, s0) for r in range(n)]
    out["aware"] = {"values": [v for v, _ in aware], "errors": [e for _, e in aware]}
    out["candidates"] = []
    for name, cs in cands:
        ev = hs.evaluate(m, cs, q_max=q_max, **tol)
        vals = [_value(ev, r, s0) for r in range(n)]
        out["candidates"].append({"name": name, "values": [v for v, _ in vals], "errors": [e for _, e in vals]})
    best = []
    for r in range(n):
        c = max(out["candidates"], key=lambda c: c["values"][r])
        gain = aware[r][0] - c["values"][r]
        err = aware[r][1] + c["errors"][r]
        best.append({"regime": names[r], "candidate": c["name"], "value": c["values"][r], "error": c["errors"][r],
                     "value_of_knowing": gain, "value_of_knowing_error": err,
                     "value_of_knowing_relative": gain / abs(aware[r][0]),
                     "aware_at_least_blind": bool(gain >= -err)})
    out["best_blind"] = best
    pi = chain.stationary()
    out["value_of_knowing_stationary"] = float(pi @ [b["value_of_knowing"] for b in best])
    # ---- Monte Carlo: both values and their difference, common random numbers
    mc = []
    kw = dict(n_paths=st.reg_mc_paths, n_steps=st.reg_mc_steps, s0=s0, seed=st.mc_seed, progress=False)
    for r in range(n):
        b = best[r]
        ra = hs.simulate(m, sol, regime0=r, **kw)
        rb = hs.simulate(m, dict(cands)[b["candidate"]], regime0=r, **kw)
        ya, yb = (regime_control_values(x, chain, r, m.T) for x in (ra, rb))
        mc.append({"regime": names[r], "aware": _mc_compare(ya, aware[r][0], aware[r][1]),
                   "blind": _mc_compare(yb, b["value"], b["error"]),
                   "difference": _mc_compare(ra.estimator_values("compensated") - rb.estimator_values("compensated"),
                                             b["value_of_knowing"], b["value_of_knowing_error"]),
                   "plain_stderr": ra.estimate("plain")[1], "control_stderr": ra.estimate("control")[1],
                   "switches_per_day": float(ra.n_switches.mean())})
    out["mc"] = mc
    out["mc_max_abs_z"] = float(max(abs(x[w]["z"]) for x in mc for w in ("aware", "blind", "difference")))
    return out, {"solution": sol, "alone": alone}


# ----------------------------------------------------------------------------- part (b): factor chains
def _factor_study(label: str, spec: dict, st) -> dict:
    base = market(None)
    q = np.array(TABLE_Q)
    k, s0, T = float(base.k), float(base.s0), float(base.T)
    params = {key: spec[key] for key in ("mean", "reversion", "vol", "width_sd")}
    levels, quotes = [], []
    for n in st.reg_factor_n:
        chain = hs.Regimes.factor(spec["kind"], field=spec["field"], n=n, **params)
        x = np.array(getattr(chain, spec["field"]))
        c = n // 2                                  # odd n: the centre of the fixed range, a node of every grid
        centre = float(x[c])
        sol = hs.solve(base.replace(regimes=chain), q_max=st.reg_q_max, tol=st.reg_tol, value_rtol=st.reg_tol)
        a, b = sol.quotes(0.0, q, s0, regime=c)
        quotes.append(np.concatenate([a, b]))
        moment = float(chain.expectation(T, running=x**2)[c])
        levels.append({"n": int(n), "h": float(x[1] - x[0]), "ask": a.tolist(), "bid": b.tolist(),
                       "error_estimate": float(sol.info["error_estimate"]), "moment": moment,
                       "seconds": float(sol.info["wall_time"])})
    exact = factor_moment(spec["kind"], spec["mean"], spec["reversion"], spec["vol"], centre, T)
    for lv in levels:
        lv["moment_difference"] = lv["moment"] - exact
        lv["moment_error"] = abs(lv["moment_difference"])
    h = np.array([lv["h"] for lv in levels])
    d = k * np.array([np.max(np.abs(u - v)) for u, v in zip(quotes[:-1], quotes[1:])])
    flat = hs.solve(base.replace(price=hs.Brownian(centre)), q_max=st.reg_q_max, method="expm", tol=st.reg_tol,
                    value_rtol=st.reg_tol)
    fa, fb = flat.quotes(0.0, q, s0)
    worst = max(lv["error_estimate"] for lv in levels)
    return {"name": label, **spec, "centre": centre, "q": list(TABLE_Q), "levels": levels, "moment_exact": exact,
            "differences": d.tolist(), "orders": observed_orders(h[:-1], d).tolist(),
            "moment_orders": observed_orders(h, [lv["moment_error"] for lv in levels]).tolist(),
            "max_error_estimate": worst, "ratio_to_error_estimate": float(d[-1] / worst),
            "factor_effect": float(k * np.max(np.abs(quotes[-1] - np.concatenate([fa, fb]))))}


def study_regimes(settings) -> tuple[dict, dict]:
    """Every number of the section (no figure).

    Parameters
    ----------
    settings : hjbsolve.validation.settings.Settings
        Its ``reg_q_max`` (inventory bound of every solve), ``reg_tol`` (``tol`` and ``value_rtol``
        of every solve and evaluation), ``reg_mc_paths``/``reg_mc_steps``/``mc_seed`` (the
        simulations) and ``reg_factor_n`` (the factor chains' sizes: odd, ``n − 1`` doubling).

    Returns
    -------
    results : dict
        JSON-ready numbers (``results.json["regimes"]``); quote errors in units of ``1/k``,
        values in price units.
    solutions : dict
        ``{chain name: {"solution": regime-aware Solution, "alone": [Solution per regime]}}``.
    """
    ns = tuple(settings.reg_factor_n)
    if len(ns) < 3 or any(int(n) != n or n < 3 or n % 2 == 0 for n in ns) or any(np.diff(ns) <= 0):
        raise ValueError(f"reg_factor_n must be at least three increasing odd integers >= 3 (the chains share "
                         f"their central node; three sizes give an observed order), got {ns}")
    t0 = time.perf_counter()
    m = market(None)
    out = {"model": {key: float(getattr(m, key)) for key in ("A", "k", "z", "T", "eps", "eta", "nu", "alpha", "s0")},
           "sigma": float(m.price.sigma), "z_limit": Z_LIMIT, "q": list(TABLE_Q), "skew_fit_q": SKEW_FIT_Q,
           "tol": float(settings.reg_tol), "q_max": int(settings.reg_q_max),
           "mc": {"n_paths": int(settings.reg_mc_paths), "n_steps": int(settings.reg_mc_steps),
                  "seed": int(settings.mc_seed)}}
    sols = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", hs.BoundWarning)       # the bound must not bind anywhere here
        out["chains"] = []
        for label, chain in chains().items():
            res, sols[label] = _chain_study(label, chain, settings)
            out["chains"].append(res)
        out["factors"] = [_factor_study(label, spec, settings) for label, spec in factors().items()]
    out["checks_pass"] = bool(all(c["mc_max_abs_z"] <= Z_LIMIT and all(b["aware_at_least_blind"] for b in c["best_blind"])
                                  for c in out["chains"]))
    out["seconds"] = time.perf_counter() - t0
    return out, sols


# ----------------------------------------------------------------------------- figures
def plot_regime_quotes(res: dict, sols: dict, axes):
    """Exact optimal quotes against inventory, one panel per chain, one line style per regime.

    Parameters
    ----------
    res : dict
        :func:`study_regimes`'s results.
    sols : dict
        :func:`study_regimes`'s solutions.
    axes : sequence of Axes, one per chain

    Returns
    -------
    axes
    """
    from hjbsolve.cli import _RegimeQuotes        # one regime of a regime solution as a policy to plot
    from hjbsolve.plotting import plot_quotes_vs_q

    s0 = res["model"]["s0"]
    q = np.arange(-max(TABLE_Q), max(TABLE_Q) + 1)
    for ax, c in zip(axes, res["chains"]):
        sol = sols[c["name"]]["solution"]
        sym = {"sigma": "σ"}.get(c["field"], c["field"])
        pols = {f"{name} ({sym} = {fmt(v)})": _RegimeQuotes(sol, r)
                for r, (name, v) in enumerate(zip(c["regimes"], c["values"]))}
        plot_quotes_vs_q(pols, 0.0, s0, q, ax=ax)
        ax.set_ylabel("optimal half-spread δ± (price units)")
        ax.set_title(f"{c['name']} chain, t = 0")
    return axes


def plot_factor_convergence(res: dict, axes):
    """Log-log convergence of the factor chains: successive quote differences (left) and the chain's
    ``E[∫σ²]`` error (right) against the number of regimes ``n``, with a first-order guide.

    Parameters
    ----------
    res : dict
        :func:`study_regimes`'s results.
    axes : sequence of two Axes

    Returns
    -------
    axes
    """
    from hjbsolve.plotting import legend_outside, log_ticks

    left, right = axes
    ns = [lv["n"] for lv in res["factors"][0]["levels"]]
    for f, mark in zip(res["factors"], ("o", "s")):
        n = np.array([lv["n"] for lv in f["levels"]])
        left.loglog(n[1:], f["differences"], mark + "-", label=f"{f['name']} factor")
        right.loglog(n, [lv["moment_error"] for lv in f["levels"]], mark + "-", label=f"{f['name']} factor")
    for ax, y0 in ((left, res["factors"][0]["differences"][0]), (right, res["factors"][0]["levels"][0]["moment_error"])):
        n = np.array(ns[1:] if ax is left else ns, float)
        ax.loglog(n, y0 * (n[0] - 1) / (n - 1), "k:", label="∝ h (first order)")
        log_ticks(ax, "x", values=ns)
        log_ticks(ax, "y")
        ax.set_xlabel("regimes n of the factor chain (grid step h ∝ 1/(n − 1))")
        ax.grid(alpha=0.3, which="both")
    left.set_ylabel("max |quotes(n) − quotes(previous n)| (units of 1/k)")
    left.set_title("quotes at the central node, t = 0")
    right.set_ylabel("|chain E[∫σ² dt] − diffusion's| (σ² × day)")
    right.set_title("the factor's own second moment")
    for ax in axes:
        legend_outside(ax)
    return axes


# ----------------------------------------------------------------------------- markdown
def regimes_headline(res: dict) -> str:
    """The report summary's line on this section, from its results."""
    parts = []
    for c in res["chains"]:
        gains = ", ".join(f"{fmt(b['value_of_knowing'])} ({b['regime']})" for b in c["best_blind"])
        parts.append(f"{c['name']} chain {gains}")
    f = {x["name"]: x for x in res["factors"]}
    agree = "within" if res["checks_pass"] else "NOT all within"
    return (f"Market regimes (section {SECTION}): knowing the regime is worth " + "; ".join(parts)
            + f" per day over the best regime-blind policy, Monte Carlo {agree} {fmt(res['z_limit'])} standard "
            f"errors (largest |z| {fmt(max(c['mc_max_abs_z'] for c in res['chains']))}); a volatility factor's chain "
            "converges (last quote differences " + ", ".join(f"{fmt(x['differences'][-1])} ({n})" for n, x in f.items())
            + " in 1/k).")


def _intro(ctx, res) -> None:
    c_vol, c_spr = res["chains"]
    f_ou, f_cir = res["factors"]
    mo = res["model"]
    best = [b for c in res["chains"] for b in c["best_blind"]]
    worst1 = max(p["order1_max"] for c in res["chains"] for p in c["per_regime"])
    worst0 = max(p["order0_max"] for c in res["chains"] for p in c["per_regime"])
    ctx.add(f"## {SECTION}. Market regimes\n")
    pv = {p["regime"]: p for p in c_vol["per_regime"]}
    calm, stressed = c_vol["regimes"]
    ctx.add(
        "**In plain words.** Markets alternate between calm and stressed spells, between tight and wide "
        "spreads. A market maker who sees the current regime can quote for it; one who does not must use "
        "the same quotes throughout. On the paper's market with a calm/stressed volatility chain and a "
        "tight/wide spread chain: the closed forms with the chain miss the exact quotes by at most "
        f"{fmt(worst1)} (order 1) and {fmt(worst0)} (order 0) in units of 1/k over the table's inventories; "
        f"the stressed regime skews the quotes {fmt(pv[stressed]['skew_slope'])} per unit of inventory against "
        f"{fmt(pv[calm]['skew_slope'])} calm (a market that stayed stressed: {fmt(pv[stressed]['skew_slope_alone'])}); "
        "knowing the regime is worth between "
        f"{fmt(min(b['value_of_knowing'] for b in best))} and {fmt(max(b['value_of_knowing'] for b in best))} "
        "price units per day over the best regime-blind policy tried (at most "
        f"{fmt(max(b['value_of_knowing_relative'] for b in best))} of the day's value), and the Monte Carlo "
        + ("agrees" if res["checks_pass"] else "does NOT agree everywhere")
        + f" (largest |z| {fmt(max(c['mc_max_abs_z'] for c in res['chains']))}). A volatility that diffuses "
        "(OU or CIR factor) is approximated by a chain on n nodes; as n doubles the quotes change by "
        + ", then ".join(fmt(x) for x in f_cir["differences"]) + " (CIR) and "
        + ", then ".join(fmt(x) for x in f_ou["differences"]) + " (OU) in 1/k.\n")
    ctx.add(
        "**Symbols.** Mid-price: Brownian with volatility σ per √day (price units), no drift, s = "
        f"{fmt(mo['s0'])}; fill intensities λ± = A e^{{−k(z + δ±)}} with A = {fmt(mo['A'])} per day, k = "
        f"{fmt(mo['k'])} per price unit; z is the market's half-spread, which also sets the terminal penalty "
        f"ε η z q²; the running penalty is ε ν σ² q² per day; ε = {fmt(mo['eps'])}, η = {fmt(mo['eta'])}, ν = "
        f"{fmt(mo['nu'])}, cost α = {fmt(mo['alpha'])}, horizon T = {fmt(mo['T'])} day (hs.paper_model"
        "(\"brownian\")). The regime R_t is a Markov chain with generator Q (rates per day, Q_ij: the rate of "
        "jumping from i to j) and stationary law π (πQ = 0); in regime r the market has its own σ_r or z_r. "
        "δ⁺, δ⁻: ask and bid distances from the mid-price (price units) at inventory q and t = 0; spread "
        "δ⁺ + δ⁻, skew (δ⁺ − δ⁻)/2 (negative: both quotes shifted down, towards selling); value v_r: the expected "
        "wealth at T minus the penalties, from q = 0 in regime r (price units).\n")
    ctx.add(
        "**References.** Exact quotes and values with the chain: `hs.solve` (automatic finite differences; "
        f"tol = value_rtol = {fmt(res['tol'])}, inventory bound |q| ≤ {res['q_max']}; its error estimates are "
        "in the tables). A single-regime market: `hs.solve(method=\"expm\")` (the matrix exponential of "
        "the linear system of ω = e^{kh}, exact to rounding; the chain couples the regimes non-linearly, "
        "so the chain itself is not solved this way). A fixed policy on the chain: `hs.evaluate` (its "
        "linear equation, same error control). Monte Carlo: `hs.simulate(model, policy, regime0=r)` with "
        f"{res['mc']['n_paths']} paths of {res['mc']['n_steps']} steps, seed {res['mc']['seed']}; "
        "z = (simulated − exact)/√(standard error² + exact error²); agreement means |z| ≤ "
        f"{fmt(res['z_limit'])}.\n")


def _chain_tables(ctx, res, sols) -> None:
    rows = []
    for c in res["chains"]:
        gen = ", ".join(f"{name} {fmt(-c['generator'][r][r])}" for r, name in enumerate(c["regimes"]))
        rows.append([c["name"], c["field"], ", ".join(f"{n} {fmt(v)}" for n, v in zip(c["regimes"], c["values"])), gen,
                     ", ".join(fmt(p) for p in c["stationary"]), fmt(c["averaged_parameter"]),
                     fmt(c["solve"]["error_estimate"]), fmt(c["solve"]["value_error_estimate"])])
    ctx.add("**The chains.** Rates of leaving each regime (mean spell 1/rate day), the stationary law π, the "
            "stationary-averaged parameter (σ: √(Σπ_rσ_r²)), and the exact solve's error estimates (quotes in "
            "1/k, values relative):\n")
    ctx.add(md_table(["chain", "field", "per regime", "leave rate (per day)", "π", "averaged", "quote error est.",
                      "value error est."], rows))
    # ---- closed forms
    rows = []
    for c in res["chains"]:
        for x in c["quotes"]:
            rows.append([c["name"], x["regime"], str(x["q"]), fmt(x["ask"], 5), fmt(x["bid"], 5), x["order1_error"],
                         x["order0_error"]])
    ctx.add("\n**Closed forms vs exact, t = 0** (`hs.expansion(m, 0 / 1)` with `regime=r`; error: the larger "
            "of the ask and bid errors, units of 1/k):\n")
    ctx.add(md_table(["chain", "regime", "q", "exact δ⁺", "exact δ⁻", "order-1 error", "order-0 error"], rows))
    ratios = [x for c in res["chains"] for x in c["order_ratios"]]
    ctx.add("\nThe order-1 correction with the chain divides the order-0 error by "
            f"{fmt(min(ratios))} to {fmt(max(ratios))} (per chain and regime, largest errors over q); section 4 "
            "explains why a first-order correction at the paper's ε is no closer.\n")
    # ---- spread and skew
    rows = []
    for c in res["chains"]:
        for x in c["quotes"]:
            if x["q"] >= 0:
                rows.append([c["name"], x["regime"], str(x["q"]), fmt(x["spread"], 5), fmt(x["spread_alone"], 5),
                             fmt(x["skew"], 5), fmt(x["skew_alone"], 5)])
    sym = max(p["symmetry_defect"] for c in res["chains"] for p in c["per_regime"])
    ctx.add("\n**How the quotes react to the regime** (t = 0; *alone*: the optimum of that regime's market "
            "if it never switched). With a martingale price and symmetric sides the spread is even and the skew "
            f"odd in q (measured: δ⁺(q) − δ⁻(−q) ≤ {fmt(sym)}), so q ≥ 0 is shown:\n")
    ctx.add(md_table(["chain", "regime", "q", "spread", "spread alone", "skew", "skew alone"], rows))
    rows = [[c["name"], p["regime"], fmt(p["skew_slope"], 5), fmt(p["skew_slope_alone"], 5)]
            for c in res["chains"] for p in c["per_regime"]]
    ctx.add(f"\nSkew per unit of inventory (least-squares slope over |q| ≤ {res['skew_fit_q']}, price units):\n")
    ctx.add(md_table(["chain", "regime", "skew per unit q", "alone"], rows))
    between = all(c["between_alone"] for c in res["chains"])
    ctx.add("\nIn every regime the chain's spread and skew lie "
            + ("between" if between else "NOT always between")
            + " those of the two markets alone (the chain anticipates the spells to come). Over the table's "
            "inventories the spread varies by at most " + ", ".join(
                f"{fmt(c['spread_variation'])} ({c['name']})" for c in res["chains"])
            + ", the skew by at least " + ", ".join(f"{fmt(c['skew_variation'])}" for c in res["chains"])
            + (": the skew, not the spread, carries the inventory risk." if all(
                c["skew_variation"] > c["spread_variation"] for c in res["chains"]) else ".") + "\n")
    fig, axes = ctx.figure(ncols=2, size=(6.0, 5.2))
    plot_regime_quotes(res, sols, axes[0])
    name = ctx.save(fig, "regimes_quotes")
    ctx.image(name, "Exact optimal quotes against inventory per regime at t = 0: volatility chain (left), "
                    "spread chain (right)")


def _value_tables(ctx, res) -> None:
    rows = []
    for c in res["chains"]:
        for r, name in enumerate(c["regimes"]):
            vals = [f"{fmt(x['values'][r], 7)}" for x in c["candidates"]]
            b = c["best_blind"][r]
            rows.append([c["name"], name, fmt(c["aware"]["values"][r], 7), *vals, b["candidate"],
                         fmt(b["value_of_knowing"]), fmt(b["value_of_knowing_error"])])
    n_alone = len(res["chains"][0]["candidates"]) - 1
    ctx.add("\n**The value of knowing the regime.** Exact values v_r (price units) from q = 0, t = 0 in regime r: "
            "the regime-aware optimum, and regime-blind policies — the same quotes whatever the regime (each "
            "the optimum of one market without switching) — evaluated exactly on the chain. The gain is the "
            "aware value minus the best blind one; its error is the sum of the two solves' value error "
            "estimates. The blind policies tried are candidates, not the best blind policy there is, so the "
            "gain is an upper bound on what seeing the regime is worth against blind quoting:\n")
    heads = ["blind: first regime's market", "blind: second regime's market"][:n_alone] + ["blind: averaged market"]
    ctx.add(md_table(["chain", "start", "aware", *heads, "best blind", "gain", "gain error"], rows))
    ctx.add("\nStationary-weighted gain (the start drawn from π): "
            + ", ".join(f"{fmt(c['value_of_knowing_stationary'])} ({c['name']})" for c in res["chains"])
            + " price units per day.\n")
    rows = []
    for c in res["chains"]:
        for x in c["mc"]:
            for what, label in (("aware", "aware value"), ("blind", "best blind value"), ("difference", "gain (paired)")):
                y = x[what]
                digits = 3 if what == "difference" else 7
                rows.append([c["name"], x["regime"], label, fmt(y["mean"], digits), fmt(y["stderr"]),
                             fmt(y["exact"], digits),
                             fmt(y["exact_error"]), fmt(y["z"])])
    ctx.add("\n**Monte Carlo cross-check.** Levels: the objectives corrected by the simulation's martingale "
            "controls and by regime controls (time in each regime, regime at T, number of jumps, centred by the "
            "chain's exact law from e^{Qt}), one cross-fitted least-squares fit — the simulation's own control "
            "estimator has standard errors " + ", ".join(fmt(x["control_stderr"]) for c in res["chains"] for x in c["mc"])
            + " here (plain: " + ", ".join(fmt(x["plain_stderr"]) for c in res["chains"] for x in c["mc"]) + "). "
            "Gain: the per-path difference of the two policies' compensated estimators with the same seed "
            "(common price and fill random numbers). The optimal policy is re-set at grid times, after each "
            "fill and at each regime jump:\n")
    ctx.add(md_table(["chain", "start", "quantity", "simulated", "std. error", "exact", "exact error", "z"], rows))
    bad = [(c["name"], x["regime"], w) for c in res["chains"] for x in c["mc"] for w in ("aware", "blind", "difference")
           if abs(x[w]["z"]) > res["z_limit"]]
    sw = ", ".join(f"{fmt(x['switches_per_day'])}" for c in res["chains"] for x in c["mc"])
    ctx.add("\n" + ("Every estimate agrees with the exact number" if not bad else
                    f"{len(bad)} estimate(s) disagree: " + ", ".join(f"{a} {b} {w}" for a, b, w in bad))
            + f" (|z| ≤ {fmt(res['z_limit'])}); regime switches per simulated day: {sw}.\n")


def _factor_tables(ctx, res) -> None:
    rows = []
    for f in res["factors"]:
        for j, lv in enumerate(f["levels"]):
            rows.append([f["name"], str(lv["n"]), fmt(lv["h"]), fmt(lv["ask"][len(f["q"]) // 2], 7),
                         "" if j == 0 else fmt(f["differences"][j - 1]),
                         "" if j < 2 else fmt(f["orders"][j - 2]), fmt(lv["error_estimate"]), fmt(lv["moment_difference"]),
                         "" if j == 0 else fmt(f["moment_orders"][j - 1])])
    f_ou, f_cir = res["factors"]
    ctx.add(f"\n**A diffusing volatility as a chain.** The volatility follows dσ = κ(m − σ)dt + ξ dW (OU) or "
            f"ξ√σ dW (CIR) with m = {fmt(f_ou['mean'])}, κ = {fmt(f_ou['reversion'])} per day, ξ = {fmt(f_ou['vol'])} "
            f"(OU) and {fmt(f_cir['vol'])} (CIR); `hs.Regimes.ou_factor` / `cir_factor` put it on n nodes "
            f"(OU: m ± {fmt(f_ou['width_sd'])} stationary standard deviations; CIR: between the stationary quantiles "
            f"at ∓{fmt(f_cir['width_sd'])} standard normal deviations) joined by the upwind rates of a locally "
            "consistent chain (first order in the node spacing h). The quotes are read at the central node "
            f"(σ = {fmt(f_ou['centre'])} OU, {fmt(f_cir['centre'])} CIR), the same on every grid, at t = 0 for q ∈ "
            f"{{{', '.join(str(q) for q in f_ou['q'])}}}. The limit has no closed form, so the table gives the "
            "successive differences (largest over q and both sides, 1/k) and their observed order "
            "log(d_i/d_i+1)/log(h_i/h_i+1); beside them the chain's own E[∫₀ᵀ σ² dt] from the central node "
            "(`chain.expectation`) against the diffusion's closed-form moments — the running penalty ε ν σ² q² "
            "makes this the quantity the quotes depend on first (its order from the absolute differences; "
            "a change of sign makes it jump):\n")
    ctx.add(md_table(["factor", "n", "h", "δ⁺ at q = 0", "difference", "order", "quote error est.",
                      "E[∫σ²] chain − exact", "order"], rows))
    ctx.add("\n" + " ".join(
        f"{f['name']}: the last difference {fmt(f['differences'][-1])} is "
        f"{fmt(f['differences'][-1] / f['max_error_estimate'])} times the solves' largest error estimate, and the "
        f"factor moves the quotes by {fmt(f['factor_effect'])} from those of a constant σ = {fmt(f['centre'])} "
        f"(the finest chain)." for f in res["factors"])
        + " Last observed orders: " + ", ".join(
            f"{fmt(f['orders'][-1])} (quotes) and {fmt(f['moment_orders'][-1])} (E[∫σ²]) for {f['name']}"
            for f in res["factors"]) + "; the chain is first order in h (its local-consistency defect is O(h)): an observed "
          "order below that means these sizes are still pre-asymptotic.\n")


def section_regimes(ctx) -> None:
    """Section 11 of the validation report: market regimes (``results.json["regimes"]``)."""
    res, sols = study_regimes(ctx.settings)
    ctx.results["regimes"] = res
    _intro(ctx, res)
    _chain_tables(ctx, res, sols)
    _value_tables(ctx, res)
    _factor_tables(ctx, res)
    fig, axes = ctx.figure(ncols=2, size=(6.0, 5.2))
    plot_factor_convergence(res, axes[0])
    name = ctx.save(fig, "regimes_factor_convergence")
    ctx.image(name, "Factor chains: successive quote differences and the chain's second-moment error against n")
    ctx.add(f"*(Section computed in {fmt(res['seconds'])} s.)*\n")
