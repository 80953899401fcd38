"""The market-making problem: frozen, validated parameters and the price processes.

Conventions (Fodra & Labadie 2013, with the sign conventions fixed once here)
-----------------------------------------------------------------------------
* Mid-price ``s``. The market maker quotes ask ``s + δ⁺`` and bid ``s − δ⁻``.
* An ask fill arrives with intensity ``λ⁺ = A exp(−k (z + δ⁺))``, lowers the inventory ``q``
  by one and adds ``s + δ⁺ − α`` to cash; a bid fill (``λ⁻ = A exp(−k (z + δ⁻))``) raises
  ``q`` by one and takes ``s − δ⁻ + α`` from cash. ``α`` is a per-trade cost (``α < 0``:
  a rebate).
* Objective (paper eq. 10 with the costs of eq. 25)::

      max E[ X_T + Q_T S_T − ε ( η z Q_T² + ν ∫_t^T σ² Q_ξ² dξ ) ]

  so the value function is ``u(t, s, q, x) = x + v_q(t, s)``.
* Mid-price: :class:`Brownian` ``dS = σ dW`` or :class:`OrnsteinUhlenbeck`
  ``dS = a (μ − S) dt + σ dW`` (the paper's §4 prints ``a[S − μ]``, a sign typo: its
  ``E[S_T]`` formula is the mean-reverting one; see ``validation/ERRATA.md``).

Only two combinations of the penalty parameters enter the exact problem: the running
penalty rate ``φ = ε ν σ²`` and the terminal penalty ``ϖ = ε η z`` (see
:attr:`Model.running_penalty`, :attr:`Model.terminal_penalty`). This is how the
Cartea–Jaimungal–Penalva parametrisation maps onto the same model
(:meth:`Model.cartea_jaimungal`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Union

import numpy as np

from ._validation import check_real

__all__ = ["Brownian", "OrnsteinUhlenbeck", "Model", "PriceProcess", "paper_model", "PAPER_S0"]

#: Initial mid-price of the paper's §4 simulations.
PAPER_S0 = 3000.0


@dataclass(frozen=True)
class Brownian:
    """Martingale mid-price ``dS = σ dW``.

    Parameters
    ----------
    sigma : float
        Volatility (price units per square-root time unit), ``σ >= 0``.
    """

    sigma: float

    kind = "brownian"

    def __post_init__(self):
        object.__setattr__(self, "sigma", check_real("sigma", self.sigma, ge=0.0))

    is_martingale = True

    def mean(self, s, tau):
        """``E[S_{t+τ} | S_t = s]``; broadcasts over ``s`` and ``tau``."""
        return np.asarray(s, dtype=float) + 0.0 * np.asarray(tau, dtype=float)

    def variance(self, tau):
        """``Var[S_{t+τ} | S_t]`` = ``σ² τ``."""
        return self.sigma**2 * np.asarray(tau, dtype=float)

    def decay(self, tau):
        """``∂ E[S_{t+τ}|S_t=s] / ∂s`` (1 for a martingale)."""
        return np.ones_like(np.asarray(tau, dtype=float))

    def drift(self, s):
        """Drift ``b(s)`` of the SDE (zero)."""
        return np.zeros_like(np.asarray(s, dtype=float))

    def transition(self, dt: float) -> tuple[float, float, float]:
        """Exact one-step map ``S' = ρ S + c + std · Z`` with ``Z ~ N(0, 1)``: ``(ρ, c, std)``."""
        return 1.0, 0.0, self.sigma * math.sqrt(dt)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "sigma": self.sigma}


@dataclass(frozen=True)
class OrnsteinUhlenbeck:
    """Mean-reverting mid-price ``dS = a (μ − S) dt + σ dW``.

    Parameters
    ----------
    a : float
        Mean-reversion rate (per time unit), ``a > 0``. Use :class:`Brownian` for ``a = 0``.
    mu : float
        Long-run mean ``μ``.
    sigma : float
        Volatility, ``σ >= 0``.
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

    def decay(self, tau):
        """``e^{−a τ}`` = ``∂ E[S_{t+τ}|S_t=s] / ∂s``."""
        return np.exp(-self.a * np.asarray(tau, dtype=float))

    def mean(self, s, tau):
        """``E[S_{t+τ} | S_t = s] = μ + (s − μ) e^{−aτ}``."""
        return self.mu + (np.asarray(s, dtype=float) - self.mu) * self.decay(tau)

    def variance(self, tau):
        """``Var[S_{t+τ} | S_t] = σ² (1 − e^{−2aτ}) / (2a)``."""
        tau = np.asarray(tau, dtype=float)
        return self.sigma**2 * (-np.expm1(-2.0 * self.a * tau)) / (2.0 * self.a)

    def drift(self, s):
        """Drift ``b(s) = a (μ − s)``."""
        return self.a * (self.mu - np.asarray(s, dtype=float))

    def transition(self, dt: float) -> tuple[float, float, float]:
        """Exact one-step map ``S' = ρ S + c + std · Z``: ``(ρ, c, std)``."""
        rho = math.exp(-self.a * dt)
        return rho, self.mu * (1.0 - rho), math.sqrt(float(self.variance(dt)))

    @property
    def stationary_std(self) -> float:
        """``σ / sqrt(2a)``."""
        return self.sigma / math.sqrt(2.0 * self.a)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "a": self.a, "mu": self.mu, "sigma": self.sigma}


PriceProcess = Union[Brownian, OrnsteinUhlenbeck]


def price_from_dict(d: dict) -> PriceProcess:
    """Build a price process from ``{"kind": "brownian"|"ou", ...}``; unknown keys are errors."""
    d = dict(d)
    kind = d.pop("kind", None)
    classes = {"brownian": Brownian, "ou": OrnsteinUhlenbeck}
    if kind not in classes:
        raise ValueError(f"price kind must be one of {sorted(classes)}, got {kind!r}")
    cls = classes[kind]
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - allowed
    if unknown:
        raise ValueError(f"unknown price parameter(s) {sorted(unknown)} for kind {kind!r}; allowed: {sorted(allowed)}")
    missing = allowed - set(d)
    if missing:
        raise ValueError(f"missing price parameter(s) {sorted(missing)} for kind {kind!r}")
    return cls(**d)


@dataclass(frozen=True)
class Model:
    """One market-making problem (paper §3 with the transaction costs of §3.8).

    Parameters
    ----------
    price : Brownian or OrnsteinUhlenbeck
        Mid-price process.
    A : float
        Order-flow intensity scale, ``A > 0`` (fills per time unit at zero distance).
    k : float
        Intensity decay ``k > 0`` (per price unit).
    z : float
        Half market spread ``z >= 0``; enters the intensity ``A e^{−k(z+δ)}`` and the
        terminal penalty ``ε η z Q_T²``.
    T : float
        Horizon ``T > 0`` (same time unit as ``A``, ``σ²`` and ``a``).
    eps : float
        Inventory-risk weight ``ε >= 0``.
    eta, nu : float
        Weights ``η, ν >= 0`` of the terminal and running penalties.
    alpha : float
        Per-trade transaction cost ``α`` (negative: a rebate).
    """

    price: PriceProcess
    A: float
    k: float
    z: float
    T: float
    eps: float = 0.0
    eta: float = 1.0
    nu: float = 1.0
    alpha: float = 0.0

    def __post_init__(self):
        if not isinstance(self.price, (Brownian, OrnsteinUhlenbeck)):
            raise ValueError(
                f"price must be hs.Brownian(...) or hs.OrnsteinUhlenbeck(...), got {self.price!r}"
            )
        for name, kw in (("A", dict(gt=0.0)), ("k", dict(gt=0.0)), ("z", dict(ge=0.0)), ("T", dict(gt=0.0)),
                         ("eps", dict(ge=0.0)), ("eta", dict(ge=0.0)), ("nu", dict(ge=0.0)), ("alpha", {})):
            object.__setattr__(self, name, check_real(name, getattr(self, name), **kw))

    # ------------------------------------------------------------------ derived scales
    @property
    def sigma(self) -> float:
        return self.price.sigma

    @property
    def running_penalty(self) -> float:
        """``φ = ε ν σ²``: the running penalty is ``φ ∫ Q² dt``."""
        return self.eps * self.nu * self.price.sigma**2

    @property
    def terminal_penalty(self) -> float:
        """``ϖ = ε η z``: the terminal penalty is ``ϖ Q_T²``."""
        return self.eps * self.eta * self.z

    @property
    def base_rate(self) -> float:
        """Fill rate per side at the ε=0 optimum with Δ=0: ``A e^{−1} e^{−k(z+α)}``."""
        return self.A * math.exp(-1.0 - self.k * (self.z + self.alpha))

    def delta(self, t, s):
        """Directional bet ``Δ(t, s) = E_{t,s}[S_T] − s`` (paper §2.4); broadcasts."""
        tau = self.T - np.asarray(t, dtype=float)
        return self.price.mean(s, tau) - np.asarray(s, dtype=float)

    def replace(self, **changes) -> "Model":
        """A copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ other parametrisations
    @classmethod
    def cartea_jaimungal(cls, *, sigma: float, lam: float, kappa: float, phi: float,
                         terminal_penalty: float, T: float, alpha: float = 0.0, z: float = 1.0,
                         price: PriceProcess | None = None) -> "Model":
        """Build a model in the Cartea–Jaimungal–Penalva (and mbt_gym) parametrisation.

        Their problem: fills at rate ``λ e^{−κ δ}``, objective
        ``E[X_T + Q_T (S_T − terminal_penalty·Q_T) − φ ∫ Q_u² du]`` (their ``α`` is our
        ``terminal_penalty``). It maps onto :class:`Model` with ``ε = 1``,
        ``k = κ``, ``A = λ e^{κ z}``, ``ν = φ / σ²``, ``η = terminal_penalty / z`` for any
        gauge ``z > 0`` (only ``A e^{−kz}`` and ``η z`` matter).

        Parameters
        ----------
        sigma : float
            Mid-price volatility; must be ``> 0`` when ``phi > 0``.
        lam, kappa : float
            Their intensity scale ``λ > 0`` and decay ``κ > 0``.
        phi : float
            Running inventory penalty ``φ >= 0``.
        terminal_penalty : float
            Terminal liquidation penalty ``>= 0`` (their ``α``).
        T : float
            Horizon.
        alpha : float
            Our per-trade transaction cost (0 in their model).
        z : float
            Gauge for the half-spread, ``z > 0``.
        price : optional
            A price process to use instead of ``Brownian(sigma)``.
        """
        sigma = check_real("sigma", sigma, ge=0.0)
        lam = check_real("lam", lam, gt=0.0)
        kappa = check_real("kappa", kappa, gt=0.0)
        phi = check_real("phi", phi, ge=0.0)
        terminal_penalty = check_real("terminal_penalty", terminal_penalty, ge=0.0)
        z = check_real("z", z, gt=0.0)
        if phi > 0 and sigma == 0:
            raise ValueError(f"sigma must be > 0 when phi > 0 (phi = eps*nu*sigma^2), got sigma={sigma!r}")
        nu = phi / sigma**2 if sigma > 0 else 0.0
        price = Brownian(sigma) if price is None else price
        return cls(price=price, A=lam * math.exp(kappa * z), k=kappa, z=z, T=T, eps=1.0,
                   eta=terminal_penalty / z, nu=nu, alpha=alpha)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "price"}
        d["price"] = self.price.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Model":
        """Inverse of :meth:`to_dict`; unknown keys are errors."""
        d = dict(d)
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown model parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        if "price" not in d:
            raise ValueError("missing model parameter 'price'")
        d["price"] = price_from_dict(d["price"])
        return cls(**d)


def paper_model(price: str = "ou", **changes) -> Model:
    """The parameters of the paper's §4 (``S0`` = :data:`PAPER_S0`).

    ``A=1000, k=1, z=0.5, σ=0.5, T=1, a=0.1, μ=3009, ε=0.001, η=ν=1, α=0.05``.

    Parameters
    ----------
    price : {"ou", "brownian"}
        The OU mid-price of §4, or a martingale with the same ``σ``.
    **changes
        Any :class:`Model` field to override.
    """
    if price == "ou":
        p = OrnsteinUhlenbeck(a=0.1, mu=3009.0, sigma=0.5)
    elif price == "brownian":
        p = Brownian(sigma=0.5)
    else:
        raise ValueError(f"price must be 'ou' or 'brownian', got {price!r}")
    m = Model(price=p, A=1000.0, k=1.0, z=0.5, T=1.0, eps=1e-3, eta=1.0, nu=1.0, alpha=0.05)
    return m.replace(**changes) if changes else m
