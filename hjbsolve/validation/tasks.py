"""The solver tasks of the validation suite, run by :func:`hjbsolve.sweep.sweep` on any executor.

A task is a picklable top-level function of a parameter ``dict`` (pure: no global state, no
randomness without a seed in the dict), so its results do not depend on the executor::

    from hjbsolve.sweep import sweep
    from hjbsolve.validation.tasks import expansion_errors
    params = [{"model": m.replace(eps=e).to_dict(), "t": [0.0], "q": [0, 10]} for e in eps_grid]
    results = sweep(expansion_errors, params)

* :func:`expansion_errors` — exact, order-0 and order-1 quotes and values at ``(t, q, s)`` points;
* :func:`policy_values` — the value of the optimal and of the closed-form policies (exact policy
  evaluation, no Monte Carlo);
* :func:`run_task` — dispatch on ``params["task"]`` (one sweep, several kinds of tasks).

The module ships in the ``hjbsolve`` package, so the workers of a process pool or of a dask
cluster only need ``hjbsolve`` installed.

Solver settings
---------------
Without ``n_steps`` the finite-difference references are the solver's automatic,
accuracy-controlled solves (:func:`hjbsolve.solve`, :func:`hjbsolve.evaluate`: quotes within
``tol`` (units of ``1/k``) and values within ``value_rtol · max(1, |v|)`` at every stored time);
with ``n_steps`` one fixed-step solve (no accuracy control; reproducible bit for bit, which the
ε = 0 subtraction and the Richardson estimates of the suite rely on).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["expansion_errors", "policy_values", "run_task", "TASKS", "as_model", "exact_at", "EXACT_NODES_TOL"]


def as_model(m):
    """A :class:`~hjbsolve.model.Model` from a model or its ``to_dict()`` form."""
    from ..model import Model

    if isinstance(m, Model):
        return m
    if isinstance(m, dict):
        return Model.from_dict(m)
    raise ValueError(f"model must be an hjbsolve.Model or its to_dict() form, got {type(m).__name__}")


#: Interpolation tolerance of the matrix-exponential references (:func:`hjbsolve.exact.solve_expm`): the tasks
#: read them only at their stored times ``t``, where the values are exact to rounding whatever this
#: tolerance (:mod:`hjbsolve.exact`); it only sizes the graded grid *between* the requested times,
#: which no task reads. (The default 1e-5 also works, but refines that unused grid, and stalls
#: for some requested times, e.g. the Brownian ε-scan of the suite at ε = 5.6e-3, T = 10.)
EXACT_NODES_TOL = 1.0


def exact_at(m, q_max: int, t) -> "Solution":  # noqa: F821 - hjbsolve.solution.Solution
    """The matrix-exponential solution with every time of ``t`` (and ``T``) a stored node.

    Exact to rounding at those times (which is where the tasks read it); see
    :data:`EXACT_NODES_TOL`.
    """
    from ..exact import solve_expm

    times = np.unique(np.concatenate([np.asarray(t, float).ravel(), [m.T]]))
    # solve_expm, not solve(method="expm"): the latter does not pass value_rtol on (hjbsolve/solver/api.py)
    ref = solve_expm(m, q_max, t_eval=times, tol=EXACT_NODES_TOL, value_rtol=EXACT_NODES_TOL)
    missing = np.setdiff1d(times, ref.t)
    if missing.size:  # pragma: no cover - the solver stores every requested time
        raise RuntimeError(f"the matrix-exponential solution does not store the requested times {missing}")
    return ref


def _quotes_values(obj, t, q, s, values: bool) -> dict:
    ask, bid = obj.quotes(t, q, s)
    shape = np.broadcast_shapes(np.shape(t), np.shape(q), np.shape(s))
    out = {"ask": np.broadcast_to(np.asarray(ask, float), shape).copy(),
           "bid": np.broadcast_to(np.asarray(bid, float), shape).copy()}
    if values:
        out["value"] = np.broadcast_to(np.asarray(obj.value(t, q, s), float), shape).copy()
    return out


def _points(params):
    """``t[:, None(, None)]``, ``q[None, :(, None)]``, ``s`` broadcastable, from a task's params."""
    t = np.asarray(params["t"], float)
    q = np.asarray(params["q"], dtype=np.int64)
    s_in = params.get("s", 3000.0)
    if np.ndim(s_in) == 0:
        return t[:, None], q[None, :], float(s_in), float(s_in), float(s_in)
    s = np.asarray(s_in, float)
    return t[:, None, None], q[None, :, None], s[None, None, :], float(s.min()), float(s.max())


def _solver_kw(params, t) -> dict:
    """Keyword arguments of :func:`hjbsolve.solve` / :func:`hjbsolve.evaluate` from a task's params."""
    kw = {"n_steps": params.get("n_steps"), "ds": params.get("ds"), "t_eval": t, "scheme": params.get("scheme")}
    for name in ("tol", "value_rtol"):
        if params.get(name) is not None:
            kw[name] = params[name]
    return kw


def _scalar_info(info: dict) -> dict:
    return {k: v for k, v in info.items() if isinstance(v, (int, float, str, bool))}


def expansion_errors(params: dict) -> dict:
    """Exact, order-0 and order-1 quotes (and values) at a grid of ``(t, q)`` points of one model.

    The task behind the error maps. The exact reference is the matrix exponential
    (:func:`exact_at`: :func:`hjbsolve.exact.solve_expm`, exact at the times ``t``) for a Brownian
    price (method ``"auto"`` or ``"exact"``) and the finite differences of :func:`hjbsolve.solve`
    otherwise (or with method ``"fd"``).

    Parameters (keys of ``params``)
    -------------------------------
    model : Model or dict
        The model (``Model.to_dict()`` form travels well between processes).
    t : list of float
        Times (``T − t`` is the time to maturity; the problem depends on ``t`` only through it).
    q : list of int
        Inventories.
    s : float or list of float, optional
        Mid-price(s) (OU; default 3000). A list adds a last axis to every output array.
    q_max : int, optional
        Inventory bound (default :func:`hjbsolve.solver.default_q_max`).
    s_range : (float, float), optional
        OU: where answers are wanted (default ``(s − 0.5, s + 0.5)``).
    n_steps, ds, scheme : optional
        Solver settings (FD only). Without ``n_steps``: the automatic, accuracy-controlled mode
        (``tol``, ``value_rtol`` optional keys).
    method : {"auto", "exact", "fd"}
    values : bool
        Also return values (default True).
    eps0_reference : bool
        FD only: also solve the ε = 0 model on the *same* grids and return its quotes and
        values under ``"exact_eps0"`` — the solver's own discretisation error at ε = 0 (where
        the closed forms are exact), which the validation subtracts to measure small
        expansion errors below the solver's accuracy (meaningful with fixed ``n_steps``: the
        automatic mode may choose different grids at ε and at 0).

    Returns
    -------
    dict
        ``"exact"``, ``"order0"``, ``"order1"`` (and ``"exact_eps0"``): dicts of arrays
        ``ask, bid, value`` of shape ``(len(t), len(q))`` (``(len(t), len(q), len(s))`` for a
        list of prices); ``"info"``: solver diagnostics.
    """
    from ..expansion import expansion
    from ..solver import default_q_max, solve

    m = as_model(params["model"])
    t = np.asarray(params["t"], float)
    tt, qq, s, s_lo, s_hi = _points(params)
    values = bool(params.get("values", True))
    method = params.get("method", "auto")
    if method not in ("auto", "exact", "fd"):
        raise ValueError(f"method must be 'auto', 'exact' or 'fd', got {method!r}")
    brownian = not m.price.depends_on_price
    if method == "exact" and not brownian:
        raise ValueError("method='exact' needs a Brownian price")
    use_exact = brownian and method in ("auto", "exact")
    s_range = tuple(params.get("s_range") or (s_lo - 0.5, s_hi + 0.5))
    q_max = params.get("q_max")
    if q_max is None:
        q_max = default_q_max(m, None if brownian else s_range)
    q_max = int(q_max)
    out: dict = {}
    if use_exact:
        ref = exact_at(m, q_max, t)
        out["exact"] = _quotes_values(ref, tt, qq, s, values)
        out["info"] = {"method": "exact_brownian", "q_max": q_max, "wall_time": ref.info.get("wall_time", math.nan)}
    else:
        kw = _solver_kw(params, t)
        sr = None if brownian else s_range
        sol = solve(m, q_max=q_max, s_range=sr, **kw)
        out["exact"] = _quotes_values(sol, tt, qq, s, values)
        out["info"] = dict(_scalar_info(sol.info), method="fd")
        if params.get("eps0_reference", False):
            sol0 = solve(m.replace(eps=0.0), q_max=q_max, s_range=sr, **kw)
            out["exact_eps0"] = _quotes_values(sol0, tt, qq, s, values)
    for order in (0, 1):
        out[f"order{order}"] = _quotes_values(expansion(m, order), tt, qq, s, values)
    return out


def policy_values(params: dict) -> dict:
    """Expected objective of the optimal, order-0 and order-1 policies at ``(t, q, s)`` points.

    The optimal value comes from :func:`hjbsolve.solve` (or the matrix exponential,
    :func:`exact_at`, for a Brownian price); the closed-form policies are evaluated exactly as fixed policies
    by :func:`hjbsolve.evaluate` on the same grids (a linear equation; no Monte Carlo).

    Parameters (keys of ``params``)
    -------------------------------
    model, t, q, s, q_max, s_range, n_steps, ds, scheme, tol, value_rtol : as in :func:`expansion_errors`
        Without ``n_steps`` every finite-difference value is an automatic, accuracy-controlled
        solve (``info["value_error_estimate"]`` holds the largest estimate).
    orders : list of int
        Expansion orders to evaluate (default ``[0, 1]``).
    refine : bool
        Also compute every finite-difference value with twice the time steps (keys with the
        suffix ``"_fine"``), for a Richardson estimate of the time-discretisation error
        (needs ``n_steps``).

    Returns
    -------
    dict
        ``"optimal"``, ``"order0"``, ``"order1"`` (and ``"*_fine"``): value arrays of shape
        ``(len(t), len(q))``; ``"info"``: ``q_max``, ``n_steps`` (of the coarse grid; the largest
        of the automatic solves), ``ds`` (FD optimum), ``value_error_estimate`` (automatic mode: the
        largest ``info["value_error_estimate"]`` of its solves).
    """
    from ..expansion import expansion
    from ..solver import default_q_max, evaluate, solve

    m = as_model(params["model"])
    t = np.asarray(params["t"], float)
    tt, qq, s, s_lo, s_hi = _points(params)
    brownian = not m.price.depends_on_price
    s_range = tuple(params.get("s_range") or (s_lo - 0.5, s_hi + 0.5))
    sr = None if brownian else s_range
    q_max = params.get("q_max")
    q_max = int(default_q_max(m, sr) if q_max is None else q_max)
    n_steps = params.get("n_steps")
    refine = bool(params.get("refine", False))
    if refine and n_steps is None:
        raise ValueError("refine=True needs n_steps (a Richardson estimate of fixed-step solves); the automatic "
                         "mode controls its own error")
    shape = np.broadcast_shapes(tt.shape, qq.shape, np.shape(s))
    out: dict = {"info": {"q_max": q_max}}
    levels = [("", None if n_steps is None else int(n_steps))] + ([("_fine", 2 * int(n_steps))] if refine else [])
    exact = brownian and params.get("method", "auto") != "fd"
    if exact:
        ref = exact_at(m, q_max, t)
        for suffix, _ in levels:
            out["optimal" + suffix] = np.broadcast_to(np.asarray(ref.value(tt, qq, s), float), shape).copy()
    estimates, steps = [], []
    for suffix, n in levels:
        kw = dict(_solver_kw(params, t), n_steps=n)
        if not exact:
            ref = solve(m, q_max=q_max, s_range=sr, **kw)
            out["optimal" + suffix] = np.broadcast_to(np.asarray(ref.value(tt, qq, s), float), shape).copy()
            out["info"]["ds"] = float(ref.info["ds"]) if np.isfinite(ref.info["ds"]) else 0.0
            if suffix == "":
                steps.append(int(ref.info["n_steps"]))
            estimates.append(ref.info.get("value_error_estimate"))
        for order in params.get("orders", [0, 1]):
            pol = expansion(m, order)  # its quotes_on_grid is the solver's fast path
            ev = evaluate(m, pol, q_max=q_max, s_range=sr, **kw)
            out[f"order{order}{suffix}"] = np.broadcast_to(np.asarray(ev.value(tt, qq, s), float), shape).copy()
            if suffix == "":
                steps.append(int(ev.info["n_steps"]))
            estimates.append(ev.info.get("value_error_estimate"))
    out["info"]["n_steps"] = max(steps, default=0)
    if n_steps is None:
        out["info"]["value_error_estimate"] = float(max(e for e in estimates if e is not None)) \
            if any(e is not None for e in estimates) else 0.0
    return out


#: Built-in tasks by name (for :func:`run_task`).
TASKS = {"expansion_errors": expansion_errors, "policy_values": policy_values}


def run_task(params: dict):
    """Dispatch ``params["task"]`` (a key of :data:`TASKS`) with the remaining parameters.

    Lets one sweep mix several kinds of tasks while every worker only needs ``hjbsolve``.
    """
    params = dict(params)
    name = params.pop("task", None)
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    if params.pop("bound_study", False):          # a study of the bound itself: small q_max on purpose
        import warnings

        from ..solver import BoundWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundWarning)
            return TASKS[name](params)
    return TASKS[name](params)
