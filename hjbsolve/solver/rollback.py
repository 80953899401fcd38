"""The one backward loop: from ``T`` down to ``0``, landing on every output time."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from . import _kernels
from .schemes import Scheme

__all__ = ["rollback", "NonFiniteError"]


class NonFiniteError(FloatingPointError):
    """The solver produced a non-finite number (it raises instead of returning it)."""


def rollback(h_T: np.ndarray, t: np.ndarray, save: np.ndarray, propagator, jumps, scheme: Scheme,
             progress: bool = False) -> np.ndarray:
    """Integrate ``∂_τ h = 𝓛 h + 𝓙(t, h)`` backward from ``t[-1]`` to ``t[0]``.

    Parameters
    ----------
    h_T : ndarray, shape (n_s, n_q)
        Terminal reduced value.
    t : ndarray, shape (N+1,)
        Increasing time nodes.
    save : ndarray of bool, shape (N+1,)
        Nodes whose solution is returned.
    propagator : PricePropagator
    jumps : InventoryJumps
    scheme : Scheme
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    ndarray, shape (save.sum(), n_s, n_q)
        Snapshots at ``t[save]`` in increasing time order.
    """
    h = np.array(h_T, dtype=float, order="C", copy=True)
    out = np.empty((int(save.sum()),) + h.shape)
    k = out.shape[0] - 1
    if save[-1]:
        out[k] = h
        k -= 1
    N = t.size - 1
    strang = scheme.splitting == "strang"
    bar = tqdm(total=N, desc="hjbsolve: backward steps", disable=not progress, leave=False)
    for n in range(N, 0, -1):
        t_hi, t_lo = t[n], t[n - 1]
        dt = t_hi - t_lo
        if strang:
            # J(dt/2) P(dt) J(dt/2). Consecutive half jump steps are deliberately NOT merged
            # into one ROS2 step: measured at the paper's parameters, two ROS2 half steps are
            # ~3x more accurate than one full step for the same work (the ROS2 error
            # dominates the splitting error there).
            t_mid = 0.5 * (t_hi + t_lo)
            jumps.step(h, t_hi, t_mid)
            h = propagator.apply(h, dt)
            jumps.step(h, t_mid, t_lo)
        else:
            h = propagator.apply(h, dt)
            jumps.step(h, t_hi, t_lo)
        if save[n - 1]:
            if not _kernels._all_finite(h):
                raise NonFiniteError(
                    f"non-finite value at t={t_lo:.6g}: the problem is too stiff or overflows for this grid "
                    "(try more time steps, a smaller q_max, or check the parameters)")
            out[k] = h
            k -= 1
        bar.update(1)
    bar.close()
    if not _kernels._all_finite(out):
        raise NonFiniteError("non-finite value in the solution")
    return out
