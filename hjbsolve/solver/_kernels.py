"""Compiled kernels of the inventory-jump step, each with a plain-numpy twin.

Everything here is array-in/array-out on the value array ``g`` of shape ``(n_s, n_q)``
(price nodes × inventory nodes; ``n_s == 1`` for a martingale price), in the reduced
variables ``v_q(t, s) = q s + g_q(t, s)``.

The jump part of the verification equation, in backward time ``τ = T − t``, is ::

    ∂_τ g_q = J⁺(p⁺_q) 1{q > q_min} + J⁻(p⁻_q) 1{q < q_max} − φ q²                      (paper eq. 11/25)

with ``p⁺_q = g_q − g_{q−1}``, ``p⁻_q = g_q − g_{q+1}`` (:func:`hjbsolve.hamiltonian.ask_marginal`
with ``Δ = 0``: in these variables the jumps do not see the price), and per side either the
optimal (maximised) term ``J = H(p)`` (:func:`hjbsolve.hamiltonian.side_hamiltonian`) or,
for a fixed policy, ``J = λ(δ)(δ − α − p)``. Its Jacobian in ``h`` is tridiagonal in ``q``
and has the sign pattern of a generator, so ``I − γ dτ Jac`` is an M-matrix.

The time step is Verwer's two-stage Rosenbrock method ROS2 (second order, L-stable; a
W-method, so order two holds with the frozen-in-time Jacobian used here)::

    (I − γ dτ Jac) k1 = F(t0, h)
    (I − γ dτ Jac) k2 = F(t1, h + dτ k1) − 2 k1
    h ← h + 3/2 dτ k1 + 1/2 dτ k2,         γ = 1 + 1/√2
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..hamiltonian import (ask_marginal, ask_marginal_nb, bid_marginal, bid_marginal_nb,
                           fill_intensity, fill_intensity_nb, hamiltonian_scale_nb, opposite_sides_nb,
                           side_hamiltonian)

GAMMA_ROS2 = 1.0 + 1.0 / math.sqrt(2.0)


# ----------------------------------------------------------------------------- compiled
@njit(cache=True, error_model="numpy")
def _fixed_side_term(p, A, k, z, alpha, quote):
    """Jump term ``λ(δ)(δ − α − p)`` of a side quoted at ``δ`` and its derivative ``−λ(δ)`` in ``p``;
    an unquoted side (``δ = +inf``) contributes nothing."""
    if not np.isfinite(quote):
        return 0.0, 0.0
    lam = fill_intensity_nb(quote, A, k, z)
    return lam * (quote - alpha - p), -lam


@njit(cache=True, error_model="numpy")
def _jump_field_row(h, phi_q2, A, k, z, alpha, optimal, ask, bid, F, diag, lower, upper):
    """Right-hand side ``F`` and tridiagonal Jacobian of one price node's inventory row.

    Shapes: all ``(n_q,)``. ``lower[j] = ∂F_j/∂h_{j−1}``, ``upper[j] = ∂F_j/∂h_{j+1}``.
    Optimal sides: ``H(p)`` with ``∂H/∂p = −k H``; the ask term of ``j`` and the bid term of
    ``j − 1`` share one exponential (:func:`hjbsolve.hamiltonian.opposite_sides`).
    """
    n = h.size
    for j in range(n):
        F[j] = -phi_q2[j]
        diag[j] = 0.0
        lower[j] = 0.0
        upper[j] = 0.0
    if optimal:
        scale = hamiltonian_scale_nb(A, k, z, alpha)
        for j in range(1, n):
            # edge (j−1, j): p⁺_j = h_j − h_{j−1} = −p⁻_{j−1}
            H_ask, H_bid = opposite_sides_nb(scale, k, ask_marginal_nb(h[j], h[j - 1], 0.0))
            F[j] += H_ask
            diag[j] -= k * H_ask
            lower[j] = k * H_ask
            F[j - 1] += H_bid
            diag[j - 1] -= k * H_bid
            upper[j - 1] = k * H_bid
        return
    for j in range(1, n):
        v, d = _fixed_side_term(ask_marginal_nb(h[j], h[j - 1], 0.0), A, k, z, alpha, ask[j])
        F[j] += v
        diag[j] += d
        lower[j] = -d
    for j in range(n - 1):
        v, d = _fixed_side_term(bid_marginal_nb(h[j], h[j + 1], 0.0), A, k, z, alpha, bid[j])
        F[j] += v
        diag[j] += d
        upper[j] = -d


@njit(cache=True, error_model="numpy")
def _thomas_factor(a, b, c, cp, inv_m):
    """LU-factor the tridiagonal matrix ``(a, b, c)`` (sub-, main, super-diagonal) once.

    Fills ``cp`` (modified super-diagonal) and ``inv_m`` (inverse pivots); no pivoting, which
    is safe for the diagonally dominant M-matrices used here.
    """
    n = b.size
    inv_m[0] = 1.0 / b[0]
    cp[0] = c[0] * inv_m[0]
    for j in range(1, n):
        inv_m[j] = 1.0 / (b[j] - a[j] * cp[j - 1])
        cp[j] = c[j] * inv_m[j]


@njit(cache=True, error_model="numpy")
def _thomas_solve(a, cp, inv_m, r, x):
    """Solve with a factorisation from :func:`_thomas_factor`; ``r`` is left intact."""
    n = cp.size
    x[0] = r[0] * inv_m[0]
    for j in range(1, n):
        x[j] = (r[j] - a[j] * x[j - 1]) * inv_m[j]
    for j in range(n - 2, -1, -1):
        x[j] -= cp[j] * x[j + 1]


#: rows of the per-price-node scratch array of :func:`_ros2_row`
N_WORK = 13


@njit(cache=True, error_model="numpy")
def _ros2_row(row, dtau, phi_q2, A, k, z, alpha, optimal, ask0, bid0, ask1, bid1, work):
    """One ROS2 step of the jump ODE of one price node's inventory row, in place.

    Shapes: ``row, phi_q2, ask*, bid*`` ``(n_q,)``; ``work`` ``(N_WORK, n_q)`` scratch (passed in:
    allocating inside a parallel loop serialises the threads on the allocator).
    """
    n_q = row.size
    g = GAMMA_ROS2 * dtau
    F, dg, lo, up, k1, k2, y = work[0], work[1], work[2], work[3], work[4], work[5], work[6]
    _jump_field_row(row, phi_q2, A, k, z, alpha, optimal, ask0, bid0, F, dg, lo, up)
    for j in range(n_q):
        dg[j] = 1.0 - g * dg[j]
        lo[j] = -g * lo[j]
        up[j] = -g * up[j]
    cp, inv_m = work[7], work[8]
    _thomas_factor(lo, dg, up, cp, inv_m)
    _thomas_solve(lo, cp, inv_m, F, k1)
    for j in range(n_q):
        y[j] = row[j] + dtau * k1[j]
    # second stage: the field at the end point; the Jacobian stays frozen (W-method)
    F2, d2, l2, u2 = work[9], work[10], work[11], work[12]
    _jump_field_row(y, phi_q2, A, k, z, alpha, optimal, ask1, bid1, F2, d2, l2, u2)
    for j in range(n_q):
        F2[j] -= 2.0 * k1[j]
    _thomas_solve(lo, cp, inv_m, F2, k2)
    for j in range(n_q):
        row[j] += dtau * (1.5 * k1[j] + 0.5 * k2[j])


@njit(cache=True, parallel=True, error_model="numpy")
def _ros2_jump_step(h, dtau, phi_q2, A, k, z, alpha, optimal, ask0, bid0, ask1, bid1, work):
    """One ROS2 step of the jump ODE for every price node, in place (parallel over nodes).

    Parameters
    ----------
    h : ndarray, shape (n_s, n_q)
        Reduced value at the step's start (backward time), overwritten.
    dtau : float
        Step in backward time.
    phi_q2 : ndarray, shape (n_q,)
        Running penalty ``φ q²``.
    ask0, bid0, ask1, bid1 : ndarray, shape (n_s, n_q)
        Fixed quotes at start and end (ignored when ``optimal``).
    work : ndarray, shape (n_s, N_WORK, n_q)
        Scratch space (contents irrelevant).
    """
    for i in prange(h.shape[0]):
        _ros2_row(h[i], dtau, phi_q2, A, k, z, alpha, optimal, ask0[i], bid0[i], ask1[i], bid1[i], work[i])


@njit(cache=True, error_model="numpy")
def _ros2_jump_step_serial(h, dtau, phi_q2, A, k, z, alpha, optimal, ask0, bid0, ask1, bid1, work):
    """:func:`_ros2_jump_step` without threads, for a handful of price nodes (a martingale
    price has one): a parallel region with one iteration costs more than the work."""
    for i in range(h.shape[0]):
        _ros2_row(h[i], dtau, phi_q2, A, k, z, alpha, optimal, ask0[i], bid0[i], ask1[i], bid1[i], work[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _propagate_prices(P, first, last, beta, q, g, out):
    """``out = P g + β ⊗ q`` with ``P`` used only inside each row's band ``[first[i], last[i]]``.

    Shapes: ``P`` ``(n_s, n_s)``, ``first/last`` ``(n_s,)`` ints, ``beta`` ``(n_s,)``, ``q``
    ``(n_q,)``, ``g/out`` ``(n_s, n_q)``. For the short time steps used here ``e^{dt 𝓛_h}``
    is numerically banded (entries below 1e-17 of the row are dropped), so this costs
    ``O(n_s · band · n_q)`` instead of a dense product.
    """
    n_s, n_q = g.shape
    for i in prange(n_s):
        for j in range(n_q):
            out[i, j] = beta[i] * q[j]
        for m in range(first[i], last[i] + 1):
            w = P[i, m]
            for j in range(n_q):
                out[i, j] += w * g[m, j]


def _propagate_prices_numpy(P, first, last, beta, q, g, out):
    """Numpy twin of :func:`_propagate_prices` (dense product; the band only drops zeros)."""
    Pb = np.zeros_like(P)
    for i in range(P.shape[0]):
        Pb[i, first[i]:last[i] + 1] = P[i, first[i]:last[i] + 1]
    out[:] = Pb @ g + beta[:, None] * q[None, :]


@njit(cache=True, error_model="numpy")
def _all_finite(x):
    for v in x.ravel():
        if not np.isfinite(v):
            return False
    return True


# ----------------------------------------------------------------------------- numpy twins
def _jump_field_numpy(h, phi_q2, A, k, z, alpha, optimal, ask, bid):
    """Numpy twin of :func:`_jump_field_row`, vectorised over price nodes.

    Shapes: ``h, ask, bid`` ``(n_s, n_q)``. Returns ``F, diag, lower, upper``.
    """
    p_ask = ask_marginal(h[:, 1:], h[:, :-1], 0.0)
    p_bid = bid_marginal(h[:, :-1], h[:, 1:], 0.0)
    if optimal:
        v_ask = side_hamiltonian(p_ask, A, k, z, alpha)
        d_ask = -k * v_ask
        v_bid = side_hamiltonian(p_bid, A, k, z, alpha)
        d_bid = -k * v_bid
    else:
        qa, qb = ask[:, 1:], bid[:, :-1]
        with np.errstate(invalid="ignore", over="ignore"):
            la = np.where(np.isfinite(qa), fill_intensity(np.where(np.isfinite(qa), qa, 0.0), A, k, z), 0.0)
            lb = np.where(np.isfinite(qb), fill_intensity(np.where(np.isfinite(qb), qb, 0.0), A, k, z), 0.0)
        v_ask = np.where(la > 0, la * (np.where(np.isfinite(qa), qa, 0.0) - alpha - p_ask), 0.0)
        v_bid = np.where(lb > 0, lb * (np.where(np.isfinite(qb), qb, 0.0) - alpha - p_bid), 0.0)
        d_ask, d_bid = -la, -lb
    F = np.broadcast_to(-phi_q2, h.shape).copy()
    diag = np.zeros_like(h)
    lower = np.zeros_like(h)
    upper = np.zeros_like(h)
    F[:, 1:] += v_ask
    diag[:, 1:] += d_ask
    lower[:, 1:] = -d_ask
    F[:, :-1] += v_bid
    diag[:, :-1] += d_bid
    upper[:, :-1] = -d_bid
    return F, diag, lower, upper


def _thomas_numpy(a, b, c, r):
    """Numpy twin of :func:`_thomas_factor` + :func:`_thomas_solve`, vectorised over the leading axis (shapes ``(n_s, n_q)``)."""
    n = b.shape[-1]
    cp = np.empty_like(b)
    dp = np.empty_like(b)
    cp[:, 0] = c[:, 0] / b[:, 0]
    dp[:, 0] = r[:, 0] / b[:, 0]
    for j in range(1, n):
        m = b[:, j] - a[:, j] * cp[:, j - 1]
        cp[:, j] = c[:, j] / m
        dp[:, j] = (r[:, j] - a[:, j] * dp[:, j - 1]) / m
    x = np.empty_like(b)
    x[:, -1] = dp[:, -1]
    for j in range(n - 2, -1, -1):
        x[:, j] = dp[:, j] - cp[:, j] * x[:, j + 1]
    return x


def _ros2_jump_step_numpy(h, dtau, phi_q2, A, k, z, alpha, optimal,
                          ask0, bid0, ask1, bid1, work=None):
    """Numpy twin of :func:`_ros2_jump_step` (same arguments, updates ``h`` in place)."""
    g = GAMMA_ROS2 * dtau
    F, diag, lower, upper = _jump_field_numpy(h, phi_q2, A, k, z, alpha, optimal, ask0, bid0)
    b, a, c = 1.0 - g * diag, -g * lower, -g * upper
    k1 = _thomas_numpy(a, b, c, F)
    F2, *_ = _jump_field_numpy(h + dtau * k1, phi_q2, A, k, z, alpha, optimal, ask1, bid1)
    k2 = _thomas_numpy(a, b, c, F2 - 2.0 * k1)
    h += dtau * (1.5 * k1 + 0.5 * k2)
