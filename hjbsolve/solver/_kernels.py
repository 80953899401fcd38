"""Compiled kernels of the inventory-jump step, each with a plain-numpy twin.

Everything here is array-in/array-out on a value array ``g`` of shape ``(n_rows, n_cells)``
(:class:`hjbsolve.grid.StateGrid`), in the reduced variables ``v(t, s, q) = q·s + g``. The
jump part of the verification equation along one inventory axis, in backward time
``τ = T − t``, is, on each *line* of cells along that axis (``j`` its index, ``n`` its length) ::

    ∂_τ g_j = J⁺_j(p⁺_j) 1{j > 0} + J⁻_j(p⁻_j) 1{j < n−1} − w φ_j                 (paper eqs. 11/25)

with ``p⁺_j = g_j − g_{j−1}``, ``p⁻_j = g_j − g_{j+1}`` (in these variables the jumps do not see
the price), ``φ_j`` the running-penalty field (weight ``w``: the axis that carries it) and per
side either the optimal term ``J = H(p) = o λ*(p)`` (:func:`hjbsolve.hamiltonian.side_hamiltonian`)
or, for a fixed policy, ``J = λ(δ)(δ − α − p)`` (:func:`hjbsolve.hamiltonian.fixed_side_term`).
The side coefficients ``(ℓ, k, α, o)`` come from
:meth:`hjbsolve.coefficients.MarketCoefficients.packed`, per regime state and axis. The
Jacobian in ``g`` is tridiagonal along the line with the sign pattern of a generator, so
``I − γ dτ Jac`` is an M-matrix.

The time step is Verwer's two-stage Rosenbrock method ROS2 (second order, L-stable; a
W-method, so order two holds with the frozen-in-time Jacobian used here)::

    (I − γ dτ Jac) k1 = F(t0, g)
    (I − γ dτ Jac) k2 = F(t1, g + dτ k1) − 2 k1
    g ← g + 3/2 dτ k1 + 1/2 dτ k2,         γ = 1 + 1/√2
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..coefficients import ALPHA, K, LOG_RATE, OFFSET


class NonFiniteError(FloatingPointError):
    """The solver produced a non-finite number (it raises instead of returning it)."""


class ScaleError(NonFiniteError):
    """The problem's scales are beyond double precision (``k·z``, ``k·σ``, ``k·ϖ·q_max``): no choice of
    time steps can help, so the automatic mode does not retry with shorter ones."""


#: Most cell-terms (cells × Taylor terms) of one exact first step (:func:`omega_exact_step`), about
#: two seconds: a deeper cascade means scales (``k``, the penalty at the bound) beyond the method.
OMEGA_MAX_WORK = 5e7
from ..hamiltonian import ask_marginal, bid_marginal, fixed_side_term, fixed_side_term_nb, side_hamiltonian

GAMMA_ROS2 = 1.0 + 1.0 / math.sqrt(2.0)
#: rows of the per-line scratch array of :func:`_ros2_line`
N_WORK = 17


# ----------------------------------------------------------------------------- compiled
@njit(cache=True, inline="always", error_model="numpy")
def _add_edge(j, lam_a, lam_b, oa, ob, F, diag, lower, upper):
    """Optimal terms across the edge ``(j−1, j)``: the ask of ``j`` (rate ``lam_a``, ``H = o⁺λ``,
    ``∂H/∂p = −λ``) and the bid of ``j − 1`` (``lam_b``)."""
    F[j] += oa * lam_a
    diag[j] -= lam_a
    lower[j] = lam_a
    F[j - 1] += ob * lam_b
    diag[j - 1] -= lam_b
    upper[j - 1] = lam_b


@njit(cache=True, error_model="numpy")
def _jump_field_line(h, run, run_w, c, optimal, ask, bid, F, diag, lower, upper):
    """Right-hand side ``F`` and tridiagonal Jacobian of one line of cells.

    Shapes: ``h, run, ask, bid, F, diag, lower, upper`` ``(n,)`` (any stride); ``c`` ``(2, 4)``
    (side × (ℓ, k, α, o)). ``lower[j] = ∂F_j/∂h_{j−1}``, ``upper[j] = ∂F_j/∂h_{j+1}``.
    Optimal sides: ``H(p) = o λ*(p)`` with ``∂H/∂p = −λ*``; across an edge ``(j−1, j)`` the
    marginals are opposite (``p⁺_j = −p⁻_{j−1}``), so with ``k⁺ = k⁻`` both sides' rates come
    from one exponential.
    """
    n = h.size
    for j in range(n):
        F[j] = -run_w * run[j]
        diag[j] = 0.0
        lower[j] = 0.0
        upper[j] = 0.0
    if optimal:
        la, ka, aa, oa = c[0, LOG_RATE], c[0, K], c[0, ALPHA], c[0, OFFSET]
        lb, kb, ab, ob = c[1, LOG_RATE], c[1, K], c[1, ALPHA], c[1, OFFSET]
        if ka == kb:
            ca = math.exp(la - ka * (oa + aa))
            cb = math.exp(lb - kb * (ob + ab))
            for j in range(1, n):
                e = math.exp(-ka * (h[j] - h[j - 1]))   # p⁺_j = h_j − h_{j−1} = −p⁻_{j−1}
                _add_edge(j, ca * e, cb / e, oa, ob, F, diag, lower, upper)
        else:
            for j in range(1, n):
                p = h[j] - h[j - 1]
                _add_edge(j, math.exp(la - ka * (oa + aa + p)), math.exp(lb - kb * (ob + ab - p)), oa, ob,
                          F, diag, lower, upper)
        return
    for j in range(1, n):
        v, d = fixed_side_term_nb(h[j] - h[j - 1], ask[j], c[0, LOG_RATE], c[0, K], c[0, ALPHA])
        F[j] += v
        diag[j] += d
        lower[j] = -d
    for j in range(n - 1):
        v, d = fixed_side_term_nb(h[j] - h[j + 1], bid[j], c[1, LOG_RATE], c[1, K], c[1, ALPHA])
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


@njit(cache=True, error_model="numpy")
def _ros2_from(line, out, dtau, F0, dg0, lo0, up0, run, run_w, c, optimal, ask1, bid1, work):
    """One ROS2 step of one line from ``line`` into ``out`` (may be ``line``), given the field ``F0``
    and its Jacobian ``(lo0, dg0, up0)`` at the start (rows 0–3 of ``work``, left intact)."""
    n = line.size
    g = GAMMA_ROS2 * dtau
    dg, lo, up = work[4], work[5], work[6]
    for j in range(n):
        dg[j] = 1.0 - g * dg0[j]
        lo[j] = -g * lo0[j]
        up[j] = -g * up0[j]
    cp, inv_m = work[7], work[8]
    _thomas_factor(lo, dg, up, cp, inv_m)
    k1, k2, y = work[9], work[10], work[11]
    _thomas_solve(lo, cp, inv_m, F0, k1)
    for j in range(n):
        y[j] = line[j] + dtau * k1[j]
    # second stage: the field at the end point; the Jacobian stays frozen (W-method)
    F2, d2, l2, u2 = work[12], work[13], work[14], work[15]
    _jump_field_line(y, run, run_w, c, optimal, ask1, bid1, F2, d2, l2, u2)
    for j in range(n):
        F2[j] -= 2.0 * k1[j]
    _thomas_solve(lo, cp, inv_m, F2, k2)
    for j in range(n):
        out[j] = line[j] + dtau * (1.5 * k1[j] + 0.5 * k2[j])


@njit(cache=True, error_model="numpy")
def _ros2_line(line, dtau, run, run_w, c, optimal, ask0, bid0, ask1, bid1, work):
    """One ROS2 step of the jump ODE of one line of cells, in place.

    Shapes: ``line, run, ask*, bid*`` ``(n,)``; ``work`` ``(N_WORK, n)`` scratch (passed in:
    allocating inside a parallel loop serialises the threads on the allocator).
    """
    F0, dg0, lo0, up0 = work[0], work[1], work[2], work[3]
    _jump_field_line(line, run, run_w, c, optimal, ask0, bid0, F0, dg0, lo0, up0)
    _ros2_from(line, line, dtau, F0, dg0, lo0, up0, run, run_w, c, optimal, ask1, bid1, work)


@njit(cache=True, error_model="numpy")
def _ros2x_line(line, dtau, run, run_w, c, optimal, ask0, bid0, askm, bidm, ask1, bid1, work):
    """ROS2 locally extrapolated, ``(4 J_{h/2}∘J_{h/2} − J_h)/3``, on one line, in place: the step
    ``J_h`` and the first half step share the field and Jacobian at the start (one evaluation)."""
    F0, dg0, lo0, up0 = work[0], work[1], work[2], work[3]
    _jump_field_line(line, run, run_w, c, optimal, ask0, bid0, F0, dg0, lo0, up0)
    one = work[16]
    _ros2_from(line, one, dtau, F0, dg0, lo0, up0, run, run_w, c, optimal, ask1, bid1, work)
    half = 0.5 * dtau
    _ros2_from(line, line, half, F0, dg0, lo0, up0, run, run_w, c, optimal, askm, bidm, work)
    _ros2_line(line, half, run, run_w, c, optimal, askm, bidm, ask1, bid1, work)
    for j in range(line.size):
        line[j] = (line[j] - one[j]) * (4.0 / 3.0) + one[j]


@njit(cache=True, inline="always", error_model="numpy")
def _line_step(L, h, dtau, n, stride, per_row, row_state, coef, axis, running, run_w, optimal,
               ask0, bid0, askm, bidm, ask1, bid1, extrapolate, w):
    i = L // per_row
    m = L % per_row
    base = (m // stride) * (n * stride) + m % stride
    end = base + (n - 1) * stride + 1
    r = row_state[i]
    line = h[i, base:end:stride]
    run = running[r, base:end:stride]
    if optimal:
        if extrapolate:
            _ros2x_line(line, dtau, run, run_w, coef[r, axis], True, run, run, run, run, run, run, w)
        else:
            _ros2_line(line, dtau, run, run_w, coef[r, axis], True, run, run, run, run, w)
    elif extrapolate:
        _ros2x_line(line, dtau, run, run_w, coef[r, axis], False, ask0[i, base:end:stride],
                    bid0[i, base:end:stride], askm[i, base:end:stride], bidm[i, base:end:stride],
                    ask1[i, base:end:stride], bid1[i, base:end:stride], w)
    else:
        _ros2_line(line, dtau, run, run_w, coef[r, axis], False, ask0[i, base:end:stride],
                   bid0[i, base:end:stride], ask1[i, base:end:stride], bid1[i, base:end:stride], w)


@njit(cache=True, parallel=True, error_model="numpy")
def _ros2_jump_step(h, dtau, n, stride, row_state, coef, axis, running, run_w, optimal,
                    ask0, bid0, ask1, bid1, work):
    """One ROS2 step of the jump ODE along one inventory axis, for every line, in place (parallel).

    Parameters
    ----------
    h : ndarray, shape (n_rows, n_cells)
        Reduced value at the step's start (backward time), overwritten.
    dtau : float
        Step in backward time.
    n, stride : int
        Length of the axis and the distance between its neighbouring cells.
    row_state : int64 ndarray, shape (n_rows,)
        Regime state of each row.
    coef : ndarray, shape (n_states, n_axes, 2, 4)
        :meth:`~hjbsolve.coefficients.MarketCoefficients.packed`.
    axis : int
    running : ndarray, shape (n_states, n_cells)
        Running-penalty field, weighted by ``run_w`` (1 on the axis that carries it, else 0).
    optimal : bool
        HJB (optimal quotes) or a fixed policy with quotes ``ask0, bid0`` (start) and
        ``ask1, bid1`` (end), each ``(n_rows, n_cells)`` (ignored when ``optimal``).
    work : ndarray, shape (n_chunks, N_WORK, n)
        Scratch space (contents irrelevant): the lines are split into ``n_chunks`` contiguous
        chunks, run in parallel, each reusing its own scratch line by line (a scratch per line,
        17 doubles per cell, streamed the whole scratch through memory at every step: 2.5x slower
        on a 51³ box). The result does not depend on ``n_chunks`` (the lines are independent).
    """
    per_row = h.shape[1] // n
    n_lines, n_chunks = h.shape[0] * per_row, work.shape[0]
    for ch in prange(n_chunks):
        for L in range(ch * n_lines // n_chunks, (ch + 1) * n_lines // n_chunks):
            _line_step(L, h, dtau, n, stride, per_row, row_state, coef, axis, running, run_w, optimal,
                       ask0, bid0, ask0, bid0, ask1, bid1, False, work[ch])


@njit(cache=True, error_model="numpy")
def _ros2_jump_step_serial(h, dtau, n, stride, row_state, coef, axis, running, run_w, optimal,
                           ask0, bid0, ask1, bid1, work):
    """:func:`_ros2_jump_step` without threads, for a handful of lines (a martingale price has one
    row): a parallel region with one iteration costs more than the work."""
    per_row = h.shape[1] // n
    for L in range(h.shape[0] * per_row):
        _line_step(L, h, dtau, n, stride, per_row, row_state, coef, axis, running, run_w, optimal,
                   ask0, bid0, ask0, bid0, ask1, bid1, False, work[0])


@njit(cache=True, parallel=True, error_model="numpy")
def _ros2x_jump_step(h, dtau, n, stride, row_state, coef, axis, running, run_w, optimal,
                     ask0, bid0, askm, bidm, ask1, bid1, work):
    """ROS2 locally extrapolated over ``dtau`` along one inventory axis, for every line, in place
    (parallel); ``askm, bidm``: the policy's quotes at the middle of the step. Otherwise as
    :func:`_ros2_jump_step`. The numpy twin is the same combination of :func:`_ros2_jump_step_numpy`
    steps (:meth:`hjbsolve.solver.operators.JumpAxis.step`)."""
    per_row = h.shape[1] // n
    n_lines, n_chunks = h.shape[0] * per_row, work.shape[0]
    for ch in prange(n_chunks):
        for L in range(ch * n_lines // n_chunks, (ch + 1) * n_lines // n_chunks):
            _line_step(L, h, dtau, n, stride, per_row, row_state, coef, axis, running, run_w, optimal,
                       ask0, bid0, askm, bidm, ask1, bid1, True, work[ch])


@njit(cache=True, error_model="numpy")
def _ros2x_jump_step_serial(h, dtau, n, stride, row_state, coef, axis, running, run_w, optimal,
                            ask0, bid0, askm, bidm, ask1, bid1, work):
    """:func:`_ros2x_jump_step` without threads."""
    per_row = h.shape[1] // n
    for L in range(h.shape[0] * per_row):
        _line_step(L, h, dtau, n, stride, per_row, row_state, coef, axis, running, run_w, optimal,
                   ask0, bid0, askm, bidm, ask1, bid1, True, work[0])


@njit(cache=True, parallel=True, error_model="numpy")
def _propagate_state(indptr, indices, data, beta, qfield, g, out):
    """``out = P g + β ⊗ qfield`` with ``P`` in compressed sparse rows (``indptr, indices, data``).

    Shapes: ``indptr`` ``(n_rows + 1,)``, ``indices/data`` ``(nnz,)``, ``beta`` ``(n_rows,)``,
    ``qfield`` ``(n_cells,)``, ``g/out`` ``(n_rows, n_cells)``. For the short time steps used here
    ``e^{dt 𝓛_h}`` is numerically sparse (entries below 1e-17 of their row are dropped): banded for
    a price axis, a few bands for a price × regime state. The cost is ``O(nnz · n_cells)`` instead
    of a dense product.
    """
    n_rows, n_cells = g.shape
    for i in prange(n_rows):
        for j in range(n_cells):
            out[i, j] = beta[i] * qfield[j]
        for m in range(indptr[i], indptr[i + 1]):
            w = data[m]
            c = indices[m]
            for j in range(n_cells):
                out[i, j] += w * g[c, j]


def _propagate_state_numpy(indptr, indices, data, beta, qfield, g, out):
    """Numpy twin of :func:`_propagate_state` (a dense product of the rebuilt matrix)."""
    n_rows = g.shape[0]
    P = np.zeros((n_rows, n_rows))
    rows = np.repeat(np.arange(n_rows), np.diff(indptr))
    P[rows, indices] = data
    out[:] = P @ g + beta[:, None] * qfield[None, :]


@njit(cache=True, error_model="numpy")
def _all_finite(x):
    for v in x.ravel():
        if not np.isfinite(v):
            return False
    return True


# ----------------------------------------------------------------------------- numpy twins
def _lines(a: np.ndarray, n: int, stride: int) -> np.ndarray:
    """The lines of ``a`` (n_rows, n_cells) along an axis of length ``n`` and ``stride``:
    shape ``(n_rows, outer, stride, n)`` view → returned as a copy ``(n_lines, n)`` in the
    kernels' line order."""
    n_rows, n_cells = a.shape
    outer = n_cells // (n * stride)
    v = a.reshape(n_rows, outer, n, stride).transpose(0, 1, 3, 2)
    return v.reshape(-1, n)


def _unlines(lines: np.ndarray, shape: tuple, n: int, stride: int) -> np.ndarray:
    n_rows, n_cells = shape
    outer = n_cells // (n * stride)
    return lines.reshape(n_rows, outer, stride, n).transpose(0, 1, 3, 2).reshape(shape)


def _jump_field_numpy(h, run, run_w, c, optimal, ask, bid):
    """Numpy twin of :func:`_jump_field_line`, vectorised over lines.

    Shapes: ``h, run, ask, bid`` ``(n_lines, n)``; ``c`` ``(n_lines, 2, 4)`` (each line's side
    coefficients). Returns ``F, diag, lower, upper``.
    """
    p_ask = ask_marginal(h[:, 1:], h[:, :-1], 0.0)
    p_bid = bid_marginal(h[:, :-1], h[:, 1:], 0.0)
    ca = [c[:, 0, i, None] for i in range(4)]
    cb = [c[:, 1, i, None] for i in range(4)]
    if optimal:
        v_ask = side_hamiltonian(p_ask, *ca)
        d_ask = -v_ask / ca[OFFSET]
        v_bid = side_hamiltonian(p_bid, *cb)
        d_bid = -v_bid / cb[OFFSET]
    else:
        v_ask, d_ask = fixed_side_term(p_ask, ask[:, 1:], ca[LOG_RATE], ca[K], ca[ALPHA])
        v_bid, d_bid = fixed_side_term(p_bid, bid[:, :-1], cb[LOG_RATE], cb[K], cb[ALPHA])
    F = -run_w * run.copy()
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
    """Numpy twin of :func:`_thomas_factor` + :func:`_thomas_solve`, vectorised over the leading axis."""
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


def _ros2_jump_step_numpy(h, dtau, n, stride, row_state, coef, axis, running, run_w, optimal,
                          ask0, bid0, ask1, bid1, work=None):
    """Numpy twin of :func:`_ros2_jump_step` (same arguments, updates ``h`` in place)."""
    shape = h.shape
    per_row = shape[1] // n
    line_state = np.repeat(row_state, per_row)
    c = coef[line_state, axis]                                   # (n_lines, 2, 4)
    run = _lines(running[row_state], n, stride)
    H = _lines(h, n, stride)
    if optimal:
        a0 = b0 = a1 = b1 = None
    else:
        a0, b0, a1, b1 = (_lines(x, n, stride) for x in (ask0, bid0, ask1, bid1))
    g = GAMMA_ROS2 * dtau
    F, diag, lower, upper = _jump_field_numpy(H, run, run_w, c, optimal, a0, b0)
    b, a, cc = 1.0 - g * diag, -g * lower, -g * upper
    k1 = _thomas_numpy(a, b, cc, F)
    F2, *_ = _jump_field_numpy(H + dtau * k1, run, run_w, c, optimal, a1, b1)
    k2 = _thomas_numpy(a, b, cc, F2 - 2.0 * k1)
    H += dtau * (1.5 * k1 + 0.5 * k2)
    h[:] = _unlines(H, shape, n, stride)


def omega_exact_step(h, dtau, n, stride, row_state, coef, axis, running, run_w):
    """The optimal jump flow over ``dτ``, exactly, in the variables ``ω = e^{k h}``, in place.

    With ``k⁺ = k⁻ = k`` and offsets ``1/k`` the jump ODE of a line is linear in ``ω``
    (:mod:`hjbsolve.exact`): ``∂_τ ω = M ω`` with ``M = c⁺J₋ + c⁻J₊ − diag(k w φ)``,
    ``c± = exp(ℓ± − k(o± + α±))``. ``M`` has moderate entries; only ``ω`` spans an enormous range
    near a steep terminal penalty (``e^{−kϖq²}``). The step sums the Taylor series of
    ``e^{dτ (M + cI)} ω`` (``c`` makes the matrix non-negative, so every term is non-negative)
    entirely in the log domain — each term is a log-sum-exp over a cell and its two neighbours —
    until no term changes any entry by more than a quarter of an ulp (at least one term beyond the
    deepest cascade of terms that still grow), then ``h ← (log Σ − c dτ)/k``.

    Used for the first step from ``T`` (:class:`hjbsolve.solver.operators.JumpAxis`,
    ``stiff_start``): a steep terminal penalty at a large bound makes the fill rates at ``T``
    relax on time scales far below any time step (even below double-precision time resolution),
    where the linearly implicit ROS2 step would move each marginal by only about ``1/k`` per step.
    """
    shape = h.shape
    per_row = shape[1] // n
    c = coef[np.repeat(row_state, per_row), axis]                  # (n_lines, 2, 4)
    H = _lines(h, n, stride)
    run = _lines(running[row_state], n, stride)
    k = c[:, 0, K][:, None]
    log_cp = c[:, 0, LOG_RATE, None] - k * (c[:, 0, OFFSET, None] + c[:, 0, ALPHA, None])   # from q − 1
    log_cm = c[:, 1, LOG_RATE, None] - k * (c[:, 1, OFFSET, None] + c[:, 1, ALPHA, None])   # from q + 1
    pen = k * run_w * run
    shift = pen.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_diag = np.log(shift - pen)                             # −inf where zero
    log_term = k * H
    log_sum = log_term.copy()
    log_tau = math.log(dtau)
    quiet, n_terms = 0, 0
    max_terms = min(4 * n + 100, max(100, int(OMEGA_MAX_WORK / max(H.size, 1))))
    while quiet < 2:
        n_terms += 1
        if n_terms > max_terms:
            raise ScaleError(
                f"the exact first step in ω = e^(k h) did not converge in {max_terms} terms over {n} inventories "
                f"(k={float(k.max()):.3g}, dτ={dtau:.3g}, largest log fill rate {float(max(log_cp.max(), log_cm.max())):.3g}): "
                f"the scales are beyond double precision — k·z, k·σ or k·ϖ·q_max too large (lower k, z, σ or q_max)")
        nxt = log_diag + log_term
        nxt[:, 1:] = np.logaddexp(nxt[:, 1:], log_cp + log_term[:, :-1])
        nxt[:, :-1] = np.logaddexp(nxt[:, :-1], log_cm + log_term[:, 1:])
        log_term = nxt + (log_tau - math.log(n_terms))
        rel = np.max(log_term - log_sum)
        log_sum = np.logaddexp(log_sum, log_term)
        quiet = quiet + 1 if rel < math.log(0.25 * np.finfo(float).eps) else 0
    H[:] = (log_sum - shift * dtau) / k
    if not np.all(np.isfinite(H)):
        raise NonFiniteError("the exact first step in ω = e^(k h) produced a non-finite value")
    h[:] = _unlines(H, shape, n, stride)
