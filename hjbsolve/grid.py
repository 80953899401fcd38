"""Grids: inventory axes, the price axis, the state grid and time grids.

Grids are frozen and know nothing of the model or the equations; the solvers build them
from a model in :mod:`hjbsolve.solver.setup`.

Value arrays have the layout ``(n_rows, n_cells)``: the rows are the state nodes (regime ×
price node, price fastest), the cells the inventory vectors (one axis per asset, C order:
the last asset fastest). One asset and one regime: ``(n_s, 2 Q + 1)``.

The inventory-limit rule lives here, once: on an axis with nodes ``−Q … Q`` the side whose
fill would leave the box is not quoted — no ask at ``q = −Q`` (an ask fill lowers ``q``), no
bid at ``q = +Q`` (:func:`ask_quoted`, :func:`bid_quoted` and their compiled twins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._validation import check_int, check_real

__all__ = ["InventoryAxis", "PriceAxis", "StateGrid", "ask_quoted", "bid_quoted", "uniform_time_grid",
           "graded_time_grid", "halve_steps", "MAX_Q"]

#: Largest inventory bound accepted on one axis (a 2·10⁶-node axis already needs minutes per step).
MAX_Q = 1_000_000


# ----------------------------------------------------------------------------- the limit rule
def ask_quoted(j, n):
    """Whether the ask is quoted at index ``j`` of an inventory axis of ``n`` nodes (``q > −Q``)."""
    return np.asarray(j) > 0


def bid_quoted(j, n):
    """Whether the bid is quoted at index ``j`` of an inventory axis of ``n`` nodes (``q < Q``)."""
    return np.asarray(j) < n - 1


@njit(cache=True, inline="always")
def ask_quoted_nb(j, n):
    return j > 0


@njit(cache=True, inline="always")
def bid_quoted_nb(j, n):
    return j < n - 1


# ----------------------------------------------------------------------------- axes
@dataclass(frozen=True)
class InventoryAxis:
    """Inventories ``q ∈ {−q_max, …, q_max}`` of one asset.

    ``q_max`` should be large enough that the answers near ``q = 0`` do not depend on it
    (:func:`hjbsolve.solver.default_q_max`; check by doubling it).
    """

    q_max: int

    def __post_init__(self):
        object.__setattr__(self, "q_max", check_int("q_max", self.q_max, ge=1, le=MAX_Q))

    @property
    def q(self) -> np.ndarray:
        return np.arange(-self.q_max, self.q_max + 1)

    @property
    def n(self) -> int:
        return 2 * self.q_max + 1

    def index(self, q, name: str = "q") -> np.ndarray:
        """Array index of the inventories ``q`` (an array of integers in ``[−q_max, q_max]``).

        Raises
        ------
        ValueError
            Non-numeric, complex, non-finite or non-integer values, or values outside the bound.
        """
        q = np.asarray(q)
        if q.dtype.kind not in "iuf" or q.dtype == np.bool_:
            raise ValueError(f"{name} must be integer inventories, got {_show(q)} of dtype {q.dtype}")
        if q.dtype.kind == "f":
            if not np.all(np.isfinite(q)):
                raise ValueError(f"{name} must be finite integer inventories, got {_show(q)}")
            qi = np.rint(q)
            if np.any(q != qi):
                raise ValueError(f"{name} must be integer inventories, got {_show(q)}")
        else:
            qi = q
        if np.any(np.abs(qi.astype(float)) > self.q_max):
            raise ValueError(f"{name} must lie in [-{self.q_max}, {self.q_max}] (the solution's q_max), "
                             f"got values up to |{name}| = {np.abs(qi.astype(float)).max():g}")
        return qi.astype(np.int64) + self.q_max


def _show(x) -> str:
    x = np.asarray(x)
    return repr(x.ravel()[:5].tolist()) + ("…" if x.size > 5 else "")


@dataclass(frozen=True, eq=False)
class PriceAxis:
    """Uniform mid-price nodes and the sub-range where answers are wanted.

    ``s`` has one node (``s = [0]``) when the reduced value does not depend on the price.

    Attributes
    ----------
    s : ndarray, shape (n,)
    interest : (float, float)
        Where answers may be asked (``(-inf, inf)`` for a price-independent problem).
    """

    s: np.ndarray
    interest: tuple

    @property
    def n(self) -> int:
        return self.s.size

    @property
    def ds(self) -> float:
        return float(self.s[1] - self.s[0]) if self.s.size > 1 else math.inf

    @property
    def degenerate(self) -> bool:
        return self.s.size == 1

    @classmethod
    def single(cls) -> "PriceAxis":
        return cls(np.zeros(1), (-math.inf, math.inf))

    @classmethod
    def uniform(cls, lo: float, hi: float, ds: float, interest, min_nodes: int = 5) -> "PriceAxis":
        """Nodes ``lo, lo + ds', …, hi`` with ``ds' ≤ ds`` (``ceil((hi − lo)/ds) + 1`` nodes, at least ``min_nodes``)."""
        n = max(int(math.ceil((hi - lo) / ds)) + 1, min_nodes)
        return cls(np.linspace(lo, hi, n), (float(interest[0]), float(interest[1])))

    def refined(self) -> "PriceAxis":
        """The same range with a node inserted between each pair (spacing halved; old nodes kept)."""
        if self.degenerate:
            return self
        return PriceAxis(np.linspace(self.s[0], self.s[-1], 2 * self.n - 1), self.interest)

    def coarsened(self) -> "PriceAxis | None":
        """Every other node (spacing doubled), or ``None`` when that leaves fewer than 5 nodes or the
        node count is even (the end node would be lost)."""
        if self.degenerate or self.n % 2 == 0 or self.n < 9:
            return None
        return PriceAxis(self.s[::2].copy(), self.interest)

    def inside(self, pad: int = 0) -> slice:
        """Slice of the nodes covering :attr:`interest` plus ``pad`` nodes on each side."""
        if self.degenerate:
            return slice(0, 1)
        lo, hi = self.interest
        i0 = max(int(np.searchsorted(self.s, lo, side="right")) - 1 - pad, 0)
        i1 = min(int(np.searchsorted(self.s, hi, side="left")) + 1 + pad, self.n)
        return slice(i0, i1)

    def check(self, s, name: str = "s") -> np.ndarray:
        """``s`` as a float array inside :attr:`interest`; ``ValueError`` otherwise."""
        s = _as_real_array(name, s)
        lo, hi = self.interest
        if not self.degenerate and (np.any(s < lo - 1e-9 * max(1.0, abs(lo))) or
                                    np.any(s > hi + 1e-9 * max(1.0, abs(hi)))):
            raise ValueError(f"{name} must lie in s_range=[{lo:.10g}, {hi:.10g}] where the solution was computed, "
                             f"got values in [{s.min():.10g}, {s.max():.10g}]; solve again with a wider s_range")
        return s


def _as_real_array(name, x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise ValueError(f"{name} must be real numbers, got {_show(arr)} of dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {_show(arr)}")
    return arr


@dataclass(frozen=True, eq=False)
class StateGrid:
    """The product grid of the state: regimes × price nodes (rows) × inventory axes (cells).

    Parameters
    ----------
    prices : PriceAxis
    inventory : tuple of InventoryAxis
        One axis per asset.
    n_states : int
        Number of regime states (1: no regimes).
    """

    prices: PriceAxis
    inventory: tuple
    n_states: int = 1

    def __post_init__(self):
        if isinstance(self.inventory, InventoryAxis):
            object.__setattr__(self, "inventory", (self.inventory,))
        object.__setattr__(self, "inventory", tuple(self.inventory))

    @property
    def n_axes(self) -> int:
        return len(self.inventory)

    @property
    def inventory_shape(self) -> tuple:
        return tuple(ax.n for ax in self.inventory)

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.inventory_shape))

    @property
    def n_rows(self) -> int:
        return self.n_states * self.prices.n

    @property
    def shape(self) -> tuple:
        """Shape ``(n_rows, n_cells)`` of a value array on this grid."""
        return (self.n_rows, self.n_cells)

    @property
    def size(self) -> int:
        return self.n_rows * self.n_cells

    @property
    def row_state(self) -> np.ndarray:
        """Regime state of each row, shape ``(n_rows,)``."""
        return np.repeat(np.arange(self.n_states, dtype=np.int64), self.prices.n)

    def stride(self, axis: int) -> int:
        """Distance between neighbouring cells along inventory axis ``axis``."""
        return int(np.prod(self.inventory_shape[axis + 1:], dtype=np.int64))

    def q_cells(self, axis: int = 0) -> np.ndarray:
        """Inventory of asset ``axis`` at every cell, shape ``(n_cells,)``."""
        grids = np.meshgrid(*(ax.q for ax in self.inventory), indexing="ij")
        return grids[axis].ravel()

    def with_prices(self, prices: PriceAxis) -> "StateGrid":
        return StateGrid(prices, self.inventory, self.n_states)

    def with_states(self, n_states: int) -> "StateGrid":
        return StateGrid(self.prices, self.inventory, n_states)

    def state_rows(self, rows: slice | None = None) -> np.ndarray | slice:
        """Row indices of the price nodes ``rows`` (a slice of the price axis) in every regime state
        (the slice itself with one state)."""
        rows = slice(0, self.prices.n) if rows is None else rows
        if self.n_states == 1:
            return rows
        idx = np.arange(self.prices.n)[rows]
        return (np.arange(self.n_states)[:, None] * self.prices.n + idx[None, :]).ravel()


# ----------------------------------------------------------------------------- time grids
#: Most requested times ``t_eval`` a solve accepts (every one is a stored time-step node).
MAX_T_EVAL = 100_001


#: Smallest gap between two requested times, as a fraction of ``T`` (closer times cannot be
#: separate time steps without wrecking the step selection; the accuracy contract excludes the
#: last ``1e-9 T`` for the same reason).
T_EVAL_GAP = 1e-9


def _check_t_eval(t_eval, T: float) -> np.ndarray:
    if isinstance(t_eval, (str, bytes)) or (isinstance(t_eval, np.ndarray) and t_eval.dtype.kind not in "biuf"):
        raise ValueError(f"t_eval must be an array of times in [0, T={T}], got {t_eval!r}")
    try:
        arr = np.asarray(t_eval, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t_eval must be an array of times in [0, T={T}], got {t_eval!r}") from None
    if arr.ndim > 1:
        raise ValueError(f"t_eval must be a 1-d array of times in [0, T={T}], got shape {arr.shape}")
    arr = arr.ravel()
    if arr.size > MAX_T_EVAL:
        raise ValueError(f"t_eval must hold at most {MAX_T_EVAL} times, got {arr.size}")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > T):
        raise ValueError(f"t_eval must be a non-empty array of finite times in [0, T={T}], got {_show(arr)}")
    out = np.unique(np.concatenate([arr, [0.0, T]]))
    gaps = np.diff(out)
    if np.any(gaps < T_EVAL_GAP * T):
        i = int(np.argmin(gaps))
        raise ValueError(f"t_eval has times {float(out[i])!r} and {float(out[i + 1])!r} closer than {T_EVAL_GAP:g}·T={T_EVAL_GAP * T:g} "
                         "(0 and T included): merge them")
    return out


def uniform_time_grid(T: float, n_steps: int, t_eval=None, max_saved: int = 101,
                      terminal_refinement: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Uniform time nodes ``0 = t_0 < … < t_N = T`` and which of them are stored (fixed-step mode).

    Without ``t_eval`` the grid is uniform with ``n_steps`` steps and about ``max_saved``
    equally spaced nodes are stored (every step when ``n_steps < max_saved``). With ``t_eval``
    each gap between consecutive requested times is split into equal steps no longer than
    ``T / n_steps`` and exactly the requested times (plus ``0`` and ``T``) are stored. The last
    step before ``T`` is then split geometrically into ``terminal_refinement`` extra steps
    (lengths ``dt/16, …, dt/4, dt/2``).

    Returns
    -------
    t : ndarray, shape (N+1,)
    save : ndarray of bool, shape (N+1,)
    """
    n_steps = check_int("n_steps", n_steps, ge=1)
    if t_eval is None:
        t = np.linspace(0.0, T, n_steps + 1)
        stride = max(1, int(math.ceil(n_steps / (max_saved - 1))))
        save = np.zeros(n_steps + 1, bool)
        save[::stride] = True
        save[-1] = True
        return _refine_terminal(t, save, terminal_refinement)
    t_eval = _check_t_eval(t_eval, T)
    dt_max = T / n_steps
    pieces, save = [np.array([0.0])], [np.array([True])]
    for a, b in zip(t_eval[:-1], t_eval[1:]):
        m = max(1, int(math.ceil((b - a) / dt_max - 1e-9)))
        pieces.append(np.linspace(a, b, m + 1)[1:])
        flags = np.zeros(m, bool)
        flags[-1] = True
        save.append(flags)
    return _refine_terminal(np.concatenate(pieces), np.concatenate(save), terminal_refinement)


def _refine_terminal(t, save, levels):
    """Replace the last step ``[T − dt, T]`` by nodes ``T − dt·2^{−j}``, ``j = 1..levels``."""
    if levels <= 0 or t.size < 2:
        return t, save
    T, dt = t[-1], t[-1] - t[-2]
    extra = T - dt * 0.5 ** np.arange(1, levels + 1)
    return (np.concatenate([t[:-1], extra, [T]]),
            np.concatenate([save[:-1], np.zeros(levels, bool), [True]]))


def graded_time_grid(T: float, h_max: float, growth: float, tau_0: float, t_eval=None) -> np.ndarray:
    """Time nodes graded towards ``T``: steps ``h(τ) ≈ min(h_max, max(τ_0, τ)·growth)`` in ``τ = T − t``.

    Near the horizon the steps grow geometrically from about ``τ_0·growth`` (but at least 32
    ulps of ``T``) up to ``h_max``, then stay uniform: a terminal layer whose rates fall like
    ``1/τ`` is resolved with the same number of steps per e-fold of ``τ``. Every step is a
    power-of-two fraction ``h_max 2^{−j}`` (rounded down from ``h(τ)``), so a grid has few
    distinct step lengths (the state propagator computes one matrix exponential per length),
    and :func:`halve_steps` keeps that property. Requested times ``t_eval`` (and ``0``, ``T``)
    are nodes.

    Parameters
    ----------
    T, h_max, growth, tau_0 : float
        Horizon, largest step, growth rate (``> 0``) and the start of the grading (``> 0``).
    t_eval : array_like, optional

    Returns
    -------
    t : ndarray, shape (N+1,)
        Strictly increasing, ``t[0] = 0``, ``t[-1] = T``.

    Raises
    ------
    ValueError
        If the grid would need more than 5·10⁷ steps.
    """
    check_real("growth", growth, gt=0.0)
    check_real("h_max", h_max, gt=0.0)
    check_real("tau_0", tau_0, gt=0.0)
    h_min = 32.0 * np.finfo(float).eps * T          # distinct times in double precision
    h_max = min(h_max, T)
    # number of nodes: the geometric part needs log(h_max/(τ_0 growth))/log(1+growth) steps
    n_geo = math.log(max(h_max / max(tau_0 * growth, h_min), 1.0)) / math.log1p(growth) + 1.0
    n_total = 2.0 * n_geo + T / h_max + 2.0
    if n_total > 5e7:
        raise ValueError(f"the time grid would need about {n_total:.3g} steps; the problem's rates are too fast "
                         "for its horizon")
    taus = [0.0]
    tau = 0.0
    while True:
        target = max(min(h_max, max(tau_0, tau) * growth), h_min)
        h = h_max * 2.0 ** -math.ceil(math.log2(h_max / target) - 1e-12)
        if h < h_min:
            h *= 2.0
        nxt = tau + h
        if nxt >= T * (1.0 - 1e-12) or T - nxt < 0.25 * h:
            break
        taus.append(nxt)
        tau = nxt
    taus.append(T)
    t = (T - np.array(taus))[::-1]
    t[0], t[-1] = 0.0, T
    if t_eval is not None:
        req = _check_t_eval(t_eval, T)
        # a grid node closer to a requested time than a quarter of its step is dropped (the
        # requested time takes its place), so that no step is much shorter than its neighbours
        j = np.clip(np.searchsorted(t, req), 1, t.size - 1)
        drop = set()
        for r, jj in zip(req, j):
            for c in (jj - 1, jj):
                if 0 < c < t.size - 1 and t[c] != r:
                    step = min(t[c] - t[c - 1], t[c + 1] - t[c])
                    if abs(t[c] - r) < 0.25 * step:
                        drop.add(c)
        t = np.union1d(np.delete(t, sorted(drop)), req)
    return t


def halve_steps(t: np.ndarray) -> np.ndarray:
    """The grid with every step split in two (``t[::2]`` of the result is ``t``)."""
    out = np.empty(2 * t.size - 1)
    out[0::2] = t
    out[1::2] = 0.5 * (t[:-1] + t[1:])
    return out
