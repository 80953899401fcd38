"""Mid-price laws: everything about the price process lives here.

Two Gaussian laws with an affine conditional mean (paper §1.2: ``E_{t,y}[S_T]`` affine in
``s``), both of the form ``dS = (c₀ − a S) dt + σ dW``:

* :class:`Brownian` ``dS = b dt + σ dW`` (``a = 0``, ``c₀ = b``; ``b = 0``: a martingale);
* :class:`OrnsteinUhlenbeck` ``dS = a (μ − S) dt + σ dW`` (``c₀ = a μ``).

Each class answers every question the rest of the package asks about the price — the
conditional law (:meth:`~Brownian.mean`, :meth:`~Brownian.variance`, :meth:`~Brownian.decay`,
:meth:`~Brownian.transition`), the directional bet ``Δ(t, s) = E_{t,s}[S_T] − s`` and the law of
``Δ`` along a path (:meth:`~Brownian.delta_law`), the prices a path visits
(:meth:`~Brownian.reach`, :meth:`~Brownian.path_range`), the finite-difference generator
(:meth:`~Brownian.generator`) and the three numbers the compiled path kernel needs
(:meth:`~Brownian.kernel_params`) — so no other module switches on the kind of price.

Units: ``σ`` in price units per square-root time unit, ``a`` and ``b`` per time unit; the time
unit is the model's (that of ``T`` and of the intensity ``A``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _stats

from ._validation import check_int, check_real

__all__ = ["Brownian", "OrnsteinUhlenbeck", "PriceProcess", "price_from_dict", "PRICE_KINDS"]


class _GaussianAffine:
    """Shared maths of ``dS = (c₀ − a S) dt + σ dW`` (methods only; subclasses are dataclasses)."""

    sigma: float

    # ---------------------------------------------------------------- the law (subclasses define a, c0)
    @property
    def mean_reversion(self) -> float:
        """``a`` (0 for a Brownian price)."""
        raise NotImplementedError

    @property
    def depends_on_price(self) -> bool:
        """Whether the reduced value ``g = v − q s`` depends on ``s`` (it does not when the drift is
        constant: then ``Δ`` and the whole problem are the same at every price)."""
        return self.mean_reversion > 0.0

    def kernel_params(self) -> tuple[float, float, float]:
        """``(a, c₀, σ)`` of ``dS = (c₀ − a S) dt + σ dW`` for the compiled path kernel."""
        raise NotImplementedError

    def drift_at(self, s):
        """SDE drift ``b(s) = c₀ − a s`` at the prices ``s`` (array)."""
        a, c0, _ = self.kernel_params()
        return c0 - a * np.asarray(s, dtype=float)

    def decay(self, tau):
        """``∂ E[S_{t+τ} | S_t = s] / ∂s = e^{−aτ}``."""
        return np.exp(-self.mean_reversion * np.asarray(tau, dtype=float))

    def _phi1(self, tau):
        """``∫_0^τ e^{−a u} du = (1 − e^{−aτ})/a`` (``τ`` when ``a = 0``), without cancellation."""
        a = self.mean_reversion
        tau = np.asarray(tau, dtype=float)
        if a == 0.0:
            return tau
        return -np.expm1(-a * tau) / a

    def mean(self, s, tau):
        """``E[S_{t+τ} | S_t = s] = s e^{−aτ} + c₀ (1 − e^{−aτ})/a``; broadcasts."""
        _, c0, _ = self.kernel_params()
        return np.asarray(s, dtype=float) * self.decay(tau) + c0 * self._phi1(tau)

    def variance(self, tau):
        """``Var[S_{t+τ} | S_t] = σ² (1 − e^{−2aτ})/(2a)`` (``σ² τ`` when ``a = 0``)."""
        a = self.mean_reversion
        tau = np.asarray(tau, dtype=float)
        if a == 0.0:
            return self.sigma**2 * tau
        return self.sigma**2 * (-np.expm1(-2.0 * a * tau)) / (2.0 * a)

    def transition(self, dt: float) -> tuple[float, float, float]:
        """Exact one-step map ``S' = ρ S + c + std · Z`` with ``Z ~ N(0, 1)``: ``(ρ, c, std)``."""
        _, c0, _ = self.kernel_params()
        return float(self.decay(dt)), float(c0 * self._phi1(dt)), math.sqrt(float(self.variance(dt)))

    # ---------------------------------------------------------------- the directional bet (paper §2.4)
    def delta(self, t, s, T):
        """``Δ(t, s) = E_{t,s}[S_T] − s``; broadcasts over ``t`` and ``s``.

        Written ``(c₀ − a s)(1 − e^{−a(T−t)})/a`` so that no two numbers of the size of ``s`` are
        subtracted.
        """
        tau = T - np.asarray(t, dtype=float)
        return self.drift_at(s) * self._phi1(tau)

    def delta_law(self, t, s, xi, T):
        """Law of ``Δ_ξ = Δ(ξ, S_ξ)`` given ``S_t = s`` (``t ≤ ξ ≤ T``); arrays broadcast.

        ``Δ(ξ, x) = (c₀ − a x) φ(T − ξ)`` with ``φ(τ) = (1 − e^{−aτ})/a`` is affine in ``x``, so
        ``Δ_ξ`` is Gaussian.

        Returns
        -------
        mean : ndarray
            ``E_{t,s}[Δ_ξ] = b(E_{t,s}[S_ξ]) φ(T − ξ) = b(s) e^{−a(ξ−t)} φ(T − ξ)``.
        slope : ndarray
            ``c_ξ = −∂Δ(ξ, x)/∂x = a φ(T − ξ) = 1 − e^{−a(T−ξ)}`` (0 for a Brownian price).
        var : ndarray
            ``Var_{t,s}[Δ_ξ] = c_ξ² Var[S_ξ | S_t]``.

        For ``t ≤ ξ ≤ u`` the covariance is ``Cov(Δ_ξ, Δ_u) = c_ξ c_u Var[S_ξ|S_t] e^{−a(u−ξ)}``
        (``slope``, :meth:`variance` and :meth:`decay`).
        """
        xi = np.asarray(xi, dtype=float)
        a = self.mean_reversion
        phi = self._phi1(T - xi)
        slope = a * phi
        mean = self.drift_at(s) * self.decay(xi - np.asarray(t, dtype=float)) * phi
        var = slope**2 * self.variance(xi - np.asarray(t, dtype=float))
        return mean, slope, var

    # ---------------------------------------------------------------- where paths go
    def reach(self, s_range, T: float, n_sd: float = 6.0) -> tuple[float, float]:
        """Prices that paths started in ``s_range`` visit on ``[0, T]`` with overwhelming probability.

        The mean path moves monotonically from ``s`` to ``E[S_T | s]``; around it the price spreads
        by at most ``sd_T = sqrt(Var[S_T])``. The reach is the hull of both ends padded by ``n_sd``
        standard deviations (``n_sd = 6``: a two-sided Gaussian tail of 2e-9).
        """
        lo, hi = s_range
        m_lo, m_hi = float(self.mean(lo, T)), float(self.mean(hi, T))
        sd = math.sqrt(float(self.variance(T)))
        return float(min(lo, m_lo) - n_sd * sd), float(max(hi, m_hi) + n_sd * sd)

    def default_s_range(self, T: float, s0: float | None = None) -> tuple[float, float]:
        """Where a solver answers by default.

        * With an initial price ``s0``: the prices a path from ``s0`` is likely to visit over the
          horizon, ``[min(s0, m_T) − 2 sd_T, max(s0, m_T) + 2 sd_T]`` with ``m_T = E[S_T | s0]`` and
          ``sd_T = sqrt(Var[S_T])`` (:meth:`reach` of ``s0`` with ``n_sd = 2``; ``s0 ± 1`` if the
          price does not move).
        * Without one (OU only): ``μ ± 4 max(σ sqrt(T), σ/sqrt(2a))`` around the long-run level.

        Raises
        ------
        ValueError
            No ``s0`` and no long-run level (a Brownian price).
        """
        if s0 is not None:
            lo, hi = self.reach((s0, s0), T, 2.0)
            return (lo, hi) if hi > lo else (s0 - 1.0, s0 + 1.0)
        level = self._level()
        if level is None:
            raise ValueError("s_range is required: the answers depend on the price and the process has no "
                             "long-run level (pass s_range=(low, high), or give the model an initial price s0)")
        a = self.mean_reversion
        w = max(self.sigma * math.sqrt(T), self.sigma / math.sqrt(2.0 * a))
        w = 4.0 * w if w > 0 else 1.0
        return float(level - w), float(level + w)

    def _level(self):
        return None

    def default_ds(self, T: float, k: float, lo: float, hi: float) -> float:
        """Default price spacing for a finite-difference grid on ``[lo, hi]``.

        The smallest of a quarter of ``sd_T`` (the price's standard deviation over the horizon),
        the cell-Péclet bound ``σ²/max|b(s)|`` (central differences stay monotone) and a fortieth
        of the scale ``1/(k c_0)``, ``c_0 = 1 − e^{−aT}``, on which the directional bet changes the
        quotes by one ``1/k``; ``(hi − lo)/64`` if none applies.
        """
        sd_T = math.sqrt(float(self.variance(T)))
        cands = [sd_T / 4.0 if sd_T > 0 else math.inf]
        bmax = float(np.max(np.abs(self.drift_at(np.array([lo, hi])))))
        if bmax > 0 and self.sigma > 0:
            cands.append(self.sigma**2 / bmax)
        slope = 1.0 - float(self.decay(T))
        if slope > 0:
            cands.append(1.0 / (40.0 * k * slope))
        ds = min(cands)
        return ds if math.isfinite(ds) else (hi - lo) / 64.0

    def path_range(self, s0: float, T: float, n_paths: int = 10_000, prob: float = 1e-6) -> tuple[float, float]:
        """A price interval that ``n_paths`` paths over ``[0, T]`` all stay in with probability ``≥ 1 − prob``.

        Write ``S_t = m_t + X_t`` with ``m_t = E[S_t]`` (monotone in ``t``). Two bounds on
        ``P(sup_t |X_t| > c)`` are used, and the smaller ``c``:

        * globally, ``X_t = e^{−at} M_t`` with ``M`` a Gaussian martingale of quadratic variation
          ``⟨M⟩_T = σ² (e^{2aT} − 1)/(2a)`` (``σ² T`` if ``a = 0``), and the reflection principle
          gives ``P(sup |M| > c) ≤ 4 P(Z > c/sqrt(⟨M⟩_T))``;
        * for strong mean reversion, on each of ``⌈2aT⌉`` blocks of length ``h ≤ 1/(2a)``,
          ``|X_t| ≤ |X_{t_j}| + sup |M^{(j)}|`` with ``Var X_{t_j} ≤ σ²/(2a)`` and
          ``⟨M^{(j)}⟩_h = σ² (e^{2ah} − 1)/(2a)``.

        A union bound over paths (and blocks) then fixes ``c``.
        """
        s0 = check_real("s0", s0)
        n_paths = check_int("n_paths", n_paths, ge=1)
        prob = check_real("prob", prob, gt=0.0, lt=1.0)
        sig, a = self.sigma, self.mean_reversion
        isf = _stats.norm.isf
        if a > 0:
            qv = sig**2 * math.expm1(2 * a * T) / (2 * a) if 2 * a * T < 700 else math.inf
            nb = math.ceil(2 * a * T)
            h = T / nb
            b = prob / (n_paths * nb)
            v0 = float(self.variance(T))
            qh = sig**2 * math.expm1(2 * a * h) / (2 * a)
            c_block = max(2 * math.sqrt(v0) * float(isf(b / 4)), 2 * math.sqrt(qh) * float(isf(b / 8)))
        else:
            qv = sig**2 * T
            c_block = math.inf
        c = min(math.sqrt(qv) * float(isf(prob / (4.0 * n_paths))), c_block)
        mT = float(self.mean(s0, T))
        return min(s0, mT) - c, max(s0, mT) + c

    # ---------------------------------------------------------------- finite differences
    def generator(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finite-difference generator ``𝓛_h = b(s) ∂_s + ½ σ² ∂_ss`` on the uniform nodes ``s``.

        Diffusion by central differences; advection central where the cell Péclet number
        ``|b| ds / σ² ≤ 1`` and upwind elsewhere, so every off-diagonal entry is non-negative and
        rows sum to zero: ``𝓛_h`` is the generator of a Markov chain and ``exp(dt 𝓛_h)`` is a
        monotone (positive, row-stochastic) propagator. At the two end nodes the second
        derivative is dropped (the value is taken locally linear) and the drift is kept only
        when it points into the grid (upwind); grids put those nodes beyond the reach of the
        paths that matter.

        Returns
        -------
        lower, diag, upper : ndarray, shape (n,)
            ``L[i, i−1] = lower[i]``, ``L[i, i] = diag[i]``, ``L[i, i+1] = upper[i]`` (``lower[0]``
            and ``upper[n−1]`` are zero).
        """
        s = np.asarray(s, dtype=float)
        n = s.size
        lower, diag, upper = np.zeros(n), np.zeros(n), np.zeros(n)
        if n == 1:
            return lower, diag, upper
        ds = float(s[1] - s[0])
        sig2 = self.sigma**2
        b = self.drift_at(s)
        i = np.arange(1, n - 1)
        dif = 0.5 * sig2 / ds**2
        central = np.abs(b[i]) * ds <= sig2
        lower[i] = np.where(central, dif - b[i] / (2 * ds), dif + np.maximum(-b[i], 0.0) / ds)
        upper[i] = np.where(central, dif + b[i] / (2 * ds), dif + np.maximum(b[i], 0.0) / ds)
        diag[i] = -(lower[i] + upper[i])
        if b[0] > 0:
            upper[0], diag[0] = b[0] / ds, -b[0] / ds
        if b[-1] < 0:
            lower[-1], diag[-1] = -b[-1] / ds, b[-1] / ds
        return lower, diag, upper

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        d = {"kind": self.kind}
        d.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        return d

    def replace(self, **changes):
        """A copy with some parameters changed (validated again)."""
        _check_keywords(type(self), changes)
        return dataclasses.replace(self, **changes)


def _check_keywords(cls, given) -> None:
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown price parameter(s) {unknown} for {cls.__name__}; allowed: {allowed}")


@dataclass(frozen=True)
class Brownian(_GaussianAffine):
    """Brownian mid-price ``dS = b dt + σ dW`` (a martingale when ``b = 0``).

    Parameters
    ----------
    sigma : float
        Volatility ``σ ≥ 0`` (price units per square-root time unit).
    drift : float
        Constant drift ``b`` (price units per time unit); ``Δ(t, s) = b (T − t)``.
    """

    sigma: float
    drift: float = 0.0

    kind = "brownian"

    def __post_init__(self):
        object.__setattr__(self, "sigma", check_real("sigma", self.sigma, ge=0.0))
        object.__setattr__(self, "drift", check_real("drift", self.drift))

    @property
    def mean_reversion(self) -> float:
        return 0.0

    @property
    def is_martingale(self) -> bool:
        return self.drift == 0.0

    def kernel_params(self) -> tuple[float, float, float]:
        return 0.0, self.drift, self.sigma


@dataclass(frozen=True)
class OrnsteinUhlenbeck(_GaussianAffine):
    """Mean-reverting mid-price ``dS = a (μ − S) dt + σ dW``.

    Parameters
    ----------
    a : float
        Mean-reversion rate ``a > 0`` (per time unit). Use :class:`Brownian` for ``a = 0``.
    mu : float
        Long-run level ``μ`` (price units).
    sigma : float
        Volatility ``σ ≥ 0``.
    """

    a: float
    mu: float
    sigma: float

    kind = "ou"
    is_martingale = False

    def __post_init__(self):
        object.__setattr__(self, "a", check_real("a", self.a, gt=0.0))
        object.__setattr__(self, "mu", check_real("mu", self.mu))
        object.__setattr__(self, "sigma", check_real("sigma", self.sigma, ge=0.0))

    @property
    def mean_reversion(self) -> float:
        return self.a

    def kernel_params(self) -> tuple[float, float, float]:
        return self.a, self.a * self.mu, self.sigma

    def _level(self):
        return self.mu

    def delta(self, t, s, T):
        """``Δ(t, s) = (μ − s)(1 − e^{−a(T−t)})``."""
        tau = T - np.asarray(t, dtype=float)
        return (self.mu - np.asarray(s, dtype=float)) * (-np.expm1(-self.a * tau))

    def delta_law(self, t, s, xi, T):
        # (μ − s) e^{−a(ξ−t)} c_ξ written without forming b(s) = a(μ − s) and dividing by a
        xi = np.asarray(xi, dtype=float)
        slope = -np.expm1(-self.a * (T - xi))
        mean = slope * (self.mu - np.asarray(s, dtype=float)) * self.decay(xi - np.asarray(t, dtype=float))
        var = slope**2 * self.variance(xi - np.asarray(t, dtype=float))
        return mean, slope, var

    @property
    def stationary_std(self) -> float:
        """``σ / sqrt(2a)``."""
        return self.sigma / math.sqrt(2.0 * self.a)


PriceProcess = Brownian | OrnsteinUhlenbeck
PRICE_KINDS = {"brownian": Brownian, "ou": OrnsteinUhlenbeck}


def price_from_dict(d: dict) -> PriceProcess:
    """Build a price process from ``{"kind": "brownian"|"ou", ...}``; unknown keys are errors."""
    if not isinstance(d, dict):
        raise ValueError(f"price must be a table/dict with a 'kind', got {d!r}")
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in PRICE_KINDS:
        raise ValueError(f"price kind must be one of {sorted(PRICE_KINDS)}, got {kind!r}")
    cls = PRICE_KINDS[kind]
    _check_keywords(cls, d)
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    missing = [n for n in required if n not in d]
    if missing:
        raise ValueError(f"missing price parameter(s) {missing} for kind {kind!r}")
    return cls(**d)
