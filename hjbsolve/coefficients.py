"""The model flattened for the numerical engines: THE one place a model becomes arrays.

:class:`MarketCoefficients` holds, per regime state ``r``, inventory axis ``i`` (asset) and
side ``j`` (0 ask, 1 bid; :data:`hjbsolve.model.SIDES`), the four numbers of the side's jump
term (:mod:`hjbsolve.hamiltonian`):

* ``log_rate[r, i, j]`` — ``ℓ = log(A e^{−k z})``: a quote at distance ``δ`` fills at ``exp(ℓ − kδ)``;
* ``k[r, i, j]`` — the intensity decay;
* ``alpha[r, i, j]`` — the per-trade cost;
* ``offset[r, i, j]`` — the optimal quote's offset ``o = 1/k`` (``δ* = o + α + p``);

and, on the inventory cells, the running-penalty rate field ``running[r, c]`` (``φ q²``) and
the terminal reduced value ``terminal[r, c]`` (``−ϖ q²``). The finite-difference solver,
the matrix-exponential solution, policy evaluation and the Monte Carlo kernel all read this
object; a new market feature is a new filling of these arrays (asymmetric sides today; regime
states and inventory axes are new entries of the first two dimensions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import StateGrid

__all__ = ["MarketCoefficients", "LOG_RATE", "K", "ALPHA", "OFFSET", "MAX_LOG_RATE"]

#: Index of each coefficient in :meth:`MarketCoefficients.packed`'s last axis.
LOG_RATE, K, ALPHA, OFFSET = range(4)
#: Largest log fill rate that is safely finite in double precision (e^709 overflows).
MAX_LOG_RATE = 690.0


def _quadratic(q: np.ndarray, form: np.ndarray) -> np.ndarray:
    """``q'Fq`` at every cell for every state: ``q`` (n_cells, M), ``form`` (n_states, M, M).

    The diagonal is summed as ``F_ii q_i²`` (one asset: exactly ``φ q²``), the rest as
    ``2 F_ij q_i q_j`` over ``i < j``.
    """
    out = (q**2) @ np.diagonal(form, axis1=1, axis2=2).T                  # (n_cells, n_states)
    M = q.shape[1]
    for i in range(M):
        for j in range(i + 1, M):
            out = out + 2.0 * np.outer(q[:, i] * q[:, j], form[:, i, j])
    return np.ascontiguousarray(out.T)


@dataclass(frozen=True, eq=False)
class MarketCoefficients:
    """Per-state, per-axis, per-side jump coefficients and the penalty fields of a model on a grid.

    Attributes
    ----------
    log_rate, k, alpha, offset : ndarray, shape (n_states, n_axes, 2)
        See the module docstring.
    running : ndarray, shape (n_states, n_cells)
        Running-penalty rate ``φ q²`` at every inventory cell (price units per time unit).
    terminal : ndarray, shape (n_states, n_cells)
        Terminal reduced value ``g(T) = −ϖ q²`` (price units).
    running_form, terminal_form : ndarray, shape (n_states, n_axes, n_axes)
        The quadratic forms of the penalties: ``running = q'Φq``, ``terminal = −q'Ωq`` (one asset:
        ``Φ = φ``, ``Ω = ϖ``); the Monte Carlo kernel evaluates the objective with them.
    """

    log_rate: np.ndarray
    k: np.ndarray
    alpha: np.ndarray
    offset: np.ndarray
    running: np.ndarray
    terminal: np.ndarray
    running_form: np.ndarray
    terminal_form: np.ndarray

    def __post_init__(self):
        for name in ("log_rate", "k", "alpha", "offset", "running", "terminal", "running_form", "terminal_form"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def from_model(cls, model, grid: StateGrid) -> "MarketCoefficients":
        """The coefficients of ``model`` on ``grid``.

        ``model`` is a :class:`hjbsolve.model.Model` (every inventory axis gets its market) or a
        :class:`hjbsolve.multiasset.MultiAssetModel` (axis ``i`` is asset ``i``); each regime model
        supplies ``side_arrays(n_axes)`` (``ℓ, k, α`` per axis and side) and ``penalty_forms(n_axes)``
        (the running and terminal quadratic forms).
        """
        n_states, n_axes = grid.n_states, grid.n_axes
        models = model.regime_models()
        if len(models) != n_states:
            raise ValueError(f"the grid has {n_states} regime state(s) but the model has {len(models)} regime(s)")
        shape = (n_states, n_axes, 2)
        log_rate, k, alpha, offset = (np.empty(shape) for _ in range(4))
        running_form = np.empty((n_states, n_axes, n_axes))
        terminal_form = np.empty((n_states, n_axes, n_axes))
        for r, m in enumerate(models):              # regime r: its own z, A±, k±, α, σ² (running), z (terminal)
            log_rate[r], k[r], alpha[r] = m.side_arrays(n_axes)        # (axis, side): one asset per axis
            offset[r] = 1.0 / k[r]
            running_form[r], terminal_form[r] = m.penalty_forms(n_axes)
        q = np.stack([grid.q_cells(i).astype(float) for i in range(n_axes)], axis=-1)      # (n_cells, M)
        running = _quadratic(q, running_form)
        terminal = -_quadratic(q, terminal_form)
        return cls(log_rate, k, alpha, offset, running, terminal, running_form, terminal_form)

    @property
    def n_states(self) -> int:
        return self.k.shape[0]

    @property
    def n_axes(self) -> int:
        return self.k.shape[1]

    def side(self, state: int = 0, axis: int = 0, side: int = 0) -> tuple[float, float, float, float]:
        """``(ℓ, k, α, o)`` of one side."""
        return (float(self.log_rate[state, axis, side]), float(self.k[state, axis, side]),
                float(self.alpha[state, axis, side]), float(self.offset[state, axis, side]))

    def quote_params(self, axis: int = 0):
        """``((α, o) ask, (α, o) bid)`` per state, each an array of shape (n_states,), for
        :func:`hjbsolve.hamiltonian.quotes_from_values`."""
        return ((self.alpha[:, axis, 0], self.offset[:, axis, 0]), (self.alpha[:, axis, 1], self.offset[:, axis, 1]))

    def packed(self) -> np.ndarray:
        """All side coefficients in one array ``(n_states, n_axes, 2, 4)``: ``[..., LOG_RATE]``,
        ``[..., K]``, ``[..., ALPHA]``, ``[..., OFFSET]`` (the compiled kernels' layout)."""
        return np.ascontiguousarray(np.stack([self.log_rate, self.k, self.alpha, self.offset], axis=-1))

    def terminal_log_rates(self, grid: StateGrid) -> np.ndarray:
        """Log of the optimal fill rates at ``T`` on every inventory edge, shape ``(n_states, n_edges)``.

        With ``g(T) = terminal`` the ask rate at cell ``c`` is ``ℓ − k(o + α + g_c − g_{c−1})``
        and the bid rate at ``c − 1`` the same with the opposite marginal; the largest of these is
        how stiff the terminal layer is (a steep terminal penalty at a large bound).
        """
        out = []
        for i in range(grid.n_axes):
            g = self.terminal.reshape((self.n_states,) + grid.inventory_shape)
            dg = np.diff(g, axis=1 + i).reshape(self.n_states, -1)      # g_c − g_{c−1} along axis i
            a = self.log_rate[:, i, 0, None] - self.k[:, i, 0, None] * (self.offset[:, i, 0, None]
                                                                           + self.alpha[:, i, 0, None] + dg)
            b = self.log_rate[:, i, 1, None] - self.k[:, i, 1, None] * (self.offset[:, i, 1, None]
                                                                           + self.alpha[:, i, 1, None] - dg)
            out.append(np.maximum(a, b))
        return np.concatenate(out, axis=1)
