"""Compiled kernels of the automatic mode's error estimates (one pass, no temporaries).

The automatic mode of :func:`hjbsolve.solve` estimates, at every stored time node, an error field
``d`` (a combination of stored snapshots) and reduces it to two numbers per node: the largest
quote error ``k_max · max |d_{q} − d_{q−1}|`` and the largest relative value error
``max |d| / max(1, |g + s q|)``, over the inventories ``|q| ≤ q_max/2`` and the price rows of the
interest range. With several inventory axes (assets) the cells are the C-order product of the axes
and the quote differences are taken along every axis: neighbours at distance 1 (the last axis)
and at each of ``strides`` (the others; :meth:`hjbsolve.grid.StateGrid.stride`). A neighbour
across the end of an axis would wrap to ``q = ±q_max`` of the next line, which ``qmask``
(``|q_i| ≤ q_max_i/2`` on every axis) always excludes. Written with numpy, every estimate made several copies of arrays as large as the
solution (a few hundred megabytes at ``q_max = 200`` on the paper's OU grid); these kernels read
the snapshots in place. Their numpy twins are ``_per_node`` and ``_interp_error`` in
:mod:`hjbsolve.solver.api` (the tests compare the two).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..interpolation import lagrange_stencil

#: ratio between the interpolation error at twice the spacing and at the spacing used (cubic:
#: 2⁴ = 16 asymptotically; 8 keeps a margin for the pre-asymptotic regime)
INTERP_RATIO = 8.0


# ----------------------------------------------------------------------------- what the driver calls
def time_error(gf, gc, s, q, qmask, kmax, order, compiled=True, strides=()):
    """Richardson estimate of the time error at every coarse node: ``(g_{h/2} − g_h) / (2^p − 1)``.

    ``gf``: fine snapshots, shape ``(2 N + 1, rows, cells)``; ``gc``: coarse, ``(N + 1, rows, cells)``;
    ``s``: price of each row (``None``: price-independent). Returns shape ``(N + 1, 2)``.
    """
    c = 1.0 / (2.0**order - 1.0)
    if not compiled:
        return per_node((gf[0::2] - gc) * c, gc, qmask, kmax, s, q, strides)
    n = gc.shape[0]
    idx = np.arange(n, dtype=np.int64)[:, None]
    return _combination(gf, 2 * idx, np.full((n, 1), c), gc, idx, np.full((n, 1), -c), False, idx[:, 0], s, q,
                        qmask, kmax, strides)


def difference_error(a, b, factor, s, q, qmask, kmax, compiled=True, strides=()):
    """``factor · (a − b)`` at every node (level ``a``), arrays of shape ``(n, rows, cells)``."""
    if not compiled:
        return per_node((a - b) * factor, a, qmask, kmax, s, q, strides)
    n = a.shape[0]
    idx = np.arange(n, dtype=np.int64)[:, None]
    return _combination(a, idx, np.full((n, 1), factor), b, idx, np.full((n, 1), -factor), True, idx[:, 0], s, q,
                        qmask, kmax, strides)


def t_interpolation_error(t, g, s, q, qmask, kmax, compiled=True, strides=()):
    """Interpolation error in ``t`` at every odd node: the cubic through the even nodes minus the
    odd node, divided by :data:`INTERP_RATIO`. ``g``: shape ``(2 N + 1, rows, cells)``; returns ``(N, 2)``."""
    if not compiled:
        return per_node(interp_error(t, g, 0) / INTERP_RATIO, g[1::2], qmask, kmax, s, q, strides)
    start, w = lagrange_stencil(t[0::2], t[1::2], 3)
    n = w.shape[0]
    odd = 2 * np.arange(n, dtype=np.int64) + 1
    ia = np.concatenate([2 * (start[:, None] + np.arange(w.shape[1])), odd[:, None]], axis=1)
    wa = np.concatenate([w, -np.ones((n, 1))], axis=1) / INTERP_RATIO
    empty = np.zeros((n, 0))
    return _combination(g, ia, wa, g, empty.astype(np.int64), empty, True, odd, s, q, qmask, kmax, strides)


def s_interpolation_error(s_nodes, g, odd_rows, q, qmask, kmax, use_s, compiled=True, strides=()):
    """Interpolation error in ``s`` on the odd rows ``odd_rows`` of ``g`` (shape ``(n, rows, cells)``,
    rows at the prices ``s_nodes``): the cubic through the even rows minus the row, divided by
    :data:`INTERP_RATIO`. Returns ``(n, 2)``."""
    odd_rows = np.asarray(odd_rows, dtype=np.int64)
    if not compiled:
        d = interp_error(s_nodes, g, 1)[:, (odd_rows - 1) // 2] / INTERP_RATIO
        return per_node(d, g[:, odd_rows], qmask, kmax, s_nodes[odd_rows] if use_s else None, q, strides)
    start, w = lagrange_stencil(s_nodes[0::2], s_nodes[odd_rows], 3)
    out = np.empty((g.shape[0], 2))
    row_interpolation_maxima(g, odd_rows, start, np.ascontiguousarray(w), 1.0 / INTERP_RATIO,
                             np.ascontiguousarray(s_nodes, dtype=float), use_s, np.asarray(q, float),
                             np.asarray(qmask), float(kmax), _strides(strides), out)
    return out


def _strides(strides) -> np.ndarray:
    return np.asarray([st for st in strides if st != 1], dtype=np.int64)


def _combination(A, ia, wa, B, ib, wb, level_in_a, il, s, q, qmask, kmax, strides=()):
    out = np.empty((ia.shape[0], 2))
    use_s = s is not None
    s_arr = np.ascontiguousarray(s, dtype=float) if use_s else np.zeros(A.shape[1])
    combination_maxima(A, np.ascontiguousarray(ia, dtype=np.int64), np.ascontiguousarray(wa, dtype=float), B,
                       np.ascontiguousarray(ib, dtype=np.int64), np.ascontiguousarray(wb, dtype=float), level_in_a,
                       np.ascontiguousarray(il, dtype=np.int64), s_arr, use_s, np.asarray(q, float),
                       np.asarray(qmask), float(kmax), _strides(strides), out)
    return out


# ----------------------------------------------------------------------------- numpy twins
def interp_error(nodes: np.ndarray, values: np.ndarray, axis: int) -> np.ndarray:
    """Cubic through every other node, minus the nodes it skips (the interpolation error at twice
    the spacing), along ``axis`` of ``values``."""
    even = np.take(values, np.arange(0, values.shape[axis], 2), axis=axis)
    odd = np.take(values, np.arange(1, values.shape[axis], 2), axis=axis)
    start, w = lagrange_stencil(nodes[0::2], nodes[1::2], 3)
    ev = np.moveaxis(even, axis, 0)
    acc = np.zeros(np.moveaxis(odd, axis, 0).shape)
    for a in range(w.shape[-1]):
        acc += w[:, a].reshape((-1,) + (1,) * (ev.ndim - 1)) * ev[start + a]
    return np.moveaxis(acc, 0, axis) - odd


def per_node(d: np.ndarray, g: np.ndarray, qmask: np.ndarray, kmax: float, s=None, q=None, strides=()) -> np.ndarray:
    """Per stored time: ``(quote error in units of 1/k, relative value error)``, shape (n, 2).

    ``d``, ``g``: errors and reduced values, shape ``(n, rows, cells)``. The value error is relative
    to ``max(1, |v|)`` with ``v = g + q s`` at the price nodes ``s`` (rows) of a price-dependent
    problem, and to ``max(1, |g|)`` when ``s`` is ``None`` (a price-independent problem, whose
    value ``q s + g`` can be asked at any ``s``: the accuracy applies to its price-free part).
    ``strides``: the distances of the neighbours along the other inventory axes (module docstring).
    """
    dq = np.abs(np.diff(d, axis=-1)[..., qmask[1:] & qmask[:-1]])
    for st in _strides(strides):
        dq = np.concatenate([dq, np.abs(d[..., st:] - d[..., :-st])[..., qmask[st:] & qmask[:-st]]], axis=-1)
    level = g if s is None else g + np.asarray(s)[:, None] * np.asarray(q)[None, :]
    dv = np.abs(d[..., qmask]) / np.maximum(1.0, np.abs(level[..., qmask]))
    return np.stack([kmax * dq.reshape(d.shape[0], -1).max(axis=1), dv.reshape(d.shape[0], -1).max(axis=1)], axis=1)


# ----------------------------------------------------------------------------- kernels


@njit(cache=True, inline="always")
def _top(m, x):
    """``max(m, x)`` that keeps a NaN (a non-finite error must not look small)."""
    return x if (x > m or x != x) else m


@njit(cache=True, inline="always")
def _reduce_line(d, lev_src, n_l, r, s, use_s, q, qmask, strides):
    """(max |Δ_q d|, max |d| / max(1, |level|)) on one price row; ``level = lev_src[n_l, r] + s[r] q``;
    ``Δ_q`` along the last inventory axis and at each of ``strides`` (the other axes)."""
    mq = 0.0
    mv = 0.0
    for c in range(d.size):
        if not qmask[c]:
            continue
        lv = lev_src[n_l, r, c]
        if use_s:
            lv += s[r] * q[c]
        mv = _top(mv, abs(d[c]) / max(1.0, abs(lv)))
        if c > 0 and qmask[c - 1]:
            x = abs(d[c] - d[c - 1])
            mq = _top(mq, x)
        for a in range(strides.size):
            st = strides[a]
            if c >= st and qmask[c - st]:
                mq = _top(mq, abs(d[c] - d[c - st]))
    return mq, mv


@njit(parallel=True, cache=True)
def combination_maxima(A, ia, wa, B, ib, wb, level_in_a, il, s, use_s, q, qmask, kmax, strides, out):
    """Per node ``n``: ``d = Σ_j wa[n, j] A[ia[n, j]] + Σ_j wb[n, j] B[ib[n, j]]`` (arrays of shape
    ``(rows, cells)``), level ``A[il[n]]`` (or ``B[il[n]]``); writes ``out[n] = (quote, value)``
    errors as described in the module docstring. ``A``, ``B``: shape ``(times, rows, cells)``."""
    n_rows, n_cells = A.shape[1], A.shape[2]
    for n in prange(out.shape[0]):
        d = np.empty(n_cells)
        mq = 0.0
        mv = 0.0
        for r in range(n_rows):
            for c in range(n_cells):
                acc = 0.0
                for j in range(ia.shape[1]):
                    acc += wa[n, j] * A[ia[n, j], r, c]
                for j in range(ib.shape[1]):
                    acc += wb[n, j] * B[ib[n, j], r, c]
                d[c] = acc
            a, b = _reduce_line(d, A if level_in_a else B, il[n], r, s, use_s, q, qmask, strides)
            mq, mv = _top(mq, a), _top(mv, b)
        out[n, 0] = kmax * mq
        out[n, 1] = mv


@njit(parallel=True, cache=True)
def row_interpolation_maxima(G, rows, start, w, scale, s, use_s, q, qmask, kmax, strides, out):
    """Per time ``n``: the cubic through the even rows of ``G[n]`` minus the odd rows it skips,
    times ``scale``: ``d = scale (Σ_a w[i, a] G[n, 2 (start[i] + a)] − G[n, rows[i]])`` on the odd
    rows ``rows[i]`` (level ``G[n, rows[i]]``, price ``s[rows[i]]``); ``out[n] = (quote, value)``."""
    n_cells = G.shape[2]
    for n in prange(out.shape[0]):
        d = np.empty(n_cells)
        mq = 0.0
        mv = 0.0
        for i in range(rows.size):
            r = rows[i]
            for c in range(n_cells):
                acc = -G[n, r, c]
                for a in range(w.shape[1]):
                    acc += w[i, a] * G[n, 2 * (start[i] + a), c]
                d[c] = scale * acc
            x, y = _reduce_line(d, G, n, r, s, use_s, q, qmask, strides)
            mq, mv = _top(mq, x), _top(mv, y)
        out[n, 0] = kmax * mq
        out[n, 1] = mv
