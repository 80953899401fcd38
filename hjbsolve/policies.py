"""Quoting policies: anything with ``quotes(t, q, s) -> (δ⁺, δ⁻)``.

A *policy* is any object with a method ``quotes(t, q, s)`` returning the ask and bid
half-spreads ``(δ⁺, δ⁻)`` as arrays broadcast from ``t, q, s``. A side that is not quoted
(for instance the ask at the lower inventory limit) is ``+inf``: its fill intensity is zero.

Policies that can be written as tables on a ``(t, s, q)`` grid (solutions of the HJB
system, the paper's closed forms, constant spreads) also provide
``tabulate(model, n_t) -> TabulatedPolicy``; the Monte Carlo engine and the exact policy
evaluator run those inside compiled kernels. A plain Python policy still works, more slowly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numba import njit, prange

from ._validation import check_int, check_real

__all__ = ["Policy", "TabulatedPolicy", "ConstantSpread", "InventorySkew"]


@runtime_checkable
class Policy(Protocol):
    """Protocol of a quoting rule."""

    def quotes(self, t, q, s) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - protocol
        ...


@dataclass(frozen=True, eq=False)
class TabulatedPolicy:
    """Quotes tabulated on a grid, linearly interpolated in ``t`` and ``s``.

    Parameters
    ----------
    t : ndarray, shape (n_t,)
        Increasing times covering ``[0, T]``.
    s : ndarray, shape (n_s,)
        Increasing mid-prices; ``n_s == 1`` means the quotes do not depend on ``s``.
    q_min, q_max : int
        Inventory limits; ``ask[..., 0]`` is the quote at ``q_min``.
    ask, bid : ndarray, shape (n_t, n_s, q_max − q_min + 1)
        ``δ⁺`` and ``δ⁻``; ``+inf`` where the side is not quoted.
    name : str
        Label for reports.
    """

    t: np.ndarray
    s: np.ndarray
    q_min: int
    q_max: int
    ask: np.ndarray
    bid: np.ndarray
    name: str = "tabulated"

    def __post_init__(self):
        t = np.ascontiguousarray(self.t, dtype=float)
        s = np.ascontiguousarray(self.s, dtype=float)
        ask = np.ascontiguousarray(self.ask, dtype=float)
        bid = np.ascontiguousarray(self.bid, dtype=float)
        n_q = self.q_max - self.q_min + 1
        if t.ndim != 1 or t.size < 1 or np.any(np.diff(t) <= 0):
            raise ValueError("t must be a strictly increasing 1-d array")
        if s.ndim != 1 or s.size < 1 or np.any(np.diff(s) <= 0):
            raise ValueError("s must be a strictly increasing 1-d array")
        shape = (t.size, s.size, n_q)
        for name, arr in (("ask", ask), ("bid", bid)):
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
            if np.isnan(arr).any() or np.isneginf(arr).any():
                raise ValueError(f"{name} table contains NaN or -inf")
        for name, arr in (("t", t), ("s", s), ("ask", ask), ("bid", bid)):
            arr.setflags(write=False)  # immutable: simulators may cache derived copies
            object.__setattr__(self, name, arr)

    @property
    def s_dependent(self) -> bool:
        return self.s.size > 1

    def _weights(self, x, nodes):
        """Linear-interpolation indices and weights (clamped in t, checked in s by callers)."""
        if nodes.size == 1:
            i = np.zeros(np.shape(x), dtype=np.intp)
            return i, i, np.zeros(np.shape(x))
        j = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
        w = (x - nodes[j]) / (nodes[j + 1] - nodes[j])
        return j, j + 1, np.clip(w, 0.0, 1.0)

    def quotes(self, t, q, s):
        """``(δ⁺, δ⁻)`` at broadcast ``(t, q, s)``; ``+inf`` beyond the inventory limits.

        Raises ``ValueError`` if ``s`` lies outside the tabulated price range.
        """
        t, q, s = np.broadcast_arrays(np.asarray(t, float), np.asarray(q), np.asarray(s, float))
        if self.s_dependent and (np.any(s < self.s[0]) or np.any(s > self.s[-1])):
            raise ValueError(
                f"s outside the tabulated range [{self.s[0]}, {self.s[-1]}]: solve with a wider s_range")
        qi = np.asarray(q, dtype=np.int64) - self.q_min
        inside = (qi >= 0) & (qi < self.ask.shape[2])
        qc = np.clip(qi, 0, self.ask.shape[2] - 1)
        i0, i1, wt = self._weights(t, self.t)
        j0, j1, ws = self._weights(s, self.s)
        out = []
        for tab in (self.ask, self.bid):
            corners = [(i0, j0, (1 - wt) * (1 - ws)), (i0, j1, (1 - wt) * ws),
                       (i1, j0, wt * (1 - ws)), (i1, j1, wt * ws)]
            v = np.zeros(np.shape(t))
            unquoted = np.zeros(np.shape(t), bool)
            for i, j, w in corners:
                c = tab[i, j, qc]
                fin = np.isfinite(c)
                v += w * np.where(fin, c, 0.0)
                unquoted |= (~fin) & (w > 0)
            out.append(np.where(inside & ~unquoted, v, np.inf))
        # inventory limits: no ask at q_min, no bid at q_max
        out[0] = np.where(qi <= 0, np.inf, out[0])
        out[1] = np.where(qi >= self.ask.shape[2] - 1, np.inf, out[1])
        return out[0], out[1]

    def quotes_on_grid(self, t: float, s: np.ndarray, q: np.ndarray, compiled: bool = True):
        """Fast path for solvers: quotes at one time on a tensor grid ``s × q``.

        Parameters
        ----------
        t : float
        s : ndarray, shape (n_s,)
            Must lie in the tabulated price range (checked).
        q : ndarray of int, shape (n_q,)
        compiled : bool
            numba kernel (default) or its numpy twin.

        Returns
        -------
        ask, bid : ndarray, shape (n_s, n_q)
            ``+inf`` where a side is not quoted (outside the table's inventories, at its limits,
            or where a table corner is ``+inf``).
        """
        s = np.asarray(s, float)
        if self.s_dependent and (s.min() < self.s[0] - 1e-9 or s.max() > self.s[-1] + 1e-9):
            raise ValueError(f"s outside the tabulated range [{self.s[0]}, {self.s[-1]}]")
        i0, i1, wt = self._weights(np.asarray(float(t)), self.t)
        j0, j1, ws = self._weights(s, self.s)
        qi = np.asarray(q, np.int64) - self.q_min
        kernel = _grid_quotes if compiled else _grid_quotes_numpy
        ask = np.empty((s.size, qi.size))
        bid = np.empty((s.size, qi.size))
        kernel(self.ask, int(i0), int(i1), float(wt), j0.astype(np.int64), j1.astype(np.int64),
               np.asarray(ws, float), qi, ask)
        kernel(self.bid, int(i0), int(i1), float(wt), j0.astype(np.int64), j1.astype(np.int64),
               np.asarray(ws, float), qi, bid)
        ask[:, qi <= 0] = np.inf
        bid[:, qi >= self.ask.shape[2] - 1] = np.inf
        return ask, bid

    def tabulate(self, model=None, n_t=None) -> "TabulatedPolicy":
        return self


@dataclass(frozen=True)
class ConstantSpread:
    """Quote ``δ⁺ = δ⁻ = half_spread`` (plus an optional fixed skew), whatever the state.

    Parameters
    ----------
    half_spread : float
        Distance of each quote from the mid-price.
    skew : float
        Added to ``δ⁺`` and subtracted from ``δ⁻``.
    q_max : int
        Inventory limit: no ask at ``−q_max``, no bid at ``+q_max``.
    """

    half_spread: float
    skew: float = 0.0
    q_max: int = 10_000

    def __post_init__(self):
        object.__setattr__(self, "half_spread", check_real("half_spread", self.half_spread))
        object.__setattr__(self, "skew", check_real("skew", self.skew))
        object.__setattr__(self, "q_max", check_int("q_max", self.q_max, ge=1))

    def quotes(self, t, q, s):
        t, q, s = np.broadcast_arrays(np.asarray(t, float), np.asarray(q), np.asarray(s, float))
        ask = np.where(q <= -self.q_max, np.inf, self.half_spread + self.skew + 0.0 * t)
        bid = np.where(q >= self.q_max, np.inf, self.half_spread - self.skew + 0.0 * t)
        return ask, bid

    def tabulate(self, model, n_t=None) -> TabulatedPolicy:
        n_q = 2 * self.q_max + 1
        ask = np.full((2, 1, n_q), self.half_spread + self.skew)
        bid = np.full((2, 1, n_q), self.half_spread - self.skew)
        ask[:, :, 0] = np.inf
        bid[:, :, -1] = np.inf
        return TabulatedPolicy(np.array([0.0, model.T]), np.array([0.0]), -self.q_max, self.q_max,
                               ask, bid, name=f"constant({self.half_spread:g})")


@njit(cache=True, inline="always")
def _corner(acc, w, c):
    """Add corner ``c`` with weight ``w``; an unquoted (``+inf``) corner with ``w > 0`` wins."""
    if w > 0.0:
        return acc + w * c  # inf propagates; finite corners accumulate
    return acc


@njit(cache=True, parallel=True)
def _grid_quotes(tab, i0, i1, wt, j0, j1, ws, qi, out):
    """Bilinear (t, s) interpolation of ``tab[t, s, q]`` onto ``out[s_node, q]``.

    ``+inf`` where the inventory index is outside the table or a corner with positive
    weight is ``+inf`` (side not quoted). Shapes: ``tab`` (n_t, n_s_tab, n_q_tab), ``j0/j1/ws``
    (n_s,), ``qi`` (n_q,), ``out`` (n_s, n_q).
    """
    n_s, n_q = out.shape
    nq_tab = tab.shape[2]
    for a in prange(n_s):
        w00 = (1.0 - wt) * (1.0 - ws[a])
        w01 = (1.0 - wt) * ws[a]
        w10 = wt * (1.0 - ws[a])
        w11 = wt * ws[a]
        for b in range(n_q):
            j = qi[b]
            if j < 0 or j >= nq_tab:
                out[a, b] = np.inf
                continue
            v = _corner(0.0, w00, tab[i0, j0[a], j])
            v = _corner(v, w01, tab[i0, j1[a], j])
            v = _corner(v, w10, tab[i1, j0[a], j])
            out[a, b] = _corner(v, w11, tab[i1, j1[a], j])


def _grid_quotes_numpy(tab, i0, i1, wt, j0, j1, ws, qi, out):
    """Numpy twin of :func:`_grid_quotes`."""
    inside = (qi >= 0) & (qi < tab.shape[2])
    qc = np.clip(qi, 0, tab.shape[2] - 1)
    v = np.zeros(out.shape)
    unquoted = np.zeros(out.shape, bool)
    for slab, w_t in ((tab[i0][:, qc], 1.0 - wt), (tab[i1][:, qc], wt)):
        for j, w_s in ((j0, 1.0 - ws), (j1, ws)):
            c = slab[j]
            w = w_t * w_s[:, None] * np.ones_like(c)
            fin = np.isfinite(c)
            v += np.where(w > 0, w * np.where(fin, c, 0.0), 0.0)
            unquoted |= (~fin) & (w > 0)
    out[:] = np.where(inside[None, :] & ~unquoted, v, np.inf)


@dataclass(frozen=True)
class InventorySkew:
    """The article's heuristic: a base half-spread, widened on the side that would grow ``|q|``.

    ``δ⁺ = half_spread + γ·max(−q, 0)`` and ``δ⁻ = half_spread + γ·max(q, 0)``: a long market
    maker (``q > 0``) widens its bid, a short one its ask, "discouraging further
    accumulation" (../shared/seeds/article-inventory-and-price-impact.md).

    Sign convention: in the article's code a trade with ``side = +1`` (a trader's buy) *adds*
    to the tracked inventory, so the article's inventory is the market maker's position with
    the opposite sign; its printed rule (widen the ask when that inventory is positive) is
    this rule written in the market maker's own position ``q`` (the convention of this
    package: an ask fill lowers ``q``).

    Parameters
    ----------
    half_spread : float
        Base distance of each quote from the mid (the article's ``spread_base``).
    gamma : float
        Widening per unit of inventory, ``γ >= 0``.
    q_max : int
        Inventory limit (no ask at ``−q_max``, no bid at ``+q_max``).
    """

    half_spread: float
    gamma: float
    q_max: int = 10_000

    def __post_init__(self):
        object.__setattr__(self, "half_spread", check_real("half_spread", self.half_spread))
        object.__setattr__(self, "gamma", check_real("gamma", self.gamma, ge=0.0))
        object.__setattr__(self, "q_max", check_int("q_max", self.q_max, ge=1))

    @property
    def name(self) -> str:
        return f"skew(b={self.half_spread:g}, γ={self.gamma:g})"

    def _quotes_q(self, q):
        q = np.asarray(q, float)
        ask = self.half_spread + self.gamma * np.maximum(-q, 0.0)
        bid = self.half_spread + self.gamma * np.maximum(q, 0.0)
        return np.where(q <= -self.q_max, np.inf, ask), np.where(q >= self.q_max, np.inf, bid)

    def quotes(self, t, q, s):
        t, q, s = np.broadcast_arrays(np.asarray(t, float), np.asarray(q), np.asarray(s, float))
        return self._quotes_q(q)

    def tabulate(self, model, n_t=None) -> TabulatedPolicy:
        q = np.arange(-self.q_max, self.q_max + 1)
        ask, bid = self._quotes_q(q)
        shape = (2, 1, q.size)
        return TabulatedPolicy(np.array([0.0, model.T]), np.array([0.0]), -self.q_max, self.q_max,
                               np.broadcast_to(ask, shape).copy(), np.broadcast_to(bid, shape).copy(),
                               name=self.name)
