"""The operators of the verification equation: the state generator and one jump operator per axis.

In the reduced variables ``v(t, s, q) = q·s + g(t, s, q)`` the verification equation (paper
eqs. 11, 25) reads, in backward time ``τ = T − t`` ::

    ∂_τ g = 𝓛 g + q b(s) + Σ_i 𝓙_i(g),        g(T) = terminal field

* ``𝓛`` — the generator of the state (the mid-price, ``b(s) ∂_s + ½ σ² ∂_ss`` on its grid):
  linear, the same for every inventory cell and constant in time; ``q b(s) = 𝓛(q s)`` is the
  drift of the held inventory. :class:`StateGenerator` applies its exact solution
  ``g ← e^{dt 𝓛_h} g + β(dt) ⊗ q``.
* ``𝓙_i`` — the jumps along inventory axis ``i``: nonlinear (HJB) or linear (a fixed
  policy), the same at every state node up to the node's coefficients, and autonomous,
  because the marginal values ``p⁺ = g_q − g_{q−1}``, ``p⁻ = g_q − g_{q+1}`` do not involve
  ``s``. :class:`JumpAxis` advances it by ROS2 (:mod:`hjbsolve.solver._kernels`); the
  coefficients come from :class:`hjbsolve.coefficients.MarketCoefficients`.

Every operator has ``prepare(dts)`` (work done once before the loop) and
``step(g, t_from, t_to) -> g`` (backward from ``t_from`` to ``t_to < t_from``), so the one
backward loop (:func:`hjbsolve.solver.rollback.rollback`) composes any list of them.

Why these variables: both sub-problems are autonomous, which keeps the splitting second order
with a small constant, and ``𝓛_h`` is exact on functions linear in ``s``, so the directional
bet of the exact ε=0 solution (eq. 9, ``g_q = qΔ + h⁰``) is carried exactly.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse

from ..coefficients import MarketCoefficients
from ..grid import StateGrid
from . import _kernels

__all__ = ["StateGenerator", "JumpAxis", "sparse_expm"]

#: Largest ∞-norm of the scaled matrix in :func:`sparse_expm` (Taylor remainder below 1e-21 at
#: degree :data:`TAYLOR_DEGREE`: ``0.5^19 / 19! ≈ 1.6e-23``).
TAYLOR_NORM, TAYLOR_DEGREE = 0.5, 18


def sparse_expm(A, drop: float, keep_last_column: bool = False) -> scipy.sparse.csr_matrix:
    """``e^A`` of a sparse matrix whose exponential is numerically sparse (a generator times a
    short step), by scaling and squaring a Taylor polynomial in sparse arithmetic.

    ``A`` is scaled by ``2^{-s}`` to ∞-norm ``<=`` :data:`TAYLOR_NORM`, exponentiated by its
    Taylor polynomial of degree :data:`TAYLOR_DEGREE` (remainder below ``1e-21`` relative), then
    squared ``s`` times. After each product, entries below ``drop`` times their row's largest are
    dropped (as :class:`StateGenerator` drops them from the propagator anyway), which keeps the
    products as narrow as the numerical band of the result: ``O(n · band²)`` work per product
    instead of the ``O(n³)`` of a dense exponential. ``keep_last_column`` exempts the last column
    from dropping (the drift column of an augmented generator).

    Checked against :func:`scipy.linalg.expm` in ``tests/test_solver.py``
    (``test_sparse_expm_matches_the_dense_exponential``).
    """
    A = scipy.sparse.csr_matrix(A, dtype=float)
    n = A.shape[0]
    norm = float(abs(A).sum(axis=1).max()) if A.nnz else 0.0
    squarings = max(0, math.ceil(math.log2(norm / TAYLOR_NORM))) if norm > TAYLOR_NORM else 0
    X = A * (0.5 ** squarings)
    E = scipy.sparse.identity(n, format="csr")
    term = E
    for j in range(1, TAYLOR_DEGREE + 1):
        term = _drop(term @ X * (1.0 / j), drop, keep_last_column)
        if term.nnz == 0:
            break
        E = E + term
    E = _drop(E, drop, keep_last_column)
    for _ in range(squarings):
        E = _drop(E @ E, drop, keep_last_column)
    return E


def _drop(M: scipy.sparse.csr_matrix, drop: float, keep_last_column: bool) -> scipy.sparse.csr_matrix:
    """``M`` without the entries below ``drop`` times their row's largest magnitude."""
    M = scipy.sparse.csr_matrix(M)
    if M.nnz == 0:
        return M
    mag = np.abs(M.data)
    counts = np.diff(M.indptr)
    rows = np.repeat(np.arange(M.shape[0]), counts)
    row_max = np.zeros(M.shape[0])
    filled = counts > 0
    row_max[filled] = np.maximum.reduceat(mag, M.indptr[:-1][filled])
    keep = mag > drop * row_max[rows]
    if keep_last_column:
        keep |= M.indices == M.shape[1] - 1
    if keep.all():
        return M
    out = scipy.sparse.csr_matrix((M.data[keep], M.indices[keep], np.concatenate(
        ([0], np.cumsum(np.bincount(rows[keep], minlength=M.shape[0]))))), shape=M.shape)
    return out

#: Chunks of lines a jump step runs in parallel (each with its own scratch; a few per thread).
N_CHUNKS = 32


class StateGenerator:
    """Exact step of the linear part: ``g ← e^{dt 𝓛_h} g + β(dt) ⊗ qfield``.

    ``β(dt) = ∫_0^dt e^{u 𝓛_h} b du`` is the expected drift of the price over the step
    (semi-discrete). Both come from one matrix exponential of the augmented generator
    ``[[𝓛_h, b], [0, 0]]``, computed once per distinct ``dt`` (cached, :meth:`prepare`).
    ``e^{dt 𝓛_h}`` is positive and row-stochastic (monotone, unconditionally stable).

    Parameters
    ----------
    L : array or sparse matrix, shape (n_rows, n_rows)
        Generator of the state (rows sum to zero, non-negative off-diagonals).
    b : ndarray, shape (n_rows,)
        Price drift at each row.
    qfield : ndarray, shape (n_cells,)
        Inventory held at each cell (the drift's weight: ``𝓛(q s) = q b``).
    compiled : bool
        numba kernel (default) or its numpy twin.
    """

    #: entries of ``e^{dt 𝓛_h}`` below this fraction of their row's largest are dropped
    band_tol = 1e-17
    #: most state rows whose propagator is a dense exponential (faster there); sparse beyond
    dense_rows = 256

    @staticmethod
    def expm_products(norm: float) -> float:
        """Sparse products of :func:`sparse_expm` for a matrix of ∞-norm ``norm``."""
        return TAYLOR_DEGREE + (math.ceil(math.log2(norm / TAYLOR_NORM)) if norm > TAYLOR_NORM else 0)

    def __init__(self, L: np.ndarray, b: np.ndarray, qfield: np.ndarray, compiled: bool = True):
        self.L = scipy.sparse.csr_matrix(L, dtype=float)
        self.b = np.asarray(b, float)
        self.qfield = np.ascontiguousarray(qfield, dtype=float)
        self._cache: dict[float, tuple] = {}
        self._kernel = _kernels._propagate_state if compiled else _kernels._propagate_state_numpy
        self._buffers: list[np.ndarray] = []
        self._trivial = not (self.L.count_nonzero() or np.any(self.b))

    @classmethod
    def for_prices(cls, price, grid: StateGrid, compiled: bool = True) -> "StateGenerator":
        """The generator of ``price`` on the grid's price axis (one regime state)."""
        s = grid.prices.s
        if grid.prices.degenerate:
            L = scipy.sparse.csr_matrix((1, 1))
            b = np.atleast_1d(price.drift_at(0.0)) if not price.depends_on_price else np.zeros(1)
        else:
            lower, diag, upper = price.generator(s)
            L = scipy.sparse.diags([lower[1:], diag, upper[:-1]], [-1, 0, 1])
            b = price.drift_at(s)
        L = scipy.sparse.kron(scipy.sparse.identity(grid.n_states), L) if grid.n_states > 1 else L
        b = np.tile(b, grid.n_states)
        return cls(L, b, grid.q_cells(0).astype(float), compiled=compiled)

    @classmethod
    def for_model(cls, model, grid: StateGrid, compiled: bool = True) -> "StateGenerator":
        """The generator of the model's state: the price, or (with a regime chain ``Q``) the joint
        price × regime generator ``blockdiag(𝓛_r) + Q ⊗ I``, where ``𝓛_r`` is the price generator
        with regime ``r``'s volatility (rows sum to zero and off-diagonals are non-negative, so it
        is again a Markov generator). A Brownian price has one (degenerate) price node per regime
        and ``𝓛 = Q``."""
        if hasattr(model, "asset_prices"):
            # several assets with constant drifts b (a MultiAssetModel): no price axis; the held
            # inventory drifts by Σ_i b_i q_i per unit time (𝓛(q·s) = q·b), written as the scalar
            # drift b_j of the first drifting asset times the field Σ_i (b_i / b_j) q_i — for one
            # asset exactly the single-asset generator (b, q), so M = 1 gives the same numbers
            b = model.drifts
            ref = b[np.flatnonzero(b)[0]] if np.any(b) else 0.0
            field = sum((b[i] / ref) * grid.q_cells(i).astype(float) for i in range(grid.n_axes) if b[i] != 0.0)
            return cls(np.zeros((1, 1)), np.array([ref]), np.zeros(grid.n_cells) + field, compiled=compiled)
        if model.regimes is None:
            return cls.for_prices(model.price, grid, compiled=compiled)
        Q = model.regimes.Q
        if grid.n_states != Q.shape[0]:
            raise ValueError(f"the grid has {grid.n_states} regime state(s) but the chain has {Q.shape[0]}")
        n = grid.prices.n
        blocks = [cls.for_prices(m.price, grid.with_states(1), compiled=compiled) for m in model.regime_models()]
        L = scipy.sparse.block_diag([op.L for op in blocks]) + scipy.sparse.kron(Q, scipy.sparse.identity(n))
        b = np.concatenate([op.b for op in blocks])
        return cls(L, b, grid.q_cells(0).astype(float), compiled=compiled)

    @property
    def trivial(self) -> bool:
        """No price dynamics: the step is the identity."""
        return self._trivial

    def matrices(self, dt: float) -> tuple:
        """``(indptr, indices, data, β(dt))``: the propagator ``e^{dt 𝓛_h}`` in compressed sparse
        rows (entries below :attr:`band_tol` of their row's largest dropped) and the drift."""
        key = round(float(dt), 14)
        out = self._cache.get(key)
        if out is None:
            n = self.L.shape[0]
            if n <= self.dense_rows:
                aug = np.zeros((n + 1, n + 1))
                aug[:n, :n] = self.L.toarray()
                aug[:n, n] = self.b
                E = scipy.sparse.csr_matrix(scipy.linalg.expm(float(dt) * aug))
            else:
                aug = scipy.sparse.bmat([[self.L, scipy.sparse.csr_matrix(self.b[:, None])],
                                         [None, scipy.sparse.csr_matrix((1, 1))]], format="csr")
                E = sparse_expm(float(dt) * aug, self.band_tol, keep_last_column=True)
            beta = E[:n, n].toarray().ravel()
            P = _drop(E[:n, :n], self.band_tol, False)
            P.sort_indices()
            out = (P.indptr.astype(np.int64), P.indices.astype(np.int64), np.ascontiguousarray(P.data), beta)
            self._cache[key] = out
        return out

    def nnz(self, dt: float) -> int:
        """Stored entries of the propagator of a step ``dt`` (its work per cell column)."""
        return int(self.matrices(dt)[0][-1])

    def prepare(self, dts) -> None:
        """Compute the propagators of all step lengths up front (before the time loop, so that
        scipy's threaded linear algebra does not compete with the compiled kernels' threads)."""
        if not self.trivial:
            for dt in np.unique(np.round(np.asarray(dts, float), 14)):
                self.matrices(float(dt))

    def step(self, g: np.ndarray, t_from: float, t_to: float) -> np.ndarray:
        """Return ``e^{dt 𝓛_h} g + β ⊗ qfield`` with ``dt = t_from − t_to``.

        The result lives in one of two buffers owned by the operator (alternating), so it is
        overwritten two calls later: callers keep copies of what they store.
        """
        if self.trivial:
            return g
        indptr, indices, data, beta = self.matrices(t_from - t_to)
        if not self._buffers or self._buffers[0].shape != g.shape:
            self._buffers = [np.empty_like(g), np.empty_like(g)]
        out = self._buffers[1] if g is self._buffers[0] else self._buffers[0]
        self._kernel(indptr, indices, data, beta, self.qfield, g, out)
        return out

    def apply_generator(self, g: np.ndarray) -> np.ndarray:
        """``𝓛_h g + b ⊗ qfield`` (the operator's right-hand side, for diagnostics)."""
        return self.L @ g + self.b[:, None] * self.qfield[None, :]


class JumpAxis:
    """The jump part along one inventory axis: optimal (HJB) or under a fixed policy (linear).

    Parameters
    ----------
    coefficients : MarketCoefficients
    grid : StateGrid
    axis : int
        Inventory axis (asset).
    quotes : callable, optional
        ``quotes(t) -> (ask, bid)``, arrays of shape ``grid.shape`` (``+inf``: side not quoted):
        the fixed policy whose verification equation is integrated (a linear equation).
        ``None`` solves the HJB (optimal quotes).
    carries_penalty : bool
        Whether this operator adds the running-penalty source (exactly one axis does).
    compiled : bool
        numba kernel (default) or its numpy twin.
    stiff_start : float, optional
        The horizon ``T``: the first step from ``T`` is then the exact jump flow, summed in
        ``ω = e^{k h}`` (:func:`hjbsolve.solver._kernels.omega_exact_step`), which relaxes a
        terminal layer too fast for any time step (a steep terminal penalty at a large bound).
        Only for the HJB with ``k⁺ = k⁻`` (else ignored).
    method : {"ros2", "ros2x"}
        One ROS2 step per call, or ROS2 locally extrapolated (:mod:`hjbsolve.solver.schemes`).
    """

    def __init__(self, coefficients: MarketCoefficients, grid: StateGrid, axis: int = 0, quotes=None,
                 carries_penalty: bool = True, compiled: bool = True, stiff_start: float | None = None,
                 method: str = "ros2"):
        self.coef = coefficients.packed()
        self.running = np.ascontiguousarray(coefficients.running)
        self.run_w = 1.0 if carries_penalty else 0.0
        self.grid = grid
        self.axis = axis
        self.n = grid.inventory_shape[axis]
        self.stride = grid.stride(axis)
        self.row_state = grid.row_state
        self.quotes = quotes
        n_lines = grid.n_rows * (grid.n_cells // self.n)
        self._step_x = None              # the fused extrapolated step (compiled only)
        if not compiled:
            self._step = _kernels._ros2_jump_step_numpy
        elif n_lines < 4:  # threads cost more than they save on a few lines
            self._step, self._step_x = _kernels._ros2_jump_step_serial, _kernels._ros2x_jump_step_serial
        else:
            self._step, self._step_x = _kernels._ros2_jump_step, _kernels._ros2x_jump_step
        self._work = np.empty((min(n_lines, N_CHUNKS), _kernels.N_WORK, self.n))   # scratch per chunk of lines
        self._dummy = np.zeros((1, 1))
        self._cache: list = []
        c = self.coef[:, axis]
        linear_in_omega = bool(np.all(c[:, 0, 1] == c[:, 1, 1]) and np.allclose(c[:, :, 1] * c[:, :, 3], 1.0))
        self.stiff_start = stiff_start if (quotes is None and linear_in_omega) else None
        if method not in ("ros2", "ros2x"):
            raise ValueError(f"jump method must be 'ros2' or 'ros2x', got {method!r}")
        self.method = method
        self._spare: np.ndarray | None = None

    def prepare(self, dts) -> None:
        pass

    def _quotes_at(self, t: float):
        if self.quotes is None:
            return self._dummy, self._dummy
        # the two half steps of a Strang step share their middle time: evaluate it once
        # (exact float equality is intended: the same node is passed twice)
        for entry in self._cache:
            if entry[0] == t:
                return entry[1]
        out = self.quotes(t)
        self._cache = (self._cache + [(t, out)])[-3:]
        return out

    def step(self, g: np.ndarray, t_from: float, t_to: float) -> np.ndarray:
        """Advance ``g`` (in place) from ``t_from`` back to ``t_to < t_from`` by one ROS2 step."""
        if self.stiff_start is not None and t_from == self.stiff_start:
            _kernels.omega_exact_step(g, t_from - t_to, self.n, self.stride, self.row_state, self.coef, self.axis,
                                      self.running, self.run_w)
            return g
        if self.method == "ros2":
            self._ros2(g, t_from, t_to)
            return g
        # local extrapolation: (4 J_{h/2}∘J_{h/2} − J_h)/3
        t_mid = 0.5 * (t_from + t_to)
        if self._step_x is not None:    # one kernel; J_h and the first J_{h/2} share their start field
            a0, b0 = self._quotes_at(t_from)
            am, bm = self._quotes_at(t_mid)
            a1, b1 = self._quotes_at(t_to)
            self._step_x(g, t_from - t_to, self.n, self.stride, self.row_state, self.coef, self.axis, self.running,
                         self.run_w, self.quotes is None, a0, b0, am, bm, a1, b1, self._work)
            return g
        if self._spare is None or self._spare.shape != g.shape:
            self._spare = np.empty_like(g)
        one = self._spare
        np.copyto(one, g)
        self._ros2(one, t_from, t_to)
        self._ros2(g, t_from, t_mid)
        self._ros2(g, t_mid, t_to)
        g -= one
        g *= 4.0 / 3.0
        g += one
        return g

    def _ros2(self, g: np.ndarray, t_from: float, t_to: float) -> None:
        a0, b0 = self._quotes_at(t_from)
        a1, b1 = self._quotes_at(t_to)
        self._step(g, t_from - t_to, self.n, self.stride, self.row_state, self.coef, self.axis, self.running,
                   self.run_w, self.quotes is None, a0, b0, a1, b1, self._work)

    def field(self, g: np.ndarray, t: float) -> np.ndarray:
        """The jump right-hand side ``𝓙_i(g)`` at time ``t`` (diagnostics), shape ``grid.shape``."""
        ask, bid = self._quotes_at(t)
        n, stride = self.n, self.stride
        per_row = g.shape[1] // n
        c = self.coef[np.repeat(self.row_state, per_row), self.axis]
        run = _kernels._lines(self.running[self.row_state], n, stride)
        lines = _kernels._lines(g, n, stride)
        if self.quotes is None:
            F, *_ = _kernels._jump_field_numpy(lines, run, self.run_w, c, True, None, None)
        else:
            F, *_ = _kernels._jump_field_numpy(lines, run, self.run_w, c, False, _kernels._lines(ask, n, stride),
                                               _kernels._lines(bid, n, stride))
        return _kernels._unlines(F, g.shape, n, stride)
