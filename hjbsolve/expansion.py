"""The paper's closed forms: the exact zero-penalty solution and the first-order expansion.

Fodra & Labadie (2013), §2.4 (eq. 9), §3.4–3.6 (eqs. 16–24) and §3.8 (eq. 26), generalised to
per-side intensities ``A± e^{−k±(z+δ±)}`` (the paper's §2.5 remark), to any mid-price of
:mod:`hjbsolve.prices` (Brownian with a constant drift, Ornstein–Uhlenbeck) and to penalties
``φ``, ``ϖ`` set directly. Re-derived from the HJB equation (eqs. 11, 25) with the project's
sign conventions; the full derivation, with every step checkable, is in
``validation/DERIVATIONS.md`` and the places where the paper's printed formulas differ are in
``validation/ERRATA.md``.

The formulas in one screen
--------------------------
Write ``v_q(t, s) = q (s + Δ) + h_q(t, s)`` with ``Δ(t, s) = E_{t,s}[S_T] − s``. Since
``(∂_t + L)(s + Δ) = 0``, eq. (25) becomes, with the side constants ::

    C± = A± e^{−k±(z+α)} / (e k±)          (= hamiltonian.side_hamiltonian at p = 0)
    a±(Δ) = k± C± e^{∓k± Δ}                 (the optimal fill rates of the ε = 0 quotes)

    (∂_t + L) h_q + C⁺ e^{−k⁺(Δ + h_q − h_{q−1})} + C⁻ e^{−k⁻(−Δ + h_q − h_{q+1})} = φ q²,
    h_q(T, s) = −ϖ q².

* **Order 0** (``φ = ϖ = 0``: exact; eqs. 9, 16): ``h`` does not depend on ``q`` and ::

      h⁰(t, s) = ∫_t^T E_{t,s}[C⁺ e^{−k⁺Δ_ξ} + C⁻ e^{k⁻Δ_ξ}] dξ,      δ± = 1/k± + α ± Δ.

* **Order 1** (eqs. 17–20): with ``ε̂ π̃(t) = ϖ + φ (T − t)`` (``= model.pi_eps(t)``; ``ε̂ = ε``
  and ``π̃ = ηz + νσ²(T − t)`` for the paper's penalties, eq. 24) and
  ``h_q = h⁰ + ε̂ (θ₀ + q θ₁ + q² θ₂) + O(ε̂²)``::

      θ₂(t)    = −π̃(t)                                                         (18)
      θ₁(t, s) = ∫_t^T E_{t,s}[2 (a⁺ − a⁻)(Δ_ξ)] π̃(ξ) dξ  = −E∫ H π̃ dξ,         (19)
      θ₀(t, s) = ∫_t^T E_{t,s}[−(a⁺ − a⁻) θ₁ − (a⁺ + a⁻) π̃](ξ) dξ,              (20)

  ``H = 2 (a⁻ − a⁺)`` (symmetric: ``4kC sinh(kΔ)``, the paper's ``H(α)`` of §3.8). The quotes
  (eq. 26) are ``δ± = 1/k± + α + p±`` with ``p⁺ = Δ + ε̂[θ₁ + (1 − 2q) π̃]`` and
  ``p⁻ = −Δ + ε̂[−θ₁ + (1 + 2q) π̃]``; spread ``ψ = 1/k⁺ + 1/k⁻ + 2α + 2ε̂π̃`` (eq. 22),
  centre ``r = s + Δ + (1/k⁺ − 1/k⁻)/2 + ε̂(θ₁ − 2qπ̃)`` (eq. 23). The paper's symmetric
  formulas are the case ``A⁺ = A⁻``, ``k⁺ = k⁻``.

Cancellation-free Gaussian closed forms
---------------------------------------
A pair of opposite exponentials is written ``P e^{−k⁺X} + M e^{k⁻X} = 2g e^{βX} cosh(k̄X + ℓ)``
and ``M e^{k⁻X} − P e^{−k⁺X} = 2g e^{βX} sinh(k̄X + ℓ)`` with ``g = √(PM)``,
``ℓ = ½ log(M/P)``, ``k̄ = (k⁺ + k⁻)/2``, ``β = (k⁻ − k⁺)/2`` (:class:`_Pair`; ``(P, M) =
(C⁺, C⁻)`` for ``h⁰`` and ``(u, w) = (k⁺C⁺, k⁻C⁻)`` for the rates, so that
``a⁺ − a⁻ = −2√(uw) e^{βΔ} sinh(k̄Δ + ℓ)``). ``Δ_ξ = Δ(ξ, S_ξ)`` given ``S_t = s`` is Gaussian
(:meth:`hjbsolve.prices.Brownian.delta_law`: mean ``m``, variance ``v``; for ``ξ ≤ u``,
``Cov(Δ_ξ, Δ_u) = c_ξ c_u Var(S_ξ) e^{−a(u−ξ)}``). Exponential tilting,
``E[e^{βX} f(X)] = e^{βm + β²v/2} E f(X')`` with ``X' ~ N(m + βv, v)`` (and, for a pair,
means shifted by ``β(v_X + c)``, ``β(v_Y + c)``), reduces everything to ::

    E cosh X = cosh(m) e^{v/2},     E sinh X = sinh(m) e^{v/2},
    E[sinh X sinh Y] = e^{(v_X+v_Y)/2} [cosh m_X cosh m_Y sinh c + sinh m_X sinh m_Y cosh c],

the last written without the cancellation of ``½(E cosh(X+Y) − E cosh(X−Y))``. By the tower
property ``E_{t,s}[θ₁(ξ, S_ξ)(a⁺ − a⁻)(Δ_ξ)] = 2∫_ξ^T π̃(u) E[(a⁺−a⁻)(Δ_ξ)(a⁺−a⁻)(Δ_u)] du``,
so ``θ₀`` is a double integral over ``t ≤ ξ ≤ u ≤ T`` of closed-form integrands. The time
integrals use a composite Gauss–Legendre rule on ``[t, T]`` (fixed nodes in the reduced
variable ``(ξ − t)/(T − t)``, so a whole ``(t, s)`` grid is one vectorised evaluation), graded
towards both ends when ``a T`` (OU) or ``max(k±)|b| T`` (drifted Brownian) is large.

A martingale Brownian price (``Δ ≡ 0``) has closed-form time integrals (the fast path): with
``τ = T − t``, ``P(t) = ∫_t^T π̃ = π̃₀τ + π̃₁τ²/2`` (``π̃ = π̃₀ + π̃₁(T − t)``)::

    h⁰ = (C⁺ + C⁻) τ,     θ₁ = 2(u − w) P(t),
    θ₀ = −(u + w) P(t) − 2(u − w)² (π̃₀τ²/2 + π̃₁τ³/6).

A drifted Brownian price (``Δ = b(T − ξ)``, deterministic) goes through the general path with
zero variances.

A regime chain (``model.regimes``, generator ``Q``)
---------------------------------------------------
Every piece becomes a vector over the regimes (leading axis of the private pieces), with regime
``r``'s ``C±_r``, ``k±_r``, ``α_r``, ``π̃₀_r = ϖ_r/ε̂``, ``π̃₁_r = φ_r/ε̂``, coupled by the chain's
transition matrices ``P(τ) = e^{Qτ}`` (:meth:`hjbsolve.regimes.Regimes.transition`)::

    π̃(t, r) = E_r[π̃₀(R_T)] + E_r ∫_t^T π̃₁(R_ξ) dξ          (Regimes.expectation, eqs. 18, 24)
    h⁰(t, s, r) = ∫_t^T Σ_j P_rj(ξ − t) E[C⁺_j e^{−k⁺_jΔ_ξ} + C⁻_j e^{k⁻_jΔ_ξ}] dξ, and so on,

and ``θ₀``'s double integral carries ``P_rj(ξ − t) P_jl(u − ξ)``. The factorisation needs the
price independent of the regime: a Brownian price (its ``Δ`` does not involve σ) or an OU price
with one σ in every regime (otherwise ``ValueError``). A martingale price is one block matrix
exponential (:meth:`Expansion._martingale_chain`). Derivation: ``validation/DERIVATIONS.md`` §8.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from ._validation import check_int
from .hamiltonian import ask_marginal, bid_marginal, optimal_quote, side_hamiltonian
from .model import Model
from .policies import TabulatedPolicy
from .regimes import resolve_regime

__all__ = ["expansion", "Expansion", "MultiAssetExpansion", "ORDERS", "DEFAULT_N_QUAD"]

#: Orders of the expansion that are implemented: 0 (exact at zero penalty) and 1 (first order).
ORDERS = (0, 1)

#: Gauss–Legendre nodes per panel of the time quadrature (see :func:`_unit_rule`).
DEFAULT_N_QUAD = 48
#: Most nodes per panel accepted (the cost grows like ``n_quad²`` per evaluation point).
MAX_N_QUAD = 400

# Above this value of the rate λ (a·T, or max(k±)|b|·T) the unit interval is split into graded panels.
_GRADING_THRESHOLD = 2.0
# The chain's jump rate counts 1/25 in the grading rate (see _rule_rate).
_CHAIN_RATE_DIVISOR = 25.0
# Bound on the number of (point, node, node) triples held at once by the θ₀ double integral.
_CHUNK_ELEMENTS = 2_000_000


# ---------------------------------------------------------------------------- quadrature
def _unit_rule(lam: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on ``[0, 1]``.

    Parameters
    ----------
    lam : float
        Rate of the integrands in the reduced variable (``a T`` for an OU price, whose
        integrands have layers of width ``1/lam`` at both ends; ``max(k±)|b| T`` for a drifted
        Brownian price, whose integrands are ``e^{±k± b (T−ξ)}`` times polynomials). For
        ``lam <= 2`` one panel is used; otherwise panels
        ``[0, 1/lam], [1/lam, 2/lam], [2/lam, 4/lam], … , [·, 1/2]`` and their mirror images.
    n : int
        Nodes per panel.

    Returns
    -------
    x, w : ndarray, shape (n_panels · n,)
        Nodes (increasing) and weights (summing to 1).
    """
    if lam <= _GRADING_THRESHOLD:
        edges = np.array([0.0, 1.0])
    else:
        left = [0.0]
        h = 1.0 / lam
        while h < 0.5:
            left.append(h)
            h *= 2.0
        left.append(0.5)
        left = np.array(left)
        edges = np.concatenate([left, 1.0 - left[-2::-1]])
    x0, w0 = np.polynomial.legendre.leggauss(n)
    a, b = edges[:-1, None], edges[1:, None]
    x = (0.5 * (b - a) * (x0 + 1.0) + a).ravel()
    w = (0.5 * (b - a) * w0).ravel()
    return x, w


def _rule_rate(model: Model) -> float:
    """``λ`` of :func:`_unit_rule` for the model's price and regime chain (dimensionless): the
    price's rate, or the chain's if larger. The chain's transition matrices ``e^{Qτ}`` are smooth
    (entire) with transients ``e^{−|Q_rr|τ}``, which one 48-node panel integrates to rounding up to
    ``|Q_rr|T ≈ 50`` (error ``~ (λ/2)^{96}/96!``), so the chain counts ``max|Q_rr|·T / 25``."""
    chain = 0.0 if model.regimes is None else float(np.max(-np.diag(model.regimes.Q))) * model.T / _CHAIN_RATE_DIVISOR
    kmax = max(max(m.k_plus, m.k_minus) for m in model.regime_models())
    return max(_price_rate(model.price, kmax, model.T), chain)


def _price_rate(price, kmax: float, T: float) -> float:
    """The price's part of ``λ`` (:func:`_unit_rule`): ``a T`` for an OU price, ``k_max |b| T`` for a
    Brownian price with drift ``b`` (its integrands are ``e^{±k b (T − ξ)}``)."""
    a = price.mean_reversion
    if a > 0.0:
        return a * T
    return kmax * abs(float(price.drift_at(0.0))) * T


# ---------------------------------------------------------------------------- Gaussian moments
def _delta_law(model: Model, t, s, xi):
    """Law of ``Δ_ξ = Δ(ξ, S_ξ)`` given ``S_t = s``: ``(mean, slope, var)``, arrays broadcast
    (:meth:`hjbsolve.prices.Brownian.delta_law`; ``slope = var = 0`` for a Brownian price)."""
    return model.price.delta_law(t, s, xi, model.T)


def _e_cosh(m, v):
    """``E cosh X`` for ``X ~ N(m, v)``."""
    return np.cosh(m) * np.exp(0.5 * v)


def _e_sinh(m, v):
    """``E sinh X`` for ``X ~ N(m, v)``."""
    return np.sinh(m) * np.exp(0.5 * v)


def _e_sinh_sinh(mx, my, vx, vy, c):
    """``E[sinh X sinh Y]`` for jointly Gaussian ``X, Y`` (means, variances, covariance ``c``).

    Equal to ``½ (E cosh(X+Y) − E cosh(X−Y))``, rearranged as
    ``e^{(vx+vy)/2} (cosh mx cosh my sinh c + sinh mx sinh my cosh c)`` so that no cancellation
    occurs when ``c >= 0`` and ``mx my >= 0`` (always the case for ``kΔ_ξ, kΔ_u`` of a symmetric
    model with an OU price); otherwise the two terms have opposite signs only where the result
    itself is small compared with them.
    """
    return np.exp(0.5 * (vx + vy)) * (np.cosh(mx) * np.cosh(my) * np.sinh(c)
                                      + np.sinh(mx) * np.sinh(my) * np.cosh(c))


@dataclass(frozen=True)
class _Pair:
    """Two opposite exponentials ``P e^{−k⁺X}`` and ``M e^{k⁻X}`` in cancellation-free form.

    ``P e^{−k⁺X} + M e^{k⁻X} = 2g e^{βX} cosh(k̄X + ℓ)``, ``M e^{k⁻X} − P e^{−k⁺X} =
    2g e^{βX} sinh(k̄X + ℓ)`` with ``g = √(PM)``, ``ℓ = ½ log(M/P)``, ``k̄ = (k⁺ + k⁻)/2``,
    ``β = (k⁻ − k⁺)/2`` (expand the right-hand sides: ``β ± k̄ = k⁻, −k⁺``). For ``P = M`` and
    ``k⁺ = k⁻`` exactly: ``g = P``, ``ℓ = β = 0`` (set exactly, not computed), and every moment
    below is the symmetric ``2P cosh``/``sinh`` closed form up to the order of the floating-point
    operations.

    All moments are for Gaussian arguments; exponential tilting
    ``E[e^{βX} f(X)] = e^{βm + β²v/2} E[f(X')]``, ``X' ~ N(m + βv, v)``, moves the ``e^{βX}``
    into the mean.
    """

    g: float
    ell: float
    kbar: float
    beta: float

    @classmethod
    def of(cls, P: float, M: float, kp: float, km: float, log_P: float | None = None,
           log_M: float | None = None) -> "_Pair":
        """The pair for ``(P, M)``; pass ``log P``, ``log M`` when known (they stay finite when
        ``P`` or ``M`` underflows, e.g. for a large ``k z``)."""
        if P == M and kp == km:
            g, ell = P, 0.0
        else:
            lp = math.log(P) if log_P is None else log_P
            lm = math.log(M) if log_M is None else log_M
            g, ell = math.exp(0.5 * (lp + lm)), 0.5 * (lm - lp)
        return cls(g, ell, 0.5 * (kp + km), 0.5 * (km - kp))

    def _tilt(self, m, v):
        """``(log of the tilt factor e^{βm + (β² + k̄²)v/2}, k̄(m + βv) + ℓ)``."""
        b, kb = self.beta, self.kbar
        return b * m + 0.5 * (b * b + kb * kb) * v, kb * (m + b * v) + self.ell

    def cosh_at(self, x):
        """``P e^{−k⁺x} + M e^{k⁻x}`` at deterministic ``x``."""
        return 2.0 * self.g * np.exp(self.beta * x) * np.cosh(self.kbar * x + self.ell)

    def sinh_at(self, x):
        """``M e^{k⁻x} − P e^{−k⁺x}`` at deterministic ``x``."""
        return 2.0 * self.g * np.exp(self.beta * x) * np.sinh(self.kbar * x + self.ell)

    def e_cosh(self, m, v):
        """``E[P e^{−k⁺X} + M e^{k⁻X}]``, ``X ~ N(m, v)``."""
        lf, arg = self._tilt(m, v)
        return 2.0 * self.g * np.exp(lf) * np.cosh(arg)

    def e_sinh(self, m, v):
        """``E[M e^{k⁻X} − P e^{−k⁺X}]``, ``X ~ N(m, v)``."""
        lf, arg = self._tilt(m, v)
        return 2.0 * self.g * np.exp(lf) * np.sinh(arg)

    def e_sinh_sinh(self, mx, my, vx, vy, c, other: "_Pair | None" = None):
        """``E[(M e^{k⁻X} − P e^{−k⁺X})(M' e^{k'⁻Y} − P' e^{−k'⁺Y})]`` for jointly Gaussian ``X, Y``.

        The second factor is ``other``'s (default: this pair; a regime chain pairs the rates of
        two regimes). ``= 4gg' E[e^{βX + β'Y} sinh(k̄X + ℓ) sinh(k̄'Y + ℓ')]``; tilting by
        ``e^{βX + β'Y}`` multiplies by ``e^{βmx + β'my + (β²vx + β'²vy + 2ββ'c)/2}`` and shifts the
        means by ``βvx + β'c``, ``β'vy + βc`` (covariances unchanged), leaving
        :func:`_e_sinh_sinh` of ``k̄X' + ℓ, k̄'Y' + ℓ'`` (variances ``k̄²vx``, ``k̄'²vy``,
        covariance ``k̄k̄'c``). For ``other = self`` this is ``β(mx + my) + β²(vx + vy + 2c)/2``
        and shifts ``β(vx + c)``, ``β(vy + c)`` (DERIVATIONS §5.4, §8.4).
        """
        o = self if other is None else other
        bx, by, kx, ky = self.beta, o.beta, self.kbar, o.kbar
        lf = bx * mx + by * my + 0.5 * (bx * bx * vx + by * by * vy + 2.0 * bx * by * c)
        sx = kx * (mx + bx * vx + by * c) + self.ell
        sy = ky * (my + by * vy + bx * c) + o.ell
        return 4.0 * self.g * o.g * np.exp(lf) * _e_sinh_sinh(sx, sy, kx * kx * vx, ky * ky * vy, kx * ky * c)


def _side_pairs(log_rates, ks, alpha: float) -> tuple[tuple[float, float], _Pair, _Pair]:
    """The closed forms' constants of one market (a regime, or an asset).

    Parameters
    ----------
    log_rates : (float, float)
        ``log(A± e^{−k± z})`` of the ask and bid sides.
    ks : (float, float)
        ``(k⁺, k⁻)``.
    alpha : float
        Per-trade cost.

    Returns
    -------
    (C⁺, C⁻), fills, rates
        ``C± = A± e^{−k±(z+α)} / (e k±)`` (each side's Hamiltonian at zero marginal value,
        :func:`hjbsolve.hamiltonian.side_hamiltonian`); the :class:`_Pair` of ``(C⁺, C⁻)`` (for
        ``h⁰``) and of the zero-penalty fill rates ``(k⁺C⁺, k⁻C⁻)`` (for ``a±``), built from the
        logarithms ``log(k±C±) = log(A± e^{−k± z}) − 1 − k±α`` (finite where ``C±`` underflows).
    """
    cp, cm = (float(side_hamiltonian(0.0, lr, k, alpha, 1.0 / k)) for lr, k in zip(log_rates, ks))
    (kp, km), (lu, lw) = ks, (lr - 1.0 - k * alpha for lr, k in zip(log_rates, ks))
    return ((cp, cm), _Pair.of(cp, cm, kp, km, lu - math.log(kp), lw - math.log(km)),
            _Pair.of(kp * cp, km * cm, kp, km, lu, lw))


# ---------------------------------------------------------------------------- input checks
def _as_float_array(name, x):
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array, got {x!r}") from None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _check_t(t, T):
    """``t`` as a float array in ``[0, T]`` (values within 1e-12·T outside are clipped)."""
    t = _as_float_array("t", t)
    tol = 1e-12 * T
    if np.any(t < -tol) or np.any(t > T + tol):
        raise ValueError(f"t must lie in [0, T] = [0, {T}], got values in [{t.min()}, {t.max()}]")
    return np.clip(t, 0.0, T)


def _check_q(q):
    """Integer-valued inventories, returned as floats."""
    try:
        q = np.asarray(q)
    except ValueError:                        # ragged nested sequences
        raise ValueError(f"q must be an integer inventory (array) of a regular shape, got {q!r}") from None
    if q.dtype.kind not in "iuf":
        raise ValueError(f"q must be an integer inventory (array), got {q!r}")
    qf = q.astype(float)
    if not np.all(np.isfinite(qf)) or np.any(qf != np.round(qf)):
        raise ValueError("q must hold integer inventories")
    return qf


def _check_s(s, required):
    """Finite mid-prices; ``None`` allowed (as 0) when the answer does not depend on ``s``."""
    if s is None:
        if required:
            raise ValueError("s is required: the answer depends on the mid-price")
        return np.zeros(())
    return _as_float_array("s", s)


# ---------------------------------------------------------------------------- the expansion
def _check_arguments(ex, kind, kind_name: str) -> None:
    """Validate an expansion's ``model`` (an instance of ``kind``), ``order`` and ``n_quad`` in place."""
    if not isinstance(ex.model, kind):
        raise ValueError(f"model must be an hjbsolve.{kind_name}, got {type(ex.model).__name__}")
    order = check_int("order", ex.order)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    object.__setattr__(ex, "order", order)
    object.__setattr__(ex, "n_quad", check_int("n_quad", ex.n_quad, ge=2, le=MAX_N_QUAD))


@dataclass(frozen=True, eq=False)
class _ClosedForms:
    """The fields shared by :class:`Expansion` and :class:`MultiAssetExpansion`: the model, the
    order, the Gauss–Legendre nodes and the precomputed side, rate and penalty pieces."""

    model: object
    order: int = 1
    n_quad: int = DEFAULT_N_QUAD
    _x: np.ndarray = field(init=False, repr=False)
    _w: np.ndarray = field(init=False, repr=False)
    _fills: tuple = field(init=False, repr=False)
    _rates: tuple = field(init=False, repr=False)
    _sides: tuple = field(init=False, repr=False)
    _pen: tuple = field(init=False, repr=False)


@dataclass(frozen=True, eq=False)
class Expansion(_ClosedForms):
    """The paper's closed-form solution of one :class:`~hjbsolve.model.Model`, to a given order.

    Build it with :func:`expansion`. All methods broadcast their array arguments; ``t`` must
    lie in ``[0, T]``, ``q`` must be integer-valued. Units: quotes, centres and values in price
    units, ``t`` in the model's time unit.

    With a regime chain (``model.regimes``, generator ``Q``) every piece is a vector over the
    regimes, coupled through ``Q`` (``validation/DERIVATIONS.md`` §8): the queries take
    ``regime=`` (an index or a name), required when the chain has several states.

    Attributes
    ----------
    model : Model
        Any model: per-side intensities ``(A±, k±)``, Brownian (any drift) or OU price, the
        paper's penalties or ``φ``, ``ϖ`` set directly, a regime chain (with an OU price only if
        every regime has the same ``σ``: otherwise the law of ``Δ`` depends on the regime path
        and the Gaussian closed forms do not apply; ``ValueError``).
    order : int
        0: the exact zero-penalty solution (eq. 9, quotes ``1/k± + α ± Δ``, eq. 26 at ε = 0);
        1: the first-order expansion in the penalty size (eqs. 16–24 with the costs of eq. 26).
    n_quad : int
        Gauss–Legendre nodes per panel of the time integrals (unused for a martingale
        Brownian price, whose integrals are done in closed form).
    """

    model: Model

    def __post_init__(self):
        _check_arguments(self, Model, "Model")
        m = self.model
        models = m.regime_models()
        if m.price.depends_on_price and len({r.price for r in models}) > 1:
            raise ValueError(
                f"hs.expansion: with a {type(m.price).__name__} price the regimes must share one volatility (got "
                f"sigma={[r.price.sigma for r in models]}): the law of Δ = E[S_T] − s would depend on the regime "
                f"path and the closed forms' Gaussian expectations do not apply; use hs.solve(model), or a Brownian "
                f"price (whose Δ does not depend on σ)")
        if m.regimes is not None and m.regimes.n > 1:
            from .regimes import MAX_UNIFORM_ARG

            jumps = float(np.max(-np.diag(m.regimes.Q))) * m.T
            if jumps > MAX_UNIFORM_ARG / 2:
                raise ValueError(
                    f"hs.expansion: the regime chain makes about {jumps:.3g} jumps over T={m.T:g}; beyond "
                    f"{MAX_UNIFORM_ARG / 2:.0e} its exact expectations (matrix exponentials of the generator) lose "
                    f"accuracy in double precision: shorten T or slow the chain")
        x, w = _unit_rule(_rule_rate(m), self.n_quad)
        object.__setattr__(self, "_x", x)
        object.__setattr__(self, "_w", w)
        fills, rates, sides = [], [], []
        for r in models:                            # regime r: its own A±, k±, z, α
            side, fill, rate = _side_pairs(r.log_rates(), (r.k_plus, r.k_minus), r.alpha)
            fills.append(fill)
            rates.append(rate)
            sides.append(side)
        object.__setattr__(self, "_fills", tuple(fills))
        object.__setattr__(self, "_rates", tuple(rates))
        object.__setattr__(self, "_sides", tuple(sides))
        # π̃_r(t) = E_r[π̃₀(R_T)] + E_r∫_t^T π̃₁(R_ξ)dξ and the expansion parameter ε̂ (ε̂ π̃ = model.pi_eps
        # without a chain); π̃₀ = ϖ/ε̂, π̃₁ = φ/ε̂ per regime
        if m.phi is None and m.varpi is None:
            p0, p1, scale = [r.eta * r.z for r in models], [r.nu * r.sigma**2 for r in models], m.eps
        else:
            scale = m.eps if m.eps > 0.0 else 1.0
            p0, p1 = [r.terminal_penalty / scale for r in models], [r.running_penalty / scale for r in models]
        object.__setattr__(self, "_pen", (np.array(p0), np.array(p1), scale))

    # ------------------------------------------------------------------ constants
    @property
    def name(self) -> str:
        return f"expansion(order={self.order})"

    @property
    def n_regimes(self) -> int:
        """Number of regime states (1 without a chain)."""
        return len(self._rates)

    @property
    def _static(self) -> bool:
        """No regime ever changes (no chain, or a zero generator): ``P(τ) = I``."""
        return self.model.regimes is None or not np.any(self.model.regimes.Q)

    @property
    def _martingale(self) -> bool:
        """``Δ ≡ 0`` (a driftless Brownian price): the time integrals have closed forms."""
        return self.model.price.mean_reversion == 0.0 and float(self.model.price.drift_at(0.0)) == 0.0

    def _regime(self, regime) -> int:
        """Index of a query's regime (0 without a chain)."""
        r = resolve_regime(self.model.regimes, regime)
        return 0 if r is None else r

    @property
    def side_constants(self) -> tuple[float, float]:
        """``(C⁺, C⁻)``, ``C± = A± e^{−k±(z+α)} / (e k±)``: each side's Hamiltonian at zero
        marginal value (price units per time unit). With a chain of several regimes: a pair of
        arrays of shape ``(n_regimes,)``, regime ``r``'s constants at index ``r``."""
        if self.n_regimes == 1:
            return self._sides[0]
        return tuple(np.array(c) for c in zip(*self._sides))

    @property
    def c_alpha(self) -> float:
        """``C_α = A e^{−k(z+α)} / (e k)`` of a symmetric model without regimes (use
        :attr:`side_constants` otherwise).

        Raises
        ------
        ValueError
            The model has different intensities on the two sides, or several regimes.
        """
        if self.n_regimes > 1:
            raise ValueError("c_alpha is defined for a model without regimes; use side_constants (per regime)")
        cp, cm = self._sides[0]
        if cp != cm or self.model.k_plus != self.model.k_minus:
            raise ValueError("c_alpha is defined for a symmetric model only (A⁺ = A⁻, k⁺ = k⁻); "
                             "use side_constants for (C⁺, C⁻)")
        return cp

    @property
    def scale(self) -> float:
        """The expansion parameter ``ε̂`` (dimensionless), with ``ε̂ π̃(t) = model.pi_eps(t)``.

        ``ε`` for the paper's penalties (``π̃ = ηz + νσ²(T − t)``, eq. 24); for penalties set
        directly also ``ε`` when ``ε > 0`` (``π̃ = model.pi_eps / ε``), else 1
        (``π̃ = model.pi_eps``). Order 1 is exact to first order in ``ε̂`` at fixed ``π̃``.
        """
        return self._pen[2]

    def pi_tilde(self, t, regime=None):
        """Unitary inventory penalty ``π̃(t) = π̃₀ + π̃₁ (T − t)`` (eq. 24; ``θ₂ = −π̃``, eq. 18).

        For the paper's penalties ``π̃₀ = η z``, ``π̃₁ = ν σ²``; in general
        ``π̃ = model.pi_eps(t) / scale`` (price units per unit inventory squared). With a regime
        chain, regime ``r``'s ``π̃_r(t) = η E_r[Z(T)] + ν E_r[∫_t^T Σ²(ξ) dξ]`` (eq. 24 with the
        expectations over the chain, :meth:`hjbsolve.regimes.Regimes.expectation`).
        """
        return self._pi(np.asarray(t, dtype=float))[self._regime(regime)]

    def _pi(self, t):
        """``π̃`` of every regime: shape ``(n_regimes,) + t.shape``."""
        p0, p1, _ = self._pen
        tau = self.model.T - t
        if self._static:
            return p0.reshape((-1,) + (1,) * tau.ndim) + p1.reshape((-1,) + (1,) * tau.ndim) * tau
        return np.moveaxis(self.model.regimes.expectation(np.maximum(tau, 0.0), p0, p1), -1, 0)

    def _along_chain(self, tau, f):
        """``Σ_j P_rj(τ) f_j``: ``E_r[f_{R_{t+τ}}]`` for per-regime values ``f`` of shape
        ``(n, ...)`` at elapsed times ``τ`` (shape ``...``); ``f`` itself when no regime changes."""
        if self._static:
            return f
        P = np.moveaxis(self.model.regimes.transition(tau), (-2, -1), (0, 1))      # (r, j, ...)
        return np.sum(P * f[None], axis=1)

    def _nodes(self, t):
        """Nodes ``ξ`` on ``[t, T]`` and weights: shapes ``t.shape + (n,)``."""
        tau = (self.model.T - t)[..., None]
        return t[..., None] + tau * self._x, tau * self._w

    def _each(self, pairs, method, *args):
        """``pair.method(*args)`` for every regime's pair, stacked: shape ``(n_regimes,) + ...``."""
        return np.stack([getattr(p, method)(*args) for p in pairs])

    def _column(self, values, ndim):
        """Per-regime ``values`` shaped ``(n_regimes,) + (1,)*ndim`` to broadcast against a time array."""
        return np.asarray(values, dtype=float).reshape((-1,) + (1,) * ndim)

    # ------------------------------------------------------------------ the pieces (regime axis first)
    def _martingale_chain(self, t):
        """``(h⁰, θ₁, θ₀)`` of a driftless Brownian price with a regime chain (``Δ ≡ 0``), each of
        shape ``(n,) + t.shape``: one matrix exponential of the linear system in ``τ = T − t``
        (DERIVATIONS §8.3) ::

            d/dτ [h⁰, π̃, θ₁, θ₀, 1] = [[Q, 0, 0, 0, F], [0, Q, 0, 0, π̃₁], [0, −2D, Q, 0, 0],
                                       [0, −S, D, Q, 0], [0, 0, 0, 0, 0]] [h⁰, π̃, θ₁, θ₀, 1],

        from ``[0, π̃₀, 0, 0, 1]``, with ``F = C⁺ + C⁻``, ``D = diag(a⁻ − a⁺)``, ``S = diag(a⁺ + a⁻)``.
        """
        n, Q = self.n_regimes, self.model.regimes.Q
        p0, p1, _ = self._pen
        D = np.diag([p.sinh_at(0.0) for p in self._rates])
        S = np.diag([p.cosh_at(0.0) for p in self._rates])
        M = np.zeros((4 * n + 1, 4 * n + 1))
        for i in range(4):
            M[i * n:(i + 1) * n, i * n:(i + 1) * n] = Q
        M[:n, -1] = [cp + cm for cp, cm in self._sides]
        M[n:2 * n, -1] = p1
        M[2 * n:3 * n, n:2 * n] = -2.0 * D
        M[3 * n:4 * n, n:2 * n] = -S
        M[3 * n:4 * n, 2 * n:3 * n] = D
        y0 = np.zeros(4 * n + 1)
        y0[n:2 * n], y0[-1] = p0, 1.0
        tau = (self.model.T - t).reshape(-1)
        y = expm(M[None] * tau[:, None, None]) @ y0                  # (B, 4n + 1)
        return tuple(y[:, i * n:(i + 1) * n].T.reshape((n,) + t.shape) for i in (0, 2, 3))

    def _h0(self, t, s):
        """``h⁰_r(t, s) = ∫_t^T E_{t,s,r}[C⁺e^{−k⁺Δ_ξ} + C⁻e^{k⁻Δ_ξ}](R_ξ) dξ`` (eqs. 9, 16 with
        ``e^{−k±(z+α)}``; §8.2 with a chain)."""
        m = self.model
        if self._martingale:
            if not self._static:
                return self._martingale_chain(t)[0] + 0.0 * s
            return self._column([cp + cm for cp, cm in self._sides], t.ndim) * (m.T - t) + 0.0 * s
        xi, w = self._nodes(t)
        mean, _, var = _delta_law(m, t[..., None], s[..., None], xi)
        f = self._each(self._fills, "e_cosh", mean, var)
        return np.sum(w * self._along_chain(xi - t[..., None], f), axis=-1)

    def _theta1(self, t, s):
        """``θ₁_r(t, s) = ∫_t^T 2 E_{t,s,r}[(a⁺ − a⁻)(Δ_ξ) π̃(ξ)](R_ξ) dξ`` (eq. 19; ``= −E∫Hπ̃``)."""
        m = self.model
        if self._martingale:
            if not self._static:
                return self._martingale_chain(t)[1] + 0.0 * s
            p0, p1, _ = self._pen
            tau = m.T - t
            return (-2.0 * self._column([p.sinh_at(0.0) for p in self._rates], t.ndim)
                    * (self._column(p0, t.ndim) * tau + 0.5 * self._column(p1, t.ndim) * tau**2) + 0.0 * s)
        xi, w = self._nodes(t)
        mean, _, var = _delta_law(m, t[..., None], s[..., None], xi)
        f = self._pi(xi) * self._each(self._rates, "e_sinh", mean, var)
        return -2.0 * np.sum(w * self._along_chain(xi - t[..., None], f), axis=-1)

    def _theta0(self, t, s):
        """``θ₀_r(t, s)`` (eq. 20): a single plus a double integral of closed forms."""
        m = self.model
        if self._martingale:
            if not self._static:
                return self._martingale_chain(t)[2] + 0.0 * s
            p0, p1, _ = self._pen
            p0, p1 = self._column(p0, t.ndim), self._column(p1, t.ndim)
            tau = m.T - t
            d = self._column([p.sinh_at(0.0) for p in self._rates], t.ndim)      # w − u
            su = self._column([p.cosh_at(0.0) for p in self._rates], t.ndim)     # u + w
            return (-su * (p0 * tau + 0.5 * p1 * tau**2)
                    - 2.0 * d * d * (0.5 * p0 * tau**2 + p1 * tau**3 / 6.0) + 0.0 * s)
        t, s = np.broadcast_arrays(t, s)
        n = self.n_regimes
        out = np.empty((n,) + t.shape)
        tf, sf, of = t.ravel(), s.ravel(), out.reshape(n, -1)
        nodes = self._x.size
        step = max(1, _CHUNK_ELEMENTS // (nodes * nodes * n * n))
        for i in range(0, tf.size, step):
            of[:, i:i + step] = self._theta0_flat(tf[i:i + step], sf[i:i + step])
        return out

    def _theta0_flat(self, t, s):
        """``θ₀_r = −∫ E_r[π̃ (a⁺ + a⁻)](ξ) dξ − 2 ∫_t^T dξ ∫_ξ^T du Σ_{j,l} P_rj(ξ−t) P_jl(u−ξ) π̃_l(u)
        E[D_j(Δ_ξ) D_l(Δ_u)]`` (§5.5, §8.2), ``D = a⁻ − a⁺``; shape ``(n, M)``."""
        m, rates, n = self.model, self._rates, self.n_regimes
        price = m.price
        xi, w = self._nodes(t)                                    # (M, N)
        t3, s3 = t[:, None, None], s[:, None, None]
        mx, cx, vx = _delta_law(m, t3, s3, xi[..., None])         # (M, N, 1)
        f = self._pi(xi) * self._each(rates, "e_cosh", mx[..., 0], vx[..., 0])       # (n, M, N)
        single = np.sum(w * self._along_chain(xi - t[:, None], f), axis=-1)
        u = xi[..., None] + (m.T - xi)[..., None] * self._x       # (M, N, N)
        wu = (m.T - xi)[..., None] * self._w
        my, cy, vy = _delta_law(m, t3, s3, u)
        cov = cx * cy * price.variance(xi[..., None] - t3) * price.decay(u - xi[..., None])
        pu = self._pi(u)                                          # (n, M, N, N)
        # E[D_j(Δ_ξ) D_l(Δ_u)] π̃_l(u): (j, l, M, N, N); summed over l along the chain from ξ to u
        dd = np.stack([np.stack([rates[j].e_sinh_sinh(mx, my, vx, vy, cov, rates[l]) * pu[l] for l in range(n)])
                       for j in range(n)])
        if self._static:
            g = np.stack([dd[j, j] for j in range(n)])
        else:
            P = np.moveaxis(self.model.regimes.transition(u - xi[..., None]), (-2, -1), (0, 1))   # (j, l, M, N, N)
            g = np.sum(P * dd, axis=1)
        inner = np.sum(wu * g, axis=-1)                           # (n, M, N)
        double = np.sum(w * self._along_chain(xi - t[:, None], inner), axis=-1)
        return -single - 2.0 * double

    def terms(self, t, s=None, regime=None) -> dict:
        """The named pieces of the closed forms at broadcast ``(t, s)``.

        Parameters
        ----------
        t : array_like
            Times in ``[0, T]``.
        s : array_like, optional
            Mid-prices (required for an OU price).
        regime : int or str, optional
            The regime (required when the model's chain has several states).

        Returns
        -------
        dict
            Arrays of shape ``broadcast(t, s)``: ``Delta`` (Δ, §2.4), ``theta1_0``
            (``θ₁⁰ = s + Δ``), ``h0`` (``θ₀⁰``, eq. 16), ``pi_tilde`` (π̃, eq. 24), ``pi_eps``
            (``ε̂π̃``), ``theta2_1`` (``−π̃``, eq. 18), ``theta1_1`` (eq. 19),
            ``theta0_1`` (eq. 20), ``H`` (``2(a⁻ − a⁺)`` at ``(t, s)``; symmetric:
            ``4kC_α sinh(kΔ)``, eq. 26). Floats: ``scale`` (ε̂), ``C_plus``, ``C_minus`` and, for
            a symmetric regime, ``C_alpha``. All of the regime ``regime``.
        """
        r = self._regime(regime)
        t = _check_t(t, self.model.T)
        s = _check_s(s, required=self.model.price.depends_on_price)
        t, s = np.broadcast_arrays(t, s)
        with self._closed_form(t, s):
            Delta = self.model.delta(t, s)
            pi = self._pi(t)[r]
            cp, cm = self._sides[r]
            out = {
                "Delta": Delta,
                "theta1_0": s + Delta,
                "h0": self._h0(t, s)[r],
                "pi_tilde": pi,
                "pi_eps": self.scale * pi,
                "theta2_1": -pi,
                "theta1_1": self._theta1(t, s)[r],
                "theta0_1": self._theta0(t, s)[r],
                "H": 2.0 * self._rates[r].sinh_at(Delta),
                "scale": self.scale,
                "C_plus": cp,
                "C_minus": cm,
            }
            rm = self.model.regime_models()[r]
            if rm.k_plus == rm.k_minus and cp == cm:
                out["C_alpha"] = cp
            return out

    # ------------------------------------------------------------------ answers
    @contextlib.contextmanager
    def _closed_form(self, t, s):
        """Evaluate the closed forms (underflow ignored); an overflow is a ``ValueError`` naming the
        largest ``k·|Δ|`` at ``(t, s)`` (the exponentials and hyperbolic functions of ``kΔ``)."""
        try:
            with np.errstate(under="ignore", over="raise"):
                yield
        except FloatingPointError as e:
            with np.errstate(all="ignore"):
                kd = float(np.max(np.abs(self.model.delta(t, s)))) * max(self.model.k_plus, self.model.k_minus)
            raise ValueError(
                f"the closed form of the order-{self.order} expansion overflows ({e}) at these (t, s): k·|Δ| up to "
                f"{kd:.4g} (k=(k_plus={self.model.k_plus:g}, k_minus={self.model.k_minus:g}), Δ = E[S_T] − s from "
                f"{self.model.price!r}, T={self.model.T:g}) with fill rate {self.model.base_rate:.3g}: k·|Δ| (or the "
                f"penalty ε̂={self.scale:.3g}) is too large for the closed form; use hs.solve") from None

    @staticmethod
    def _finite(name, *arrays):
        """The arrays, or ``ValueError`` if the closed form produced NaN or ±inf."""
        for a in arrays:
            if not np.all(np.isfinite(a)):
                raise ValueError(f"the closed form of the expansion produced non-finite {name}: the parameters "
                                 "(k·|Δ|, A, the penalties) are too large for it; use hs.solve")
        return arrays

    def _marginals(self, t, q, s, r):
        """``(p⁺, p⁻)`` of regime ``r`` at broadcast ``(t, q, s)`` (checked inputs)."""
        m = self.model
        Delta = m.delta(t, s)
        if self.order == 0:
            zero = np.zeros(np.broadcast_shapes(t.shape, q.shape, s.shape))
            return ask_marginal(zero, zero, Delta), bid_marginal(zero, zero, Delta)
        th1 = self._theta1(t, s)[r]
        th2 = -self._pi(t)[r]
        eps = self.scale

        # q-dependent part of h_q; h⁰ + ε̂θ₀ cancels in the marginals (left out for accuracy)
        def g(qq):
            return eps * (qq * th1 + qq**2 * th2)

        return ask_marginal(g(q), g(q - 1.0), Delta), bid_marginal(g(q), g(q + 1.0), Delta)

    def quotes(self, t, q, s=None, regime=None):
        """Optimal half-spreads ``(δ⁺, δ⁻)`` (eq. 26; eq. 9 with costs at order 0).

        Order 0: ``δ± = 1/k± + α ± Δ``. Order 1: ``δ⁺ = 1/k⁺ + α + Δ + ε̂[θ₁ + (1 − 2q)π̃]``,
        ``δ⁻ = 1/k⁻ + α − Δ + ε̂[−θ₁ + (1 + 2q)π̃]``. With a regime chain: regime ``r``'s
        ``k±_r``, ``α_r``, ``θ₁_r``, ``π̃_r`` (DERIVATIONS §8).

        Parameters
        ----------
        t, q, s : array_like
            Time in ``[0, T]``, integer inventory, mid-price (ignored — may be omitted — for a
            Brownian price, any drift). Broadcast together.
        regime : int or str, optional
            The regime (index or name); required when the model's chain has several states.

        Returns
        -------
        ask, bid : ndarray, shape ``broadcast(t, q, s)``
            Price units.
        """
        r = self._regime(regime)
        t = _check_t(t, self.model.T)
        q = _check_q(q)
        s = _check_s(s, required=self.model.price.depends_on_price)
        with self._closed_form(t, s):
            pp, pm = self._finite("marginals", *self._marginals(t, q, s, r))
        m = self.model.regime_models()[r]
        ask = optimal_quote(pp, m.alpha, 1.0 / m.k_plus)
        bid = optimal_quote(pm, m.alpha, 1.0 / m.k_minus)
        shape = np.broadcast_shapes(t.shape, q.shape, s.shape)
        return np.broadcast_to(ask, shape).copy(), np.broadcast_to(bid, shape).copy()

    @property
    def s_dependent(self) -> bool:
        """Whether the quotes depend on the mid-price (policy protocol of :func:`hjbsolve.evaluate`)."""
        return self.model.price.depends_on_price

    @property
    def s_range(self) -> tuple[float, float]:
        """Prices where the quotes are defined: all of them (policy protocol)."""
        return (-math.inf, math.inf)

    def quotes_on_grid(self, t: float, s, q, compiled: bool = True):
        """Quotes at one time on a tensor grid ``s × q`` (the solvers' fast path).

        The closed-form quotes are affine in ``q`` (eq. 26), so they are computed at ``q = 0``
        and ``q = 1`` and extended exactly instead of evaluating the time integrals once per
        inventory. No inventory limit is applied (the solvers apply theirs).
        ``compiled`` is accepted for the policy protocol and ignored. A model whose chain has
        several regimes has no regime-free quotes: ``ValueError`` (use :meth:`tabulate` with
        ``regime=``).

        Parameters
        ----------
        t : float
        s : array_like, shape (n_s,)
        q : array_like, shape (n_q,)

        Returns
        -------
        ask, bid : ndarray, shape (n_s, n_q)
        """
        if self.n_regimes > 1:
            raise ValueError(f"the expansion of a model with {self.n_regimes} regimes quotes regime by regime: "
                             "quotes_on_grid (a regime-free policy) is not defined; use tabulate(regime=...)")
        s = np.atleast_1d(np.asarray(s, float))
        q = np.asarray(q, float)
        s_arg = s if self.model.price.depends_on_price else None
        a0, b0 = (np.broadcast_to(x, s.shape) for x in self.quotes(float(t), 0, s_arg))
        a1, b1 = (np.broadcast_to(x, s.shape) for x in self.quotes(float(t), 1, s_arg))
        return (a0[:, None] + (a1 - a0)[:, None] * q[None, :],
                b0[:, None] + (b1 - b0)[:, None] * q[None, :])

    def spread(self, t, q, s=None, regime=None):
        """``ψ = δ⁺ + δ⁻`` (eqs. 22, 26: ``1/k⁺ + 1/k⁻ + 2α + 2ε̂π̃`` at order 1)."""
        ask, bid = self.quotes(t, q, s, regime=regime)
        return ask + bid

    def centre(self, t, q, s=None, regime=None):
        """``r = s + (δ⁺ − δ⁻)/2`` (eqs. 23, 26: ``s + Δ + (1/k⁺ − 1/k⁻)/2 + ε̂(θ₁ − 2qπ̃)``);
        for a Brownian price ``s`` defaults to 0."""
        ask, bid = self.quotes(t, q, s, regime=regime)
        s0 = 0.0 if s is None else np.asarray(s, dtype=float)
        return s0 + 0.5 * (ask - bid)

    def value(self, t, q, s, regime=None):
        """Value ``v_q(t, s)`` (``u = x + v_q``), the ``q s`` part included.

        Order 0: ``q (s + Δ) + h⁰`` (eq. 9). Order 1:
        ``q (s + Δ) + h⁰ + ε̂ (θ₀ + q θ₁ − q² π̃)`` (eqs. 12, 16, 18–20); with a regime chain
        the pieces of regime ``r`` (DERIVATIONS §8).

        Parameters
        ----------
        t, q, s : array_like
            Broadcast together; ``s`` is required (also for a Brownian price).
        regime : int or str, optional
            The regime (index or name); required when the model's chain has several states.

        Returns
        -------
        ndarray, shape ``broadcast(t, q, s)``
            Price units.

        Notes
        -----
        Unless the price is a driftless Brownian motion, ``θ₀`` is a double time integral: the
        cost is about ``(n_panels · n_quad)²`` Gaussian evaluations per distinct ``(t, s)`` pair
        (2 304 for a one-panel rule), so a value grid is slower than a quote grid.
        """
        r = self._regime(regime)
        t = _check_t(t, self.model.T)
        q = _check_q(q)
        s = _check_s(s, required=True)
        m = self.model
        shape = np.broadcast_shapes(t.shape, q.shape, s.shape)
        # the pieces depend on (t, s) only: evaluate them once per distinct pair
        ts = np.broadcast_shapes(t.shape, s.shape)
        tt, ss = np.broadcast_to(t, ts), np.broadcast_to(s, ts)
        with self._closed_form(tt, ss):
            Delta = m.delta(tt, ss)
            v = q * (ss + Delta) + self._h0(tt, ss)[r]
            if self.order == 1:
                v = v + self.scale * (self._theta0(tt, ss)[r] + q * self._theta1(tt, ss)[r] - q**2 * self._pi(tt)[r])
            self._finite("values", v)
        return np.broadcast_to(v, shape).copy()

    # ------------------------------------------------------------------ policies
    def tabulate(self, model: Model | None = None, t=None, s=None, q_max: int = 600,
                 regime=None) -> TabulatedPolicy:
        """Quotes on a ``(t, s, q)`` grid (cubic interpolation) for the compiled engines.

        Parameters
        ----------
        model : Model, optional
            The model the policy will be run in (protocol argument); only its horizon is used,
            and it must equal this expansion's ``T``.
        t : array_like, shape (n_t,), optional
            Strictly increasing times from 0 to ``T`` (default 201 equally spaced times).
        s : array_like, shape (n_s,), optional
            Strictly increasing price nodes; required for a price-dependent model, ignored
            (``[0.0]``) otherwise (the quotes do not depend on ``s``).
        q_max : int
            Inventories ``−q_max … q_max``. At ``−q_max`` no ask, at ``q_max`` no bid is
            posted (``+inf``); the tables hold ``2 n_t n_s (2 q_max + 1)`` floats.
        regime : int or str, optional
            The regime whose quotes are tabulated (required when the chain has several states).

        Returns
        -------
        TabulatedPolicy
            ``ask, bid`` of shape ``(n_t, n_s, 2 q_max + 1)``.
        """
        if model is not None:
            if not isinstance(model, Model):
                raise ValueError(f"model must be an hjbsolve.Model, got {type(model).__name__}")
            if model.T != self.model.T:
                raise ValueError(f"model.T must equal the expansion's horizon T={self.model.T}, got {model.T}")
        q_max = check_int("q_max", q_max, ge=1)
        r = self._regime(regime)
        t = np.linspace(0.0, self.model.T, 201) if t is None else np.asarray(t, dtype=float)
        if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0) \
                or t[0] != 0.0 or t[-1] != self.model.T:
            raise ValueError(f"t must be strictly increasing times from 0 to T={self.model.T}")
        if not self.model.price.depends_on_price:
            s = np.array([0.0])
        else:
            if s is None:
                raise ValueError("s (1-d array of price nodes) is required for a price-dependent model")
            s = np.asarray(s, dtype=float)
            if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s)) or np.any(np.diff(s) <= 0):
                raise ValueError("s must be a finite, strictly increasing 1-d array")
        q = np.arange(-q_max, q_max + 1, dtype=float)
        # The quotes are affine in q (eq. 26): fill the tables from q = 0 and q = 1, which costs
        # one multiply-add per entry instead of re-evaluating every piece for every q.
        ask0, bid0 = self.quotes(t[:, None], 0, s[None, :], regime=r)
        ask1, bid1 = self.quotes(t[:, None], 1, s[None, :], regime=r)
        ask = np.multiply((ask1 - ask0)[..., None], q)
        ask += ask0[..., None]
        bid = np.multiply((bid1 - bid0)[..., None], q)
        bid += bid0[..., None]
        ask[:, :, 0] = np.inf
        bid[:, :, -1] = np.inf
        return TabulatedPolicy(t, s, -q_max, q_max, ask, bid, name=self.name, order=3)


# ---------------------------------------------------------------------------- several assets (§5)
def _phi(a, tau):
    """``∫_0^τ e^{−a u} du = (1 − e^{−aτ})/a`` (``τ`` when ``a = 0``), elementwise in ``τ``."""
    return tau if a == 0.0 else -np.expm1(-a * tau) / a


@dataclass(frozen=True, eq=False)
class MultiAssetExpansion(_ClosedForms):
    """The closed forms of the paper's §5 (eqs. 40, 45–49, re-derived) for a
    :class:`~hjbsolve.multiasset.MultiAssetModel`: ``M`` assets with per-asset, per-side ``A±_i``,
    ``k±_i``, costs ``α_i``, correlated Brownian prices with drifts ``b_i`` or per-asset OU prices with
    correlated noise, and the penalties ``q'Ω̃q`` at ``T`` and ``∫ q'Φq``.

    Build it with :func:`expansion`. The derivation is ``validation/DERIVATIONS.md`` §9; the printed
    equations it corrects are ``validation/ERRATA.md`` #15–17, #22–23. With ``v(t, q, s) =
    q·(s + Δ) + h_q``, ``Δ_i = E_{t,s}[S_i(T)] − s_i`` and ``h_q = h⁰ + ε̂(θ₀ + q·θ₁ − q'π̃q)``::

        h⁰       = Σ_i ∫_t^T E[C⁺_i e^{−k⁺_iΔ_i} + C⁻_i e^{k⁻_iΔ_i}](ξ) dξ                         (40)
        π̃(t)     = π̃₀ + π̃₁ (T − t)          (M × M; ε̂π̃₀ = Ω̃ = εηΩ, ε̂π̃₁ = Φ = ενΛ)              (45)
        θ₁(t, s) = −2 ∫_t^T π̃(ξ) E[D(Δ_ξ)] dξ = −E∫ π̃ H 𝟙 dξ,   D_j = a⁻_j − a⁺_j, H = 2 diag(D)   (45)
        θ₀(t, s) = −∫_t^T Σ_i π̃_ii(ξ) E[S_i] dξ − 2 ∫_t^T dξ ∫_ξ^T du Σ_{ij} π̃_ij(u) E[D_i(Δ_{i,ξ}) D_j(Δ_{j,u})]

    (``a±_i = k±_iC±_i e^{∓k±_iΔ_i}``, ``S_i = a⁺_i + a⁻_i``), and the quotes (eqs. 46–48 corrected) ::

        δ⁺_i = 1/k⁺_i + α_i + Δ_i + ε̂[θ₁_i − 2(π̃q)_i + π̃_ii],
        δ⁻_i = 1/k⁻_i + α_i − Δ_i + ε̂[−θ₁_i + 2(π̃q)_i + π̃_ii].

    The printed eqs. (46)–(48) have ``H π̃ 𝟙`` (the bet of asset ``i`` weighted by row ``i`` of
    ``π̃``) where the derivation gives ``π̃ H 𝟙`` (ERRATA #16, #22).

    Queries take ``q`` and ``s`` with a trailing axis of length ``M`` (``t`` broadcasts with the
    other axes), like :class:`hjbsolve.Solution`; ``s`` may be omitted when every price is
    Brownian. With ``M = 1`` every number equals the single-asset :class:`Expansion`'s to rounding
    (the same formulas and primitives: :class:`_Pair`, :func:`_unit_rule`, the price laws).

    Attributes
    ----------
    model : MultiAssetModel
    order : {0, 1}
    n_quad : int
        Gauss–Legendre nodes per panel of the time integrals (unused when every price is a
        driftless Brownian motion).
    """

    model: object
    _prices: tuple = field(init=False, repr=False)

    def __post_init__(self):
        from .multiasset import MultiAssetModel

        _check_arguments(self, MultiAssetModel, "MultiAssetModel")
        m = self.model
        prices = m.asset_prices()
        sides, fills, rates = [], [], []
        for i in range(m.n_assets):
            (_, kp), (_, km) = m.side_params(i)
            side, fill, rate = _side_pairs(m.log_rates(i), (kp, km), m.alpha[i])
            sides.append(side)
            fills.append(fill)
            rates.append(rate)
        kmax = [max(k for _, k in m.side_params(i)) for i in range(m.n_assets)]
        x, w = _unit_rule(max(_price_rate(p, k, m.T) for p, k in zip(prices, kmax)), self.n_quad)
        for name, v in (("_x", x), ("_w", w), ("_prices", prices), ("_fills", tuple(fills)),
                        ("_rates", tuple(rates)), ("_sides", tuple(sides))):
            object.__setattr__(self, name, v)
        # ε̂π̃(t) = Ω̃ + Φ(T − t): the paper's π̃ = ηΩ + νΛ(T − t) with ε̂ = ε, or the forms set directly
        if m.running_form is None and m.terminal_form is None:
            p0, p1, scale = m.eta * m.Omega_matrix, m.nu * m.cov, m.eps
        else:
            scale = m.eps if m.eps > 0.0 else 1.0
            p0, p1 = m.terminal_penalty_form / scale, m.running_penalty_form / scale
        object.__setattr__(self, "_pen", (np.array(p0, dtype=float), np.array(p1, dtype=float), scale))

    # ------------------------------------------------------------------ constants
    @property
    def name(self) -> str:
        return f"expansion(order={self.order}, M={self.n_assets})"

    @property
    def n_assets(self) -> int:
        return self.model.n_assets

    @property
    def scale(self) -> float:
        """The expansion parameter ``ε̂`` (as :attr:`Expansion.scale`): ``ε̂π̃ = Ω̃ + Φ(T − t)``."""
        return self._pen[2]

    @property
    def side_constants(self) -> tuple[np.ndarray, np.ndarray]:
        """``(C⁺, C⁻)``, each of shape ``(M,)``: ``C±_i = A±_i e^{−k±_i(z_i+α_i)} / (e k±_i)``."""
        return tuple(np.array(c) for c in zip(*self._sides))

    @property
    def s_dependent(self) -> bool:
        """Whether the answers depend on the mid-prices (an OU asset)."""
        return self.model.depends_on_price

    @property
    def _martingale(self) -> bool:
        """Every ``Δ_i ≡ 0`` (driftless Brownian prices): the time integrals have closed forms."""
        return all(p.mean_reversion == 0.0 and float(p.drift_at(0.0)) == 0.0 for p in self._prices)

    def pi_tilde(self, t):
        """Unitary inventory penalty ``π̃(t) = π̃₀ + π̃₁(T − t)`` (§5.5: ``η Ω + ν Λ (T − t)`` for the
        paper's penalties), shape ``t.shape + (M, M)``; ``θ₂ = −π̃`` (eq. 44)."""
        return self._pi(_check_t(t, self.model.T))

    def _pi(self, t):
        p0, p1, _ = self._pen
        return p0 + p1 * (self.model.T - np.asarray(t, dtype=float))[..., None, None]

    # ------------------------------------------------------------------ inputs
    def _inputs(self, t, q, s, s_required):
        """Checked ``(t, q, s)`` broadcast to ``shape`` (t) and ``shape + (M,)`` (q, s)."""
        M = self.n_assets
        t = _check_t(t, self.model.T)
        arrays = []
        for name, x in (("q", q), ("s", s)):
            if x is None:
                if name == "s" and s_required:
                    raise ValueError("s is required: the answer depends on the mid-prices (an Ornstein–Uhlenbeck "
                                     "asset, or a value)")
                arrays.append(np.zeros(M))
                continue
            x = _check_q(x) if name == "q" else _as_float_array("s", x)
            if x.ndim == 0 or x.shape[-1] != M:
                raise ValueError(f"{name} must have a trailing axis of length M={M} (one entry per asset), got "
                                 f"shape {x.shape}")
            arrays.append(x)
        q, s = arrays
        try:
            shape = np.broadcast_shapes(t.shape, q.shape[:-1], s.shape[:-1])
        except ValueError:
            raise ValueError(f"t, q and s (without their trailing asset axis) must broadcast together, got shapes "
                             f"{t.shape}, {q.shape} and {s.shape}") from None
        return (np.broadcast_to(t, shape), np.broadcast_to(q, shape + (M,)), np.broadcast_to(s, shape + (M,)))

    def _delta(self, t, s):
        """``Δ_i(t, s_i)``, shape ``t.shape + (M,)``."""
        return np.stack([p.delta(t, s[..., i], self.model.T) for i, p in enumerate(self._prices)], axis=-1)

    @contextlib.contextmanager
    def _closed_form(self, t, s):
        """As :meth:`Expansion._closed_form`: an overflow is a ``ValueError`` naming ``k·|Δ|``."""
        try:
            with np.errstate(under="ignore", over="raise"):
                yield
        except FloatingPointError as e:
            with np.errstate(all="ignore"):
                kd = np.max(np.abs(self._delta(t, s)).reshape(-1, self.n_assets), axis=0) * \
                    np.array([max(k for _, k in self.model.side_params(i)) for i in range(self.n_assets)])
            raise ValueError(
                f"the closed form of the order-{self.order} multi-asset expansion overflows ({e}) at these (t, s): "
                f"k_i·|Δ_i| up to {np.round(kd, 4).tolist()} per asset (Δ = E[S_T] − s): k·|Δ| (or the penalty "
                f"ε̂={self.scale:.3g}) is too large for the closed form; use hs.solve") from None

    # ------------------------------------------------------------------ the pieces
    def _nodes(self, t):
        tau = (self.model.T - t)[..., None]
        return t[..., None] + tau * self._x, tau * self._w

    def _law(self, i, t, s, xi):
        """``(mean, slope, var)`` of ``Δ_i`` at times ``xi`` given ``S_t = s`` (asset ``i``'s price law)."""
        return self._prices[i].delta_law(t, s, xi, self.model.T)

    def _cross_variance(self, i, j, tau):
        """``Cov(S_i(t+τ), S_j(t+τ) | S_t) = Λ_ij (1 − e^{−(a_i+a_j)τ})/(a_i + a_j)``."""
        if i == j:
            return self._prices[i].variance(tau)
        return self.model.cov[i, j] * _phi(self._prices[i].mean_reversion + self._prices[j].mean_reversion, tau)

    def _h0(self, t, s):
        """``h⁰ = Σ_i ∫_t^T E[C⁺_ie^{−k⁺_iΔ_i} + C⁻_ie^{k⁻_iΔ_i}] dξ`` (eq. 40 with ``e^{−k(z+α)}``),
        shape ``t.shape``."""
        if self._martingale:
            return sum(cp + cm for cp, cm in self._sides) * (self.model.T - t)
        xi, w = self._nodes(t)
        out = 0.0
        for i, pair in enumerate(self._fills):
            mean, _, var = self._law(i, t[..., None], s[..., i, None], xi)
            out = out + np.sum(w * pair.e_cosh(mean, var), axis=-1)
        return out

    def _theta1(self, t, s):
        """``θ₁(t, s) = −2 ∫_t^T π̃(ξ) E[D(Δ_ξ)] dξ`` (eq. 45 corrected: ``−E∫π̃H𝟙``), shape ``t.shape + (M,)``."""
        p0, p1, _ = self._pen
        if self._martingale:
            tau = (self.model.T - t)[..., None]
            d = np.array([p.sinh_at(0.0) for p in self._rates])
            return -2.0 * (p0 @ d * tau + 0.5 * (p1 @ d) * tau**2)
        xi, w = self._nodes(t)
        ed = np.stack([pair.e_sinh(*self._law(i, t[..., None], s[..., i, None], xi)[::2])
                       for i, pair in enumerate(self._rates)], axis=-1)            # (..., N, M): E[D_j(Δ_j,ξ)]
        return -2.0 * np.einsum("...n,...nij,...nj->...i", w, self._pi(xi), ed)

    def _theta0(self, t, s):
        """``θ₀(t, s)``: a single plus a double integral of closed forms (§9 of DERIVATIONS), shape ``t.shape``."""
        p0, p1, _ = self._pen
        if self._martingale:
            tau = self.model.T - t
            d = np.array([p.sinh_at(0.0) for p in self._rates])
            su = np.array([p.cosh_at(0.0) for p in self._rates])
            return (-(su @ np.diag(p0)) * tau - 0.5 * (su @ np.diag(p1)) * tau**2
                    - 2.0 * ((d @ p0 @ d) * 0.5 * tau**2 + (d @ p1 @ d) * tau**3 / 6.0))
        shape = t.shape
        tf, sf = t.reshape(-1), s.reshape(-1, self.n_assets)
        out = np.empty(tf.size)
        nodes = self._x.size
        step = max(1, _CHUNK_ELEMENTS // (nodes * nodes * self.n_assets**2))
        for a in range(0, tf.size, step):
            out[a:a + step] = self._theta0_flat(tf[a:a + step], sf[a:a + step])
        return out.reshape(shape)

    def _theta0_flat(self, t, s):
        """``θ₀ = −∫Σ_i π̃_ii(ξ)E[S_i(Δ_ξ)]dξ − 2∫dξ∫_ξ^T du Σ_ij π̃_ij(u) E[D_i(Δ_{i,ξ}) D_j(Δ_{j,u})]``, shape (P,)."""
        T, M = self.model.T, self.n_assets
        xi, w = self._nodes(t)                                    # (P, N)
        u = xi[..., None] + (T - xi)[..., None] * self._x         # (P, N, N)
        wu = (T - xi)[..., None] * self._w
        t3 = t[:, None, None]
        pxi, pu = self._pi(xi), self._pi(u)                        # (P, N, M, M), (P, N, N, M, M)
        at_xi = [self._law(i, t3, s[:, i, None, None], xi[..., None]) for i in range(M)]   # (P, N, 1)
        at_u = [self._law(j, t3, s[:, j, None, None], u) for j in range(M)]               # (P, N, N)
        single = sum(np.sum(w * pxi[..., i, i] * self._rates[i].e_cosh(at_xi[i][0][..., 0], at_xi[i][2][..., 0]),
                            axis=-1) for i in range(M))
        double = 0.0
        for i in range(M):
            mx, cx, vx = at_xi[i]
            for j in range(M):
                my, cy, vy = at_u[j]
                cov = cx * cy * self._cross_variance(i, j, xi[..., None] - t3) \
                    * self._prices[j].decay(u - xi[..., None])
                dd = self._rates[i].e_sinh_sinh(mx, my, vx, vy, cov, self._rates[j]) * pu[..., i, j]
                double = double + np.sum(w * np.sum(wu * dd, axis=-1), axis=-1)
        return -single - 2.0 * double

    # ------------------------------------------------------------------ answers
    def terms(self, t, s=None) -> dict:
        """The named pieces at broadcast ``(t, s)`` (``s`` with a trailing axis ``M``).

        Returns
        -------
        dict
            ``Delta`` (``Δ``, shape ``(..., M)``), ``h0`` (``θ₀⁰``, eq. 40, ``(...)``), ``pi_tilde``
            (``π̃``, ``(..., M, M)``), ``theta2_1`` (``−π̃``, eq. 45), ``theta1_1`` (``θ₁``, ``(..., M)``),
            ``theta0_1`` (``θ₀``, ``(...)``), ``H`` (``2(a⁻ − a⁺)`` at ``(t, s)``, ``(..., M)``; symmetric:
            ``(4/e)A_ie^{−k_i(z_i+α_i)} sinh(k_iΔ_i)``, §5.7); floats ``scale`` (ε̂); arrays ``C_plus``,
            ``C_minus`` (shape ``(M,)``).
        """
        t, _, s = self._inputs(t, None, s, s_required=self.s_dependent)
        with self._closed_form(t, s):
            Delta = self._delta(t, s)
            cp, cm = self.side_constants
            return {
                "Delta": Delta, "h0": self._h0(t, s), "pi_tilde": self._pi(t), "theta2_1": -self._pi(t),
                "theta1_1": self._theta1(t, s), "theta0_1": self._theta0(t, s),
                "H": np.stack([2.0 * p.sinh_at(Delta[..., i]) for i, p in enumerate(self._rates)], axis=-1),
                "scale": self.scale, "C_plus": cp, "C_minus": cm,
            }

    def quotes(self, t, q, s=None, regime=None):
        """Optimal half-spreads ``(δ⁺, δ⁻)`` per asset (eqs. 46–48 corrected; eq. 40's ``1/k±_i + α_i ±
        Δ_i`` at order 0), through the single-asset marginals and quote assembly of
        :mod:`hjbsolve.hamiltonian`.

        Parameters
        ----------
        t : array_like
            Times in ``[0, T]``.
        q : array_like, shape (..., M)
            Integer inventories.
        s : array_like, shape (..., M), optional
            Mid-prices; required when an asset has an OU price.
        regime : None or 0
            The interface of :meth:`Expansion.quotes` (a multi-asset model has no regime chain).

        Returns
        -------
        ask, bid : ndarray, shape ``broadcast(t, q[..., 0], s[..., 0]) + (M,)``
            Price units. No inventory limit applies (the closed forms have none).
        """
        resolve_regime(None, regime)
        t, q, s = self._inputs(t, q, s, s_required=self.s_dependent)
        m = self.model
        with self._closed_form(t, s):
            Delta, th1, pi = self._quote_coefficients(t, s)
            if self.order == 0:
                gq = gm = gp = np.zeros(q.shape)
            else:
                eps = self.scale

                def g(qq):      # q-dependent part of h_q, ε̂(q·θ₁ − q'π̃q); h⁰ + ε̂θ₀ cancels in the marginals
                    return eps * (np.sum(qq * th1, axis=-1) - np.einsum("...i,...ij,...j->...", qq, pi, qq))

                eye = np.eye(self.n_assets)
                gq = g(q)[..., None]
                gm = np.stack([g(q - eye[i]) for i in range(self.n_assets)], axis=-1)
                gp = np.stack([g(q + eye[i]) for i in range(self.n_assets)], axis=-1)
            pp, pm = self._finite_pair(ask_marginal(gq, gm, Delta), bid_marginal(gq, gp, Delta))
        ks = np.array([[k for _, k in m.side_params(i)] for i in range(self.n_assets)])
        alpha = np.array(m.alpha)
        return optimal_quote(pp, alpha, 1.0 / ks[:, 0]), optimal_quote(pm, alpha, 1.0 / ks[:, 1])

    def _quote_coefficients(self, t, s):
        """``(Δ, θ₁, π̃)`` at broadcast ``(t, s)`` (shapes ``t.shape + (M,)``, ``+ (M,)``, ``+ (M, M)``),
        computed once per distinct ``(t, s)`` (the quadratures cost per point; an inventory grid at one
        time asks for one). ``θ₁, π̃`` are ``None`` at order 0."""
        M = self.n_assets
        key = np.concatenate([t[..., None], s if self.s_dependent else np.zeros(t.shape + (0,))], axis=-1)
        uniq, inv = np.unique(key.reshape(-1, key.shape[-1]), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        tu = uniq[:, 0]
        su = uniq[:, 1:] if self.s_dependent else np.zeros((tu.size, M))
        out = [self._delta(tu, su)]
        if self.order == 1:
            out += [self._theta1(tu, su), self._pi(tu)]
        else:
            out += [None, None]
        return tuple(None if x is None else x[inv].reshape(t.shape + x.shape[1:]) for x in out)

    @staticmethod
    def _finite_pair(*arrays):
        return Expansion._finite("marginals", *arrays)

    def spread(self, t, q, s=None):
        """``ψ_i = δ⁺_i + δ⁻_i`` (eq. 48: ``1/k⁺_i + 1/k⁻_i + 2α_i + 2ε̂π̃_ii``)."""
        ask, bid = self.quotes(t, q, s)
        return ask + bid

    def centre(self, t, q, s=None):
        """``r_i = s_i + (δ⁺_i − δ⁻_i)/2`` (eq. 48 corrected: ``s + Δ + (1/k⁺ − 1/k⁻)/2 + ε̂(θ₁ − 2π̃q)``);
        ``s`` defaults to 0 for Brownian prices."""
        ask, bid = self.quotes(t, q, s)
        s0 = 0.0 if s is None else np.asarray(s, dtype=float)
        return s0 + 0.5 * (ask - bid)

    def value(self, t, q, s, regime=None):
        """``v(t, q, s)`` (``u = x + v``), the ``q·s`` part included: order 0 ``q·(s + Δ) + h⁰`` (eq. 40),
        order 1 ``+ ε̂(θ₀ + q·θ₁ − q'π̃q)`` (eqs. 32, 45).

        Parameters
        ----------
        t : array_like
        q, s : array_like, shape (..., M)
            Integer inventories and mid-prices (``s`` required).
        regime : None or 0
            As in :meth:`quotes`.

        Returns
        -------
        ndarray, shape ``broadcast(t, q[..., 0], s[..., 0])``
            Price units.
        """
        resolve_regime(None, regime)
        t, q, s = self._inputs(t, q, s, s_required=True)
        with self._closed_form(t, s):
            v = np.sum(q * (s + self._delta(t, s)), axis=-1) + self._h0(t, s)
            if self.order == 1:
                v = v + self.scale * (self._theta0(t, s) + np.sum(q * self._theta1(t, s), axis=-1)
                                      - np.einsum("...i,...ij,...j->...", q, self._pi(t), q))
            Expansion._finite("values", v)
        return v


def expansion(model, order: int = 1, *, n_quad: int = DEFAULT_N_QUAD) -> "Expansion | MultiAssetExpansion":
    """The paper's closed-form solution of ``model`` to order ``order`` in the penalty size.

    Parameters
    ----------
    model : Model or MultiAssetModel
        Brownian (any drift) or Ornstein–Uhlenbeck mid-price; equal or per-side intensities
        ``(A±, k±)``; the paper's penalties (``ε η z``, ``ε ν σ²``) or ``φ``, ``ϖ`` set directly;
        a regime chain (``model.regimes``; with an OU price its regimes must share one ``σ``).
        A :class:`~hjbsolve.multiasset.MultiAssetModel` (§5: correlated Brownian prices with drifts,
        or per-asset OU prices with correlated noise) gives a :class:`MultiAssetExpansion`
        (eqs. 40, 45–48 corrected; ``validation/DERIVATIONS.md`` §9).
    order : {0, 1}
        0: exact solution of the zero-penalty problem (eq. 9 with the costs of §3.8; quotes
        ``1/k± + α ± Δ``);
        1: first-order expansion in the penalty size ``ε̂`` (eqs. 16–24, 26, generalised in
        ``validation/DERIVATIONS.md``): the error of the quotes is ``O(ε̂²)``.
    n_quad : int
        Gauss–Legendre nodes per panel of the time integrals (unused for a driftless Brownian
        price). The default gives about 1e-13 relative accuracy over the range checked
        (``a T`` up to 10³; exponents ``k± |Δ|`` and ``k±² Var(Δ)/2`` up to ~40); doubling
        ``n_quad`` is the check.

    Returns
    -------
    Expansion or MultiAssetExpansion

    Raises
    ------
    ValueError
        A bad ``order`` or ``n_quad``; an OU price whose regimes have different ``σ``; a model that is
        neither a ``Model`` nor a ``MultiAssetModel``.

    Examples
    --------
    >>> import hjbsolve as hs
    >>> ex = hs.expansion(hs.paper_model("brownian"), order=1)
    >>> ask, bid = ex.quotes(0.0, 10)
    >>> asym = hs.expansion(hs.paper_model("ou", A=(1000.0, 800.0), k=(1.0, 1.3)), order=1)
    >>> ask, bid = asym.quotes(0.0, 10, 3000.0)
    """
    from .multiasset import MultiAssetModel

    if isinstance(model, MultiAssetModel):
        return MultiAssetExpansion(model, order, n_quad)
    return Expansion(model, order, n_quad)
