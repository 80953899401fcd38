"""Analysis helpers of the validation suite: slopes, error-map regions, the collapse variable.

Pure functions on arrays (tested in ``tests/test_validation.py`` on synthetic data with known
answers); the sections of :mod:`hjbsolve.validation.suite` call them on measured errors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["local_slopes", "SlopeFit", "fit_slope", "region_boundary", "collapse_variable",
           "observed_orders", "richardson"]


# ---------------------------------------------------------------------------- slopes
def local_slopes(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Local log-log slopes ``d log y / d log x`` between consecutive points.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Positive abscissae (strictly increasing) and positive values.

    Returns
    -------
    x_mid : ndarray, shape (n − 1,)
        Geometric midpoints ``sqrt(x_i x_{i+1})``.
    slope : ndarray, shape (n − 1,)
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be 1-d arrays of the same length >= 2")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive for log-log slopes")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    lx, ly = np.log(x), np.log(y)
    return np.exp(0.5 * (lx[1:] + lx[:-1])), np.diff(ly) / np.diff(lx)


@dataclass(frozen=True)
class SlopeFit:
    """A log-log fit ``y ≈ C x^slope`` over the range where the local slope has settled.

    Attributes
    ----------
    slope : float
        Least-squares slope over ``[x_lo, x_hi]``.
    x_lo, x_hi : float
        The fit range (grid points).
    n_points : int
    prefactor : float
        ``C``.
    spread : float
        ``max − min`` of the local slopes inside the range.
    local_x, local_slope : tuple of float
        All local slopes (for the report).
    """

    slope: float
    x_lo: float
    x_hi: float
    n_points: int
    prefactor: float
    spread: float
    local_x: tuple
    local_slope: tuple

    def to_dict(self) -> dict:
        d = asdict(self)
        d["local_x"] = list(self.local_x)
        d["local_slope"] = list(self.local_slope)
        return d


def fit_slope(x, y, *, tol: float = 0.1, min_points: int = 3, floor: float = 0.0) -> SlopeFit:
    """Fit the log-log slope of ``y(x)`` where the local slope has settled.

    The asymptotic regime of an expansion error is at small ``x``, but only below some
    ``x`` that is not known in advance (and a precision floor may spoil the smallest values).
    The fit range is therefore chosen from the data: starting from the smallest usable ``x``,
    the first run of at least ``min_points`` consecutive points whose local slopes all lie
    within ``tol`` of each other (``max − min <= tol``), extended towards larger ``x`` as long
    as they still do. The slope is the least-squares fit of ``log y`` against ``log x`` over
    that run.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Increasing positive abscissae, positive values.
    tol : float
        Allowed spread of the local slopes inside the fit range.
    min_points : int
        At least this many points (``>= 2``) in the range.
    floor : float
        Points with ``y <= floor`` (below the reference's accuracy) are dropped first.

    Returns
    -------
    SlopeFit

    Raises
    ------
    ValueError
        Fewer than ``min_points`` usable points, or no run of ``min_points`` points whose local
        slopes settle within ``tol``.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (y > floor) & (x > 0)
    x, y = x[keep], y[keep]
    if min_points < 2:
        raise ValueError(f"min_points must be >= 2, got {min_points}")
    if x.size < min_points:
        raise ValueError(f"need at least {min_points} usable points, got {x.size}")
    xm, sl = local_slopes(x, y)
    n = x.size
    best = None
    for i in range(n):
        lo = hi = None
        for j in range(i + min_points - 1, n):
            seg = sl[i:j]                      # slopes between points i..j
            if seg.max() - seg.min() > tol:
                break
            lo, hi = i, j
        if lo is not None:
            best = (lo, hi)
            break
    if best is None:
        raise ValueError(f"no run of {min_points} points whose local slopes agree within tol={tol}: "
                         f"local slopes {np.round(sl, 3).tolist()}")
    i, j = best
    lx, ly = np.log(x[i:j + 1]), np.log(y[i:j + 1])
    slope, icpt = np.polyfit(lx, ly, 1)
    seg = sl[i:j]
    return SlopeFit(float(slope), float(x[i]), float(x[j]), int(j - i + 1), float(math.exp(icpt)),
                    float(seg.max() - seg.min()), tuple(map(float, xm)), tuple(map(float, sl)))


def observed_orders(h, err) -> np.ndarray:
    """Observed convergence orders ``log(e_i / e_{i+1}) / log(h_i / h_{i+1})`` (steps ``h`` decreasing)."""
    h = np.asarray(h, float)
    err = np.asarray(err, float)
    return np.log(err[:-1] / err[1:]) / np.log(h[:-1] / h[1:])


def richardson(coarse, fine, ratio: float = 2.0, order: float = 2.0):
    """Richardson extrapolation of a quantity computed at step ``h`` and ``h/ratio``.

    Returns ``(extrapolated, error_estimate_of_fine)`` with the error estimate
    ``|fine − coarse| / (ratio^order − 1)``.
    """
    coarse, fine = np.asarray(coarse, float), np.asarray(fine, float)
    f = ratio**order - 1.0
    return fine + (fine - coarse) / f, np.abs(fine - coarse) / f


# ---------------------------------------------------------------------------- error maps
def region_boundary(eps, err, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """For each row of an error map, the largest ε below which the error stays under a threshold.

    Parameters
    ----------
    eps : array_like, shape (n_eps,)
        Increasing positive ε grid.
    err : array_like, shape (n_rows, n_eps)
        Errors (any non-negative measure) on the grid; one row per value of the other
        variable (an inventory, a horizon).
    threshold : float
        Error level (e.g. 0.01 for 1 %).

    Returns
    -------
    eps_star : ndarray, shape (n_rows,)
        ``ε*`` such that ``err <= threshold`` for every grid ε below it (the region connected
        to small ε). The crossing between the last good and the first bad grid point is
        located by linear interpolation of ``log err`` in ``log ε`` (exact for a power law).
        If the whole row is within the threshold: ``eps[-1]``; if already the first point is
        not: ``eps[0]``.
    status : ndarray of int, shape (n_rows,)
        ``0`` crossing inside the grid, ``+1`` the whole row is within (ε* is a lower bound),
        ``−1`` no grid point is within (ε* is an upper bound).
    """
    eps = np.asarray(eps, float)
    err = np.atleast_2d(np.asarray(err, float))
    if err.shape[1] != eps.size:
        raise ValueError(f"err must have shape (n_rows, {eps.size}), got {err.shape}")
    if np.any(eps <= 0) or np.any(np.diff(eps) <= 0):
        raise ValueError("eps must be positive and strictly increasing")
    out = np.empty(err.shape[0])
    status = np.zeros(err.shape[0], dtype=int)
    for r, row in enumerate(err):
        bad = np.nonzero(~(row <= threshold))[0]
        if bad.size == 0:
            out[r], status[r] = eps[-1], 1
            continue
        j = bad[0]
        if j == 0:
            out[r], status[r] = eps[0], -1
            continue
        e0, e1 = row[j - 1], row[j]
        if e0 > 0 and np.isfinite(e1) and e1 > e0:
            w = (math.log(threshold) - math.log(e0)) / (math.log(e1) - math.log(e0))
            out[r] = math.exp(math.log(eps[j - 1]) + w * (math.log(eps[j]) - math.log(eps[j - 1])))
        else:
            out[r] = eps[j - 1]
    return out, status


# ---------------------------------------------------------------------------- the collapse variable
def collapse_variable(model, t=0.0, s=None, n_quad: int = 64):
    """The dimensionless size of the expansion's error: ``x = ε₂/ε₁`` of the inventory terms.

    Expanding the HJB system (paper eq. 25) to second order in ε with
    ``v_q = q (s + Δ) + h⁰ + ε h¹_q + ε² h²_q``, ``h¹_q = θ₀¹ + q θ₁¹ − q² π̃``, the
    second-order term of the jump part is
    ``(k² C_α / 2) [e^{−kΔ} (h¹_q − h¹_{q−1})² + e^{kΔ} (h¹_q − h¹_{q+1})²]``, whose ``q²``
    coefficient ``4 k² C_α cosh(kΔ) π̃²`` is the source of the ``q²`` coefficient of ``h²``::

        h²_q ∋ q² · 4 k² C_α ∫_t^T E_{t,s}[cosh(kΔ_ξ)] π̃(ξ)² dξ.

    Relative to the first-order coefficient ``−π̃(t)`` it is ``−x`` with ::

        x(t, s) = 4 k ε λ₀ ∫_t^T E_{t,s}[cosh(k Δ_ξ)] π̃(ξ)² dξ / π̃(t),    λ₀ = A e^{−1−k(z+α)} = k C_α.

    Reading: ``k ε π̃`` is the quote skew per unit of inventory in units of the natural
    spread ``1/k``; ``4 λ₀ cosh(kΔ) (T − t)`` is (twice) the number of fills still to come.
    For a Brownian price ``x = 4 k ε λ₀ ∫_t^T π̃² dξ / π̃(t)``, between ``(4/3) k ε π̃ λ₀ (T−t)``
    (running penalty dominant) and ``4 k ε π̃ λ₀ (T−t)`` (terminal penalty only).

    Parameters
    ----------
    model : hjbsolve.Model
    t : float
    s : float, optional
        Mid-price (OU; ignored for a Brownian price).
    n_quad : int
        Gauss–Legendre nodes (per panel) of the time integral.

    Returns
    -------
    float
    """
    from hjbsolve.expansion import _delta_law, _unit_rule

    m = model
    T = m.T
    t = float(t)
    if not 0.0 <= t < T:
        if math.isclose(t, T):
            return 0.0
        raise ValueError(f"t must lie in [0, T={T}], got {t}")
    lam = getattr(m.price, "a", 0.0) * (T - t)
    xn, wn = _unit_rule(lam, n_quad)
    xi = t + (T - t) * xn
    w = (T - t) * wn

    def pi(u):
        return m.eta * m.z + m.nu * m.sigma**2 * (T - u)

    s0 = 0.0 if (s is None or m.price.is_martingale) else float(s)
    mean, _, var = _delta_law(m, t, s0, xi)
    ecosh = np.cosh(m.k * mean) * np.exp(0.5 * m.k**2 * var)
    p_t = pi(t)
    if p_t <= 0:
        return 0.0
    return float(4.0 * m.k * m.eps * m.base_rate * np.sum(w * ecosh * pi(xi) ** 2) / p_t)
