"""The jump Hamiltonian and the optimal controls: the model's maths, written once.

Substituting ``u = x + v_q(t, s)`` into the HJB equation (paper eqs. 1, 11, 25) leaves, for
each side, the pointwise maximisation ::

    sup_δ  A e^{−k(z+δ)} (δ − α − p)

where ``p`` is the *marginal inventory value* of the side, measured from the mid-price:

* ask side (a fill lowers ``q``):  ``p⁺ = v_q − v_{q−1} − s``,
* bid side (a fill raises ``q``):  ``p⁻ = v_q − v_{q+1} + s``.

The maximiser and the maximum are (paper eq. 3 with costs, eq. 26 at ε = 0) ::

    δ*  = 1/k + α + p                                   (optimal_quote)
    H   = A/(e k) · exp(−k (z + α + p))                 (side_hamiltonian)
    λ*  = A e^{−k(z+δ*)} = k H = −∂H/∂p                 (optimal_intensity)

Writing ``v_q = q (s + Δ) + h_q`` with ``Δ = E_{t,s}[S_T] − s`` gives
``p⁺ = Δ + h_q − h_{q−1}`` and ``p⁻ = −Δ + h_q − h_{q+1}``: every solver, simulator and test
builds its quotes through these functions.

The functions are plain arithmetic on numpy arrays and are also compiled by numba (the
``*_nb`` names) for use inside kernels, so the formula exists exactly once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["optimal_quote", "side_hamiltonian", "hamiltonian_scale", "opposite_sides", "optimal_intensity", "fill_intensity",
           "ask_marginal", "bid_marginal"]

_E = float(np.e)


def optimal_quote(p, k, alpha):
    """Optimal half-spread ``δ* = 1/k + α + p`` (paper eqs. 3, 13, 26).

    Parameters
    ----------
    p : array_like
        Marginal inventory value of the side (``p⁺`` or ``p⁻``, see module docstring).
    k, alpha : float
        Intensity decay and transaction cost.
    """
    return 1.0 / k + alpha + p


def hamiltonian_scale(A, k, z, alpha):
    """``H(0) = A/(e k) · exp(−k(z + α))``, the maximised jump term at zero marginal value."""
    return A / (_E * k) * np.exp(-k * (z + alpha))


def side_hamiltonian(p, A, k, z, alpha):
    """Maximised jump term of one side, ``A/(e k) · exp(−k(z + α + p))`` (paper eq. 4)."""
    return hamiltonian_scale(A, k, z, alpha) * np.exp(-k * p)


def opposite_sides(scale, k, p):
    """``(H(p), H(−p))`` from one exponential, with ``scale = H(0)`` (:func:`hamiltonian_scale`).

    Across an inventory edge the ask marginal of ``q`` and the bid marginal of ``q − 1`` are
    opposite (``p⁺_q = −p⁻_{q−1}``), so the kernels get both sides' terms for one ``exp``.
    """
    e = np.exp(-k * p)
    return scale * e, scale / e


def optimal_intensity(p, A, k, z, alpha):
    """Fill intensity at the optimal quote, ``λ* = A e^{−1} e^{−k(z+α+p)} = k · H``."""
    return A / _E * np.exp(-k * (z + alpha + p))


def fill_intensity(delta, A, k, z):
    """Poisson fill intensity ``A e^{−k(z+δ)}`` of a quote at distance ``δ`` from the mid."""
    return A * np.exp(-k * (z + delta))


def ask_marginal(h_q, h_qm1, Delta):
    """``p⁺ = Δ + h_q − h_{q−1}`` in the reduced variables ``v_q = q(s+Δ) + h_q``."""
    return Delta + h_q - h_qm1


def bid_marginal(h_q, h_qp1, Delta):
    """``p⁻ = −Δ + h_q − h_{q+1}`` in the reduced variables ``v_q = q(s+Δ) + h_q``."""
    return -Delta + h_q - h_qp1


# Compiled twins of the same source (scalars or arrays inside numba kernels).
optimal_quote_nb = njit(cache=True, error_model="numpy")(optimal_quote)
hamiltonian_scale_nb = njit(cache=True, error_model="numpy")(hamiltonian_scale)
side_hamiltonian_nb = njit(cache=True, error_model="numpy")(side_hamiltonian)
opposite_sides_nb = njit(cache=True, inline="always", error_model="numpy")(opposite_sides)
optimal_intensity_nb = njit(cache=True, error_model="numpy")(optimal_intensity)
fill_intensity_nb = njit(cache=True, error_model="numpy")(fill_intensity)
ask_marginal_nb = njit(cache=True, error_model="numpy")(ask_marginal)
bid_marginal_nb = njit(cache=True, error_model="numpy")(bid_marginal)
