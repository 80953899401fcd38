"""Parameter sweeps on any :class:`concurrent.futures.Executor` (error maps of the closed forms).

A sweep applies one *task* — a picklable top-level function of a parameter ``dict`` — to a
list of parameter dicts and returns the results **in the order of the parameters**, whatever
executor ran them and in whatever order they finished::

    from hjbsolve.sweep import sweep, expansion_errors
    params = [{"model": m.replace(eps=e).to_dict(), "t": [0.0], "q": [0, 10]} for e in eps_grid]
    results = sweep(expansion_errors, params)                  # local process pool
    results = sweep(expansion_errors, params, executor=ex)     # any Executor

Tasks are pure functions of their parameters (no global state, no randomness without a
seed in the dict), so the results do not depend on the executor: a serial run, a local
process pool and a cluster give identical numbers (``tests/test_sweep.py`` checks this
bit for bit).

Scaling out with dask
---------------------
A ``dask.distributed`` client provides a standard executor, so a user with a cluster runs
the same sweep unchanged::

    from dask.distributed import Client
    client = Client("scheduler-address:8786")      # or Client(LocalCluster(...))
    results = sweep(expansion_errors, params, executor=client.get_executor())

The workers need ``hjbsolve`` importable (installed in their environment) and, for a task
defined elsewhere, that task's module.

Threads
-------
The solvers' numba kernels are multi-threaded. In the default process pool every worker is
limited to ``threads_per_worker`` numba threads (default: the cores divided among the
workers) so that the workers do not oversubscribe the machine. Results do not depend on the
thread count.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["sweep", "SerialExecutor", "default_executor", "expansion_errors", "policy_values",
           "run_task", "TASKS", "as_model"]


# ---------------------------------------------------------------------------- executors
class SerialExecutor(Executor):
    """An executor that runs each task immediately in the calling process (no parallelism).

    Useful for debugging, for tiny sweeps and as the reference of the determinism tests.
    """

    def submit(self, fn, /, *args, **kwargs):  # noqa: D401 - Executor API
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # pragma: no cover - re-raised by .result()
            fut.set_exception(exc)
        return fut


def _limit_threads(n: int) -> None:
    """Worker initializer: at most ``n`` numba threads in this process."""
    try:
        import numba

        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # pragma: no cover - numba missing or already configured
        pass


def default_executor(max_workers: int | None = None, threads_per_worker: int | None = None) -> ProcessPoolExecutor:
    """A local process pool suited to the solvers.

    Parameters
    ----------
    max_workers : int, optional
        Number of worker processes (default: the number of usable cores, at most 8).
    threads_per_worker : int, optional
        numba threads per worker (default: ``cores // max_workers``, at least 1).

    Notes
    -----
    Workers are started with the ``spawn`` method: forking a process whose numba thread pool
    is already running is not safe. Each worker imports ``hjbsolve`` once (compiled kernels
    come from numba's on-disk cache).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if max_workers is None:
        max_workers = max(1, min(cores, 8))
    if threads_per_worker is None:
        threads_per_worker = max(1, cores // max_workers)
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_limit_threads, initargs=(threads_per_worker,))


def sweep(task: Callable[[dict], Any], params: Iterable[dict], executor: Executor | None = None, *,
          progress: bool = False, desc: str = "sweep", max_workers: int | None = None) -> list:
    """Apply ``task`` to every parameter dict; results in the order of ``params``.

    Parameters
    ----------
    task : callable
        A picklable top-level function ``task(params: dict) -> result``. It must be a pure
        function of its argument (the results are then independent of the executor).
    params : iterable of dict
        One dict per task.
    executor : concurrent.futures.Executor, optional
        Where to run the tasks: a :class:`~concurrent.futures.ProcessPoolExecutor`, a
        ``dask.distributed`` client's ``get_executor()``, :class:`SerialExecutor`, … Default:
        :func:`default_executor` (created for this call and shut down after it).
    progress : bool
        A tqdm bar over completed tasks.
    desc : str
        Label of the progress bar.
    max_workers : int, optional
        Workers of the default executor (ignored when ``executor`` is given).

    Returns
    -------
    list
        ``[task(p) for p in params]``, computed by the executor.

    Raises
    ------
    Exception
        The first failing task's exception (in the order of ``params``), after all tasks
        have been waited for.
    """
    params = list(params)
    if not callable(task):
        raise ValueError(f"task must be callable, got {task!r}")
    for i, p in enumerate(params):
        if not isinstance(p, dict):
            raise ValueError(f"params[{i}] must be a dict, got {type(p).__name__}")
    if not params:
        return []
    own = executor is None
    if own:
        executor = default_executor(max_workers=max_workers)
    try:
        futures = [executor.submit(task, p) for p in params]
        if progress:
            from tqdm.auto import tqdm

            for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, leave=False):
                pass
        return [f.result() for f in futures]
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------- a built-in task
def as_model(m):
    """A :class:`~hjbsolve.model.Model` from a model or its ``to_dict()`` form."""
    from .model import Model

    if isinstance(m, Model):
        return m
    if isinstance(m, dict):
        return Model.from_dict(m)
    raise ValueError(f"model must be an hjbsolve.Model or its to_dict() form, got {type(m).__name__}")


def _quotes_values(obj, t, q, s, values: bool) -> dict:
    ask, bid = obj.quotes(t, q, s)
    shape = np.broadcast_shapes(np.shape(t), np.shape(q), np.shape(s))
    out = {"ask": np.broadcast_to(np.asarray(ask, float), shape).copy(),
           "bid": np.broadcast_to(np.asarray(bid, float), shape).copy()}
    if values:
        out["value"] = np.broadcast_to(np.asarray(obj.value(t, q, s), float), shape).copy()
    return out


def _reader(sol, params):
    """How a task reads a FD solution (``Solution`` interpolates cubically in ``s``)."""
    return sol


def _points(params):
    """``t[:, None(, None)]``, ``q[None, :(, None)]``, ``s`` broadcastable, from a task's params."""
    t = np.asarray(params["t"], float)
    q = np.asarray(params["q"], dtype=np.int64)
    s_in = params.get("s", 3000.0)
    if np.ndim(s_in) == 0:
        return t[:, None], q[None, :], float(s_in), float(s_in), float(s_in)
    s = np.asarray(s_in, float)
    return t[:, None, None], q[None, :, None], s[None, None, :], float(s.min()), float(s.max())


def expansion_errors(params: dict) -> dict:
    """Exact, order-0 and order-1 quotes (and values) at a grid of ``(t, q)`` points of one model.

    The task behind the error maps. The exact reference is :func:`hjbsolve.exact_brownian`
    for a Brownian price (method ``"auto"`` or ``"exact"``) and :func:`hjbsolve.solve`
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
    n_steps, ds : optional
        Solver settings (FD only).
    method : {"auto", "exact", "fd"}
    values : bool
        Also return values (default True).
    eps0_reference : bool
        FD only: also solve the ε = 0 model on the *same* grids and return its quotes and
        values under ``"exact_eps0"`` — the solver's own discretisation error at ε = 0 (where
        the closed forms are exact), which the validation subtracts to measure small
        expansion errors below the solver's accuracy.

    Returns
    -------
    dict
        ``"exact"``, ``"order0"``, ``"order1"`` (and ``"exact_eps0"``): dicts of arrays
        ``ask, bid, value`` of shape ``(len(t), len(q))`` (``(len(t), len(q), len(s))`` for a
        list of prices); ``"info"``: solver diagnostics.
    """
    from .exact import exact_brownian
    from .expansion import expansion
    from .solver import default_q_max, solve

    m = as_model(params["model"])
    t = np.asarray(params["t"], float)
    tt, qq, s, s_lo, s_hi = _points(params)
    values = bool(params.get("values", True))
    method = params.get("method", "auto")
    if method not in ("auto", "exact", "fd"):
        raise ValueError(f"method must be 'auto', 'exact' or 'fd', got {method!r}")
    brownian = m.price.is_martingale
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
        times = np.unique(np.concatenate([t, [m.T]]))
        ref = exact_brownian(m, q_max, t=times)
        out["exact"] = _quotes_values(ref, tt, qq, s, values)
        out["info"] = {"method": "exact_brownian", "q_max": q_max, "wall_time": ref.info.get("wall_time", math.nan)}
    else:
        kw = {"n_steps": params.get("n_steps"), "ds": params.get("ds"), "t_eval": t,
              "scheme": params.get("scheme", "strang")}
        sr = None if brownian else s_range
        sol = solve(m, q_max=q_max, s_range=sr, **kw)
        out["exact"] = _quotes_values(_reader(sol, params), tt, qq, s, values)
        info = {k: v for k, v in sol.info.items() if isinstance(v, (int, float, str, bool))}
        out["info"] = dict(info, method="fd")
        if params.get("eps0_reference", False):
            sol0 = solve(m.replace(eps=0.0), q_max=q_max, s_range=sr, **kw)
            out["exact_eps0"] = _quotes_values(_reader(sol0, params), tt, qq, s, values)
    for order in (0, 1):
        out[f"order{order}"] = _quotes_values(expansion(m, order), tt, qq, s, values)
    return out


def policy_values(params: dict) -> dict:
    """Expected objective of the optimal, order-0 and order-1 policies at ``(t, q, s)`` points.

    The optimal value comes from :func:`hjbsolve.solve` (or :func:`hjbsolve.exact_brownian`
    for a Brownian price); the closed-form policies are evaluated exactly as fixed policies
    by :func:`hjbsolve.evaluate` on the same grids (a linear equation; no Monte Carlo).

    Parameters (keys of ``params``)
    -------------------------------
    model, t, q, s, q_max, s_range, n_steps, ds : as in :func:`expansion_errors`
    orders : list of int
        Expansion orders to evaluate (default ``[0, 1]``).
    refine : bool
        Also compute every finite-difference value with twice the time steps (keys with the
        suffix ``"_fine"``), for a Richardson estimate of the time-discretisation error.

    Returns
    -------
    dict
        ``"optimal"``, ``"order0"``, ``"order1"`` (and ``"*_fine"``): value arrays of shape
        ``(len(t), len(q))``; ``"info"`` (``n_steps`` of the coarse grid, ``ds``).
    """
    from .exact import exact_brownian
    from .expansion import expansion
    from .solver import default_n_steps, default_q_max, evaluate, solve

    m = as_model(params["model"])
    t = np.asarray(params["t"], float)
    tt, qq, s, s_lo, s_hi = _points(params)
    brownian = m.price.is_martingale
    s_range = tuple(params.get("s_range") or (s_lo - 0.5, s_hi + 0.5))
    sr = None if brownian else s_range
    q_max = params.get("q_max")
    q_max = int(default_q_max(m, sr) if q_max is None else q_max)
    n_steps = params.get("n_steps") or default_n_steps(m)
    shape = np.broadcast_shapes(tt.shape, qq.shape, np.shape(s))
    out: dict = {"info": {"q_max": q_max, "n_steps": int(n_steps)}}
    levels = [("", int(n_steps))] + ([("_fine", 2 * int(n_steps))] if params.get("refine", False) else [])
    exact = brownian and params.get("method", "auto") != "fd"
    if exact:
        ref = exact_brownian(m, q_max, t=np.unique(np.concatenate([t, [m.T]])))
        for suffix, _ in levels:
            out["optimal" + suffix] = np.broadcast_to(np.asarray(ref.value(tt, qq, s), float), shape).copy()
    for suffix, n in levels:
        kw = {"n_steps": n, "ds": params.get("ds"), "t_eval": t}
        if not exact:
            ref = solve(m, q_max=q_max, s_range=sr, **kw)
            out["optimal" + suffix] = np.broadcast_to(np.asarray(_reader(ref, params).value(tt, qq, s), float),
                                                      shape).copy()
            out["info"]["ds"] = float(ref.info["ds"]) if np.isfinite(ref.info["ds"]) else 0.0
        for order in params.get("orders", [0, 1]):
            pol = expansion(m, order)  # its quotes_on_grid is the solver's fast path
            ev = evaluate(m, pol, q_max=q_max, s_range=sr, **kw)
            out[f"order{order}{suffix}"] = np.broadcast_to(np.asarray(_reader(ev, params).value(tt, qq, s), float),
                                                           shape).copy()
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
    return TASKS[name](params)
