"""The jump Hamiltonian and the optimal controls: the model's maths, written once.

Substituting ``u = x + v_q(t, s)`` into the HJB equation (paper eqs. 1, 11, 25) leaves, for
each side, the pointwise maximisation ::

    sup_δ  λ(δ) (δ − α − p),        λ(δ) = A e^{−k(z+δ)} = exp(ℓ − k δ),   ℓ = log(A e^{−kz})

where ``p`` is the *marginal inventory value* of the side, measured from the mid-price:

* ask side (a fill lowers ``q``):  ``p⁺ = v_q − v_{q−1} − s``,
* bid side (a fill raises ``q``):  ``p⁻ = v_q − v_{q+1} + s``.

The maximiser and the maximum are (paper eq. 3 with costs, eq. 26 at ε = 0) ::

    δ*  = o + α + p,        o = 1/k (the quote offset)             (optimal_quote)
    λ*  = λ(δ*) = exp(ℓ − k(o + α + p))                             (optimal_intensity)
    H   = λ* (δ* − α − p) = o λ*,       ∂H/∂p = −λ*                 (side_hamiltonian)

Each side has its own ``(ℓ, k, α, o)`` (:class:`hjbsolve.coefficients.MarketCoefficients`
holds them per state and side). Writing ``v_q = q (s + Δ) + h_q`` with
``Δ = E_{t,s}[S_T] − s`` gives ``p⁺ = Δ + h_q − h_{q−1}`` and ``p⁻ = −Δ + h_q − h_{q+1}``
(:func:`ask_marginal`, :func:`bid_marginal`). Every solver, simulator and closed form builds
its quotes through :func:`quotes_from_values`.

The intensities are computed from the log-intensity ``ℓ``: ``A`` up to 1e308 and ``k z`` of
any size (prices in small units) do not overflow.

The functions are plain arithmetic on numpy arrays and are also compiled by numba (the
``*_nb`` names) for use inside kernels, so each formula exists exactly once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .grid import ask_quoted, bid_quoted

__all__ = ["optimal_quote", "optimal_intensity", "side_hamiltonian", "fill_intensity", "fixed_side_term",
           "ask_marginal", "bid_marginal", "quotes_from_values"]


def fill_intensity(delta, log_rate, k):
    """Poisson fill intensity ``exp(ℓ − k δ) = A e^{−k(z+δ)}`` of a quote at distance ``δ``."""
    return np.exp(log_rate - k * delta)


def optimal_quote(p, alpha, offset):
    """Optimal half-spread ``δ* = o + α + p`` (paper eqs. 3, 13, 26; ``o = 1/k``).

    Parameters
    ----------
    p : array_like
        Marginal inventory value of the side (``p⁺`` or ``p⁻``, see module docstring).
    alpha, offset : float
        Transaction cost and quote offset ``1/k``.
    """
    return offset + alpha + p


def optimal_intensity(p, log_rate, k, alpha, offset):
    """Fill intensity at the optimal quote, ``λ* = exp(ℓ − k(o + α + p))``."""
    return np.exp(log_rate - k * (offset + alpha + p))


def side_hamiltonian(p, log_rate, k, alpha, offset):
    """Maximised jump term of one side, ``H(p) = o λ*(p)`` (paper eq. 4); ``∂H/∂p = −λ*``."""
    return offset * optimal_intensity(p, log_rate, k, alpha, offset)


def fixed_side_term(p, delta, log_rate, k, alpha):
    """Jump term ``λ(δ)(δ − α − p)`` of a side quoted at ``δ`` and its derivative ``−λ(δ)`` in ``p``.

    An unquoted side (``δ = +inf``) contributes nothing.
    """
    delta = np.asarray(delta, dtype=float)
    quoted = np.isfinite(delta)
    d = np.where(quoted, delta, 0.0)
    with np.errstate(over="ignore"):
        lam = np.where(quoted, fill_intensity(d, log_rate, k), 0.0)
    return np.where(quoted, lam * (d - alpha - p), 0.0), -lam


def ask_marginal(h_q, h_qm1, Delta):
    """``p⁺ = Δ + h_q − h_{q−1}`` in the reduced variables ``v_q = q(s+Δ) + h_q``."""
    return Delta + h_q - h_qm1


def bid_marginal(h_q, h_qp1, Delta):
    """``p⁻ = −Δ + h_q − h_{q+1}`` in the reduced variables ``v_q = q(s+Δ) + h_q``."""
    return -Delta + h_q - h_qp1


def quotes_from_values(h_q, h_dn, h_up, j, n, Delta, ask_side, bid_side):
    """The one quote assembly: optimal ``(δ⁺, δ⁻)`` from reduced values at ``q`` and its neighbours.

    Parameters
    ----------
    h_q, h_dn, h_up : array_like
        Reduced values at ``q``, ``q − 1`` and ``q + 1`` (``h_dn``/``h_up`` are ignored where the
        side is not quoted).
    j, n : array_like of int, int
        Index of ``q`` on its inventory axis and the axis length (the limit rule,
        :func:`hjbsolve.grid.ask_quoted`).
    Delta : array_like
        ``Δ`` of the reduced variables (0 for ``v = q s + g``).
    ask_side, bid_side : tuple
        ``(α, o)`` of each side.

    Returns
    -------
    ask, bid : ndarray
        ``+inf`` where the side is not quoted.
    """
    ask = optimal_quote(ask_marginal(h_q, h_dn, Delta), *ask_side)
    bid = optimal_quote(bid_marginal(h_q, h_up, Delta), *bid_side)
    return np.where(ask_quoted(j, n), ask, np.inf), np.where(bid_quoted(j, n), bid, np.inf)


# Compiled twins of the same source (scalars inside numba kernels).
_jit = njit(cache=True, inline="always", error_model="numpy")
fill_intensity_nb = _jit(fill_intensity)
optimal_quote_nb = _jit(optimal_quote)
optimal_intensity_nb = _jit(optimal_intensity)
ask_marginal_nb = _jit(ask_marginal)
bid_marginal_nb = _jit(bid_marginal)


@njit(cache=True, inline="always", error_model="numpy")
def fixed_side_term_nb(p, delta, log_rate, k, alpha):
    """Compiled :func:`fixed_side_term` for scalars."""
    if not np.isfinite(delta):
        return 0.0, 0.0
    lam = fill_intensity_nb(delta, log_rate, k)
    return lam * (delta - alpha - p), -lam
