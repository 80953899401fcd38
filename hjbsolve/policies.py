"""Quoting policies: anything with ``quotes(t, q, s) -> (δ⁺, δ⁻)``.

A *policy* is any object with a method ``quotes(t, q, s)`` returning the ask and bid
half-spreads ``(δ⁺, δ⁻)`` as arrays broadcast from ``t, q, s``. A side that is not quoted
(for instance the ask at the lower inventory limit) is ``+inf``: its fill intensity is zero.

Policies that can be written as tables on a ``(t, s, q)`` grid (solutions, the paper's closed
forms, constant spreads) also provide ``tabulate(model, t, s) -> TabulatedPolicy`` (``t``,
``s``: suggested nodes, which a policy with its own grid ignores); the Monte Carlo engine and
the exact policy evaluator run those inside compiled kernels, through the one table
interpolation of :mod:`hjbsolve.interpolation`. A plain Python policy still works, more slowly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ._validation import check_int, check_real
from .grid import _as_real_array, ask_quoted, bid_quoted
from .interpolation import ORDERS, interpolate, interpolate_on_grid

__all__ = ["Policy", "TabulatedPolicy", "BoxPolicy", "RegimePolicy", "ConstantSpread", "InventorySkew"]


@runtime_checkable
class Policy(Protocol):
    """Protocol of a quoting rule."""

    def quotes(self, t, q, s) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - protocol
        ...


def _as_table(name, x, shape):
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise ValueError(f"{name} must be a real array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (len(t), len(s), q_max - q_min + 1), got {arr.shape}")
    if np.isnan(arr).any() or np.isneginf(arr).any():
        raise ValueError(f"{name} contains NaN or -inf (quotes must be finite, or +inf for 'not quoted')")
    return arr


@dataclass(frozen=True, eq=False)
class TabulatedPolicy:
    """Quotes tabulated on a ``(t, s, q)`` grid, interpolated in ``t`` and ``s``.

    Parameters
    ----------
    t : ndarray, shape (n_t,)
        Strictly increasing, finite times covering ``[0, T]``.
    s : ndarray, shape (n_s,)
        Strictly increasing, finite mid-prices; ``n_s == 1`` means the quotes do not depend on ``s``.
    q_min, q_max : int
        Inventory limits (``q_min < q_max``); ``ask[..., 0]`` is the quote at ``q_min``. No ask
        is posted at ``q_min``, no bid at ``q_max``, nothing outside.
    ask, bid : ndarray, shape (n_t, n_s, q_max − q_min + 1)
        ``δ⁺`` and ``δ⁻``; ``+inf`` where the side is not quoted.
    name : str
        Label for reports.
    order : {1, 3}
        Interpolation degree in ``t`` and ``s`` (:mod:`hjbsolve.interpolation`): 1 (linear,
        default) or 3 (cubic).
    s_range : (float, float), optional
        Where the policy may be used (inside the table's price range); default the whole range.

    Raises
    ------
    ValueError
        Invalid inputs (the message names the argument).
    """

    t: np.ndarray
    s: np.ndarray
    q_min: int
    q_max: int
    ask: np.ndarray
    bid: np.ndarray
    name: str = "tabulated"
    order: int = 1
    s_range: tuple | None = None

    def __post_init__(self):
        q_min = check_int("q_min", self.q_min)
        q_max = check_int("q_max", self.q_max)
        if not q_min < q_max:
            raise ValueError(f"q_min must be < q_max, got q_min={q_min}, q_max={q_max}")
        t = _as_real_array("t", self.t)
        s = _as_real_array("s", self.s)
        for name, arr in (("t", t), ("s", s)):
            if arr.ndim != 1 or arr.size < 1 or np.any(np.diff(arr) <= 0):
                raise ValueError(f"{name} must be a strictly increasing 1-d array, got shape {arr.shape}")
        if t.size < 2:
            raise ValueError("t must hold at least two times (the table must cover [0, T])")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        shape = (t.size, s.size, q_max - q_min + 1)
        ask = _as_table("ask", self.ask, shape)
        bid = _as_table("bid", self.bid, shape)
        s_range = (float(s[0]), float(s[-1])) if self.s_range is None else tuple(float(x) for x in self.s_range)
        if s.size > 1 and (s_range[0] < s[0] or s_range[1] > s[-1] or s_range[0] > s_range[1]):
            raise ValueError(f"s_range must lie inside the table's prices [{s[0]}, {s[-1]}], got {self.s_range!r}")
        for name, arr in (("t", t), ("s", s), ("ask", ask), ("bid", bid)):
            arr.setflags(write=False)  # immutable: simulators may cache derived copies
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "q_min", q_min)
        object.__setattr__(self, "q_max", q_max)
        object.__setattr__(self, "s_range", s_range)
        object.__setattr__(self, "name", str(self.name))

    @property
    def s_dependent(self) -> bool:
        return self.s.size > 1

    @property
    def n_q(self) -> int:
        return self.q_max - self.q_min + 1

    def _check_s(self, s) -> np.ndarray:
        if self.s_dependent:
            lo, hi = self.s_range
            if np.any(s < lo - 1e-9 * max(1.0, abs(lo))) or np.any(s > hi + 1e-9 * max(1.0, abs(hi))):
                raise ValueError(f"s outside the policy's price range [{lo}, {hi}]: tabulate or solve with a "
                                 "wider s_range")
        return s

    def _quotes_checked(self, t, q, s):
        """Quotes at broadcast, already validated arrays (``q`` integer inventories)."""
        qi = np.asarray(q, np.int64) - self.q_min
        inside = (qi >= 0) & (qi < self.n_q)
        qc = np.clip(qi, 0, self.n_q - 1)
        tc = np.clip(t, self.t[0], self.t[-1])
        out = []
        for tab in (self.ask, self.bid):
            v = interpolate(tab, self.t, self.s, self.order, self.order, tc, s, qc)
            out.append(np.where(inside, v, np.inf))
        return (np.where(ask_quoted(qi, self.n_q), out[0], np.inf),
                np.where(bid_quoted(qi, self.n_q), out[1], np.inf))

    def quotes(self, t, q, s):
        """``(δ⁺, δ⁻)`` at broadcast ``(t, q, s)``; ``+inf`` beyond the inventory limits.

        Raises
        ------
        ValueError
            Non-finite or non-real ``t, s``; non-integer ``q``; ``s`` outside the policy's price range.
        """
        t = _as_real_array("t", t)
        s = self._check_s(_as_real_array("s", s))
        qa = np.asarray(q)
        if qa.dtype.kind not in "iuf" or qa.dtype == np.bool_ or not np.all(np.isfinite(qa)) or \
                np.any(np.rint(qa) != qa):
            raise ValueError(f"q must be integer inventories, got {qa.ravel()[:5]!r}")
        t, q, s = np.broadcast_arrays(t, np.rint(qa).astype(np.int64), s)
        return self._quotes_checked(t, q, s)

    def check_horizon(self, T: float) -> None:
        """Raise ``ValueError`` unless the table covers ``[0, T]`` (a policy solved for another
        horizon would be held at its last row: refused by evaluation and simulation alike)."""
        _check_horizon(self.t, T)

    def box_quotes(self, t, q, s):
        """:meth:`_quotes_checked` with the asset axis of :meth:`BoxPolicy.box_quotes`: ``q`` of shape
        (m, 1), quotes of shape (m, 1) (one asset)."""
        ask, bid = self._quotes_checked(t, q[:, 0], s)
        return ask[:, None], bid[:, None]

    def quotes_on_grid(self, t: float, s: np.ndarray, q: np.ndarray, compiled: bool = True):
        """Fast path for solvers: quotes at one time on a tensor grid ``s × q``.

        Returns
        -------
        ask, bid : ndarray, shape (n_s, n_q)
            ``+inf`` where a side is not quoted (outside the table's inventories, at its limits,
            or where the interpolation touches a ``+inf`` entry).
        """
        s = self._check_s(np.asarray(s, float))
        qi = np.asarray(q, np.int64) - self.q_min
        tc = min(max(float(t), self.t[0]), self.t[-1])
        ask = interpolate_on_grid(self.ask, self.t, self.s, self.order, self.order, tc, s, qi, compiled)
        bid = interpolate_on_grid(self.bid, self.t, self.s, self.order, self.order, tc, s, qi, compiled)
        ask[:, ~ask_quoted(qi, self.n_q)] = np.inf
        bid[:, ~bid_quoted(qi, self.n_q)] = np.inf
        return ask, bid

    def tabulate(self, model=None, t=None, s=None) -> "TabulatedPolicy":
        return self


def _check_horizon(t: np.ndarray, T: float) -> None:
    if t[0] > 0.0 or t[-1] < T * (1 - 1e-12) or t[-1] > T * (1 + 1e-12):
        raise ValueError(f"the policy's table covers t in [{t[0]:g}, {t[-1]:g}], not [0, T={T:g}] of "
                         "the model: solve or tabulate it for this model's horizon")


@dataclass(frozen=True, eq=False)
class BoxPolicy:
    """Quotes of ``M`` assets tabulated on a ``(t, box)`` grid: per asset ``δ±`` tables over the
    inventory box ``[−Q_1, Q_1] × … × [−Q_M, Q_M]``, interpolated in ``t``.

    The multi-asset form of :class:`TabulatedPolicy` (what a multi-asset
    :meth:`hjbsolve.Solution.tabulate` returns and :func:`hjbsolve.simulate` trades): the same
    table interpolation (:mod:`hjbsolve.interpolation`, the cell of the box an exact index) and the
    same inventory-limit rule along each asset's axis (no ask of asset ``i`` at ``q_i = −Q_i``, no
    bid at ``+Q_i``; nothing quoted outside the box).

    Parameters
    ----------
    t : ndarray, shape (n_t,)
        Strictly increasing, finite times covering ``[0, T]``.
    q_max : sequence of int, length M
        The box's half-widths ``Q_i >= 1``.
    ask, bid : ndarray, shape (n_t, 1, n_cells, M)
        ``δ⁺_i`` and ``δ⁻_i`` of every asset ``i`` (last axis) at every time and cell; the cells are
        the C-order product of the axes ``−Q_i … Q_i`` (the last asset fastest, as
        :class:`hjbsolve.grid.StateGrid`). The one price node: the quotes do not depend on the
        mid-prices (Brownian prices with constant drifts).
    name : str
    order : {1, 3}
        Interpolation degree in ``t``.

    Raises
    ------
    ValueError
        Invalid inputs (the message names the argument, the value and what is allowed).
    """

    t: np.ndarray
    q_max: tuple
    ask: np.ndarray
    bid: np.ndarray
    name: str = "tabulated"
    order: int = 1

    def __post_init__(self):
        if isinstance(self.q_max, (int, np.integer)) or not hasattr(self.q_max, "__len__") or len(self.q_max) < 1:
            raise ValueError(f"q_max must be a sequence of M >= 1 integers (one bound per asset), got {self.q_max!r}")
        q_max = tuple(check_int(f"q_max[{i}]", v, ge=1) for i, v in enumerate(self.q_max))
        t = _as_real_array("t", self.t)
        if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
            raise ValueError(f"t must be a strictly increasing 1-d array of at least two times, got shape {t.shape}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        shape = (t.size, 1, int(np.prod([2 * Q + 1 for Q in q_max])), len(q_max))
        for name in ("ask", "bid"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape} (len(t), 1, cells of the box, M), got {arr.shape}")
            arr = _as_table(name, arr, shape)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        t.setflags(write=False)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "q_max", q_max)
        object.__setattr__(self, "name", str(self.name))

    #: The single price node (the quotes do not depend on the mid-prices).
    s = np.zeros(1)
    s_dependent = False
    s_range = (-np.inf, np.inf)

    n_regimes = 1

    @property
    def tables(self) -> tuple:
        """``(self,)``: one table for every regime (the simulator's interface, as :class:`RegimePolicy`)."""
        return (self,)

    @property
    def n_assets(self) -> int:
        return len(self.q_max)

    @property
    def inventory_shape(self) -> tuple:
        return tuple(2 * Q + 1 for Q in self.q_max)

    @property
    def q_min(self) -> tuple:
        return tuple(-Q for Q in self.q_max)

    def contains(self, q) -> bool:
        """Whether the inventory vector ``q`` lies in the box."""
        return all(-Q <= int(v) <= Q for v, Q in zip(q, self.q_max))

    def box_quotes(self, t, q, s=None):
        """Quotes at already validated arrays: ``t`` (m,), integer inventories ``q`` (m, M).

        Returns
        -------
        ask, bid : ndarray, shape (m, M)
            ``+inf`` where a side is not quoted (its axis' limit, or ``q`` outside the box).
        """
        q = np.asarray(q, np.int64)
        shape = self.inventory_shape
        idx = q + np.array(self.q_max)
        inside = np.all((idx >= 0) & (idx < np.array(shape)), axis=-1)
        cell = np.ravel_multi_index(tuple(np.clip(idx, 0, np.array(shape) - 1)[..., i] for i in range(len(shape))),
                                    shape)
        tc = np.clip(np.broadcast_to(np.asarray(t, float), cell.shape), self.t[0], self.t[-1])
        zero = np.zeros(cell.shape)
        out = []
        for tab, quoted in ((self.ask, ask_quoted), (self.bid, bid_quoted)):
            v = np.stack([interpolate(tab[..., i], self.t, self.s, self.order, self.order, tc, zero, cell)
                          for i in range(len(shape))], axis=-1)
            ok = inside[..., None] & quoted(idx, np.array(shape))
            out.append(np.where(ok, v, np.inf))
        return out[0], out[1]

    def quotes(self, t, q, s=None):
        """``(δ⁺, δ⁻)`` per asset at inventories ``q`` (integers, trailing axis M) and times ``t``
        (broadcast with ``q``'s other axes); ``s`` (the mid-prices) is not used. Quotes have the
        trailing asset axis; ``+inf`` at an axis' limit and outside the box.

        Raises
        ------
        ValueError
            Non-finite ``t``; ``q`` not integer or without a trailing axis of length M.
        """
        t = _as_real_array("t", t)
        qa = np.asarray(q)
        M = self.n_assets
        if qa.dtype.kind not in "iuf" or qa.dtype == np.bool_ or not np.all(np.isfinite(qa)) or \
                np.any(np.rint(qa) != qa) or qa.ndim == 0 or qa.shape[-1] != M:
            raise ValueError(f"q must be integer inventories with a trailing axis of length M={M}, got shape "
                             f"{qa.shape}: {qa.ravel()[:5]!r}")
        shape = np.broadcast_shapes(t.shape, qa.shape[:-1])
        qb = np.broadcast_to(np.rint(qa).astype(np.int64), shape + (M,)).reshape(-1, M)
        ask, bid = self.box_quotes(np.broadcast_to(t, shape).ravel(), qb)
        return ask.reshape(shape + (M,)), bid.reshape(shape + (M,))

    def check_horizon(self, T: float) -> None:
        """As :meth:`TabulatedPolicy.check_horizon`."""
        _check_horizon(self.t, T)

    def tabulate(self, model=None, t=None, s=None) -> "BoxPolicy":
        return self


@dataclass(frozen=True, eq=False)
class RegimePolicy:
    """Quotes that depend on the market regime: one :class:`TabulatedPolicy` per regime state.

    Parameters
    ----------
    tables : sequence of TabulatedPolicy, length n_regimes
        ``tables[r]`` quotes in regime ``r``. All tables share one grid (the same ``t``, ``s``,
        ``q_min``, ``q_max``, ``order`` and ``s_range``), so that the compiled simulator stacks them
        into one array of shape ``(n_regimes, n_q, 2, n_t, n_s)``.
    name : str
        Label for reports.

    Raises
    ------
    ValueError
        No table, an entry that is not a :class:`TabulatedPolicy`, or tables on different grids
        (the message names the entry and the field).
    """

    tables: tuple
    name: str = "per-regime"

    def __post_init__(self):
        tables = self.tables
        if isinstance(tables, TabulatedPolicy) or not hasattr(tables, "__len__") or len(tables) < 1:
            raise ValueError(f"tables must be a non-empty sequence of TabulatedPolicy (one per regime), got {tables!r}")
        tables = tuple(tables)
        first = tables[0]
        for r, tab in enumerate(tables):
            if not isinstance(tab, TabulatedPolicy):
                raise ValueError(f"tables[{r}] must be a TabulatedPolicy, got {type(tab).__name__}")
            for key in ("t", "s", "q_min", "q_max", "order", "s_range"):
                a, b = getattr(tab, key), getattr(first, key)
                if not (np.array_equal(a, b) if key in ("t", "s") else a == b):
                    raise ValueError(f"tables[{r}].{key} differs from tables[0].{key}: the tables of a RegimePolicy "
                                     f"must share one (t, s, q) grid, order and s_range")
        object.__setattr__(self, "tables", tables)
        object.__setattr__(self, "name", str(self.name))

    @property
    def n_regimes(self) -> int:
        return len(self.tables)

    def __getattr__(self, key):
        # the shared grid (t, s, q_min, q_max, n_q, order, s_range, s_dependent) is tables[0]'s
        if key in ("t", "s", "q_min", "q_max", "n_q", "order", "s_range", "s_dependent"):
            return getattr(self.tables[0], key)
        raise AttributeError(key)

    def quotes(self, t, q, s, regime=None):
        """``(δ⁺, δ⁻)`` of regime ``regime`` (an index ``0 … n_regimes − 1``; required when there are
        several) at broadcast ``(t, q, s)``; as :meth:`TabulatedPolicy.quotes` otherwise."""
        if regime is None and self.n_regimes == 1:
            regime = 0
        if isinstance(regime, (bool, np.bool_)) or not isinstance(regime, (int, np.integer)) or \
                not 0 <= int(regime) < self.n_regimes:
            raise ValueError(f"regime must be an integer index in [0, {self.n_regimes - 1}] (the policy has "
                             f"{self.n_regimes} regime tables), got {regime!r}")
        return self.tables[int(regime)].quotes(t, q, s)

    def check_horizon(self, T: float) -> None:
        """:meth:`TabulatedPolicy.check_horizon` (the tables share their times)."""
        self.tables[0].check_horizon(T)

    def tabulate(self, model=None, t=None, s=None) -> "RegimePolicy":
        return self


def _in_box(q, q_max: int, ask, bid):
    """Apply the inventory-limit rule of a box ``−q_max … q_max`` (:mod:`hjbsolve.grid`); nothing is
    quoted outside the box."""
    j = np.asarray(q) + q_max
    n = 2 * q_max + 1
    inside = (j >= 0) & (j < n)
    return np.where(inside & ask_quoted(j, n), ask, np.inf), np.where(inside & bid_quoted(j, n), bid, np.inf)


class _InventoryRule:
    """A heuristic whose quotes depend on the inventory only (``_quotes_q``). With several assets it
    quotes every asset by the same rule, each by its own inventory ``q_i`` (and its own box
    ``|q_i| <= q_max``)."""

    def quotes(self, t, q, s):
        """``(δ⁺, δ⁻)`` at broadcast ``(t, q, s)``; with a trailing asset axis on ``q`` (several assets),
        the quotes have it too."""
        qa = np.asarray(q)
        try:
            np.broadcast_shapes(np.shape(t), qa.shape, np.shape(s))
        except ValueError:
            raise ValueError(f"t, q and s must broadcast together, got shapes {np.shape(t)}, {qa.shape} and "
                             f"{np.shape(s)}") from None
        shape = np.broadcast_shapes(np.shape(t), qa.shape, np.shape(s))
        return self._quotes_q(np.broadcast_to(qa, shape))

    def box_quotes(self, t, q, s=None):
        """Quotes at inventories ``q`` of shape (m, M), shape (m, M) (the simulator's multi-asset call)."""
        return self._quotes_q(np.asarray(q))


@dataclass(frozen=True)
class ConstantSpread(_InventoryRule):
    """Quote ``δ⁺ = δ⁻ = half_spread`` (plus an optional fixed skew), whatever the state.

    Parameters
    ----------
    half_spread : float
        Distance of each quote from the mid-price (price units).
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

    @property
    def name(self) -> str:
        return f"constant({self.half_spread:g})"

    def _quotes_q(self, q):
        q = np.asarray(q)
        return _in_box(q, self.q_max, np.full(q.shape, self.half_spread + self.skew),
                       np.full(q.shape, self.half_spread - self.skew))

    def tabulate(self, model, t=None, s=None) -> TabulatedPolicy:
        q = np.arange(-self.q_max, self.q_max + 1)
        ask, bid = self._quotes_q(q)
        shape = (2, 1, q.size)
        return TabulatedPolicy(np.array([0.0, model.T]), np.array([0.0]), -self.q_max, self.q_max,
                               np.broadcast_to(ask, shape), np.broadcast_to(bid, shape), name=self.name)


@dataclass(frozen=True)
class InventorySkew(_InventoryRule):
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
        return _in_box(q, self.q_max, self.half_spread + self.gamma * np.maximum(-q, 0.0),
                       self.half_spread + self.gamma * np.maximum(q, 0.0))

    def tabulate(self, model, t=None, s=None) -> TabulatedPolicy:
        q = np.arange(-self.q_max, self.q_max + 1)
        ask, bid = self._quotes_q(q)
        shape = (2, 1, q.size)
        return TabulatedPolicy(np.array([0.0, model.T]), np.array([0.0]), -self.q_max, self.q_max,
                               np.broadcast_to(ask, shape).copy(), np.broadcast_to(bid, shape).copy(),
                               name=self.name)


@dataclass(frozen=True, eq=False)
class OnBox:
    """A policy of several assets restricted to the inventory box ``Π_i [−Q_i, Q_i]`` by the inventory-limit
    rule (no ask of asset ``i`` at ``q_i = −Q_i``, no bid at ``+Q_i``, nothing outside): the policy that
    :func:`hjbsolve.evaluate` on that box values, so that a simulation of it is comparable (what
    ``hjbsolve simulate`` trades for a heuristic or a closed form with ``[assets]``).

    Parameters
    ----------
    policy : object with ``quotes(t, q, s)`` (trailing asset axis)
    q_max : sequence of int, length M
    """

    policy: object
    q_max: tuple

    def __post_init__(self):
        if isinstance(self.q_max, (str, bytes)) or not hasattr(self.q_max, "__len__") or len(self.q_max) < 1:
            raise ValueError(f"q_max must be a sequence of M >= 1 integers (one bound per asset), got {self.q_max!r}")
        object.__setattr__(self, "q_max", tuple(check_int(f"q_max[{i}]", v, ge=1) for i, v in enumerate(self.q_max)))
        if not callable(getattr(self.policy, "quotes", None)):
            raise ValueError(f"policy must have a quotes(t, q, s) method, got {type(self.policy).__name__}")
        n = policy_assets(self.policy)
        if n is not None and n != len(self.q_max):
            raise ValueError(f"the policy ({type(self.policy).__name__}) quotes {n} asset(s) but the box has "
                             f"{len(self.q_max)} bounds")

    @property
    def name(self) -> str:
        return f"{getattr(self.policy, 'name', type(self.policy).__name__)} on the box {list(self.q_max)}"

    @property
    def n_assets(self) -> int:
        return len(self.q_max)

    def _limit(self, q, ask, bid):
        q = np.asarray(q)
        inner = type(self.policy).__name__
        for side, v in (("ask", ask), ("bid", bid)):
            v = np.asarray(v)
            if v.dtype.kind not in "iuf" or v.dtype == np.bool_:
                raise ValueError(f"{inner}.quotes returned {side} quotes of dtype {v.dtype}; quotes must be real")
            if v.shape != q.shape:
                raise ValueError(f"{inner}.quotes returned {side} quotes of shape {v.shape}; expected {q.shape} (the "
                                 "inventories' shape, with the trailing asset axis)")
        out_a, out_b = np.array(ask, float), np.array(bid, float)
        Q = np.array(self.q_max)
        inside = np.all(np.abs(q) <= Q, axis=-1)            # as BoxPolicy: nothing quoted outside the box
        for i, Qi in enumerate(self.q_max):
            a_i, b_i = _in_box(q[..., i], Qi, out_a[..., i], out_b[..., i])
            out_a[..., i], out_b[..., i] = np.where(inside, a_i, np.inf), np.where(inside, b_i, np.inf)
        return out_a, out_b

    def _inner(self, fn, t, q, s):
        out = fn(t, q, s)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"{type(self.policy).__name__}.quotes(t, q, s) must return a pair (ask, bid), got "
                             f"{type(out).__name__}")
        return out

    def quotes(self, t, q, s):
        ask, bid = self._inner(self.policy.quotes, t, q, s)
        try:
            shape = np.broadcast_shapes(np.shape(ask), np.shape(q))
        except ValueError:
            shape = np.shape(q)
        return self._limit(np.broadcast_to(q, shape), np.broadcast_to(ask, shape) if np.ndim(ask) == 0 else ask,
                           np.broadcast_to(bid, shape) if np.ndim(bid) == 0 else bid)

    def box_quotes(self, t, q, s=None):
        fn = self.policy.box_quotes if hasattr(self.policy, "box_quotes") else self.policy.quotes
        ask, bid = self._inner(fn, t, q, s)
        return self._limit(q, ask, bid)


def policy_assets(policy) -> int | None:
    """How many assets ``policy`` quotes: a multi-asset ``Solution``, a :class:`BoxPolicy` or a
    multi-asset closed form their ``M``; a single-asset table, solution or closed form 1; ``None`` when
    the policy does not say (a heuristic or a plain ``quotes`` callable: applied to every asset, each
    by its own inventory)."""
    from .multiasset import MultiAssetModel

    if getattr(policy, "multi_asset", None) is not None:           # a Solution
        return len(policy.q_max) if policy.multi_asset else 1
    if isinstance(policy, (RegimePolicy, TabulatedPolicy)) or hasattr(policy, "quotes_on_grid"):
        return 1
    n = getattr(policy, "n_assets", None)
    if n is not None:
        return int(n)
    m = getattr(policy, "model", None)
    if isinstance(m, MultiAssetModel):
        return m.n_assets
    return None if m is None else 1


def check_policy_assets(model, policy) -> None:
    """``ValueError`` for a policy that quotes another number of assets than ``model`` has (a
    single-asset table, solution or closed form for a multi-asset model, or the reverse)."""
    from .multiasset import MultiAssetModel

    M = model.n_assets if isinstance(model, MultiAssetModel) else 1
    n = policy_assets(policy)
    if n is not None and n != M:
        raise ValueError(f"the policy ({type(policy).__name__}) quotes {n} asset(s) but the model has M={M}: use a "
                         f"policy of a model with {M} asset(s) (hs.solve, hs.expansion or a BoxPolicy), or a "
                         "heuristic (ConstantSpread, InventorySkew: applied to every asset)")


def tabulate_policy(policy, *args) -> TabulatedPolicy:
    """``policy.tabulate(*args)``, or ``ValueError`` unless it returns a :class:`TabulatedPolicy`."""
    tab = policy.tabulate(*args)
    if not isinstance(tab, TabulatedPolicy):
        raise ValueError(f"{type(policy).__name__}.tabulate() must return a TabulatedPolicy, got {type(tab).__name__}")
    return tab
