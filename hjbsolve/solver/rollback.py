"""The one backward loop: from ``T`` down to ``0``, landing on every output time."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _kernels
from ._kernels import NonFiniteError
from .schemes import Scheme

__all__ = ["rollback", "NonFiniteError"]


def rollback(g_T: np.ndarray, t: np.ndarray, save: np.ndarray, operators: Sequence, scheme: Scheme,
             keep: tuple = (slice(None), slice(None)), bar=None) -> np.ndarray:
    """Integrate ``∂_τ g = Σ_m 𝓐_m(g)`` backward from ``t[-1]`` to ``t[0]``.

    Parameters
    ----------
    g_T : ndarray, shape (n_rows, n_cells)
        Terminal reduced value.
    t : ndarray, shape (N+1,)
        Increasing time nodes.
    save : ndarray of bool, shape (N+1,)
        Nodes whose solution is returned.
    operators : sequence
        Objects with ``step(g, t_from, t_to) -> g`` (:mod:`hjbsolve.solver.operators`), composed
        by ``scheme``.
    scheme : Scheme
    keep : (slice, slice)
        Part of each saved array that is returned (rows, cells).
    bar : tqdm bar, optional
        Advanced by one per step.

    Returns
    -------
    ndarray, shape (save.sum(),) + g_T[keep].shape
        Snapshots at ``t[save]`` in increasing time order.

    Raises
    ------
    NonFiniteError
        A non-finite value at a saved node (checked there and at the end).
    """
    g = np.array(g_T, dtype=float, order="C", copy=True)
    out = np.empty((int(save.sum()),) + g[keep].shape)
    k = out.shape[0] - 1
    if save[-1]:
        out[k] = g[keep]
        k -= 1
    stages = scheme.stages(len(operators))
    for n in range(t.size - 1, 0, -1):
        t_hi, t_lo = t[n], t[n - 1]
        dt = t_hi - t_lo
        for m, f_from, f_to in stages:
            g = operators[m].step(g, t_lo + f_from * dt if f_from < 1.0 else t_hi,
                                  t_lo + f_to * dt if f_to > 0.0 else t_lo)
        if save[n - 1]:
            if not _kernels._all_finite(g):
                raise NonFiniteError(f"non-finite value at t={t_lo:.6g}")
            out[k] = g[keep]
            k -= 1
        if bar is not None:
            bar.update(1)
    if not _kernels._all_finite(out):
        raise NonFiniteError("non-finite value in the solution")
    return out
