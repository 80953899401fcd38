"""The one table interpolation, shared by queries, policy evaluation and simulation.

Tables live on a tensor grid ``(t, s, q)``: times (any increasing nodes), prices (uniform or
not; one node when nothing depends on the price) and integer inventories. Between nodes the
table is interpolated by Lagrange polynomials of degree ``order`` (1: linear, 3: cubic) on the
``order + 1`` nodes around the point, in ``t`` and in ``s`` (tensor product); the inventory is
an exact index. At a node the value is the node's. Degree 3 is fourth-order accurate and exact
on cubics; near the ends of an axis the stencil is shifted inside (one-sided), and an axis with
fewer nodes uses the highest degree it allows.

A table entry ``+inf`` marks an unquoted side; a point whose stencil touches such an entry with
a non-zero weight is ``+inf`` too.

:func:`lagrange_stencil` (numpy, vectorised) and :func:`stencil_nb` (compiled) compute the same
stencils; :func:`interpolate` and :func:`interpolate_nb` the same values; the tests check that
they agree to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["lagrange_stencil", "interpolate", "interpolate_on_grid", "stencil_nb", "interpolate_nb", "ORDERS"]

#: Supported interpolation degrees.
ORDERS = (1, 3)


def lagrange_stencil(nodes: np.ndarray, x, order: int):
    """Stencil start indices and Lagrange weights of degree ``order`` at the points ``x``.

    Parameters
    ----------
    nodes : ndarray, shape (n,)
        Strictly increasing nodes.
    x : array_like
        Points, assumed inside ``[nodes[0], nodes[-1]]`` (clamped otherwise).
    order : int
        1 or 3 (reduced to ``n − 1`` on short axes).

    Returns
    -------
    start : int64 ndarray, shape x.shape
    weights : ndarray, shape x.shape + (m,)
        ``m = min(order, n − 1) + 1`` weights for the nodes ``start … start + m − 1``.
    """
    x = np.asarray(x, dtype=float)
    n = nodes.size
    m = min(order, n - 1) + 1
    if n == 1:
        return np.zeros(x.shape, np.int64), np.ones(x.shape + (1,))
    xc = np.clip(x, nodes[0], nodes[-1])
    j = np.clip(np.searchsorted(nodes, xc, side="right") - 1, 0, n - 2)
    start = np.clip(j - (m // 2 - 1), 0, n - m).astype(np.int64)
    pts = nodes[start[..., None] + np.arange(m)]                 # x.shape + (m,)
    w = np.ones(x.shape + (m,))
    for a in range(m):
        for b in range(m):
            if a != b:
                w[..., a] *= (xc - pts[..., b]) / (pts[..., a] - pts[..., b])
    # exactly the node's value at a node (the product above is exact there up to rounding)
    at = pts == xc[..., None]
    hit = at.any(axis=-1)
    if hit.any():
        w[hit] = at[hit].astype(float)
    return start, w


def interpolate(tab: np.ndarray, t_nodes: np.ndarray, s_nodes: np.ndarray, order_t: int, order_s: int, t, s, qi):
    """``tab[t, s, qi]`` interpolated at broadcast points ``(t, s, qi)``.

    Parameters
    ----------
    tab : ndarray, shape (n_t, n_s, n_q)
    t_nodes, s_nodes : ndarray
    order_t, order_s : int
    t, s : array_like
        Points (inside the nodes' ranges; callers check).
    qi : array_like of int
        Inventory index into the last axis (valid; callers check).

    Returns
    -------
    ndarray, shape broadcast(t, s, qi)
    """
    t, s, qi = np.broadcast_arrays(np.asarray(t, float), np.asarray(s, float), np.asarray(qi, np.int64))
    it, wt = lagrange_stencil(t_nodes, t, order_t)
    js, ws = lagrange_stencil(s_nodes, s, order_s)
    acc = np.zeros(t.shape)
    unquoted = np.zeros(t.shape, bool)
    for a in range(wt.shape[-1]):
        for b in range(ws.shape[-1]):
            w = wt[..., a] * ws[..., b]
            v = tab[it + a, js + b, qi]
            inf = np.isinf(v) & (w != 0.0)
            unquoted |= inf
            acc += np.where(inf | (w == 0.0), 0.0, w * np.where(np.isfinite(v), v, 0.0))
    return np.where(unquoted, np.inf, acc)


@njit(cache=True, inline="always")
def stencil_nb(nodes, x, order, guess, w):
    """Compiled :func:`lagrange_stencil` at one point; writes the weights into ``w`` (length ≥ 4).

    ``guess`` is a previous interval index of the same path (the search walks from it: O(1) for
    the slowly moving ``t`` and ``s`` of a path). Returns ``(start, m, interval)``.
    """
    n = nodes.size
    if n == 1:
        w[0] = 1.0
        return 0, 1, 0
    m = min(order, n - 1) + 1
    if x <= nodes[0]:
        x = nodes[0]
    if x >= nodes[n - 1]:
        x = nodes[n - 1]
    j = guess
    if j > n - 2:
        j = n - 2
    if j < 0:
        j = 0
    while j < n - 2 and x >= nodes[j + 1]:
        j += 1
    while j > 0 and x < nodes[j]:
        j -= 1
    start = j - (m // 2 - 1)
    if start < 0:
        start = 0
    if start > n - m:
        start = n - m
    hit = -1
    for a in range(m):
        if nodes[start + a] == x:
            hit = a
    for a in range(m):
        if hit >= 0:
            w[a] = 1.0 if a == hit else 0.0
            continue
        p = 1.0
        xa = nodes[start + a]
        for b in range(m):
            if b != a:
                p *= (x - nodes[start + b]) / (xa - nodes[start + b])
        w[a] = p
    return start, m, j


@njit(cache=True, inline="always")
def interpolate_nb(tab2, it, mt, wt, js, ms, ws):
    """Compiled tensor interpolation of a ``(t, s)`` table ``tab2`` (one inventory, one side) with
    stencils from :func:`stencil_nb`; ``+inf`` if a used entry is."""
    acc = 0.0
    for a in range(mt):
        for b in range(ms):
            w = wt[a] * ws[b]
            if w == 0.0:
                continue
            v = tab2[it + a, js + b]
            if v == np.inf:
                return np.inf
            acc += w * v
    return acc


@njit(cache=True, parallel=True)
def _on_grid(tab, t_nodes, s_nodes, order_t, order_s, t, s, qi, out):
    n_s, n_q = out.shape
    wt = np.empty(4)
    it, mt, _ = stencil_nb(t_nodes, t, order_t, 0, wt)
    for a in prange(n_s):
        ws = np.empty(4)
        js, ms, _ = stencil_nb(s_nodes, s[a], order_s, 0, ws)
        for b in range(n_q):
            j = qi[b]
            if j < 0 or j >= tab.shape[2]:
                out[a, b] = np.inf
            else:
                out[a, b] = interpolate_nb(tab[:, :, j], it, mt, wt, js, ms, ws)


def interpolate_on_grid(tab, t_nodes, s_nodes, order_t, order_s, t: float, s, qi, compiled: bool = True):
    """The table at one time ``t`` on a tensor grid ``s × qi``: shape ``(len(s), len(qi))``.

    Inventory indices outside the table give ``+inf`` (not quoted). The compiled version runs in
    parallel over ``s``; ``compiled=False`` is the numpy twin.
    """
    s = np.ascontiguousarray(s, dtype=float)
    qi = np.ascontiguousarray(qi, dtype=np.int64)
    if compiled:
        out = np.empty((s.size, qi.size))
        _on_grid(tab, t_nodes, s_nodes, order_t, order_s, float(t), s, qi, out)
        return out
    inside = (qi >= 0) & (qi < tab.shape[2])
    vals = interpolate(tab, t_nodes, s_nodes, order_t, order_s, float(t), s[:, None],
                       np.clip(qi, 0, tab.shape[2] - 1)[None, :])
    return np.where(inside[None, :], vals, np.inf)
