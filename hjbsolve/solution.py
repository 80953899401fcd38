"""The one result type of every solver: value functions and optimal quotes on a grid.

``hs.solve(model, method="fd")``, ``hs.solve(model, method="expm")`` and ``hs.evaluate(model,
policy)`` all return a :class:`Solution`; its queries go through the one table interpolation
(:mod:`hjbsolve.interpolation`), the one quote assembly
(:func:`hjbsolve.hamiltonian.quotes_from_values`) and the one inventory-limit rule
(:mod:`hjbsolve.grid`), so the quotes a user reads are the quotes :func:`hjbsolve.simulate`
trades.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_int
from .grid import InventoryAxis, PriceAxis, _as_real_array
from .hamiltonian import fill_intensity, quotes_from_values
from .interpolation import interpolate
from .model import Model
from .policies import BoxPolicy, RegimePolicy, TabulatedPolicy
from .regimes import resolve_regime

__all__ = ["Solution", "FORMAT", "FORMAT_ASSETS"]

#: Format tag written by :meth:`Solution.save` and checked by :meth:`Solution.load`.
FORMAT = "hjbsolve.Solution/2"
#: The same for a multi-asset solution (one bound per asset, ``g`` over the cells of the box).
FORMAT_ASSETS = "hjbsolve.MultiAssetSolution/1"
#: Interpolation degree in time and price (cubic: fourth order, see :mod:`hjbsolve.interpolation`).
ORDER_T = 3
ORDER_S = 3


@dataclass(frozen=True, eq=False)
class Solution:
    """Reduced value ``g`` on a ``(t, s, q)`` grid: ``v_q(t, s) = q s + g_q(t, s)``.

    Attributes
    ----------
    model : Model
    t : ndarray, shape (n_t,)
        Stored times (strictly increasing, ``0`` and ``T`` included).
    s : ndarray, shape (n_s,)
        Stored price nodes (``n_s == 1`` when the value does not depend on ``s`` beyond ``q s``).
    s_range : (float, float)
        Where answers may be asked (``(-inf, inf)`` for a price-independent solution).
    q : ndarray, shape (n_q,), or tuple of M such arrays
        Inventories ``−q_max … q_max``; for a :class:`~hjbsolve.multiasset.MultiAssetModel` one array
        per asset, and ``g``'s last axis holds the cells of the box, the C-order product of these
        axes (the last asset fastest; :class:`hjbsolve.grid.StateGrid`).
    g : ndarray, shape (n_t, n_s, n_q), or (n_t, n_regimes, n_s, n_q) for a model with regimes
        Reduced value (price units); ``n_q`` is the number of cells of the box with several assets.
    info : dict
        Diagnostics: method, scheme, steps, grid sizes, wall time, error estimates
        (``error_estimate``: quotes, in units of ``1/k``; ``value_error_estimate``: values,
        relative to ``max(1, |g|)``), kind (``"hjb"`` or ``"policy"``).
    kind : {"hjb", "policy"}
        ``"policy"``: the value of a fixed policy (:func:`hjbsolve.evaluate`); its
        :meth:`quotes` are the quotes that would be optimal *given that value*.

    Between stored times and price nodes ``g`` is interpolated by cubic Lagrange polynomials in
    ``t`` and in ``s`` (fourth order; exact at the nodes and on the part ``q Δ(t, s)`` of ``g``,
    which is linear in ``s``). Inventories must be integers in ``[−q_max, q_max]``.

    With several assets the queries take inventories ``q`` and mid-prices ``s`` with a trailing
    axis of length ``M`` (``t`` broadcasts with the other axes); :meth:`quotes` returns per-asset
    ``δ⁺, δ⁻`` with that trailing axis, through the same quote assembly, inventory-limit rule (along
    each asset's axis) and table interpolation as one asset.

    For a model with market regimes (:class:`hjbsolve.regimes.Regimes`) every query takes
    ``regime=`` (an index or a name): it is **required** when the chain has more than one state
    (a query without it is a ``ValueError``, never a silent choice), optional (``0``) with one.
    """

    model: Model
    t: np.ndarray
    s: np.ndarray
    s_range: tuple
    q: np.ndarray
    g: np.ndarray
    info: dict = field(default_factory=dict)
    kind: str = "hjb"

    def __post_init__(self):
        for name in ("t", "s", "q", "g"):
            if name == "q" and isinstance(self.q, tuple):
                axes = tuple(np.ascontiguousarray(a) for a in self.q)
                for a in axes:
                    a.setflags(write=False)
                object.__setattr__(self, "q", axes)
                continue
            arr = np.ascontiguousarray(getattr(self, name))
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "s_range", tuple(float(x) for x in self.s_range))
        object.__setattr__(self, "_cache", {})

    # ------------------------------------------------------------------ grid
    @property
    def multi_asset(self) -> bool:
        """Whether the inventory has one axis per asset (a :class:`~hjbsolve.multiasset.MultiAssetModel`)."""
        return isinstance(self.q, tuple)

    @property
    def q_max(self):
        """The inventory bound: an int, or a tuple (one per asset)."""
        if self.multi_asset:
            return tuple(int(a[-1]) for a in self.q)
        return int(self.q[-1])

    @property
    def inventory_shape(self) -> tuple:
        """Cells per inventory axis: ``(n_q,)`` or ``(n_q_1, …, n_q_M)``."""
        return tuple(a.size for a in self.q) if self.multi_asset else (self.q.size,)

    @property
    def n_regimes(self) -> int:
        """Number of regime states (1 without regimes)."""
        return self.model.n_regimes

    def _regime(self, regime):
        """The regime index of a query (``None`` without regimes); ``ValueError`` for a missing or
        bad ``regime`` (:func:`hjbsolve.regimes.resolve_regime`)."""
        return resolve_regime(self.model.regimes, regime)

    def _table(self, r):
        return self.g if r is None else self.g[:, r]

    @property
    def optimal(self) -> bool:
        """Whether the stored value is the optimal one (``kind == "hjb"``)."""
        return self.kind == "hjb"

    @property
    def _axis(self) -> InventoryAxis:
        return InventoryAxis(self.q_max)

    @property
    def _prices(self) -> PriceAxis:
        return PriceAxis(self.s, self.s_range)

    def _check_t(self, t) -> np.ndarray:
        t = _as_real_array("t", t)
        T = self.model.T
        if np.any(t < -1e-12 * T) or np.any(t > T * (1 + 1e-12)):
            raise ValueError(f"t must lie in [0, T={T}], got values in [{t.min():.10g}, {t.max():.10g}]")
        return np.clip(t, 0.0, T)

    def _prepare(self, t, q, s):
        t = self._check_t(t)
        qi = self._axis.index(q)
        s = self._prices.check(s)
        try:
            t, qi, s = np.broadcast_arrays(t, qi, s)
        except ValueError:
            raise ValueError(f"t, q and s must broadcast together, got shapes {t.shape}, {qi.shape} and "
                             f"{s.shape}") from None
        return t, qi, s

    def _g_at(self, t, s, qi, r=None):
        """Interpolated ``g`` (of regime ``r``) at broadcast ``(t, s)`` and inventory index ``qi``."""
        return interpolate(self._table(r), self.t, self.s, ORDER_T, ORDER_S, t, s, qi)

    # ------------------------------------------------------------------ public queries
    def value(self, t, q, s, regime=None):
        """``v_q(t, s)``, the ``q s`` part included; broadcasts ``t, q, s``.

        ``regime``: index or name of the regime state (required when the model has several).
        Several assets: ``q`` (integers) and ``s`` have a trailing axis of length ``M``, ``t`` broadcasts
        with the other axes; the value ``q·s + g(t, q)`` has their broadcast shape.

        Raises
        ------
        ValueError
            ``t`` outside ``[0, T]``, ``q`` not an integer in ``[−q_max, q_max]``, ``s`` outside
            ``s_range``, shapes that do not broadcast, or a value beyond double precision.
        """
        r = self._regime(regime)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.multi_asset:
                t, cell, q, s = self._prepare_assets(t, q, s)
                out = np.sum(q * s, axis=-1) + self._g_at(t, np.zeros(t.shape), cell)
            else:
                t, qi, s = self._prepare(t, q, s)
                out = self.q[qi] * s + self._g_at(t, s, qi, r)
        if not np.all(np.isfinite(out)):
            raise ValueError(f"the value q·s + g overflows double precision at these (q, s) (|s| up to "
                             f"{float(np.max(np.abs(s))):.3g}): give prices within double precision's range")
        return out[()]

    def quotes(self, t, q, s, regime=None):
        """Optimal ``(δ⁺, δ⁻)`` (paper eqs. 3, 26, exactly); ``+inf`` for the side not quoted at a limit.

        The same numbers :func:`hjbsolve.simulate` trades (through :meth:`tabulate`). For a policy
        evaluation these are the quotes that are optimal *given that value*, not the evaluated
        policy's. ``regime``: as in :meth:`value`.

        Several assets (paper eq. 34, exactly): arrays with the trailing asset axis of ``q`` and ``s``,
        ``δ±_i = 1/k±_i + α_i + v(q) − v(q ∓ e_i) ∓ s_i``; no ask of asset ``i`` at ``q_i = −Q_i``, no bid
        at ``+Q_i``.
        """
        r = self._regime(regime)
        if self.multi_asset:
            t, _, q, _ = self._prepare_assets(t, q, s)
            self._check_stored_edge(np.abs(q).reshape(-1, q.shape[-1]).max(axis=0, initial=0))
            return self._policy_table().quotes(t, q)
        t, qi, s = self._prepare(t, q, s)
        self._check_stored_edge([int(np.abs(self.q[qi]).max(initial=0))])
        ask, bid = self._policy_table(r)._quotes_checked(t, qi + int(self.q[0]), s)
        return ask[()], bid[()]

    @property
    def solve_q_max(self):
        """The bound(s) of the solve: :attr:`q_max`, unless the solution was loaded from a file that keeps
        part of its inventories (``compact=True`` or ``save(q_max=...)``)."""
        return self.info.get("solve_q_max", self.q_max)

    def _check_stored_edge(self, q_abs) -> None:
        """``ValueError`` for quotes at the edge of a file's kept inventories, where the solve had none of
        its limits: they would need the value one step further, which the file does not keep."""
        solve_q = self.solve_q_max
        kept = self.q_max if self.multi_asset else (self.q_max,)
        solve_q = tuple(solve_q) if isinstance(solve_q, (list, tuple)) else (solve_q,)
        for i, (a, k, b) in enumerate(zip(q_abs, kept, solve_q)):
            if k < b and a >= k:
                of = f"q[..., {i}]" if self.multi_asset else "q"
                raise ValueError(f"{of} = ±{int(a)}: this solution keeps |q| <= {k} of its solve's bound {b} (a compact "
                                 f"file); its quotes are defined for |q| <= {k - 1} (the accuracy contract: |q| <= "
                                 f"{b // 2}); load a whole-grid file (save without compact, hjbsolve solve --full)")

    def check_whole_grid(self) -> None:
        """``ValueError`` for a solution whose file keeps part of its inventories: simulating or evaluating
        its quotes would put a limit (no quote) where the solve had none."""
        if self.kind == "policy":
            raise ValueError("this solution is the evaluation of a fixed policy (hs.evaluate): its quotes would be "
                             "the ones optimal given its value, not the evaluated policy's; pass that policy itself")
        if self.solve_q_max != self.q_max:
            raise ValueError(f"this solution keeps |q| <= {self.q_max} of its solve's bound {self.solve_q_max} (a "
                             "compact file): its quotes at that edge are not the solve's; simulate or evaluate the "
                             "whole grid (save without compact, hjbsolve solve --full)")

    def spread(self, t, q, s, regime=None):
        """``ψ = δ⁺ + δ⁻``."""
        a, b = self.quotes(t, q, s, regime=regime)
        return a + b

    def centre(self, t, q, s, regime=None):
        """``r = s + (δ⁺ − δ⁻)/2``."""
        a, b = self.quotes(t, q, s, regime=regime)
        return np.asarray(s, float) + 0.5 * (a - b)

    def inventory_drift(self, t, q, s, regime=None):
        """Expected inventory drift per unit time under the optimal quotes,
        ``E[dq]/dt = λ⁻(δ⁻) − λ⁺(δ⁺)`` (a bid fill raises ``q`` by one, an ask fill lowers it), with
        ``λ± = A± e^{−k±(z + δ±)}`` (paper eq. 27; :func:`hjbsolve.hamiltonian.fill_intensity` of the
        model's coefficients); a side not quoted at a limit fills at rate 0.

        Parameters
        ----------
        t, q, s, regime
            As in :meth:`quotes` (several assets: ``q`` and ``s`` with a trailing asset axis).

        Returns
        -------
        ndarray
            Inventory units per time unit, the shape of one side of :meth:`quotes` (a trailing asset
            axis with several assets).
        """
        ask, bid = self.quotes(t, q, s, regime=regime)
        r = self._regime(regime)
        coef = self.model.coefficients(_single_grid(self))
        lr, k = coef.log_rate[0 if r is None else r], coef.k[0 if r is None else r]     # (axis, side)
        if not self.multi_asset:
            lr, k = lr[0], k[0]
        with np.errstate(over="ignore"):
            return fill_intensity(bid, lr[..., 1], k[..., 1]) - fill_intensity(ask, lr[..., 0], k[..., 0])

    # ------------------------------------------------------------------ several assets
    def _prepare_assets(self, t, q, s):
        """Validated ``(t, cell index, q, s)`` broadcast together; ``q, s`` keep their trailing axis M."""
        M = len(self.q)
        t = self._check_t(t)
        try:
            qa = np.asarray(q)
        except ValueError:                    # ragged nested sequences
            raise ValueError(f"q must be integer inventory vectors of a regular shape (a trailing axis of length "
                             f"M={M}), got {q!r}") from None
        s = _as_real_array("s", s)
        for name, x in (("q", qa), ("s", s)):
            if x.ndim == 0 or x.shape[-1] != M:
                raise ValueError(f"{name} must have a trailing axis of length M={M} (one entry per asset), got "
                                 f"shape {x.shape}")
        idx = [InventoryAxis(int(ax[-1])).index(qa[..., i], name=f"q[..., {i}]") for i, ax in enumerate(self.q)]
        try:
            shape = np.broadcast_shapes(t.shape, qa.shape[:-1], s.shape[:-1])
        except ValueError:
            raise ValueError(f"t, q and s (without their trailing asset axis) must broadcast together, got shapes "
                             f"{t.shape}, {qa.shape} and {s.shape}") from None
        cell = np.broadcast_to(np.ravel_multi_index(tuple(idx), self.inventory_shape), shape)
        qv = np.broadcast_to(np.stack([a[i] for a, i in zip(self.q, idx)], axis=-1), shape + (M,))
        return np.broadcast_to(t, shape), cell, qv, np.broadcast_to(s, shape + (M,))

    def _quote_tables(self):
        """``(ask tables, bid tables)``: per asset the optimal quotes at every stored node and cell,
        each of shape ``(n_t, n_s, n_cells)`` (cached)."""
        out = self._cache.get("quote tables")
        if out is None:
            coef = self.model.coefficients(_single_grid(self))
            tabs = [side_tables(self.g, self.inventory_shape, i, *coef.quote_params(i), state=0)
                    for i in range(len(self.q))]
            out = (tuple(a for a, _ in tabs), tuple(b for _, b in tabs))
            self._cache["quote tables"] = out
        return out

    def tabulate(self, regime=None) -> TabulatedPolicy:
        """The optimal quotes on the stored grid as a cubic :class:`TabulatedPolicy` (cached), of the
        regime ``regime`` for a model with regimes (required when it has several); for several assets a
        :class:`~hjbsolve.policies.BoxPolicy` (per-asset tables over the inventory box).

        This is what :meth:`quotes`, :func:`hjbsolve.evaluate` and :func:`hjbsolve.simulate` use.

        Raises
        ------
        ValueError
            A solution loaded from a file that keeps part of its inventories (compact): its table's
            edge would act as an inventory limit the solve did not have (:meth:`check_whole_grid`).
        """
        self.check_whole_grid()
        return self._policy_table(regime)

    def _policy_table(self, regime=None):
        """:meth:`tabulate` without the whole-grid check (the queries inside the kept inventories)."""
        if self.multi_asset:
            return self._tabulate_box()
        r = self._regime(regime)
        key = ("policy", r)
        tab = self._cache.get(key)
        if tab is None:
            coef = self.model.coefficients(_single_grid(self))
            ask, bid = side_tables(self._table(r), self.inventory_shape, 0, *coef.quote_params(0),
                                   state=0 if r is None else r)
            s_nodes = self.s if self.s.size > 1 else np.zeros(1)
            tab = TabulatedPolicy(self.t, s_nodes, int(self.q[0]), int(self.q[-1]), ask, bid,
                                  name=self.info.get("name", "optimal"), order=ORDER_T,
                                  s_range=self.s_range if self.s.size > 1 else None)
            self._cache[key] = tab
        return tab

    def _tabulate_box(self) -> BoxPolicy:
        """The optimal quotes of every asset on the stored grid and box, as a cubic
        :class:`~hjbsolve.policies.BoxPolicy` (cached)."""
        tab = self._cache.get("box policy")
        if tab is None:
            asks, bids = self._quote_tables()
            tab = BoxPolicy(self.t, self.q_max, np.stack(asks, axis=-1), np.stack(bids, axis=-1),
                            name=self.info.get("name", "optimal"), order=ORDER_T)
            self._cache["box policy"] = tab
        return tab

    def tabulate_regimes(self) -> RegimePolicy:
        """The optimal quotes of every regime state as one :class:`~hjbsolve.policies.RegimePolicy`
        (``tables[r] = tabulate(regime=r)``; one table without regimes): what
        :func:`hjbsolve.simulate` trades for a solution with a regime chain."""
        if self.multi_asset:
            raise ValueError("a multi-asset solution has no regimes: its policy is tabulate() (a BoxPolicy)")
        return RegimePolicy(tuple(self.tabulate(regime=r if self.model.regimes is not None else None)
                                  for r in range(self.n_regimes)), name=self.info.get("name", "optimal"))

    # ------------------------------------------------------------------ persistence
    def save(self, path, *, q_max=None, compact: bool = False) -> Path:
        """Write to a compressed ``.npz`` (arrays + JSON metadata); reload with :meth:`load`.

        Parameters
        ----------
        path : str or Path
            ``.npz`` is appended when missing.
        q_max : int, optional
            Store only the inventories ``|q| ≤ q_max`` (a smaller file; the reloaded solution has
            that bound, answers only there, and its quotes at ``|q| < q_max`` are this solution's).
            Several assets: an int (every asset) or one bound per asset; the stored box is
            ``|q_i| ≤ min(q_max_i, self.q_max[i])`` (format :data:`FORMAT_ASSETS`).
        compact : bool
            What users need, about eight times smaller: the inventories of the accuracy contract
            (``|q| ≤ self.q_max/2``, stored up to ``self.q_max // 2 + 1`` unless ``q_max`` is given)
            and, for a solution of the automatic mode, every other stored time and price node —
            the nodes whose interpolation errors the solve estimated (``info["error_estimates"]``
            ``t_interpolation`` and ``s_interpolation``), so the reloaded answers stay within its
            tolerances. ``info["stored"]`` says what was kept.
        """
        path = _as_path(path, "path")
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        if not isinstance(compact, (bool, np.bool_)):
            raise ValueError(f"compact must be True or False, got {compact!r}")
        if self.multi_asset:
            return self._save_box(path, q_max, compact)
        g, q, t, s, info = self.g, self.q, self.t, self.s, dict(self.info)
        if compact and q_max is None:
            q_max = min(self.q_max, self.q_max // 2 + 1)
        if q_max is not None:
            q_max = check_int("q_max", q_max, ge=1)
            keep = np.abs(q) <= q_max
            g, q = g[..., keep], q[keep]
        if compact and info.get("mode") == "automatic":
            if t.size % 2 == 1:                     # the solve's coarse time grid: 0, T and t_eval included
                g, t = g[::2], t[::2]
            lo, hi = self.s_range
            if s.size % 2 == 1 and s.size >= 9 and s[0] <= lo and s[-1] >= hi:
                g, s = g[..., ::2, :], s[::2]       # the price axis (second to last; regimes come before it)
        if q_max is not None and q_max < self.q_max:
            info["solve_q_max"] = int(self.solve_q_max)
        if compact or q_max is not None:
            info["stored"] = (f"inventories |q| <= {int(q[-1])} (the solve's bound: {self.q_max}), {t.size} of "
                              f"{self.t.size} stored times, {s.size} of {self.s.size} stored prices")
        meta = {"format": FORMAT, "model": self.model.to_dict(), "s_range": list(map(float, self.s_range)),
                "info": _jsonable(info), "kind": self.kind}
        np.savez_compressed(path, t=t, s=s, q=q, g=g, meta=np.array(json.dumps(meta)))
        return path

    def _save_box(self, path: Path, q_max, compact: bool) -> Path:
        """:meth:`save` of a multi-asset solution: the box ``g`` (cells in C order) and its bounds."""
        bounds = self.q_max
        M = len(bounds)
        g, t, info = self.g, self.t, dict(self.info)
        if q_max is None and compact:
            q_max = [b // 2 + 1 for b in bounds]
        if q_max is not None:
            vals = list(q_max) if isinstance(q_max, (list, tuple, np.ndarray)) else [q_max] * M
            if len(vals) != M:
                raise ValueError(f"q_max must be an int or one bound per asset (M={M}), got {q_max!r}")
            keep = tuple(min(b, check_int(f"q_max[{i}]", v, ge=1)) for i, (b, v) in enumerate(zip(bounds, vals)))
            box = g.reshape(g.shape[:-1] + self.inventory_shape)
            box = box[(Ellipsis,) + tuple(slice(b - k, b + k + 1) for b, k in zip(bounds, keep))]
            g, bounds = box.reshape(g.shape[:-1] + (-1,)), keep
            if keep != tuple(self.q_max):
                info["solve_q_max"] = list(self.solve_q_max)
        if compact and info.get("mode") == "automatic" and t.size % 2 == 1:
            g, t = g[::2], t[::2]                   # the solve's coarse time grid: 0, T and t_eval included
        if compact or q_max is not None:
            info["stored"] = (f"inventories |q_i| <= {list(bounds)} (the solve's bounds: {list(self.q_max)}), "
                              f"{t.size} of {self.t.size} stored times")
        meta = {"format": FORMAT_ASSETS, "model": self.model.to_dict(), "s_range": list(map(float, self.s_range)),
                "info": _jsonable(info), "kind": self.kind}
        np.savez_compressed(path, t=t, s=self.s, q=np.array(bounds, dtype=np.int64), g=g,
                            meta=np.array(json.dumps(meta)))
        return path

    @classmethod
    def _load_box(cls, path: Path, f: dict) -> "Solution":
        """:meth:`load` of a file written by :meth:`_save_box`, every field checked."""
        from .multiasset import MultiAssetModel

        meta = _read_meta(path, f, FORMAT_ASSETS)
        try:
            model = MultiAssetModel.from_dict(meta.get("model"))
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: field 'model' is not a valid multi-asset model ({e})") from None
        kind = meta.get("kind")
        if kind not in ("hjb", "policy"):
            raise ValueError(f"{path}: field 'kind' must be 'hjb' or 'policy', got {kind!r}")
        t, s, q, g = (f[k] for k in ("t", "s", "q", "g"))
        _check_time_axis(path, t, model.T)
        if s.shape != (1,) or s.dtype.kind != "f" or not np.all(np.isfinite(s)):
            raise ValueError(f"{path}: field 's' must be one finite price node (a multi-asset solution does not "
                             f"depend on the prices beyond q·s), got shape {s.shape}")
        M = model.n_assets
        if q.shape != (M,) or q.dtype.kind not in "iu" or np.any(q < 1):
            raise ValueError(f"{path}: field 'q' must hold one bound Q_i >= 1 per asset (M={M}), got {q.tolist()}")
        axes = tuple(np.arange(-int(b), int(b) + 1) for b in q)
        shape = (t.size, 1, int(np.prod([a.size for a in axes])))
        if g.shape != shape or g.dtype.kind != "f":
            raise ValueError(f"{path}: field 'g' must be a float array of shape (len(t), 1, cells of the box) = "
                             f"{shape}, got {g.shape} of dtype {g.dtype}")
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{path}: field 'g' contains non-finite values")
        cells = np.stack([c.ravel() for c in np.meshgrid(*axes, indexing="ij")], axis=-1).astype(float)
        terminal = -np.einsum("ci,ij,cj->c", cells, model.terminal_penalty_form, cells)
        if not np.allclose(g[-1, 0], terminal, rtol=1e-9, atol=1e-9):
            raise ValueError(f"{path}: field 'g' at t=T is not the terminal condition −q'Ω̃q of the model: the array "
                             "is reordered or belongs to another model")
        info = meta.get("info", {})
        if not isinstance(info, dict):
            raise ValueError(f"{path}: field 'info' must be a table")
        return cls(model, t, s, (-math.inf, math.inf), axes, g, info, kind)

    @classmethod
    def load(cls, path) -> "Solution":
        """Read a file written by :meth:`save`, checking everything it reads.

        Raises
        ------
        ValueError
            The file is missing, not a solution file, of another format version, or has
            inconsistent, non-finite or out-of-range contents (the message names the file and
            the field).
        """
        path = _as_path(path, "path")
        f = _open_npz(path, ("t", "s", "q", "g", "meta"))
        try:
            box = json.loads(str(f["meta"])).get("format") == FORMAT_ASSETS
        except (json.JSONDecodeError, TypeError, AttributeError):
            box = False                             # _read_meta names the problem
        if box:
            return cls._load_box(path, f)
        meta = _read_meta(path, f, FORMAT)
        t, s, q, g = (f[k] for k in ("t", "s", "q", "g"))
        model = _load_model(path, meta)
        kind = meta.get("kind")
        if kind not in ("hjb", "policy"):
            raise ValueError(f"{path}: field 'kind' must be 'hjb' or 'policy', got {kind!r}")
        s_range = meta.get("s_range")
        if (not isinstance(s_range, list) or len(s_range) != 2
                or not all(isinstance(x, (int, float)) for x in s_range) or not s_range[0] <= s_range[1]):
            raise ValueError(f"{path}: field 's_range' must be a pair low <= high, got {s_range!r}")
        _check_time_axis(path, t, model.T)
        if s.ndim != 1 or s.size < 1 or s.dtype.kind != "f" or not np.all(np.isfinite(s)) or np.any(np.diff(s) <= 0):
            raise ValueError(f"{path}: field 's' must be a finite, strictly increasing 1-d float array")
        if s.size > 1 and (s_range[0] < s[0] - 1e-9 or s_range[1] > s[-1] + 1e-9):
            raise ValueError(f"{path}: field 's_range' {s_range} is not covered by the price nodes "
                             f"[{s[0]}, {s[-1]}]")
        if q.ndim != 1 or q.size < 3 or q.dtype.kind not in "iu" or q.size % 2 == 0 or \
                not np.array_equal(q, np.arange(-(q.size // 2), q.size // 2 + 1)):
            raise ValueError(f"{path}: field 'q' must be the integers -Q..Q (Q >= 1)")
        shape = (t.size, s.size, q.size) if model.regimes is None else (t.size, model.n_regimes, s.size, q.size)
        if g.shape != shape or g.dtype.kind != "f":
            axes = "(len(t), len(s), len(q))" if model.regimes is None else "(len(t), regimes, len(s), len(q))"
            raise ValueError(f"{path}: field 'g' must be a float array of shape {axes} = {shape}, got {g.shape} "
                             f"of dtype {g.dtype}")
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{path}: field 'g' contains non-finite values")
        # g(T) = −ϖ q² at every price (ϖ of each regime)
        pens = np.array([m.terminal_penalty for m in model.regime_models()])
        terminal = -pens[:, None, None] * q.astype(float) ** 2
        if model.regimes is None:
            terminal = terminal[0]
        if not np.allclose(g[-1], terminal, rtol=1e-9, atol=1e-9):
            raise ValueError(f"{path}: field 'g' at t=T is not the terminal condition −ϖ q² of the model "
                             f"(ϖ={model.terminal_penalty:g}): the array is reordered or belongs to another model")
        info = meta.get("info", {})
        if not isinstance(info, dict):
            raise ValueError(f"{path}: field 'info' must be a table")
        return cls(model, t, s, tuple(float(x) for x in s_range), q, g, info, kind)

    def __repr__(self) -> str:
        return (f"Solution(method={self.info.get('method')!r}, kind={self.kind!r}, q_max={self.q_max}, "
                f"n_regimes={self.n_regimes}, "
                f"n_s={self.s.size}, n_t={self.t.size}, s_range={self.s_range}, "
                f"error_estimate={self.info.get('error_estimate')})")


def _single_grid(sol: Solution):
    from .grid import StateGrid

    q_max = sol.q_max if sol.multi_asset else (sol.q_max,)
    return StateGrid(PriceAxis(sol.s, sol.s_range), tuple(InventoryAxis(q) for q in q_max), sol.model.n_regimes)


def side_tables(g, inventory_shape: tuple, axis: int, ask_side, bid_side, state: int = 0):
    """The optimal quotes of inventory axis ``axis`` at every node of a value table (the one quote
    assembly, :func:`hjbsolve.hamiltonian.quotes_from_values`, and the limit rule along that axis).

    Parameters
    ----------
    g : ndarray, shape (..., n_cells)
        Reduced values; the cells are the C-order product of ``inventory_shape``.
    inventory_shape : tuple of int
        Cells per inventory axis.
    axis : int
        The asset whose quotes are assembled (neighbours ``q ∓ e_axis``).
    ask_side, bid_side : tuple
        ``(α, o)`` per regime state (:meth:`hjbsolve.coefficients.MarketCoefficients.quote_params`).
    state : int
        The regime state whose coefficients apply.

    Returns
    -------
    ask, bid : ndarray, shape of ``g``
        ``+inf`` where the side is not quoted (``q_axis = −Q`` for the ask, ``+Q`` for the bid).
    """
    lead = g.shape[:-1]
    ga = g.reshape(lead + tuple(inventory_shape))
    ax = len(lead) + axis
    n = inventory_shape[axis]
    first, last = (np.take(ga, [i], axis=ax) for i in (0, n - 1))
    dn = np.concatenate([first, np.take(ga, np.arange(n - 1), axis=ax)], axis=ax)
    up = np.concatenate([np.take(ga, np.arange(1, n), axis=ax), last], axis=ax)
    j = np.arange(n).reshape((n,) + (1,) * (len(inventory_shape) - 1 - axis))
    ask, bid = quotes_from_values(ga, dn, up, j, n, 0.0, (ask_side[0][state], ask_side[1][state]),
                                  (bid_side[0][state], bid_side[1][state]))
    return ask.reshape(g.shape), bid.reshape(g.shape)


# ----------------------------------------------------------------------------- file helpers
#: Largest array a loader reads from a file (bytes, as its ``.npy`` header declares it).
MAX_FILE_ARRAY_BYTES = 3e9


def _as_path(path, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or ``ValueError`` naming ``what`` (the argument)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{what} must be a file path (str or os.PathLike), got {path!r} of type "
                         f"{type(path).__name__}")
    return Path(path)


def _check_headers(path: Path) -> None:
    """``ValueError`` unless ``path`` is a zip of ``.npy`` members whose headers declare arrays of at
    most :data:`MAX_FILE_ARRAY_BYTES` (checked before any array is read)."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a readable .npz file (not a zip archive; a .npy file renamed?)")
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            with z.open(name) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
            n_bytes = float(np.prod(np.array(shape, dtype=float))) * dtype.itemsize
            if not n_bytes <= MAX_FILE_ARRAY_BYTES:
                raise ValueError(f"{path}: field {name.removesuffix('.npy')!r} declares shape {shape} of {dtype} "
                                 f"({n_bytes / 1e9:.3g} GB, limit {MAX_FILE_ARRAY_BYTES / 1e9:g} GB): not a file "
                                 "written by hjbsolve")


def _open_npz(path: Path, required: tuple):
    if not path.is_file() and path.suffix != ".npz" and path.with_name(path.name + ".npz").is_file():
        path = path.with_name(path.name + ".npz")        # save() appended the suffix: load() finds it
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        _check_headers(path)
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in required if k not in f.files]
            if missing:
                raise ValueError(f"{path}: not an hjbsolve file (missing field(s) {missing})")
            return {k: f[k] for k in f.files}
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def _read_meta(path: Path, f: dict, fmt: str) -> dict:
    try:
        meta = json.loads(str(f["meta"]))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{path}: field 'meta' is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: field 'meta' must be a JSON object")
    if meta.get("format") != fmt:
        raise ValueError(f"{path}: field 'format' must be {fmt!r}, got {meta.get('format')!r} "
                         "(written by another version of hjbsolve, or not a file of this kind)")
    return meta


def _load_model(path: Path, meta: dict) -> Model:
    try:
        return Model.from_dict(meta.get("model"))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: field 'model' is not a valid model ({e})") from None


def _check_time_axis(path: Path, t: np.ndarray, T: float) -> None:
    if t.ndim != 1 or t.size < 2 or t.dtype.kind != "f" or not np.all(np.isfinite(t)):
        raise ValueError(f"{path}: field 't' must be a finite 1-d float array with at least 2 times")
    if np.any(np.diff(t) <= 0) or t[0] != 0.0 or not math.isclose(t[-1], T, rel_tol=1e-12):
        raise ValueError(f"{path}: field 't' must increase strictly from 0 to T={T}, got [{t[0]}, …, {t[-1]}]")


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        if isinstance(v, (list, tuple)):
            v = [x.item() if isinstance(x, (np.floating, np.integer)) else x for x in v]
        if isinstance(v, dict):
            v = _jsonable(v)
        if isinstance(v, (str, int, float, bool, type(None), list, dict)):
            out[k] = v
        else:
            out[k] = str(v)
    return out
