"""The paper's closed forms: the exact ε = 0 solution and the first-order ε expansion.

Fodra & Labadie (2013), §2.4 (eq. 9), §3.4–3.6 (eqs. 16–24) and §3.8 (eq. 26), for the two
price processes of :mod:`hjbsolve.model`, re-derived from the HJB equation (eqs. 11, 25)
with the project's sign conventions (see ``validation/ERRATA.md`` for where the paper's
printed formulas differ).

Derivation in one screen
------------------------
Write ``v_q(t, s) = q (s + Δ) + h_q(t, s)`` with ``Δ(t, s) = E_{t,s}[S_T] − s``. Because
``(∂_t + L)(s + Δ) = 0`` the HJB equation (25) becomes, with
``C_α = A e^{−k(z+α)} / (e k)`` (= :func:`hamiltonian.side_hamiltonian` at ``p = 0``)::

    (∂_t + L) h_q + C_α e^{−k(Δ + h_q − h_{q−1})} + C_α e^{−k(−Δ + h_q − h_{q+1})} = ε ν σ² q²,
    h_q(T, s) = −ε η z q².

* **Order 0** (ε = 0, exact; eqs. 9, 16): ``h`` does not depend on ``q`` and ::

      h⁰(t, s) = 2 C_α ∫_t^T E_{t,s}[cosh(k Δ(ξ, S_ξ))] dξ,        δ^± = 1/k + α ± Δ.

* **Order 1** (eqs. 17–20): ``h_q = h⁰ + ε (θ₀¹ + q θ₁¹ + q² θ₂¹) + O(ε²)``. Expanding the
  exponentials to first order and collecting powers of ``q``::

      θ₂¹(t)    = −π̃(t),   π̃(t) = η z + ν σ² (T − t)                          (18)
      θ₁¹(t, s) = −∫_t^T E_{t,s}[H(ξ, S_ξ)] π̃(ξ) dξ,   H = 4 k C_α sinh(k Δ)   (19)
      θ₀¹(t, s) = ∫_t^T E_{t,s}[2 k C_α (θ₁¹ sinh(kΔ) + θ₂¹ cosh(kΔ))](ξ) dξ    (20)

  (``4 k C_α = (4/e) A e^{−k(z+α)}``, the paper's ``H(α)`` of §3.8.) The quotes (eq. 26) are
  ``δ^± = 1/k + α + p^±`` with ``p⁺ = Δ + ε[θ₁¹ − (1 − 2q) θ₂¹]`` and
  ``p⁻ = −Δ + ε[−θ₁¹ − (1 + 2q) θ₂¹]``; spread ``ψ = 2/k + 2α + 2 ε π̃`` (eq. 22) and centre
  ``r = s + Δ + ε (θ₁¹ − 2 q π̃)`` (eq. 23).

Gaussian closed forms (OU price)
--------------------------------
``Δ(ξ, x)`` is affine in ``x`` with slope ``−c_ξ``, ``c_ξ = 1 − e^{−a(T−ξ)}``, and ``S_ξ`` given
``S_t = s`` is Gaussian, so ``Δ_ξ = Δ(ξ, S_ξ)`` is Gaussian with mean
``m_ξ = Δ(ξ, E_{t,s}[S_ξ])`` and variance ``c_ξ² Var(S_ξ)``; for ``u ≥ ξ``,
``Cov(Δ_ξ, Δ_u) = c_ξ c_u Var(S_ξ) e^{−a(u−ξ)}``. For Gaussian ``X, Y`` (means ``m_X, m_Y``,
variances ``v_X, v_Y``, covariance ``c``)::

    E cosh X = cosh(m_X) e^{v_X/2},     E sinh X = sinh(m_X) e^{v_X/2},
    E[sinh X sinh Y] = e^{(v_X+v_Y)/2} [cosh m_X cosh m_Y sinh c + sinh m_X sinh m_Y cosh c],

the last written without the cancellation of ``½(E cosh(X+Y) − E cosh(X−Y))``. By the tower
property ``E_{t,s}[θ₁¹(ξ, S_ξ) sinh(kΔ_ξ)] = −4kC_α ∫_ξ^T π̃(u) E[sinh(kΔ_ξ) sinh(kΔ_u)] du``,
so ``θ₀¹`` is a double integral over ``t ≤ ξ ≤ u ≤ T`` of closed-form integrands. The time
integrals use a composite Gauss–Legendre rule on ``[t, T]`` (fixed nodes in the reduced
variable ``(ξ − t)/(T − t)``, so a whole ``(t, s)`` grid is one vectorised evaluation), graded
towards both ends when ``a T`` is large (boundary layers of width ``1/a``).

For a Brownian price every ``sinh`` term vanishes: ``h⁰ = 2 C_α (T − t)``, ``θ₁¹ = 0`` and
``θ₀¹ = −2 k C_α [η z (T − t) + ν σ² (T − t)² / 2]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int
from .hamiltonian import ask_marginal, bid_marginal, optimal_quote, side_hamiltonian
from .model import Brownian, Model
from .policies import TabulatedPolicy

__all__ = ["expansion", "Expansion", "ORDERS", "DEFAULT_N_QUAD"]

#: Orders of the expansion that are implemented: 0 (exact at ε = 0) and 1 (first order in ε).
ORDERS = (0, 1)

#: Gauss–Legendre nodes per panel of the time quadrature (see :func:`_unit_rule`).
DEFAULT_N_QUAD = 48

# Above this value of a·T the unit interval is split into panels graded towards both ends.
_GRADING_THRESHOLD = 2.0
# Bound on the number of (point, node, node) triples held at once by the θ₀¹ double integral.
_CHUNK_ELEMENTS = 2_000_000


# ---------------------------------------------------------------------------- quadrature
def _unit_rule(lam: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on ``[0, 1]``.

    Parameters
    ----------
    lam : float
        ``a T``: the integrands have layers of width ``1/lam`` at both ends of the unit
        interval. For ``lam <= 2`` one panel is used; otherwise panels
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


# ---------------------------------------------------------------------------- Gaussian moments
def _delta_law(model: Model, t, s, xi):
    """Law of ``Δ_ξ = Δ(ξ, S_ξ)`` given ``S_t = s`` (``t <= ξ``); arrays broadcast.

    Returns
    -------
    mean : ndarray
        ``m_ξ = E_{t,s}[Δ_ξ] = Δ(ξ, E_{t,s}[S_ξ])`` (``Δ`` is affine in the price). For an OU
        price it is evaluated as ``−c_ξ (s − μ) e^{−a(ξ−t)}``, which equals
        ``model.delta(ξ, price.mean(s, ξ − t))`` but avoids the cancellation of two numbers of
        the size of ``s`` (an absolute error ~1e-13·|s| that would otherwise dominate ``θ₁¹``
        when ``Δ`` is small).
    slope : ndarray
        ``c_ξ = 1 − e^{−a(T−ξ)} = −∂Δ(ξ, x)/∂x`` (0 for a Brownian price; evaluated with
        ``expm1``, equal to ``1 − price.decay(T − ξ)``).
    var : ndarray
        ``Var_{t,s}[Δ_ξ] = c_ξ² Var_{t,s}[S_ξ]``.
    """
    price = model.price
    xi = np.asarray(xi, dtype=float)
    if isinstance(price, Brownian):
        slope = np.zeros_like(xi)
        mean = np.zeros(np.broadcast_shapes(np.shape(t), np.shape(s), xi.shape))
    else:
        # 1 − price.decay(T − ξ), written with expm1: exact to rounding when a(T − ξ) is small
        slope = -np.expm1(-price.a * (model.T - xi))
        mean = -slope * (np.asarray(s, dtype=float) - price.mu) * price.decay(xi - t)
    var = slope**2 * price.variance(xi - t)
    return mean, slope, var


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
    occurs when ``c >= 0`` and ``mx my >= 0`` (always the case for ``Δ_ξ, Δ_u`` of an OU price).
    """
    return np.exp(0.5 * (vx + vy)) * (np.cosh(mx) * np.cosh(my) * np.sinh(c)
                                      + np.sinh(mx) * np.sinh(my) * np.cosh(c))


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
    q = np.asarray(q)
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
@dataclass(frozen=True, eq=False)
class Expansion:
    """The paper's closed-form solution of one :class:`~hjbsolve.model.Model`, to a given order.

    Build it with :func:`expansion`. All methods broadcast their array arguments; ``t`` must
    lie in ``[0, T]``, ``q`` must be integer-valued.

    Attributes
    ----------
    model : Model
    order : int
        0: the exact ε = 0 solution (eq. 9, quotes ``1/k + α ± Δ``, eq. 26 at ε = 0);
        1: the first-order expansion in ε (eqs. 16–24 with the costs of eq. 26).
    n_quad : int
        Gauss–Legendre nodes per panel of the time integrals (OU price only).
    """

    model: Model
    order: int = 1
    n_quad: int = DEFAULT_N_QUAD
    _x: np.ndarray = field(init=False, repr=False)
    _w: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.model, Model):
            raise ValueError(f"model must be an hjbsolve.Model, got {type(self.model).__name__}")
        order = check_int("order", self.order)
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "n_quad", check_int("n_quad", self.n_quad, ge=2))
        lam = getattr(self.model.price, "a", 0.0) * self.model.T
        x, w = _unit_rule(lam, self.n_quad)
        object.__setattr__(self, "_x", x)
        object.__setattr__(self, "_w", w)

    # ------------------------------------------------------------------ helpers
    @property
    def name(self) -> str:
        return f"expansion(order={self.order})"

    @property
    def _brownian(self) -> bool:
        return isinstance(self.model.price, Brownian)

    @property
    def c_alpha(self) -> float:
        """``C_α = A e^{−k(z+α)} / (e k)``: the one-side Hamiltonian at zero marginal value."""
        m = self.model
        return float(side_hamiltonian(0.0, m.A, m.k, m.z, m.alpha))

    def pi_tilde(self, t):
        """Unitary inventory-risk penalty ``π̃(t) = η z + ν σ² (T − t)`` (eq. 24); ``θ₂¹ = −π̃``."""
        m = self.model
        return m.eta * m.z + m.nu * m.sigma**2 * (m.T - np.asarray(t, dtype=float))

    def _nodes(self, t):
        """Nodes ``ξ`` on ``[t, T]`` and weights: shapes ``t.shape + (n,)``."""
        tau = (self.model.T - t)[..., None]
        return t[..., None] + tau * self._x, tau * self._w

    # ------------------------------------------------------------------ the pieces
    def _h0(self, t, s):
        """``h⁰(t, s)`` (eqs. 9, 16 with ``e^{−k(z+α)}``)."""
        m, C = self.model, self.c_alpha
        if self._brownian:
            return 2.0 * C * (m.T - t) + 0.0 * s
        xi, w = self._nodes(t)
        mean, _, var = _delta_law(m, t[..., None], s[..., None], xi)
        return 2.0 * C * np.sum(w * _e_cosh(m.k * mean, m.k**2 * var), axis=-1)

    def _theta1(self, t, s):
        """``θ₁¹(t, s) = −4kC_α ∫_t^T π̃(ξ) E[sinh(kΔ_ξ)] dξ`` (eq. 19)."""
        m, C = self.model, self.c_alpha
        if self._brownian:
            return 0.0 * (t + s)
        xi, w = self._nodes(t)
        mean, _, var = _delta_law(m, t[..., None], s[..., None], xi)
        integrand = self.pi_tilde(xi) * _e_sinh(m.k * mean, m.k**2 * var)
        return -4.0 * m.k * C * np.sum(w * integrand, axis=-1)

    def _theta0(self, t, s):
        """``θ₀¹(t, s)`` (eq. 20): a single plus a double integral of closed forms."""
        m, C, k = self.model, self.c_alpha, self.model.k
        if self._brownian:
            tau = m.T - t
            return -2.0 * k * C * (m.eta * m.z * tau + 0.5 * m.nu * m.sigma**2 * tau**2) + 0.0 * s
        t, s = np.broadcast_arrays(t, s)
        out = np.empty(t.shape)
        tf, sf, of = t.ravel(), s.ravel(), out.reshape(-1)
        n = self._x.size
        step = max(1, _CHUNK_ELEMENTS // (n * n))
        for i in range(0, tf.size, step):
            of[i:i + step] = self._theta0_flat(tf[i:i + step], sf[i:i + step])
        return out

    def _theta0_flat(self, t, s):
        m, C, k = self.model, self.c_alpha, self.model.k
        price = m.price
        xi, w = self._nodes(t)                                    # (M, n)
        t3, s3 = t[:, None, None], s[:, None, None]
        mx, cx, vx = _delta_law(m, t3, s3, xi[..., None])         # (M, n, 1)
        # single integral: −2kC ∫ π̃(ξ) E cosh(kΔ_ξ) dξ
        single = np.sum(w * self.pi_tilde(xi) * _e_cosh(k * mx[..., 0], k**2 * vx[..., 0]), axis=-1)
        # double integral: ∫_t^T dξ ∫_ξ^T du π̃(u) E[sinh(kΔ_ξ) sinh(kΔ_u)]
        u = xi[..., None] + (m.T - xi)[..., None] * self._x       # (M, n, n)
        wu = (m.T - xi)[..., None] * self._w
        my, cy, vy = _delta_law(m, t3, s3, u)
        cov = cx * cy * price.variance(xi[..., None] - t3) * price.decay(u - xi[..., None])
        inner = np.sum(wu * self.pi_tilde(u) * _e_sinh_sinh(k * mx, k * my, k**2 * vx, k**2 * vy, k**2 * cov),
                       axis=-1)
        double = np.sum(w * inner, axis=-1)
        return -2.0 * k * C * single - 8.0 * (k * C) ** 2 * double

    def terms(self, t, s=None) -> dict:
        """The named pieces of the closed forms at broadcast ``(t, s)``.

        Parameters
        ----------
        t : array_like
            Times in ``[0, T]``.
        s : array_like, optional
            Mid-prices (required for an OU price).

        Returns
        -------
        dict of ndarray (shape ``broadcast(t, s)``) or float
            ``Delta`` (Δ, §2.4), ``theta1_0`` (``θ₁⁰ = s + Δ``), ``h0`` (``θ₀⁰``, eq. 16),
            ``pi_tilde`` (π̃, eq. 24), ``theta2_1`` (``−π̃``, eq. 18), ``theta1_1`` (eq. 19),
            ``theta0_1`` (eq. 20), ``H`` (``4kC_α sinh(kΔ)`` at ``(t, s)``, eq. 26),
            ``C_alpha`` (float).
        """
        t = _check_t(t, self.model.T)
        s = _check_s(s, required=not self._brownian)
        t, s = np.broadcast_arrays(t, s)
        with np.errstate(under="ignore"):
            Delta = self.model.delta(t, s)
            pi = self.pi_tilde(t)
            C, k = self.c_alpha, self.model.k
            return {
                "Delta": Delta,
                "theta1_0": s + Delta,
                "h0": self._h0(t, s),
                "pi_tilde": pi,
                "theta2_1": -pi,
                "theta1_1": self._theta1(t, s),
                "theta0_1": self._theta0(t, s),
                "H": 4.0 * k * C * np.sinh(k * Delta),
                "C_alpha": C,
            }

    # ------------------------------------------------------------------ answers
    def _marginals(self, t, q, s):
        """``(p⁺, p⁻)`` at broadcast ``(t, q, s)`` (checked inputs)."""
        m = self.model
        Delta = m.delta(t, s)
        if self.order == 0:
            zero = np.zeros(np.broadcast_shapes(t.shape, q.shape, s.shape))
            return ask_marginal(zero, zero, Delta), bid_marginal(zero, zero, Delta)
        th1 = self._theta1(t, s)
        th2 = -self.pi_tilde(t)

        # q-dependent part of h_q; h⁰ + εθ₀¹ cancels in the marginals (left out for accuracy)
        def g(qq):
            return m.eps * (qq * th1 + qq**2 * th2)

        return ask_marginal(g(q), g(q - 1.0), Delta), bid_marginal(g(q), g(q + 1.0), Delta)

    def quotes(self, t, q, s=None):
        """Optimal half-spreads ``(δ⁺, δ⁻)`` (eq. 26; eq. 9 with costs at order 0).

        Parameters
        ----------
        t, q, s : array_like
            Time in ``[0, T]``, integer inventory, mid-price (ignored — may be omitted — for a
            Brownian price). Broadcast together.

        Returns
        -------
        ask, bid : ndarray, shape ``broadcast(t, q, s)``
        """
        t = _check_t(t, self.model.T)
        q = _check_q(q)
        s = _check_s(s, required=not self._brownian)
        with np.errstate(under="ignore"):
            pp, pm = self._marginals(t, q, s)
        m = self.model
        ask = optimal_quote(pp, m.k, m.alpha)
        bid = optimal_quote(pm, m.k, m.alpha)
        shape = np.broadcast_shapes(t.shape, q.shape, s.shape)
        return np.broadcast_to(ask, shape).copy(), np.broadcast_to(bid, shape).copy()

    def quotes_on_grid(self, t: float, s, q):
        """Quotes at one time on a tensor grid ``s × q`` (the solvers' fast path).

        The closed-form quotes are affine in ``q`` (eq. 26), so they are computed at ``q = 0``
        and ``q = 1`` and extended exactly instead of evaluating the time integrals once per
        inventory.

        Returns
        -------
        ask, bid : ndarray, shape (n_s, n_q)
        """
        s = np.atleast_1d(np.asarray(s, float))
        q = np.asarray(q, float)
        s_arg = None if self._brownian else s
        a0, b0 = (np.broadcast_to(x, s.shape) for x in self.quotes(float(t), 0, s_arg))
        a1, b1 = (np.broadcast_to(x, s.shape) for x in self.quotes(float(t), 1, s_arg))
        return (a0[:, None] + (a1 - a0)[:, None] * q[None, :],
                b0[:, None] + (b1 - b0)[:, None] * q[None, :])

    def spread(self, t, q, s=None):
        """``ψ = δ⁺ + δ⁻`` (eqs. 22, 26: ``2/k + 2α + 2επ̃`` at order 1)."""
        ask, bid = self.quotes(t, q, s)
        return ask + bid

    def centre(self, t, q, s=None):
        """``r = s + (δ⁺ − δ⁻)/2`` (eqs. 23, 26); for a Brownian price ``s`` defaults to 0."""
        ask, bid = self.quotes(t, q, s)
        s0 = 0.0 if s is None else np.asarray(s, dtype=float)
        return s0 + 0.5 * (ask - bid)

    def value(self, t, q, s):
        """Value ``v_q(t, s)`` (``u = x + v_q``), the ``q s`` part included.

        Order 0: ``q (s + Δ) + h⁰`` (eq. 9). Order 1:
        ``q (s + Δ) + h⁰ + ε (θ₀¹ + q θ₁¹ + q² θ₂¹)`` (eqs. 12, 16, 18–20).

        Parameters
        ----------
        t, q, s : array_like
            Broadcast together; ``s`` is required (also for a Brownian price).

        Returns
        -------
        ndarray, shape ``broadcast(t, q, s)``

        Notes
        -----
        For an OU price ``θ₀¹`` is a double time integral: the cost is about
        ``(n_panels · n_quad)²`` Gaussian evaluations per distinct ``(t, s)`` pair (2 304 for
        ``a T <= 2``), so a value grid is slower than a quote grid.
        """
        t = _check_t(t, self.model.T)
        q = _check_q(q)
        s = _check_s(s, required=True)
        m = self.model
        shape = np.broadcast_shapes(t.shape, q.shape, s.shape)
        # the pieces depend on (t, s) only: evaluate them once per distinct pair
        ts = np.broadcast_shapes(t.shape, s.shape)
        tt, ss = np.broadcast_to(t, ts), np.broadcast_to(s, ts)
        with np.errstate(under="ignore"):
            Delta = m.delta(tt, ss)
            v = q * (ss + Delta) + self._h0(tt, ss)
            if self.order == 1:
                v = v + m.eps * (self._theta0(tt, ss) + q * self._theta1(tt, ss) - q**2 * self.pi_tilde(tt))
        return np.broadcast_to(v, shape).copy()

    # ------------------------------------------------------------------ policies
    def tabulate(self, model: Model | None = None, n_t: int = 201, s=None, q_max: int = 600) -> TabulatedPolicy:
        """Quotes on a ``(t, s, q)`` grid for the compiled Monte Carlo engine.

        Parameters
        ----------
        model : Model, optional
            The model the policy will be run in (protocol argument); only its horizon is used,
            and it must equal this expansion's ``T``.
        n_t : int
            Number of equally spaced times on ``[0, T]`` (``>= 2``).
        s : array_like, shape (n_s,), optional
            Strictly increasing price nodes; required for an OU price, ignored (``[0.0]``) for
            a Brownian one (the quotes do not depend on ``s``).
        q_max : int
            Inventories ``−q_max … q_max``. At ``−q_max`` no ask, at ``q_max`` no bid is
            posted (``+inf``); the tables hold ``2 n_t n_s (2 q_max + 1)`` floats.

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
        n_t = check_int("n_t", n_t, ge=2)
        q_max = check_int("q_max", q_max, ge=1)
        if self._brownian:
            s = np.array([0.0])
        else:
            if s is None:
                raise ValueError("s (1-d array of price nodes) is required for an OU price")
            s = np.asarray(s, dtype=float)
            if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s)) or np.any(np.diff(s) <= 0):
                raise ValueError("s must be a finite, strictly increasing 1-d array")
        t = np.linspace(0.0, self.model.T, n_t)
        q = np.arange(-q_max, q_max + 1, dtype=float)
        # The quotes are affine in q (eq. 26): fill the tables from q = 0 and q = 1, which costs
        # one multiply-add per entry instead of re-evaluating every piece for every q.
        ask0, bid0 = self.quotes(t[:, None], 0, s[None, :])
        ask1, bid1 = self.quotes(t[:, None], 1, s[None, :])
        ask = np.multiply((ask1 - ask0)[..., None], q)
        ask += ask0[..., None]
        bid = np.multiply((bid1 - bid0)[..., None], q)
        bid += bid0[..., None]
        ask[:, :, 0] = np.inf
        bid[:, :, -1] = np.inf
        return TabulatedPolicy(t, s, -q_max, q_max, ask, bid, name=self.name)


def expansion(model: Model, order: int = 1, *, n_quad: int = DEFAULT_N_QUAD) -> Expansion:
    """The paper's closed-form solution of ``model`` to order ``order`` in ε.

    Parameters
    ----------
    model : Model
        Brownian or Ornstein–Uhlenbeck mid-price.
    order : {0, 1}
        0: exact solution of the ε = 0 problem (eq. 9 with the costs of §3.8);
        1: first-order expansion in ε (eqs. 16–24, 26).
    n_quad : int
        Gauss–Legendre nodes per panel of the time integrals (OU only). The default gives
        about 1e-13 relative accuracy over the range checked (``a T`` up to 10³; exponents
        ``k |Δ|`` and ``k² Var(Δ)/2`` up to ~40); doubling ``n_quad`` is the check.

    Returns
    -------
    Expansion

    Examples
    --------
    >>> import hjbsolve as hs
    >>> from hjbsolve.expansion import expansion
    >>> ex = expansion(hs.paper_model("brownian"), order=1)
    >>> ask, bid = ex.quotes(0.0, 10)
    """
    return Expansion(model, order, n_quad)
