"""The two operators of the verification equation: price generator and inventory jumps.

In the reduced variables ``v_q(t, s) = q s + g_q(t, s)`` the verification equation
(paper eqs. 11, 25) reads, in backward time ``τ = T − t`` ::

    ∂_τ g = 𝓛 g + q b(s) + 𝓙(g),        g_q(T, s) = −ε η z q²

* ``𝓛 = b(s) ∂_s + ½ σ² ∂_ss`` — the price generator, linear, the same for every ``q``
  and constant in time; ``q b(s) = 𝓛(q s)`` is the drift of the held inventory
  (:class:`PricePropagator` applies the exact solution ``g ← e^{dt 𝓛_h} g + q β(dt)``);
* ``𝓙`` — the inventory jumps: nonlinear, the same at every price node and autonomous,
  because the marginal values ``p⁺ = g_q − g_{q−1}``, ``p⁻ = g_q − g_{q+1}`` do not involve
  ``s`` (:class:`InventoryJumps`; the Hamiltonian lives in :mod:`hjbsolve.hamiltonian`).

Why these variables: both sub-problems are then autonomous, which keeps the splitting
second order with a small constant (with ``v = q(s+Δ) + h`` the jumps carry the
time-dependent factors ``e^{∓kΔ(t,s)}`` and the error constant is about four times larger,
measured at the paper's parameters). The exact ε=0 solution (eq. 9) is ``g_q = qΔ + h⁰``:
``𝓛_h`` is exact on functions linear in ``s``, so the directional bet is carried exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..grid import InventoryGrid, PriceGrid
from ..model import Model
from . import _kernels

__all__ = ["price_generator", "PricePropagator", "InventoryJumps"]


def price_generator(model: Model, grid: PriceGrid) -> np.ndarray:
    """Finite-difference generator ``𝓛_h`` of the mid-price on a uniform grid.

    Diffusion by central differences; advection ``b(s) ∂_s`` central where the cell Péclet
    number ``|b| ds / σ² ≤ 1`` and upwind elsewhere, so every off-diagonal entry is
    non-negative and rows sum to zero: ``𝓛_h`` is the generator of a Markov chain and
    ``exp(dt 𝓛_h)`` is a monotone (positive, row-stochastic) propagator.

    At the two end nodes the second derivative is dropped (the value is taken locally
    linear) and the drift is kept only when it points into the grid (upwind); the grid
    built by :func:`hjbsolve.grid.price_grid` puts those nodes beyond the reach of the paths
    that matter.

    Returns
    -------
    L : ndarray, shape (n_s, n_s)
    """
    s = grid.s
    n = s.size
    L = np.zeros((n, n))
    if n == 1:
        return L
    ds = grid.ds
    sig2 = model.price.sigma**2
    b = model.price.drift(s)
    i = np.arange(1, n - 1)
    diff = 0.5 * sig2 / ds**2
    central = np.abs(b[i]) * ds <= sig2
    # central advection + diffusion
    lo = np.where(central, diff - b[i] / (2 * ds), diff + np.maximum(-b[i], 0.0) / ds)
    up = np.where(central, diff + b[i] / (2 * ds), diff + np.maximum(b[i], 0.0) / ds)
    L[i, i - 1] = lo
    L[i, i + 1] = up
    L[i, i] = -(lo + up)
    # end nodes: inward drift only
    if b[0] > 0:
        L[0, 1], L[0, 0] = b[0] / ds, -b[0] / ds
    if b[-1] < 0:
        L[-1, -2], L[-1, -1] = -b[-1] / ds, b[-1] / ds
    return L


class PricePropagator:
    """Exact step of the linear part: ``g ← e^{dt 𝓛_h} g + β(dt) ⊗ q``.

    ``β(dt) = ∫_0^dt e^{u 𝓛_h} b du`` is the expected drift of the price over the step
    (semi-discrete). Both come from one matrix exponential of the augmented generator
    ``[[𝓛_h, b], [0, 0]]``, computed once per distinct ``dt`` and cached. ``e^{dt 𝓛_h}`` is
    positive and row-stochastic (monotone, unconditionally stable); applying it to every
    inventory column is one matrix product.

    Parameters
    ----------
    L : ndarray, shape (n_s, n_s)
        Generator from :func:`price_generator`.
    b : ndarray, shape (n_s,)
        Drift at the nodes.
    q : ndarray, shape (n_q,)
        Inventories.
    """

    #: entries of ``e^{dt 𝓛_h}`` below this fraction of their row's largest are dropped
    band_tol = 1e-17

    def __init__(self, L: np.ndarray, b: np.ndarray, q: np.ndarray, compiled: bool = True):
        self.L = L
        self.b = np.asarray(b, float)
        self.q = np.asarray(q, float)
        self._cache: dict[float, tuple] = {}
        self._kernel = _kernels._propagate_prices if compiled else _kernels._propagate_prices_numpy
        self._buffers: list[np.ndarray] = []  # two reused outputs: fresh pages would fault in the kernels

    @property
    def trivial(self) -> bool:
        return not (np.any(self.L) or np.any(self.b))

    def matrices(self, dt: float) -> tuple:
        """``(e^{dt 𝓛_h}, first, last, β(dt))``: the propagator, its numerical band per row, the drift."""
        key = round(float(dt), 14)
        out = self._cache.get(key)
        if out is None:
            n = self.L.shape[0]
            aug = np.zeros((n + 1, n + 1))
            aug[:n, :n] = self.L
            aug[:n, n] = self.b
            E = scipy.linalg.expm(dt * aug)
            P = np.ascontiguousarray(E[:n, :n])
            keep = np.abs(P) > self.band_tol * np.abs(P).max(axis=1, keepdims=True)
            first = np.argmax(keep, axis=1).astype(np.int64)
            last = (n - 1 - np.argmax(keep[:, ::-1], axis=1)).astype(np.int64)
            out = (P, first, last, E[:n, n].copy())
            self._cache[key] = out
        return out

    def prepare(self, dts) -> None:
        """Compute the propagators of all step lengths up front (before the time loop, so that
        scipy's threaded linear algebra does not compete with the compiled kernels' threads)."""
        if not self.trivial:
            for dt in np.unique(np.round(np.asarray(dts, float), 14)):
                self.matrices(float(dt))

    def apply(self, g: np.ndarray, dt: float) -> np.ndarray:
        """Return ``e^{dt 𝓛_h} g + β ⊗ q`` for ``g`` of shape ``(n_s, n_q)``.

        The result lives in one of two buffers owned by the propagator (alternating), so it is
        overwritten two calls later: callers keep copies of what they store.
        """
        if self.trivial:
            return g
        P, first, last, beta = self.matrices(dt)
        if not self._buffers or self._buffers[0].shape != g.shape:
            self._buffers = [np.empty_like(g), np.empty_like(g)]
        out = self._buffers[1] if g is self._buffers[0] else self._buffers[0]
        self._kernel(P, first, last, beta, self.q, g, out)
        return out


class InventoryJumps:
    """The jump part ``𝓙``: optimal (HJB) or under a fixed policy (linear evaluation).

    Parameters
    ----------
    model : Model
    inventory : InventoryGrid
    prices : PriceGrid
    policy : object with ``quotes(t, q, s)``, optional
        ``None`` solves the HJB (optimal quotes); otherwise the verification equation of
        that fixed policy (a linear equation) is integrated.
    compiled : bool
        Use the numba kernel (default) or its numpy twin.
    """

    def __init__(self, model: Model, inventory: InventoryGrid, prices: PriceGrid, policy=None,
                 compiled: bool = True):
        self.model = model
        self.inventory = inventory
        self.prices = prices
        self.policy = policy
        self.q = inventory.q.astype(float)
        self.phi_q2 = model.running_penalty * self.q**2
        if not compiled:
            self._step = _kernels._ros2_jump_step_numpy
        elif prices.n < 4:  # threads cost more than they save on a few rows
            self._step = _kernels._ros2_jump_step_serial
        else:
            self._step = _kernels._ros2_jump_step
        shape = (prices.n, inventory.n)
        self._none = np.zeros(shape)
        self._work = np.empty((prices.n, _kernels.N_WORK, inventory.n))
        self._cache_t, self._cache_q = None, None

    def _quotes(self, t: float):
        if self.policy is None:
            return self._none, self._none
        if self._cache_t == t:
            return self._cache_q
        if hasattr(self.policy, "quotes_on_grid"):
            ask, bid = self.policy.quotes_on_grid(t, self.prices.s, self.inventory.q)
        else:
            ask, bid = self._plain_quotes(t)
        if np.isnan(ask).any() or np.isnan(bid).any():
            raise ValueError(f"policy returned NaN quotes at t={t}")
        ask[:, 0] = np.inf
        bid[:, -1] = np.inf
        self._cache_t, self._cache_q = t, (ask, bid)
        return ask, bid

    def _plain_quotes(self, t: float):
        s = self.prices.s[:, None]
        ask, bid = self.policy.quotes(np.full((self.prices.n, self.inventory.n), t), self.q[None, :].astype(np.int64), s)
        try:
            ask = np.array(np.broadcast_to(ask, self._none.shape), dtype=float)
            bid = np.array(np.broadcast_to(bid, self._none.shape), dtype=float)
        except ValueError:
            raise ValueError(f"policy quotes must broadcast to shape {self._none.shape} (price nodes × inventories), "
                             f"got {np.shape(ask)} and {np.shape(bid)}") from None
        return ask, bid

    def step(self, h: np.ndarray, t_from: float, t_to: float) -> None:
        """Advance ``h`` (in place) from ``t_from`` back to ``t_to < t_from`` by one ROS2 step."""
        m = self.model
        a0, b0 = self._quotes(t_from)
        a1, b1 = self._quotes(t_to)
        self._step(h, t_from - t_to, self.phi_q2,
                   m.A, m.k, m.z, m.alpha, self.policy is None, a0, b0, a1, b1, self._work)
