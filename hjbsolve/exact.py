"""``method="expm"``: the price-independent problem solved exactly by matrix exponentials.

The equations (paper eqs. 11 and 25)
------------------------------------
For a Brownian mid-price ``dS = b dt + σ dW`` the ansatz ``v_q(t, s) = q s + h_q(t)`` removes
``s``: the jump terms only see ``p⁺ = h_q − h_{q−1}`` and ``p⁻ = h_q − h_{q+1}``
(:mod:`hjbsolve.hamiltonian`) and the HJB system becomes ``2Q + 1`` ordinary differential
equations in backward time ``τ = T − t`` ::

    ∂_τ h_q = o⁺ λ⁺_q 1{q > −Q} + o⁻ λ⁻_q 1{q < Q} + q b − φ q²,      h_q(T) = −ϖ q²,
    λ⁺_q = exp(ℓ⁺ − k(o⁺ + α + p⁺_q)),   λ⁻_q = exp(ℓ⁻ − k(o⁻ + α + p⁻_q)),   o± = 1/k,

with the side coefficients of :class:`hjbsolve.coefficients.MarketCoefficients`. When both
sides share the decay ``k`` (``A⁺ ≠ A⁻`` is fine), the substitution ``ω_q = e^{k h_q}`` makes it
linear::

    ∂_τ ω = M ω,    M = diag(k (q b − φ q²)) + c⁺ J₋ + c⁻ J₊,    c± = exp(ℓ± − k(o± + α)),

where ``J₋`` (``J₊``) has ones on the sub- (super-) diagonal, nothing across the limits. Hence
``ω(t) = expm((T − t) M) ω(T)``; ``M`` has non-negative off-diagonals, so ``ω`` stays positive.
This is Cartea–Jaimungal–Penalva (2015) eq. (10.11) in their parametrisation.

The numerics
------------
``k h`` spans hundreds of log-units (at the paper's parameters with ``Q = 600``: from −180 at
``q = ±Q``, ``t = T`` to +424 at ``q = 0``, ``t = 0``), so one exponential applied to ``ω(T)``
overflows or loses every digit near the limits. We therefore work in the log domain and march
backwards over short slices. Over a slice of length ``τ``, with ``D = diag(ω_old)``, ::

    ω_new / ω_old = D⁻¹ expm(τ M) D 1 = expm(τ G) 1,    G = D⁻¹ M D,

and ``G`` has bounded entries: its off-diagonals are the optimal fill intensities ``λ⁺_q`` (row
``q``, column ``q−1``) and ``λ⁻_q`` (column ``q+1``), and its diagonal is ``k(q b − φ q²)``. With
``c = max_q k(φ q² − q b)`` the shifted matrix ``B = G + c I`` is entrywise non-negative, so ::

    expm(τ G) 1 = e^{−cτ} Σ_n (τB)^n 1 / n!

is a sum of non-negative vectors: every entry is obtained without cancellation, to a relative
accuracy of a few ulps (the truncation is bounded rigorously, see :func:`_expm_ones`). Then
``h_new = h_old + (log Σ − cτ) / k``. Slices are sized so that ``τ ‖B‖∞ ≤ slice_norm``
(default 4: about 26 terms per slice); the result is exact for any slicing, and halving the
slices changes it only by rounding (``tests/test_exact.py``).

Several assets (:class:`~hjbsolve.multiasset.MultiAssetModel`, paper §5): with one decay ``k`` for
every asset and side the same substitution linearises the system on the inventory box
``Π_i [−Q_i, Q_i]``: ``M`` is the sparse matrix with, along each axis ``i``, the bidiagonal terms
``c±_i`` of asset ``i`` (nothing across the box), and diagonal ``k(q·b − q'Φq)``; ``G = D⁻¹MD``
has the optimal fill rates of every asset as off-diagonals, and the same non-negative series
(:func:`_expm_ones_box`) gives every entry to a few ulps.

The values are exact at the stored times; between them a :class:`~hjbsolve.solution.Solution`
interpolates (cubic in ``t``). :func:`solve_expm` stores the nodes of a time grid graded towards
``T`` and refines it until the interpolation error estimate meets the tolerance.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit
from tqdm import tqdm  # text bars (tqdm.auto warns in notebooks without ipywidgets)

from ._validation import check_real
from .coefficients import MarketCoefficients
from .grid import StateGrid, graded_time_grid, halve_steps
from .model import Model
from .solution import Solution

__all__ = ["solve_expm", "exact_brownian", "expm_values"]

_EPS = float(np.finfo(float).eps)
#: Safety net against parameters whose fill rates make the number of slices explode.
_MAX_SLICES = 2_000_000
#: Cost model of :func:`expm_values` (seconds per slice, series term and inventory) and the longest
#: estimated time of one call accepted before any work starts.
_SECONDS_PER_TERM_CELL, _MAX_EXPM_SECONDS = 4e-9, 120.0
#: How much slower the numpy series is than the compiled one, per cell and inventory axis.
_NUMPY_FACTOR = 4.0


def _fill_rates(h: np.ndarray, c: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Optimal fill intensities along one inventory axis (the off-diagonals of ``G``).

    Parameters
    ----------
    h : ndarray, shape (n_q,) or the inventory box (n_1, …, n_M)
        ``h_q`` for ``q = −Q … Q`` (on every axis).
    c : ndarray, shape (2, 4)
        Side coefficients ``(ℓ, k, α, o)`` of ask and bid of that axis' asset.
    axis : int

    Returns
    -------
    ask : ndarray, shape of ``h`` with ``n_axis − 1`` along ``axis``
        ``λ⁺_q`` for ``q_axis = −Q+1 … Q`` (an ask fill, ``q → q − e_axis``).
    bid : ndarray, same shape
        ``λ⁻_q`` for ``q_axis = −Q … Q−1`` (a bid fill, ``q → q + e_axis``).
    """
    from .hamiltonian import ask_marginal, bid_marginal, optimal_intensity

    hi, lo = _upper(h, axis), _lower(h, axis)
    ask = optimal_intensity(ask_marginal(hi, lo, 0.0), *c[0])
    bid = optimal_intensity(bid_marginal(lo, hi, 0.0), *c[1])
    return ask, bid


def _upper(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` without its first entry along ``axis`` (the cells ``j >= 1``)."""
    return a[(slice(None),) * axis + (slice(1, None),)]


def _lower(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` without its last entry along ``axis`` (the cells ``j <= n − 2``)."""
    return a[(slice(None),) * axis + (slice(None, -1),)]


def _expm_ones(ask: np.ndarray, bid: np.ndarray, bdiag: np.ndarray, tau: float) -> tuple[np.ndarray, int]:
    """``Σ_n (τB)^n 1 / n!`` for the non-negative tridiagonal ``B``, entrywise to ~ulp accuracy.

    ``B`` has diagonal ``bdiag >= 0``, sub-diagonal ``ask`` (row ``i``, column ``i−1``) and
    super-diagonal ``bid`` (row ``i``, column ``i+1``). One inventory axis of
    :func:`_expm_ones_box`, which documents the bound.
    """
    return _expm_ones_box([(ask, bid)], bdiag, tau)


def _expm_ones_box(rates: list, bdiag: np.ndarray, tau: float) -> tuple[np.ndarray, int]:
    """``Σ_n (τB)^n 1 / n!`` for the non-negative ``B`` of the inventory box, entrywise to ~ulp accuracy.

    ``B`` has diagonal ``bdiag >= 0`` (shape of the box) and, along each axis ``i``, the rates
    ``rates[i] = (ask, bid)`` of :func:`_fill_rates`: row ``q``, column ``q − e_i`` (``ask``) and
    column ``q + e_i`` (``bid``). All terms ``t_n = (τB)^n 1 / n!`` are
    non-negative and the sum is ``>= 1`` entrywise. With ``θ = τ‖B‖∞`` and ``r = θ/(n+1) < 1``,
    ``‖t_{n+m}‖∞ <= r^m ‖t_n‖∞``, so the neglected tail is at most ``‖t_n‖∞ r/(1 − r)``; the
    loop stops when that is below half an ulp of 1, hence below half an ulp of every entry.
    No cancellation occurs, so rounding is a few ulps per entry as well.

    Returns
    -------
    total : ndarray
        The sum, ``>= 1`` entrywise.
    n_terms : int
        Number of powers of ``B`` used.
    """
    theta = tau * _row_norm(rates, bdiag)
    term = np.ones_like(bdiag)
    total = term.copy()
    n = 0
    while True:
        n += 1
        nxt = bdiag * term
        for i, (ask, bid) in enumerate(rates):
            _upper(nxt, i)[...] += ask * _lower(term, i)
            _lower(nxt, i)[...] += bid * _upper(term, i)
        term = nxt * (tau / n)
        total += term
        ratio = theta / (n + 1)              # ‖t_{n+1}‖∞ <= ratio ‖t_n‖∞, and ratio decreases
        if ratio < 1.0 and term.max() * ratio / (1.0 - ratio) <= 0.5 * _EPS:
            return total, n
        if n > 100_000:  # pragma: no cover - impossible with slice_norm <= 100
            raise RuntimeError("series for expm(τB)·1 did not converge")


def _row_norm(rates: list, bdiag: np.ndarray) -> float:
    """``‖B‖∞``: the largest row sum of the box matrix of :func:`_expm_ones_box`."""
    rows = bdiag.copy()
    for i, (ask, bid) in enumerate(rates):
        _upper(rows, i)[...] += ask
        _lower(rows, i)[...] += bid
    return float(np.max(rows))


@njit(cache=True, error_model="numpy")
def _expm_march(h, times, T, c, k, bdiag, shift, slice_norm, max_slices, shape, out, stats):
    """Compiled twin of the slice loop of :func:`expm_values` (same slices, same series), on the
    inventory box of ``shape`` (one axis: a line of cells).

    ``h`` (n,) is overwritten (``h(T)`` on entry; cells in C order); ``c`` (axes, 2, 4) the side
    coefficients of each axis; ``out[i]`` receives ``h(times[i])``; ``stats = [slices, max_terms,
    total_terms]``. Returns 0, or 1 if a fill rate overflowed, 2 if more than ``max_slices`` slices
    were needed, 3 if a series did not converge.
    """
    n = h.size
    n_ax = shape.size
    stride = np.ones(n_ax, np.int64)
    for a in range(n_ax - 2, -1, -1):
        stride[a] = stride[a + 1] * shape[a + 1]
    pos = np.empty((n_ax, n), np.int64)             # index of each cell along each axis
    for a in range(n_ax):
        for j in range(n):
            pos[a, j] = (j // stride[a]) % shape[a]
    ask = np.zeros((n_ax, n))                       # rate at cell j towards j − stride (0 at the lower limit)
    bid = np.zeros((n_ax, n))                       # rate at cell j towards j + stride (0 at the upper limit)
    term = np.empty(n)
    nxt = np.empty(n)
    total = np.empty(n)
    eps = 2.220446049250313e-16
    now = T
    for i in range(times.size - 1, -1, -1):
        remaining = now - times[i]
        while remaining > 0.0:
            for a in range(n_ax):
                s = stride[a]
                for j in range(n):
                    if pos[a, j] > 0:
                        p = h[j] - h[j - s]
                        ask[a, j] = math.exp(c[a, 0, 0] - c[a, 0, 1] * (c[a, 0, 3] + c[a, 0, 2] + p))
                        bid[a, j - s] = math.exp(c[a, 1, 0] - c[a, 1, 1] * (c[a, 1, 3] + c[a, 1, 2] - p))
                        if not (math.isfinite(ask[a, j]) and math.isfinite(bid[a, j - s])):
                            return 1
            norm_b = 0.0
            for j in range(n):
                r = bdiag[j]
                for a in range(n_ax):
                    r += ask[a, j]
                    r += bid[a, j]
                if r > norm_b:
                    norm_b = r
            # a float count: remaining·‖B‖ can exceed the int64 range near T with steep penalties
            n_sub = max(1.0, np.ceil(remaining * norm_b / slice_norm))   # (numba's math.ceil is int64)
            tau = remaining / n_sub
            theta = tau * norm_b
            for j in range(n):
                term[j] = 1.0
                total[j] = 1.0
            m = 0
            while True:
                m += 1
                tmax = 0.0
                for j in range(n):
                    v = bdiag[j] * term[j]
                    for a in range(n_ax):
                        if pos[a, j] > 0:
                            v += ask[a, j] * term[j - stride[a]]
                        if pos[a, j] < shape[a] - 1:
                            v += bid[a, j] * term[j + stride[a]]
                    nxt[j] = v * (tau / m)
                for j in range(n):
                    term[j] = nxt[j]
                    total[j] += term[j]
                    if term[j] > tmax:
                        tmax = term[j]
                ratio = theta / (m + 1)
                if ratio < 1.0 and tmax * ratio / (1.0 - ratio) <= 0.5 * eps:
                    break
                if m > 100_000 or not math.isfinite(tmax):   # impossible with slice_norm <= 100
                    return 3
            for j in range(n):
                h[j] += (math.log(total[j]) - shift * tau) / k
            remaining = 0.0 if n_sub == 1.0 else remaining - tau
            stats[0] += 1
            if m > stats[1]:
                stats[1] = m
            stats[2] += m
            if stats[0] > max_slices:
                return 2
        for j in range(n):
            out[i, j] = h[j]
        now = times[i]
    return 0


def check_applicable(model: Model) -> None:
    """``ValueError`` unless the exponential substitution linearises the model's HJB system."""
    if model.regimes is not None and model.n_distinct_regimes > 1:
        raise ValueError(
            f"method='expm' does not support market regimes (this model has {model.regimes.n} regimes with "
            f"different parameters): the exponential substitution ω = e^(k h) linearises the jump terms but not "
            f"the regime coupling Σ_j Q_ij (v_j − v_i), which becomes ω_i Σ_j Q_ij log(ω_j/ω_i), still nonlinear; "
            f"use method='fd'")
    if model.regimes is not None:
        model = model.regime_models()[0]
    if model.price.depends_on_price:
        raise ValueError(
            f"method='expm' needs a price-independent problem (a Brownian mid-price, any drift); "
            f"{type(model.price).__name__} makes the value depend on s (the substitution ω = e^(k h) "
            f"does not linearise the price part): use method='fd'")
    if model.k_plus != model.k_minus:
        raise ValueError(
            f"method='expm' needs the same intensity decay on both sides (the substitution ω = e^(k h) "
            f"linearises both jump terms only then), got k=(k_plus={model.k_plus}, k_minus={model.k_minus}); "
            f"use method='fd'")


def expm_values(coef: MarketCoefficients, grid: StateGrid, drift, T: float, times: np.ndarray,
                slice_norm: float = 4.0, bar=None, compiled: bool = True) -> tuple[np.ndarray, dict]:
    """``h(t)`` at the increasing ``times`` (ending at ``T``), exactly, in the log domain.

    ``drift``: the price drift ``b`` (a number), or one per inventory axis (asset): the diagonal
    of ``M`` holds ``k(q·b − q'Φq)``. ``compiled=True`` runs the slice loop in :func:`_expm_march`
    (numba); ``False`` the numpy version below (the same slices and series, the reference for the
    compiled twin). With several
    axes ``M`` is the sparse matrix of the box: along each axis ``i`` the same bidiagonal terms as
    one asset (``c±_i``), with the one decay ``k`` the substitution needs.

    Returns
    -------
    h : ndarray, shape (len(times), n_cells)
    info : dict
        ``slices``, ``max_terms``, ``mean_terms``.
    """
    cs = coef.packed()[0]                           # (axes, 2, 4): one state
    c = cs[0]
    k = float(c[0, 1])
    q = grid.q_cells(0).astype(float)
    drifts = np.broadcast_to(np.asarray(drift, dtype=float), (grid.n_axes,))
    qb = q * drifts[0]
    for i in range(1, grid.n_axes):
        qb = qb + grid.q_cells(i) * drifts[i]
    dpen = k * (coef.running[0] - qb)               # −diag(G)
    shift = float(dpen.max())
    bdiag = shift - dpen                            # diag(B) = diag(G) + shift >= 0
    # slices of norm ``slice_norm`` (the penalties' spread, plus the fill rates of the terminal
    # values at T), each a series of about e·slice_norm terms over every inventory
    n_slices = T * float(bdiag.max() + 2.0 * grid.n_axes * np.exp(np.max(cs[:, :, 0] - k * (cs[:, :, 2] + cs[:, :, 3]))))
    n_slices /= slice_norm
    per_cell = _SECONDS_PER_TERM_CELL * grid.n_axes * (1.0 if compiled else _NUMPY_FACTOR)
    seconds = (n_slices + times.size) * (math.e * slice_norm + 20.0) * q.size * per_cell
    if not seconds <= _MAX_EXPM_SECONDS:
        q_max = [ax.q_max for ax in grid.inventory]
        raise ValueError(f"method='expm' would take about {seconds:.3g} s (limit {_MAX_EXPM_SECONDS:g} s): about "
                         f"{n_slices:.3g} slices over {q.size} inventories (q_max={q_max[0] if len(q_max) == 1 else q_max}); "
                         f"the penalties at the bound grow like q_max²: lower q_max or use method='fd'")
    h = coef.terminal[0].copy()
    out = np.empty((times.size, q.size))
    if compiled:
        stats = np.zeros(3, np.int64)
        status = _expm_march(h, np.ascontiguousarray(times, dtype=float), float(T), np.ascontiguousarray(cs), k,
                             bdiag, shift, float(slice_norm), _MAX_SLICES, np.array(grid.inventory_shape, np.int64),
                             out, stats)
        if status == 1:
            raise ValueError("fill rates overflowed: the inventory penalties are too steep for this q_max")
        if status == 3:  # pragma: no cover - impossible with slice_norm <= 100
            raise RuntimeError("series for expm(τB)·1 did not converge")
        if status == 2:
            raise ValueError(f"method='expm' needed more than {_MAX_SLICES} slices: the fill rates are too fast for "
                             "this horizon; use method='fd'")
        if bar is not None:
            bar.update(times.size)
        return out, {"slices": int(stats[0]), "max_terms": int(stats[1]),
                     "mean_terms": float(stats[2]) / max(int(stats[0]), 1), "slice_norm": slice_norm}
    n_slices = max_terms = tot_terms = 0
    now = T
    box = grid.inventory_shape
    h, bdiag = h.reshape(box), bdiag.reshape(box)
    with np.errstate(under="ignore", over="ignore"):
        for i in range(times.size - 1, -1, -1):
            remaining = now - times[i]
            while remaining > 0.0:
                rates = [_fill_rates(h, cs[a], a) for a in range(grid.n_axes)]
                if not all(np.all(np.isfinite(r)) for pair in rates for r in pair):
                    raise ValueError("fill rates overflowed: the inventory penalties are too steep for this q_max")
                norm_b = _row_norm(rates, bdiag)
                n_sub = max(1, math.ceil(remaining * norm_b / slice_norm))
                tau = remaining / n_sub
                total, n_terms = _expm_ones_box(rates, bdiag, tau)
                h = h + (np.log(total) - shift * tau) / k
                remaining = 0.0 if n_sub == 1 else remaining - tau
                n_slices += 1
                max_terms = max(max_terms, n_terms)
                tot_terms += n_terms
                if n_slices > _MAX_SLICES:
                    raise ValueError(
                        f"method='expm' needed more than {_MAX_SLICES} slices (fill rates × horizon "
                        f"≈ {remaining * norm_b:.3g} at t={now - (T - now) * 0:.6g}): the rates are too fast for this "
                        f"horizon; use method='fd'")
            out[i] = h.ravel()
            now = times[i]
            if bar is not None:
                bar.update(1)
    return out, {"slices": n_slices, "max_terms": max_terms, "mean_terms": tot_terms / max(n_slices, 1),
                 "slice_norm": slice_norm}


def solve_expm(model: Model, q_max: int | None = None, *, t_eval=None, tol: float = 1e-5,
               value_rtol: float = 1e-6, slice_norm: float = 4.0, progress: bool = False) -> Solution:
    """``hs.solve(model, method="expm")``: the exact solution on a graded set of stored times.

    The values are exact (to rounding) at the stored times: the times of a grid graded towards
    ``T`` (:func:`hjbsolve.grid.graded_time_grid`) and ``t_eval``. The grid is refined until the
    error of the cubic interpolation between stored times (estimated as in
    :func:`hjbsolve.solve`) meets ``tol`` (quotes, units of ``1/k``) and ``value_rtol``.

    Raises
    ------
    ValueError
        A price-dependent model or ``k⁺ ≠ k⁻`` (:func:`check_applicable`); rates too fast for the
        horizon.
    """
    from .multiasset import MultiAssetModel
    from .solver._estimates import INTERP_RATIO, interp_error, per_node
    from .solver.api import TAU_EXCLUDED, _inventory_rule, _q_max, _solution
    from .solver.setup import default_n_steps, multi_asset_grid, state_grid, terminal_rate

    if not isinstance(model, (Model, MultiAssetModel)):
        raise ValueError(f"model must be an hjbsolve.Model or hjbsolve.MultiAssetModel, got {type(model).__name__}")
    multi = isinstance(model, MultiAssetModel)
    if not multi and model.regimes is not None:
        check_applicable(model)
        # every regime is the same market: the chain-free solution, in every regime
        sol = solve_expm(model.regime_models()[0], q_max, t_eval=t_eval, tol=tol, value_rtol=value_rtol,
                         slice_norm=slice_norm, progress=progress)
        g = np.repeat(sol.g[:, None], model.regimes.n, axis=1)
        return Solution(model, sol.t, sol.s, sol.s_range, sol.q, g, dict(sol.info), sol.kind)
    if not multi:
        check_applicable(model)
    slice_norm = check_real("slice_norm", slice_norm, gt=0.0, le=100.0)
    t0 = time.perf_counter()
    grid = multi_asset_grid(model, q_max) if multi else state_grid(model, q_max)
    coef = model.coefficients(grid)
    if multi and np.unique(coef.k).size > 1:
        raise ValueError(
            f"method='expm' needs one intensity decay for every asset and side (the substitution ω = e^(k h) "
            f"linearises all the jump terms only then), got k={list(model.k)}; use method='fd'")
    drift = model.drifts if multi else float(model.price.drift_at(0.0))
    T, k = model.T, float(coef.k[0, 0, 0])
    qmask, strides = _inventory_rule(grid)
    scale = np.array([tol, value_rtol])
    r_fast = max(terminal_rate(coef, grid), model.base_rate, 1.0 / T)
    tau_0 = max(1.0 / r_fast, 64.0 * _EPS * T)
    h_max, growth = T / default_n_steps(model), 0.5
    worst_prev, stalls = math.inf, 0
    bar = tqdm(total=0, desc="hjbsolve: matrix exponential", unit="time", disable=None if progress else True, leave=False)
    try:
        for _ in range(8):
            times = halve_steps(graded_time_grid(T, h_max, growth, tau_0, t_eval))
            if 8.0 * times.size * grid.n_cells > 3e9:
                raise ValueError(f"method='expm' would store {times.size} times × {grid.n_cells} inventories; "
                                 "loosen tol/value_rtol or lower q_max")
            bar.total += times.size
            bar.refresh()
            h, info = expm_values(coef, grid, drift, T, times, slice_norm, bar)
            est = np.zeros(2)
            if times.size >= 9:
                node = per_node(interp_error(times, h[:, None, :], 0)[:, 0, :] / INTERP_RATIO, h[1::2], qmask, k,
                                strides=strides)
                node[T - times[1::2] < TAU_EXCLUDED * T] = 0.0
                est = node.max(axis=0)
            worst = float(np.max(est / scale))
            if worst <= 1.0:
                break
            stalls = stalls + 1 if worst > worst_prev / 1.3 else 0
            if stalls >= 2:
                raise ValueError(f"method='expm': the interpolation error estimate stalls at {worst:.3g} times the "
                                 "tolerance; loosen tol/value_rtol")
            worst_prev = worst
            m = min(4.0, max(1.5, (2.0 * worst) ** 0.25))
            h_max /= m
            growth /= m
        else:
            raise ValueError("method='expm': the stored times did not reach the tolerance in 8 rounds")
    finally:
        bar.close()
    quote_est, value_est = map(float, est)
    info.update(method="expm", kind="hjb", q_max=_q_max(grid), n_q=int(grid.n_cells),
                n_stored=int(times.size), error_estimate=quote_est, value_error_estimate=value_est,
                error_estimates={"t_interpolation": (quote_est, value_est)}, tol=tol, value_rtol=value_rtol,
                wall_time=time.perf_counter() - t0)
    return _solution(model, grid, times, np.zeros(1), h[:, None, :], info, "hjb")


def exact_brownian(model: Model, q_max: int = 600, t=None, *, slice_norm: float = 4.0) -> Solution:
    """The exact matrix-exponential solution of a Brownian model (alias of ``solve(model, method="expm")``).

    Parameters
    ----------
    model : Model
        A price-independent model (Brownian mid-price) with ``k⁺ = k⁻``.
    q_max : int
        Inventory limit ``Q >= 1``.
    t : array_like, optional
        Times stored exactly (besides the automatic graded nodes).
    slice_norm : float
        Target ``τ ‖B‖∞`` per slice, in ``(0, 100]``: changes the cost, not the answer.
    """
    return solve_expm(model, q_max, t_eval=t, slice_norm=slice_norm)
