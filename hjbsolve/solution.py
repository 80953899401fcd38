"""Results of the solvers: value functions and optimal quotes on a grid, with diagnostics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .grid import InventoryGrid, PriceGrid
from .hamiltonian import ask_marginal, bid_marginal, optimal_quote
from .model import Model
from .policies import TabulatedPolicy

__all__ = ["Solution"]


@dataclass(frozen=True, eq=False)
class Solution:
    """Reduced value ``g`` on a ``(t, s, q)`` grid: ``v_q(t, s) = q s + g_q(t, s)``.

    Attributes
    ----------
    model : Model
    t : ndarray, shape (n_t,)
        Stored times (increasing, ``0`` and ``T`` included).
    s : ndarray, shape (n_s,)
        Price nodes (``n_s == 1`` when the value does not depend on ``s`` beyond ``q s``).
    s_range : (float, float)
        Where answers may be asked (``(-inf, inf)`` for a price-independent solution).
    q : ndarray, shape (n_q,)
        Inventories ``−q_max … q_max``.
    g : ndarray, shape (n_t, n_s, n_q)
    info : dict
        Diagnostics: scheme, steps, grid sizes, wall time, kind ("hjb" or "policy").
    policy_name : str, optional
        For a policy evaluation: which policy was evaluated (its quotes are not optimal).

    Between stored times the value is interpolated linearly in ``t``; between price nodes by
    four-point cubic (Lagrange) interpolation in ``s``, fourth-order accurate and exact for
    the part ``q Δ(t, s)`` of ``g``, which is linear in ``s`` (linear interpolation would add
    ``ds² |∂²g/∂s²| / 8``, about 7e-4 on the value at the paper's default grid). Inventories must be integers in ``[−q_max, q_max]``.
    """

    model: Model
    t: np.ndarray
    s: np.ndarray
    s_range: tuple
    q: np.ndarray
    g: np.ndarray
    info: dict = field(default_factory=dict)
    optimal: bool = True

    # ------------------------------------------------------------------ interpolation
    @property
    def q_max(self) -> int:
        return int(self.q[-1])

    def _check_t(self, t):
        t = np.asarray(t, float)
        if np.any(t < -1e-12) or np.any(t > self.model.T + 1e-12) or np.any(~np.isfinite(t)):
            raise ValueError(f"t must lie in [0, T={self.model.T}], got {t!r}")
        return np.clip(t, 0.0, self.model.T)

    def _check_s(self, s):
        s = np.asarray(s, float)
        if not np.all(np.isfinite(s)):
            raise ValueError(f"s must be finite, got {s!r}")
        lo, hi = self.s_range
        if self.s.size > 1 and (np.any(s < lo - 1e-9) or np.any(s > hi + 1e-9)):
            raise ValueError(f"s must lie in s_range=[{lo}, {hi}] where the solution was computed, "
                             f"got values in [{s.min()}, {s.max()}]; solve again with a wider s_range")
        return s

    def _g_at(self, t, s, qi):
        """Interpolated ``g`` at broadcast ``t, s`` and integer inventory index ``qi``."""
        nt = self.t.size
        j = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, max(nt - 2, 0))
        j1 = np.minimum(j + 1, nt - 1)
        wt = np.where(j1 > j, (t - self.t[j]) / (self.t[j1] - self.t[j] + (j1 == j)), 0.0)
        if self.s.size == 1:
            i = np.zeros_like(j)
            return (1 - wt) * self.g[j, i, qi] + wt * self.g[j1, i, qi]
        ds = self.s[1] - self.s[0]
        x = (s - self.s[0]) / ds
        n = self.s.size
        if n < 4:
            i = np.clip(np.floor(x).astype(np.int64), 0, n - 2)
            u = x - i
            nodes, weights = (i, i + 1), (1 - u, u)
        else:  # four-point Lagrange on nodes i−1 … i+2, u = x − i
            i = np.clip(np.floor(x).astype(np.int64), 1, n - 3)
            u = x - i
            nodes = (i - 1, i, i + 1, i + 2)
            weights = (-u * (u - 1) * (u - 2) / 6.0, (u + 1) * (u - 1) * (u - 2) / 2.0,
                       -(u + 1) * u * (u - 2) / 2.0, (u + 1) * u * (u - 1) / 6.0)
        a = sum(w * self.g[j, k, qi] for k, w in zip(nodes, weights))
        b = sum(w * self.g[j1, k, qi] for k, w in zip(nodes, weights))
        return (1 - wt) * a + wt * b

    def _prepare(self, t, q, s):
        t, q, s = np.broadcast_arrays(self._check_t(t), np.asarray(q), self._check_s(s))
        grid = InventoryGrid(self.q_max)
        return t, grid.index(q), s

    # ------------------------------------------------------------------ public queries
    def value(self, t, q, s):
        """``v_q(t, s)``, the ``q s`` part included; broadcasts ``t, q, s``."""
        t, qi, s = self._prepare(t, q, s)
        return self.q[qi] * s + self._g_at(t, s, qi)

    def quotes(self, t, q, s):
        """Optimal ``(δ⁺, δ⁻)`` (paper eq. 3, 26 exactly); ``+inf`` for the side not quoted at a limit.

        For a policy evaluation these are the quotes that are optimal *given that value*,
        not the evaluated policy's.
        """
        t, qi, s = self._prepare(t, q, s)
        m = self.model
        g0 = self._g_at(t, s, qi)
        g_dn = self._g_at(t, s, np.maximum(qi - 1, 0))
        g_up = self._g_at(t, s, np.minimum(qi + 1, self.q.size - 1))
        ask = optimal_quote(ask_marginal(g0, g_dn, 0.0), m.k, m.alpha)
        bid = optimal_quote(bid_marginal(g0, g_up, 0.0), m.k, m.alpha)
        ask = np.where(qi == 0, np.inf, ask)
        bid = np.where(qi == self.q.size - 1, np.inf, bid)
        return ask, bid

    def spread(self, t, q, s):
        """``ψ = δ⁺ + δ⁻``."""
        a, b = self.quotes(t, q, s)
        return a + b

    def centre(self, t, q, s):
        """``r = s + (δ⁺ − δ⁻)/2``."""
        a, b = self.quotes(t, q, s)
        return np.asarray(s, float) + 0.5 * (a - b)

    def tabulate(self, model=None, n_t=None) -> TabulatedPolicy:
        """The optimal quotes as a :class:`TabulatedPolicy` on the stored grid (for Monte Carlo)."""
        m = self.model
        g = self.g
        ask = np.full(g.shape, np.inf)
        bid = np.full(g.shape, np.inf)
        ask[:, :, 1:] = optimal_quote(ask_marginal(g[:, :, 1:], g[:, :, :-1], 0.0), m.k, m.alpha)
        bid[:, :, :-1] = optimal_quote(bid_marginal(g[:, :, :-1], g[:, :, 1:], 0.0), m.k, m.alpha)
        s = self.s if self.s.size > 1 else np.zeros(1)
        return TabulatedPolicy(self.t.copy(), s.copy(), int(self.q[0]), int(self.q[-1]), ask, bid,
                               name=self.info.get("name", "optimal"))

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write to ``.npz`` (arrays + JSON metadata); reload with :meth:`load`."""
        path = Path(path)
        meta = {"model": self.model.to_dict(), "s_range": list(map(float, self.s_range)),
                "info": _jsonable(self.info), "optimal": self.optimal}
        np.savez_compressed(path, t=self.t, s=self.s, q=self.q, g=self.g, meta=json.dumps(meta))
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    @classmethod
    def load(cls, path) -> "Solution":
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            return cls(Model.from_dict(meta["model"]), f["t"], f["s"], tuple(meta["s_range"]), f["q"], f["g"],
                       meta["info"], meta["optimal"])

    def __repr__(self) -> str:
        return (f"Solution(q_max={self.q_max}, n_s={self.s.size}, n_t={self.t.size}, "
                f"s_range={self.s_range}, info={{scheme={self.info.get('scheme')!r}, "
                f"steps={self.info.get('n_steps')}, wall={self.info.get('wall_time', float('nan')):.3g}s}})")


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, (str, int, float, bool, type(None), list)):
            out[k] = v
        else:
            out[k] = str(v)
    return out
