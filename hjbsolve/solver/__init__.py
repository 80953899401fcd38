"""Finite-difference solvers of the q-indexed verification system.

* :func:`solve` — the HJB system with the exact optimal controls (no linearisation);
* :func:`evaluate` — the expected objective of a fixed quoting policy (a linear equation,
  same machinery).

Problem (``Model``) ≠ discretisation (``grid``, ``operators``) ≠ time stepping (``schemes``,
``rollback``) ≠ results (:class:`hjbsolve.solution.Solution`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._validation import check_int, check_real
from ..grid import InventoryGrid, PriceGrid, price_grid, time_grid
from ..model import Model
from ..solution import Solution
from .operators import InventoryJumps, PricePropagator, price_generator
from .rollback import NonFiniteError, rollback
from .schemes import SCHEMES, Scheme, get_scheme

__all__ = ["solve", "evaluate", "default_q_max", "default_n_steps", "SCHEMES", "Scheme", "NonFiniteError"]


def default_q_max(model: Model, s_range=None) -> int:
    """An inventory bound whose effect on the answers near ``q = 0`` is negligible.

    Inventory moves by fills at about ``λ = model.base_rate`` per side. Over the horizon it
    diffuses by ``sqrt(2 λ T)`` and, under a directional bet ``Δ``, drifts by about
    ``2 λ T sinh(k |Δ|)`` (the skew of the ε=0 quotes), unless the inventory penalty stops it
    first, near ``|q| ≈ |Δ| / (2 ε π̃)`` with ``π̃ = η z + ν σ² T``. The bound is eight
    diffusion lengths plus the smaller of the two drifts, rounded up to a multiple of 50.
    Doubling ``q_max`` is the check (the tests do it).
    """
    lam, T = model.base_rate, model.T
    reach = 8.0 * math.sqrt(2.0 * lam * T)
    if not model.price.is_martingale:
        lo, hi = price_grid(model, s_range).interest
        dmax = float(np.max(np.abs(model.delta(0.0, np.array([lo, hi])))))
        drift = 2.0 * lam * T * math.sinh(min(model.k * dmax, 20.0))
        pi = model.eta * model.z + model.nu * model.price.sigma**2 * T
        if model.eps * pi > 0:
            drift = min(drift, dmax / (2.0 * model.eps * pi))
        reach += drift
    return int(50 * math.ceil(max(reach, 10.0) / 50.0))


def default_n_steps(model: Model) -> int:
    """Initial number of time steps of the automatic step selection in :func:`solve`.

    The error of the Strang/ROS2 scheme behaves like ``C (r dt)²`` with ``r`` the fastest rate
    of the problem — the fill rate ``λ`` per side or the mean reversion ``a``. At the paper's
    parameters (λT ≈ 212) 30 steps give quotes within 6.4e-6 of the converged ones; the rule
    ``n = 2 sqrt(r T)`` (at least 20) starts other models at the same ``r dt``, and
    :func:`solve` then refines until its error estimate meets ``tol``.
    """
    a = getattr(model.price, "a", 0.0)
    rate = max(model.base_rate, a, 1.0 / model.T)
    return max(20, int(math.ceil(2.0 * math.sqrt(rate * model.T))))


def _check_model(model):
    if not isinstance(model, Model):
        raise ValueError(f"model must be an hjbsolve.Model, got {type(model).__name__}")


def _setup(model, q_max, s_range, ds, n_steps, t_eval, s_dependent):
    q_max = default_q_max(model, s_range) if q_max is None else check_int("q_max", q_max, ge=1)
    inventory = InventoryGrid(q_max)
    if s_dependent:
        prices = price_grid(model, s_range, ds)
    else:
        if ds is not None:
            raise ValueError("ds applies only to an s-dependent problem (OU price, or a price-dependent policy)")
        prices = PriceGrid.single()
    n_steps = default_n_steps(model) if n_steps is None else check_int("n_steps", n_steps, ge=1)
    t, save = time_grid(model.T, n_steps, t_eval)
    return inventory, prices, t, save


def _run(model, inventory, prices, t, save, scheme, progress, policy, compiled, kind):
    scheme = get_scheme(scheme)
    t0 = time.perf_counter()
    q = inventory.q.astype(float)
    h_T = np.broadcast_to(-model.terminal_penalty * q**2, (prices.n, inventory.n)).copy()
    b = model.price.drift(prices.s) if not prices.degenerate else np.zeros(1)
    propagator = PricePropagator(price_generator(model, prices), b, q, compiled=compiled)
    propagator.prepare(np.diff(t))
    jumps = InventoryJumps(model, inventory, prices, policy=policy, compiled=compiled)
    h = rollback(h_T, t, save, propagator, jumps, scheme, progress=progress)
    wall = time.perf_counter() - t0
    info = {"kind": kind, "scheme": scheme.name, "order": scheme.order, "n_steps": int(t.size - 1),
            "n_s": int(prices.n), "ds": float(prices.ds), "n_q": int(inventory.n), "q_max": int(inventory.q_max),
            "wall_time": wall, "cells_x_steps_per_s": prices.n * inventory.n * (t.size - 1) / wall,
            "compiled": bool(compiled)}
    return Solution(model, t[save].copy(), prices.s.copy(), prices.interest, inventory.q.copy(), h, info,
                    optimal=policy is None)


def _changes(fine: Solution, coarse: Solution) -> tuple[float, float]:
    """Largest changes of the optimal quotes and of the values at ``t = 0`` between two solves
    on the same price and inventory grids.

    Compared over the price nodes inside ``s_range`` and the inventories ``|q| ≤ q_max/2``
    (away from the bound's boundary layer, see :func:`default_q_max`).
    """
    lo, hi = fine.s_range
    inside = (fine.s >= lo - 1e-12) & (fine.s <= hi + 1e-12) if fine.s.size > 1 else np.ones(1, bool)
    qmask = np.abs(fine.q) <= fine.q_max // 2
    g = [sol.g[0][inside][:, qmask] for sol in (fine, coarse)]
    quotes = float(np.abs(np.diff(g[0], axis=1) - np.diff(g[1], axis=1)).max())
    return quotes, float(np.abs(g[0] - g[1]).max())



def solve(model: Model, q_max: int | None = None, s_range=None, *, n_steps: int | None = None,
          ds: float | None = None, t_eval=None, scheme: str = "strang", tol: float = 1e-5,
          progress: bool = False, compiled: bool = True) -> Solution:
    """Solve the HJB system of the model exactly (finite differences, exact optimal controls).

    Parameters
    ----------
    model : Model
    q_max : int, optional
        Inventory bound (no ask at ``−q_max``, no bid at ``+q_max``). Default:
        :func:`default_q_max`.
    s_range : (float, float), optional
        OU only: mid-prices where answers are wanted; the solver pads it with the reach of
        the price over the horizon (:func:`hjbsolve.grid.price_grid`). Asking outside it later
        is a ``ValueError``. Ignored (not needed) for a Brownian price.
    n_steps : int, optional
        Number of time steps (more are used to land on ``t_eval``). Given: one solve with that
        many steps. Default: chosen automatically for the accuracy ``tol`` (below).
    ds : float, optional
        Price spacing (OU). Default from the model's scales (:func:`hjbsolve.grid.price_grid`).
    t_eval : array_like, optional
        Times to store (default about 101 uniform times); ``0`` and ``T`` always included.
    scheme : str
        A key of :data:`SCHEMES`.
    tol : float
        Target accuracy of the quotes (absolute, price units) when ``n_steps`` is not given:
        the solver starts from :func:`default_n_steps`, estimates the time-discretisation
        error of the quotes at ``t = 0`` by Richardson extrapolation against a solve with half
        the steps (over ``s_range`` and ``|q| ≤ q_max/2``), and refines until the estimate is
        below ``0.8 tol``. The estimate is in ``info["error_estimate"]``; the steps tried in
        ``info["n_steps_tried"]``. The same comparison estimates the time error of the values
        (``info["value_error_estimate"]``, price units): the level ``v`` accumulates the error
        over the day and is less accurate than the quotes (≈ 0.02 on ≈ 460 at the paper's point
        with the default tolerance); pass a smaller ``tol`` or ``n_steps`` when values matter.
    progress : bool
        tqdm progress bar over time steps.
    compiled : bool
        numba kernels (default) or their numpy twins.

    Returns
    -------
    Solution
    """
    _check_model(model)
    s_dep = not model.price.is_martingale
    if n_steps is not None:
        inv, prices, t, save = _setup(model, q_max, s_range, ds, n_steps, t_eval, s_dep)
        sol = _run(model, inv, prices, t, save, scheme, progress, None, compiled, "hjb")
        sol.info["error_estimate"] = None
        return sol
    tol = check_real("tol", tol, gt=0.0)
    order = get_scheme(scheme).order
    n = default_n_steps(model)

    def run(n_):
        inv, prices, t, save = _setup(model, q_max, s_range, ds, n_, t_eval, s_dep)
        return _run(model, inv, prices, t, save, scheme, progress, None, compiled, "hjb")

    t0 = time.perf_counter()
    n_prev = max(n // 2, 8)
    prev, sol = run(n_prev), run(n)
    tried = [n_prev, n]
    for _ in range(6):
        ratio = n / n_prev
        dq, dv = _changes(sol, prev)
        est, est_value = dq / (ratio**order - 1.0), dv / (ratio**order - 1.0)
        if est <= 0.8 * tol:  # margin: the estimate is good to tens of percent (tests)
            break
        n_prev, prev = n, sol
        n = int(math.ceil(n * 1.1 * (est / (0.5 * tol)) ** (1.0 / order)))
        sol = run(n)
        tried.append(n)
    else:  # pragma: no cover - six refinements never sufficed
        raise NonFiniteError(f"time steps did not reach tol={tol} (estimate {est:.2e} at {n} steps)")
    sol.info.update(error_estimate=est, value_error_estimate=est_value, tol=tol, n_steps_tried=tried,
                    wall_time_total=time.perf_counter() - t0)
    return sol


def evaluate(model: Model, policy, q_max: int | None = None, s_range=None, *, n_steps: int | None = None,
             ds: float | None = None, t_eval=None, scheme: str = "strang", progress: bool = False,
             compiled: bool = True, price_dependent: bool | None = None) -> Solution:
    """Expected objective of a fixed quoting policy (exact policy evaluation).

    Integrates the linear verification equation of ``policy`` (paper eq. 4 with the policy's
    quotes in place of the maximiser) on the same grids and with the same scheme as
    :func:`solve`. The returned ``Solution.value(t, q, s)`` is the expected objective
    ``E[X_T + Q_T S_T − penalties] − x`` of trading that policy from ``(t, q, s)``.

    Parameters
    ----------
    policy : object with ``quotes(t, q, s) -> (δ⁺, δ⁻)``
        ``+inf`` for an unquoted side. Inventories beyond ``±q_max`` are never reached.
    price_dependent : bool, optional
        Whether the value depends on ``s`` (default: yes for OU; for a Brownian price only
        if ``s_range`` is given, for policies whose quotes depend on ``s``).
    Other parameters as in :func:`solve`.
    """
    _check_model(model)
    if not hasattr(policy, "quotes"):
        raise ValueError(f"policy must have a quotes(t, q, s) method, got {type(policy).__name__}")
    if isinstance(policy, Solution):
        # its tables cover the whole padded price grid, not only the s_range it answers on
        policy = policy.tabulate()
    if price_dependent is None:
        price_dependent = (not model.price.is_martingale) or s_range is not None
    inv, prices, t, save = _setup(model, q_max, s_range, ds, n_steps, t_eval, price_dependent)
    sol = _run(model, inv, prices, t, save, scheme, progress, policy, compiled, "policy")
    sol.info["name"] = getattr(policy, "name", type(policy).__name__)
    return sol
