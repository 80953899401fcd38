"""``solve`` and ``evaluate``: the automatic, accuracy-controlled drivers of every engine.

Problem (``Model``) ≠ coefficients (:class:`~hjbsolve.coefficients.MarketCoefficients`) ≠
discretisation (:mod:`hjbsolve.grid`, :mod:`~hjbsolve.solver.operators`) ≠ time stepping
(:mod:`~hjbsolve.solver.schemes`, :func:`~hjbsolve.solver.rollback.rollback`) ≠ results
(:class:`hjbsolve.solution.Solution`).

The accuracy contract (automatic mode, no ``n_steps``)
-----------------------------------------------------
Every number a :class:`Solution` returns — quotes and values at any ``t`` in ``[0, T]``, any
``s`` in ``s_range`` and ``|q| ≤ q_max/2`` — is within the requested accuracy of the exact
solution of the same bounded problem: quotes within ``tol`` in units of ``1/k``, values within
``value_rtol · max(1, |v|)`` (for a price-independent problem, whose value ``q s + g`` can be
asked at any ``s``, within ``value_rtol · max(1, |g|)``). Times closer to ``T`` than
``1e-9 T`` are excluded: there a steep terminal penalty at a large bound relaxes on time scales
double precision cannot resolve. The driver

1. builds a time grid graded towards ``T`` (:func:`hjbsolve.grid.graded_time_grid`: steps that
   grow geometrically from the time scale of the fastest fill rate of the terminal layer to a
   largest step ``h``), and the same grid with every step halved;
2. solves on both and takes the Richardson estimate ``|g_h − g_{h/2}| / (2^p − 1)`` of the time
   error at **every** node of the coarse grid (not only at ``t = 0``);
3. estimates the error of the interpolation in ``t`` between stored nodes (the cubic through
   every other node of the fine solution, compared with the nodes it skips);
4. for a price-dependent problem, estimates the error of the price grid with a solve on every
   other price node, and the error of the cubic interpolation in ``s`` the same way as in ``t``;
5. refines what is too large and starts again, until the sum of the estimates meets the
   tolerances; the fine solution (every node stored) is returned with the estimates in
   ``info``.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm import tqdm  # text bars (tqdm.auto warns in notebooks without ipywidgets)

from .._validation import check_int, check_real
from ..coefficients import MAX_LOG_RATE
from ..grid import StateGrid, graded_time_grid, halve_steps, uniform_time_grid
from ..model import Model
from ..multiasset import MultiAssetModel
from ..policies import BoxPolicy, RegimePolicy, check_policy_assets, tabulate_policy
from ..solution import Solution
from . import _estimates as _est
from .operators import JumpAxis, StateGenerator
from ._kernels import ScaleError
from .rollback import NonFiniteError, rollback
from .schemes import AUTOMATIC_SCHEME, FIXED_SCHEME, SCHEMES, Scheme, get_scheme
from .setup import default_n_steps, default_q_max, multi_asset_grid, state_grid, terminal_rate

__all__ = ["solve", "evaluate", "default_q_max", "default_n_steps", "SCHEMES", "Scheme", "NonFiniteError",
           "METHODS"]

METHODS = ("fd", "expm")
#: Largest number of refinement rounds of the automatic mode.
MAX_ROUNDS = 8
#: Most cells × steps one solve may take before the driver refuses (about ten minutes at 2e7/s).
MAX_WORK = 1.5e10
#: Cost model of a run (seconds, the 2 threads of the reference machine): a fixed overhead per
#: step (the driver and the operators, dominant on small grids), a cost per cell and ROS2
#: evaluation of a jump operator (measured 29 ns: paper OU, q_max=200, 273 price nodes; a step of
#: "strang" makes 2 evaluations, "strang-sx" 3, "strang-x" 6), a cost per stored propagator entry
#: and cell of each state propagation, and the propagators' exponentials (one per distinct step
#: length: dense ``~n³`` up to :data:`DENSE_EXPM_ROWS` state rows, sparse ``~n · nnz_row²``
#: per product beyond).
STEP_SECONDS, CELL_EVAL_SECONDS, EXPM_SECONDS_PER_N3 = 4e-4, 3e-8, 3e-9
PROPAGATION_SECONDS, SPARSE_EXPM_SECONDS = 4e-10, 2e-9
#: Most fills over the horizon a policy's fastest quote may make (rate × T) for :func:`evaluate`.
MAX_POLICY_RATE_T = 1e12
#: Evaluations of a fixed policy's quotes per time step of :func:`evaluate` (the end and middle
#: times of a step; its start is the previous step's end).
POLICY_CALLS_PER_STEP = 2
#: Longest estimated time of the first round of the automatic mode: a problem that is already
#: too slow there is refused before any work starts (the caps bound time, not only memory).
MAX_SECONDS = 30.0
#: Longest estimated time of a refined round, or of a fixed-step solve (asked for explicitly).
MAX_SECONDS_RUN = 600.0
#: Longest estimated time of all the rounds of the automatic mode together (a tolerance that the
#: refinement approaches too slowly is refused instead of refined for many minutes).
MAX_SECONDS_AUTO = 900.0


def _check_cost(model: Model, grid: StateGrid, steps: int, n_expm: int, stored_bytes: float, max_seconds: float,
                what: str, scheme, dt: float | None = None, engine: "_Engine | None" = None) -> float:
    """Refuse, before any work, a run of ``steps`` time steps and ``n_expm`` state propagators on
    ``grid`` whose estimated time exceeds ``max_seconds``, whose work exceeds :data:`MAX_WORK`
    cell-steps or whose stored values exceed :data:`MAX_BYTES` (the message names the sizes); return the
    estimated seconds. ``scheme``: the :class:`Scheme` (its jump and state evaluations per step);
    ``dt``: the typical step length (default ``T / steps``); ``engine``: with a fixed policy, its quotes
    cost :data:`POLICY_CALLS_PER_STEP` evaluations per step (measured once, :attr:`_Engine.quote_seconds`)."""
    work = float(grid.size) * steps
    n_ops = grid.n_axes + 1
    seconds = steps * STEP_SECONDS + work * scheme.jump_evaluations(n_ops) * CELL_EVAL_SECONDS
    policy = "" if engine is None or engine.policy is None else engine.describe_policy(grid)
    if policy:
        seconds += steps * POLICY_CALLS_PER_STEP * engine.quote_seconds * grid.size / engine.grid.size
    nnz_row, products = _propagator_estimate(model, grid, model.T / max(steps, 1) if dt is None else dt)
    if nnz_row:
        n_rows = grid.n_rows
        seconds += steps * scheme.state_evaluations(n_ops) * float(grid.size) * nnz_row * PROPAGATION_SECONDS
        seconds += n_expm * (EXPM_SECONDS_PER_N3 * float(n_rows) ** 3 if n_rows <= StateGenerator.dense_rows
                             else SPARSE_EXPM_SECONDS * n_rows * nnz_row ** 2 * products)
    if seconds > max_seconds or work > MAX_WORK or stored_bytes > MAX_BYTES:
        rates = [m.base_rate for m in model.regime_models()]
        fastest = int(np.argmax(rates))
        regimes = (f", {grid.n_states} regimes" if grid.n_states > 1 else "")
        rate = (f"fill rate {rates[fastest]:.3g} per unit time" + (
            f" in regime {fastest} ({model.regimes.names[fastest]!r})" if model.regimes is not None else ""))
        raise ValueError(
            f"{what} would take {steps:.6g} time steps on {grid.size} cells (q_max={_q_max(grid)}, "
            f"{grid.prices.n} price nodes{regimes}; T={model.T:g}, {rate}{policy}): "
            f"about {seconds:.3g} s, {work:.3g} cell-steps and {stored_bytes / 1e9:.3g} GB of stored values (limits "
            f"{max_seconds:g} s, {MAX_WORK:.3g} and {MAX_BYTES / 1e9:g} GB)")
    return seconds


def _propagator_estimate(model: Model, grid: StateGrid, dt: float) -> tuple[float, float]:
    """``(entries per row, sparse products)`` estimated for the state propagator ``e^{dt 𝓛_h}``
    (``(0, 0)``: no state dynamics). The entries: the regimes times the price nodes a step
    reaches (the price chain's spread over ``dt`` — about 9 standard deviations to fall below the
    dropping threshold — plus its drift); the products: those of :func:`operators.sparse_expm`."""
    R = grid.n_states
    if grid.prices.degenerate:
        return (float(R * R), 20.0) if R > 1 else (0.0, 0.0)
    reach, rate = 0.0, 0.0
    for m in model.regime_models():
        lower, _, upper = m.price.generator(grid.prices.s)
        jumps = float(np.max(lower + upper))
        reach = max(reach, 9.0 * math.sqrt(dt * jumps) + dt * float(np.max(np.abs(upper - lower))))
        rate = max(rate, 2.0 * jumps)
    if R > 1:
        rate += 2.0 * float(np.max(-np.diag(model.regimes.Q)))
    return float(R * min(grid.prices.n, 2 * reach + 9)), StateGenerator.expm_products(dt * rate)


def _n_lengths(*grids) -> int:
    """Distinct step lengths of time grids (one price propagator each)."""
    return sum(np.unique(np.round(np.diff(t), 14)).size for t in grids)


def _pick_scheme(scheme, n_steps) -> Scheme:
    """The given scheme, or the default of the mode: ``"strang"`` with fixed steps (the historical
    scheme: fixed-step results are reproducible across versions), ``"strang-sx"`` in the automatic
    mode (the state propagator outside, one third-order jump stage per step: about four times fewer
    steps than ``"strang"`` at half the work per step of ``"strang-x"``)."""
    if scheme is None:
        scheme = FIXED_SCHEME if n_steps is not None else AUTOMATIC_SCHEME
    return get_scheme(scheme)


def _check_model(model, multi: bool = False):
    if not isinstance(model, (Model, MultiAssetModel) if multi else Model):
        raise ValueError(f"model must be an hjbsolve.Model{' or hjbsolve.MultiAssetModel' if multi else ''}, "
                         f"got {type(model).__name__}")


def _q_max(grid: StateGrid):
    """The grid's inventory bound: an int (one axis) or a list (one per asset)."""
    q = [int(ax.q_max) for ax in grid.inventory]
    return q[0] if len(q) == 1 else q


def _inventory_rule(grid: StateGrid):
    """``(qmask, strides)`` of the accuracy contract on the inventory cells: ``|q_i| <= q_max_i/2`` on
    every axis, and the distances between neighbouring cells along each axis."""
    qmask = np.ones(grid.n_cells, bool)
    for i, ax in enumerate(grid.inventory):
        qmask &= np.abs(grid.q_cells(i)) <= ax.q_max // 2
    return qmask, tuple(grid.stride(i) for i in range(grid.n_axes))


def _penalties(coef) -> str:
    """The penalty forms in a message (the largest entries)."""
    return (f"terminal penalty ϖ={float(np.abs(coef.terminal_form).max()):g}, running penalty "
            f"φ={float(np.abs(coef.running_form).max()):g}")


#: Smallest tolerances accepted: below them the rounding of the values (summed over many steps)
#: is as large as the estimates, which then never meet the tolerance.
MIN_TOL, MIN_VALUE_RTOL = 1e-12, 1e-10


def _check_tolerances(tol, value_rtol) -> tuple[float, float]:
    """``(tol, value_rtol)`` validated: finite, and not below what double precision can reach."""
    return check_real("tol", tol, ge=MIN_TOL), check_real("value_rtol", value_rtol, ge=MIN_VALUE_RTOL)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# ----------------------------------------------------------------------------- one run
class _Engine:
    """Everything a finite-difference run needs, fixed across the refinement rounds."""

    def __init__(self, model: Model, grid: StateGrid, scheme: Scheme, compiled: bool, policy=None,
                 stiff_start: bool = False):
        self.model = model
        self.stiff_start = stiff_start
        self.grid = grid
        self.scheme = scheme
        self.compiled = compiled
        self.policy = policy
        self.coef = model.coefficients(grid)
        self.quote_seconds = 0.0
        self._fastest = None
        if policy is not None:           # one evaluation, timed: the cost model counts the policy's calls
            if grid.n_axes > 1 and not isinstance(policy, BoxPolicy):
                _check_price_free(policy, grid)
            raw = _raw_policy_quotes(policy, grid, compiled)
            ask, bid = raw(0.0)                        # (a first call may load compiled kernels)
            t0 = time.perf_counter()
            raw(0.5 * model.T)
            self.quote_seconds = time.perf_counter() - t0
            lr, k = model.side_arrays(grid.n_axes)[:2]
            log_rates = [lr[:, j] - k[:, j] * v.reshape(grid.n_axes, -1).min(axis=1) for j, v in enumerate((ask, bid))]
            j = int(np.argmax([x.max() for x in log_rates]))
            i = int(np.argmax(log_rates[j]))
            self._fastest = (("ask", "bid")[j], i, float(log_rates[j][i]))
            if self._fastest[2] + math.log(model.T) > math.log(MAX_POLICY_RATE_T):
                v = (ask, bid)[j].reshape(grid.n_axes, -1)[i]
                of = f" of asset {i}" if grid.n_axes > 1 else ""
                raise ValueError(
                    f"the policy quotes {self._fastest[0]} half-spread δ={float(v.min()):.6g}{of} at t=0, whose fill "
                    f"rate {_rate_text(self._fastest[2])} per unit time makes more than {MAX_POLICY_RATE_T:.0e} fills "
                    f"over T={model.T:g}: such a policy cannot be evaluated (its time scale is below double "
                    "precision's); quote further from the mid")

    def describe_policy(self, grid: StateGrid) -> str:
        """The policy's part of a cost refusal: its fastest fill rate at ``t = 0`` and its cost per call."""
        side, i, log_rate = self._fastest
        of = f" of asset {i}" if grid.n_axes > 1 else ""
        return (f"; the policy's fastest {side} fill rate{of} {_rate_text(log_rate)} per unit time at t=0, its quotes "
                f"{self.quote_seconds * 1e3:.3g} ms per evaluation")

    def operators(self, grid: StateGrid):
        quotes = None if self.policy is None else _policy_quotes(self.policy, grid, self.compiled, self.model)
        jumps = [JumpAxis(self.coef, grid, axis=i, quotes=None if quotes is None else _axis_quotes(quotes, i),
                          carries_penalty=(i == 0), compiled=self.compiled,
                          stiff_start=self.model.T if self.stiff_start else None, method=self.scheme.jumps)
                 for i in range(grid.n_axes)]
        state = StateGenerator.for_model(self.model, grid, compiled=self.compiled)
        return jumps + [state]

    def run(self, t: np.ndarray, save: np.ndarray, grid: StateGrid | None = None, rows=slice(None), bar=None):
        grid = self.grid if grid is None else grid
        ops = self.operators(grid)
        ops[-1].prepare(np.diff(t))
        terminal = self.coef.terminal[grid.row_state]
        try:
            return rollback(terminal, t, save, ops, self.scheme, keep=(rows, slice(None)), bar=bar)
        except NonFiniteError as e:
            raise type(e)(
                f"{e}: the fill rates overflow on this grid (steep penalties at a large q_max?); "
                f"q_max={_q_max(grid)}, {_penalties(self.coef)}") from None


def _rate_text(log_rate: float) -> str:
    return f"{math.exp(log_rate):.3g}" if log_rate < 700 else f"e^{log_rate:.4g}"


def _axis_quotes(quotes, axis: int):
    """``t -> (ask, bid)`` of inventory axis ``axis`` (shape ``grid.shape``) from ``quotes(t)`` of every
    axis (shape ``(n_axes,) + grid.shape``); the axes share one evaluation per time."""
    def one(t):
        ask, bid = quotes(t)
        return ask[axis], bid[axis]
    return one


def _policy_quotes(policy, grid: StateGrid, compiled: bool, model=None):
    """``t -> (ask, bid)`` on the grid, each of shape ``(n_axes,) + grid.shape`` (the quotes of asset
    ``i`` at every cell in ``[i]``), for a fixed policy; the last evaluation is kept, so the operators
    of the several axes share it. With ``model``: quotes whose fill rate overflows double precision are a
    ``ValueError`` naming the quote."""
    raw = _raw_policy_quotes(policy, grid, compiled)
    lr, k = (None, None) if model is None else model.side_arrays(grid.n_axes)[:2]
    memo: list = []          # the last few (t, quotes): every axis asks for the same times in turn

    def quotes(t):
        for t_memo, out in memo:
            if t_memo == t:
                return out
        out = raw(t)
        if model is not None:
            for j, (side, v) in enumerate(zip(("ask", "bid"), out)):
                lowest = v.reshape(grid.n_axes, -1).min(axis=1)
                log_rate = lr[:, j] - k[:, j] * lowest
                i = int(np.argmax(log_rate))
                if log_rate[i] > MAX_LOG_RATE:
                    of = f" of asset {i}" if grid.n_axes > 1 else ""
                    raise ValueError(
                        f"the policy quotes {side} half-spread δ={lowest[i]:.6g}{of} at t={t:g}, whose fill rate "
                        f"A e^(-k(z+δ)) = e^{log_rate[i]:.4g} per unit time overflows double precision "
                        f"(limit e^{MAX_LOG_RATE:g}): such a policy cannot be evaluated; quote further from "
                        "the mid or check A, k, z")
        memo[:] = (memo + [(t, out)])[-4:]
        return out
    return quotes


def _check_price_free(policy, grid: StateGrid) -> None:
    """``ValueError`` unless a multi-asset policy's quotes are the same at two sets of prices: the value
    ``q·s + g(t, q)`` of several assets has no price axis (its quotes are asked at ``s = 0``)."""
    name = type(policy).__name__
    if getattr(policy, "s_dependent", False):
        raise ValueError(f"{name}'s quotes depend on the mid-prices (Ornstein–Uhlenbeck assets): a multi-asset "
                         "evaluation has no price axis; evaluate Brownian prices, or simulate")
    qv = np.stack([grid.q_cells(i) for i in range(grid.n_axes)], axis=-1)[None]
    at = [policy.quotes(np.asarray(0.0), qv, np.full(qv.shape, s)) for s in (0.0, 97.5)]
    try:
        same = all(np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)
                   for a, b in zip(*at))
    except (TypeError, ValueError):
        return                    # malformed quotes: named by the checks of every evaluation
    if not same:
        raise ValueError(f"{name}'s quotes depend on the mid-prices s (they differ at s = 0 and s = 97.5): a "
                         "multi-asset evaluation has no price axis (its value is q·s + g(t, q)); simulate "
                         "such a policy instead")


def _raw_policy_quotes(policy, grid: StateGrid, compiled: bool):
    s = grid.prices.s
    M = grid.n_axes
    if isinstance(policy, RegimePolicy):
        if policy.n_regimes != grid.n_states:
            raise ValueError(f"the policy has {policy.n_regimes} regime table(s), the model {grid.n_states} regime(s)")
        parts = [_raw_policy_quotes(p, grid.with_states(1), compiled) for p in policy.tables]

        def quotes(t):
            out = [f(t) for f in parts]
            return np.concatenate([o[0] for o in out], axis=1), np.concatenate([o[1] for o in out], axis=1)
        return quotes
    if hasattr(policy, "quotes_on_grid"):
        q = grid.q_cells(0)
        lo, hi = policy.s_range if policy.s_dependent else (-math.inf, math.inf)
        # beyond the policy's range (only the padding of the evaluation grid, which paths from
        # s_range reach with probability < 1e-8) its quotes are held at the boundary values
        s_in = np.clip(s, lo, hi)

        def quotes(t):
            ask, bid = policy.quotes_on_grid(t, s_in, q, compiled=compiled)
            return np.tile(ask, (grid.n_states, 1))[None], np.tile(bid, (grid.n_states, 1))[None]
        return quotes

    shape = grid.shape
    qv = np.stack([grid.q_cells(i) for i in range(M)], axis=-1)          # (cells, M)
    # the inventory-limit rule of the evaluation grid, along every axis
    limits = [(grid.q_cells(i) == ax.q[0], grid.q_cells(i) == ax.q[-1]) for i, ax in enumerate(grid.inventory)]
    name = type(policy).__name__

    def quotes(t):
        if M == 1:
            tt = np.full(shape, float(t))
            qq = np.broadcast_to(qv[None, :, 0], shape)
            ss = np.broadcast_to(np.tile(s, grid.n_states)[:, None], shape)
            want = shape
        else:                    # trailing asset axis; the quotes of several assets do not depend on s
            tt = np.asarray(float(t))             # one time: a closed form computes its coefficients once
            qq = np.broadcast_to(qv[None], shape + (M,))
            ss = np.zeros(shape + (M,))
            want = shape + (M,)
        out = policy.quotes(tt, qq, ss)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"{name}.quotes(t, q, s) must return a pair (ask, bid)")
        res = []
        for side, v in zip(("ask", "bid"), out):
            kind = np.asarray(v).dtype
            if kind.kind not in "iuf" or kind == np.bool_:
                raise ValueError(f"{name}.quotes returned {side} quotes of dtype {kind}; quotes must be real numbers")
            try:
                v = np.array(np.broadcast_to(np.asarray(v, dtype=float), want))
            except (ValueError, TypeError):
                what = "price nodes × inventories" if M == 1 else "inventory cells × assets"
                raise ValueError(f"{name}.quotes must return real arrays broadcasting to "
                                 f"{want} ({what}), got {np.shape(v)} for {side}") from None
            if np.isnan(v).any() or np.isneginf(v).any():
                raise ValueError(f"{name}.quotes returned NaN or -inf {side} quotes at t={t}")
            res.append(v[None] if M == 1 else np.ascontiguousarray(np.moveaxis(v, -1, 0)))
        ask, bid = res
        for i, (at_min, at_max) in enumerate(limits):
            ask[i][:, at_min] = np.inf
            bid[i][:, at_max] = np.inf
        return ask, bid
    return quotes


def _solution_g(model: Model, grid: StateGrid, g: np.ndarray, n_prices: int) -> np.ndarray:
    """Snapshots ``(times, regime × price rows, cells)`` in the layout of :class:`Solution`: the same
    without regimes, ``(times, regimes, prices, cells)`` with a chain."""
    if model.regimes is None:
        return g
    return g.reshape(g.shape[0], grid.n_states, n_prices, g.shape[-1])


# ----------------------------------------------------------------------------- the drivers
def _fixed_steps(engine: _Engine, n_steps: int, t_eval, progress: bool, kind: str, t0: float) -> Solution:
    n_steps = check_int("n_steps", n_steps, ge=1)
    grid = engine.grid
    _check_cost(engine.model, grid, n_steps, 1, 8.0 * grid.size * min(n_steps + 1, 101), MAX_SECONDS_RUN,
                f"n_steps={n_steps} (lower n_steps or q_max, or narrow s_range)", engine.scheme, engine=engine)
    t, save = uniform_time_grid(engine.model.T, n_steps, t_eval)
    _check_cost(engine.model, grid, t.size - 1, _n_lengths(t), 8.0 * grid.size * int(save.sum()), MAX_SECONDS_RUN,
                f"n_steps={n_steps} with {int(save.sum())} stored times (fewer t_eval, lower n_steps or q_max)",
                engine.scheme, engine=engine)
    with tqdm(total=t.size - 1, desc="hjbsolve: backward steps", disable=None if progress else True, leave=False) as bar:
        g = engine.run(t, save, bar=bar)
    info = _info(engine, kind, n_steps=t.size - 1, wall=time.perf_counter() - t0)
    info.update(error_estimate=None, value_error_estimate=None, mode="fixed steps (no accuracy control)")
    return _solution(engine.model, grid, t[save].copy(), grid.prices.s.copy(), g, info, kind)


def _solution(model, grid: StateGrid, t, s_nodes, g, info, kind) -> Solution:
    """The :class:`Solution` of snapshots ``g`` (times, rows, cells): one inventory axis (``q``, the axis'
    inventories) or one per asset (``q``, a tuple of them; ``g``'s cells are their C-order product)."""
    q = tuple(ax.q.copy() for ax in grid.inventory)
    return Solution(model, t, s_nodes, grid.prices.interest, q if isinstance(model, MultiAssetModel) else q[0],
                    _solution_g(model, grid, g, s_nodes.size), info, kind)


def _info(engine: _Engine, kind: str, n_steps: int, wall: float) -> dict:
    grid = engine.grid
    return {"method": "fd", "kind": kind, "scheme": engine.scheme.name, "order": engine.scheme.order,
            "n_steps": int(n_steps), "n_s": int(grid.prices.n), "ds": float(grid.prices.ds),
            "n_q": int(grid.n_cells), "q_max": _q_max(grid), "wall_time": wall,
            "compiled": bool(engine.compiled)}


#: Times closer to ``T`` than this fraction of ``T`` are excluded from the accuracy control: a
#: steep terminal penalty at a large bound makes fill rates relax there on time scales that
#: double precision cannot resolve (the first grid step is 32 ulps of ``T``).
TAU_EXCLUDED = 1e-9
#: Largest memory the stored solutions of one refinement round may take (bytes).
MAX_BYTES = 3e9


def _automatic(engine: _Engine, tol: float, value_rtol: float, t_eval, progress: bool, kind: str,
               t0: float) -> Solution:
    model, grid = engine.model, engine.grid
    if not grid.prices.degenerate and grid.prices.n % 2 == 0:   # odd: every other node is a grid too
        p = grid.prices
        grid = grid.with_prices(type(p)(np.linspace(p.s[0], p.s[-1], p.n + 1), p.interest))
    engine = _Engine(model, grid, engine.scheme, engine.compiled, engine.policy, stiff_start=True)
    T = model.T
    order = engine.scheme.order
    kmax = float(np.max(engine.coef.k))                  # the quote scale 1/k of every regime
    qmask, strides = _inventory_rule(grid)
    scale = np.array([tol, value_rtol])
    # the time grid: geometric near T from the time scale of the fastest terminal rate
    r_fast = max(terminal_rate(engine.coef, grid), max(m.base_rate for m in model.regime_models()), 1.0 / T,
                 math.exp(min(engine._fastest[2], 700.0)) if engine._fastest is not None else 0.0)
    tau_0 = max(1.0 / r_fast, 64.0 * np.finfo(float).eps * T)
    h_max, growth = T / default_n_steps(model), 0.5
    history, worst_prev, stalls, spent = [], math.inf, 0, 0.0
    bar = tqdm(total=0, desc="hjbsolve: solving (automatic steps)", unit="step", disable=None if progress else True, leave=False)
    try:
        for rnd in range(MAX_ROUNDS):
            tc = graded_time_grid(T, h_max, growth, tau_0, t_eval)
            tf = halve_steps(tc)
            rows = grid.prices.inside(pad=2)
            n_rows = rows.stop - rows.start
            n_st = grid.n_states
            price_check = grid.prices.coarsened() is not None
            spent += _check_cost(model, grid, (tc.size - 1) * (4 if price_check else 3), _n_lengths(tc, tf),
                                 8.0 * n_st * n_rows * grid.n_cells * (tc.size + tf.size),
                                 MAX_SECONDS if rnd == 0 else MAX_SECONDS_AUTO - spent,
                                 f"round {rnd + 1} of the automatic steps (tol={tol:g}, value_rtol={value_rtol:g}, "
                                 f"{spent:.3g} s estimated for the rounds before; shorten T, lower q_max, narrow "
                                 f"s_range or pass a larger ds, loosen tol/value_rtol, or pass n_steps)",
                                 engine.scheme, dt=T / max(tc.size - 1, 1), engine=engine)
            bar.total += (tc.size - 1) + (tf.size - 1)
            bar.refresh()
            coarse_prices = grid.prices.coarsened()
            gs = None
            try:
                gc = engine.run(tc, np.ones(tc.size, bool), rows=grid.state_rows(rows), bar=bar)
                gf = engine.run(tf, np.ones(tf.size, bool), rows=grid.state_rows(rows), bar=bar)
                if coarse_prices is not None:
                    gs = engine.run(tc, np.ones(tc.size, bool), grid=grid.with_prices(coarse_prices), bar=bar)
            except NonFiniteError as e:
                # a step too long for a strongly nonlinear jump term (a large decay k: the linearly
                # implicit steps overshoot and the fill rates overflow): shorter steps, every part
                if isinstance(e, ScaleError):
                    raise
                if rnd == MAX_ROUNDS - 1:
                    raise NonFiniteError(f"{e}; the automatic steps were shortened {rnd} times without curing it "
                                         f"(decays k={sorted(set(engine.coef.k.ravel().tolist()))}); pass n_steps or "
                                         f"scheme='strang-x'") from None
                history.append({"round": rnd, "steps": int(tf.size - 1), "n_s": int(grid.prices.n),
                                "non_finite": str(e)})
                h_max, growth = h_max / 4.0, growth / 4.0
                continue
            # the estimates of every regime state (its block of rows), node by node the largest
            nodes = None
            for r in range(n_st):
                blk = (lambda a, m: a if n_st == 1 else a[:, r * m:(r + 1) * m])
                part = _node_estimates(grid, rows, blk(gc, n_rows), blk(gf, n_rows),
                                       None if gs is None else blk(gs, coarse_prices.n), tc, tf, qmask, kmax, order,
                                       engine.compiled, strides)
                nodes = part if nodes is None else {k: np.maximum(nodes[k], v) for k, v in part.items()}
            node_t, node_i = nodes["time"], nodes["t_interpolation"]
            tau_c, tau_i = T - tc, T - tf[1::2]
            node_t[(tau_c < TAU_EXCLUDED * T) & (tau_c > 0)] = 0.0
            node_i[tau_i < TAU_EXCLUDED * T] = 0.0
            est = {k: v.max(axis=0) for k, v in nodes.items()}
            total = sum(est.values())
            history.append({"round": rnd, "steps": int(tf.size - 1), "n_s": int(grid.prices.n),
                            "quotes": float(total[0]), "values": float(total[1]),
                            **{f"{k}_quotes": float(v[0]) for k, v in est.items()},
                            **{f"{k}_values": float(v[1]) for k, v in est.items()}})
            worst = float(np.max(total / scale))
            bar.set_postfix_str(f"round {rnd + 1}: error estimate {worst:.2g} × tolerance", refresh=True)
            if worst <= 1.0:
                break
            stalls = stalls + 1 if worst > worst_prev / 1.3 else 0
            if stalls >= 2:
                raise NonFiniteError(
                    f"the automatic steps stall: the error estimate went from {worst_prev:.3g} to {worst:.3g} times "
                    f"the tolerance after refining (estimates {history[-1]}); pass n_steps for a fixed grid or "
                    f"loosen tol/value_rtol")
            worst_prev = worst
            # refine each part by the factor its estimate asks for: the uniform steps and the grading
            # near T separately (time), the price grid by halving (space)
            t_nodes = np.maximum(node_t[:-1], node_t[1:]) if node_t.shape[0] > 1 else node_t
            graded = tau_c[1:] < h_max / growth
            ratio_u = float(np.max(t_nodes[~graded] / scale, initial=0.0))
            ratio_g = float(np.max(t_nodes[graded] / scale, initial=0.0))
            ratio_i = float(np.max(est["t_interpolation"] / scale))
            ratio_u, ratio_g = max(ratio_u, ratio_i), max(ratio_g, ratio_i)

            def factor(r):
                return min(8.0, max(1.5, 1.2 * (2.0 * r) ** (1.0 / order))) if r > 0.5 else 1.0

            h_max /= factor(ratio_u)
            growth /= factor(ratio_g)
            if "space" in est and float(np.max((est["space"] + est["s_interpolation"]) / scale)) > 0.5:
                grid = StateGrid(grid.prices.refined(), grid.inventory, grid.n_states)
                engine = _Engine(model, grid, engine.scheme, engine.compiled, engine.policy, stiff_start=True)
        else:
            raise NonFiniteError(  # not a non-finite value, but the same kind of failure: no answer
                f"the automatic steps did not reach tol={tol:g} / value_rtol={value_rtol:g} in {MAX_ROUNDS} rounds "
                f"(last estimates: quotes {total[0]:.2e}, values {total[1]:.2e}; {history[-1]}); pass n_steps for a "
                f"fixed grid")
    finally:
        bar.close()
    info = _info(engine, kind, n_steps=tf.size - 1, wall=time.perf_counter() - t0)
    info.update(error_estimate=float(total[0]), value_error_estimate=float(total[1]), tol=tol,
                value_rtol=value_rtol, mode="automatic", error_estimates={k: tuple(map(float, v)) for k, v in est.items()},
                rounds=history, n_stored=int(tf.size), excluded_near_T=TAU_EXCLUDED * T)
    return _solution(model, grid, tf, grid.prices.s[grid.prices.inside(pad=2)].copy(), gf, info, kind)


def _node_estimates(grid: StateGrid, rows: slice, gc, gf, gs, tc, tf, qmask, kmax, order, fast, strides=()) -> dict:
    """The error estimates of one regime state at every node: ``time`` (coarse nodes), ``t_interpolation``
    (the odd fine nodes) and, with a price check (``gs``: the solve on every other price node),
    ``space`` and ``s_interpolation`` (coarse / fine nodes); each of shape ``(nodes, 2)``.
    ``gc``, ``gf``: the coarse and fine snapshots of the rows ``rows`` of the price axis."""
    s_nodes = grid.prices.s[rows]
    interest = _interest_mask(s_nodes, grid.prices.interest)
    inner = np.flatnonzero(interest)
    isl = slice(int(inner[0]), int(inner[-1]) + 1)        # an interval of prices: contiguous rows
    q = grid.inventory[0].q
    s_in = None if grid.prices.degenerate else s_nodes[isl]
    # 1. time discretisation at every coarse node; 2. interpolation in t at every skipped node
    out = {"time": _est.time_error(gf[:, isl], gc[:, isl], s_in, q, qmask, kmax, order, fast, strides)}
    node_i = np.zeros((tf.size // 2, 2))
    if tf.size >= 9:
        node_i = _est.t_interpolation_error(tf, gf[:, isl], s_in, q, qmask, kmax, fast, strides)
    out["t_interpolation"] = node_i
    # 3. the price grid, and the interpolation in s
    if gs is not None:
        idx0 = rows.start
        sel = np.arange(grid.prices.n)[rows][isl]
        sel = sel[sel % 2 == 0]                           # price nodes of both grids, every other row
        fine_rows = slice(int(sel[0]) - idx0, int(sel[-1]) - idx0 + 1, 2)
        coarse_rows = slice(int(sel[0]) // 2, int(sel[-1]) // 2 + 1)
        out["space"] = _est.difference_error(gc[:, fine_rows], gs[:, coarse_rows], 1.0 / 3.0, grid.prices.s[sel], q,
                                             qmask, kmax, fast)
        odd_rows = np.arange(1, s_nodes.size, 2)[interest[1::2]]
        out["s_interpolation"] = _est.s_interpolation_error(s_nodes, gf, odd_rows, q, qmask, kmax, True, fast)
    return out


def _interest_mask(s_nodes: np.ndarray, interest) -> np.ndarray:
    if s_nodes.size == 1:
        return np.ones(1, bool)
    lo, hi = interest
    return (s_nodes >= lo - 1e-12 * max(1, abs(lo))) & (s_nodes <= hi + 1e-12 * max(1, abs(hi)))


def solve(model: Model, q_max: int | None = None, s_range=None, *, method: str = "fd", n_steps: int | None = None,
          ds: float | None = None, t_eval=None, scheme: str | None = None, tol: float = 1e-5, value_rtol: float = 1e-6,
          progress: bool = False, compiled: bool = True) -> Solution:
    """Solve the HJB system of the model exactly (paper eqs. 11, 25; exact optimal controls).

    Parameters
    ----------
    model : Model or MultiAssetModel
        One asset (paper §3) or ``M`` assets (§5: one inventory axis per asset, the same backward
        loop with one jump operator per axis; constant drifts only).
    q_max : int, optional
        Inventory bound (no ask at ``−q_max``, no bid at ``+q_max``). Default:
        :func:`default_q_max`. A multi-asset model takes one bound per asset (or one for all):
        the box ``Π_i [−q_max_i, q_max_i]`` (:func:`~hjbsolve.solver.setup.multi_asset_grid`).
    s_range : (float, float), optional
        Price-dependent problems (OU): the mid-prices where answers are wanted; the solver pads it
        with the reach of the price over the horizon. Asking outside it later is a ``ValueError``.
        Ignored for a Brownian price (the answers do not depend on ``s`` beyond ``q s``).
    method : {"fd", "expm"}
        ``"fd"``: finite differences (:mod:`hjbsolve.solver.operators`), any model.
        ``"expm"``: the exact solution of the linear system of the exponential substitution
        ``ω = e^{k h}`` by matrix exponentials (:mod:`hjbsolve.exact`); needs a price-independent
        problem (Brownian price, any drift) and ``k⁺ = k⁻`` (``ValueError`` otherwise).
    n_steps : int, optional
        Fixed-step mode (``"fd"``): one solve on a uniform grid of ``n_steps`` steps (plus the
        steps needed to land on ``t_eval``), **without** accuracy control
        (``info["error_estimate"]`` is ``None``). Default: the automatic mode below.
    ds : float, optional
        Price spacing (OU). Default from the model's scales (refined automatically if needed).
    t_eval : array_like, optional
        Times that must be stored exactly (``0`` and ``T`` always are). In the automatic mode
        they are extra nodes of the time grid and never weaken the accuracy control.
    scheme : str, optional
        A key of :data:`SCHEMES` (``"fd"``). Default: ``"strang-sx"`` in the automatic mode,
        ``"strang"`` with ``n_steps`` (:mod:`hjbsolve.solver.schemes`).
    tol : float
        Accuracy of the quotes in units of the quote scale ``1/k`` (``1/max(k⁺, k⁻)``), at every
        ``t`` in ``[0, T]``, ``s`` in ``s_range`` and ``|q| ≤ q_max/2`` (module docstring);
        ``info["error_estimate"]`` is the estimate reached.
    value_rtol : float
        Accuracy of the values relative to ``max(1, |v|)`` at the prices of ``s_range``; for a
        price-independent problem (``v = q s + g`` at any ``s``) relative to ``max(1, |g|)``;
        ``info["value_error_estimate"]``.
    progress : bool
        One tqdm progress bar for the whole solve (all refinement rounds: its total grows when a
        round is added, and it shows the error estimate against the tolerance); shown only when
        standard error is a terminal.
    compiled : bool
        numba kernels (default) or their numpy twins.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        Bad arguments; a method that does not apply; a problem too large or too stiff to solve
        (the message names the parameter to change).
    NonFiniteError
        The solver produced a non-finite number.
    """
    _check_model(model, multi=True)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    progress = _check_bool("progress", progress)
    compiled = _check_bool("compiled", compiled)
    tol, value_rtol = _check_tolerances(tol, value_rtol)
    multi = isinstance(model, MultiAssetModel)
    if multi and (s_range is not None or ds is not None):
        raise ValueError(f"s_range and ds do not apply to a multi-asset model (got s_range={s_range!r}, ds={ds!r}): "
                         "with constant drifts its value is q·s plus a function of (t, q) only")
    if method == "expm":
        from ..exact import solve_expm

        if n_steps is not None or ds is not None or scheme is not None:
            raise ValueError("n_steps, ds and scheme apply to method='fd' only")
        return solve_expm(model, q_max, t_eval=t_eval, tol=tol, progress=progress)
    t0 = time.perf_counter()
    grid = multi_asset_grid(model, q_max) if multi else state_grid(model, q_max, s_range, ds)
    engine = _Engine(model, grid, _pick_scheme(scheme, n_steps), compiled)
    if n_steps is not None:
        return _fixed_steps(engine, n_steps, t_eval, progress, "hjb", t0)
    return _automatic(engine, tol, value_rtol, t_eval, progress, "hjb", t0)


def evaluate(model: "Model | MultiAssetModel", policy, q_max: int | None = None, s_range=None, *, n_steps: int | None = None,
             ds: float | None = None, t_eval=None, scheme: str | None = None, tol: float = 1e-5,
             value_rtol: float = 1e-6, progress: bool = False, compiled: bool = True,
             price_dependent: bool | None = None) -> Solution:
    """Expected objective of a fixed quoting policy (exact policy evaluation).

    Integrates the linear verification equation of ``policy`` (paper eq. 4 with the policy's
    quotes in place of the maximiser) with the same grids, scheme and accuracy control as
    :func:`solve`. The returned ``Solution.value(t, q, s)`` is the expected objective
    ``E[X_T + Q_T S_T − penalties] − x`` of trading that policy from ``(t, q, s)``.

    Parameters
    ----------
    model : Model or MultiAssetModel
        With several assets (paper §5) the verification equation is integrated on the inventory box
        (one jump operator per asset in the same backward loop, as :func:`solve`); ``q_max`` is then
        one bound per asset (or one for all; default: the box of a tabulated policy, else
        :func:`~hjbsolve.solver.setup.multi_asset_grid`'s).
    policy : object with ``quotes(t, q, s) -> (δ⁺, δ⁻)``
        ``+inf`` for an unquoted side. A :class:`~hjbsolve.policies.TabulatedPolicy`, or anything
        with ``tabulate`` (a ``Solution``, an ``Expansion``, ``ConstantSpread``), is evaluated
        through the one table interpolation; inventories beyond ``±q_max`` are never reached.
        Several assets: a multi-asset ``Solution`` (its :class:`~hjbsolve.policies.BoxPolicy`), a
        ``BoxPolicy``, a :class:`~hjbsolve.expansion.MultiAssetExpansion`, or any object whose
        ``quotes(t, q, s)`` takes ``q``, ``s`` with a trailing asset axis and returns ``(δ⁺, δ⁻)``
        with it (``ConstantSpread`` and ``InventorySkew`` apply to every asset, each skewed by its
        own inventory).
    price_dependent : bool, optional
        Whether the value depends on ``s`` (default: yes for OU; for a Brownian price only if
        ``s_range`` is given, for policies whose quotes depend on ``s``).
    Other parameters as in :func:`solve`.

    Raises
    ------
    ValueError
        As :func:`solve`; a policy of another number of assets (or regimes) than ``model``;
        ``s_range``, ``ds`` or ``price_dependent`` with a multi-asset model; quotes that are NaN,
        ``−inf`` or whose fill rate overflows.
    """
    _check_model(model, multi=True)
    if not (hasattr(policy, "quotes") or hasattr(policy, "tabulate")):
        raise ValueError(f"policy must have a quotes(t, q, s) method, got {type(policy).__name__}")
    progress = _check_bool("progress", progress)
    compiled = _check_bool("compiled", compiled)
    tol, value_rtol = _check_tolerances(tol, value_rtol)
    check_policy_assets(model, policy)
    if isinstance(policy, Solution):
        policy.check_whole_grid()
    t0 = time.perf_counter()
    if isinstance(model, MultiAssetModel):
        if s_range is not None or ds is not None or price_dependent:
            raise ValueError(f"s_range, ds and price_dependent do not apply to a multi-asset model (got "
                             f"s_range={s_range!r}, ds={ds!r}, price_dependent={price_dependent!r}): its value "
                             "q·s + g(t, q) has no price axis")
        if isinstance(policy, Solution):
            policy = policy.tabulate()              # its BoxPolicy
        if q_max is None and isinstance(policy, BoxPolicy):
            q_max = list(policy.q_max)              # beyond its box a table quotes nothing: no cell to add
        grid = multi_asset_grid(model, q_max)
        policy_check = getattr(policy, "check_horizon", None)
        if policy_check is not None:
            policy_check(model.T)
        return _evaluate(model, grid, policy, n_steps, scheme, t_eval, tol, value_rtol, progress, compiled, t0)
    if price_dependent is None:
        price_dependent = model.price.depends_on_price or s_range is not None
    grid = state_grid(model, q_max, s_range, ds, price_dependent)
    if isinstance(policy, Solution):
        if policy.model.regimes is not None and policy.model.n_regimes != model.n_regimes:
            raise ValueError(f"the policy's solution has {policy.model.n_regimes} regime(s), the model "
                             f"{model.n_regimes} (a regime-free solution is accepted: its quotes are used in "
                             "every regime)")
        if policy.model.regimes is None:          # regime-blind: the same quotes in every regime
            policy = policy.tabulate()
        else:
            policy = policy.tabulate_regimes()
    elif isinstance(policy, RegimePolicy):       # one table per regime, used as they are
        if policy.n_regimes != model.n_regimes:
            raise ValueError(f"the policy has {policy.n_regimes} regime table(s), the model {model.n_regimes} "
                             "regime(s)")
    elif hasattr(policy, "tabulate") and not hasattr(policy, "quotes_on_grid"):
        s_nodes = grid.prices.s if price_dependent else np.zeros(1)
        policy = tabulate_policy(policy, model, np.linspace(0.0, model.T, 201), s_nodes)
    if hasattr(policy, "check_horizon"):
        policy.check_horizon(model.T)
    if getattr(policy, "s_dependent", False) and not price_dependent:
        raise ValueError("the policy's quotes depend on the price: pass s_range (or price_dependent=True) so that "
                         "the evaluation has a price axis")
    return _evaluate(model, grid, policy, n_steps, scheme, t_eval, tol, value_rtol, progress, compiled, t0)


def _evaluate(model, grid, policy, n_steps, scheme, t_eval, tol, value_rtol, progress, compiled, t0) -> Solution:
    engine = _Engine(model, grid, _pick_scheme(scheme, n_steps), compiled, policy=policy)
    if n_steps is not None:
        sol = _fixed_steps(engine, n_steps, t_eval, progress, "policy", t0)
    else:
        sol = _automatic(engine, tol, value_rtol, t_eval, progress, "policy", t0)
    sol.info["name"] = getattr(policy, "name", type(policy).__name__)
    return sol
