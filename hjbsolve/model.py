"""The market-making problem: frozen, validated parameters (what the problem IS; no numerics).

Conventions (Fodra & Labadie 2013, with the sign conventions fixed once here)
-----------------------------------------------------------------------------
* Mid-price ``s``. The market maker quotes ask ``s + δ⁺`` and bid ``s − δ⁻``.
* An ask fill arrives with intensity ``λ⁺ = A⁺ exp(−k⁺ (z + δ⁺))``, lowers the inventory ``q``
  by one and adds ``s + δ⁺ − α`` to cash; a bid fill (``λ⁻ = A⁻ exp(−k⁻ (z + δ⁻))``) raises
  ``q`` by one and takes ``s − δ⁻ + α`` from cash. ``α`` is a per-trade cost (``α < 0``:
  a rebate). ``A⁺ = A⁻ = A`` and ``k⁺ = k⁻ = k`` in the paper's symmetric model; §2.5 allows
  them to differ.
* Objective (paper eq. 10 with the costs of eq. 25)::

      max E[ X_T + Q_T S_T − ϖ Q_T² − φ ∫_t^T Q_ξ² dξ ]

  with the paper's penalties ``ϖ = ε η z`` and ``φ = ε ν σ²`` (§3.1), or ``φ``, ``ϖ`` set
  directly (Cartea–Jaimungal–Penalva's parametrisation). The value function is
  ``u(t, s, q, x) = x + v_q(t, s)``.
* Mid-price: :class:`~hjbsolve.prices.Brownian` ``dS = b dt + σ dW`` or
  :class:`~hjbsolve.prices.OrnsteinUhlenbeck` ``dS = a (μ − S) dt + σ dW`` (the paper's §4
  prints ``a[S − μ]``, a sign typo: its ``E[S_T]`` formula is the mean-reverting one; see
  ``validation/ERRATA.md``).

Units: one time unit for ``T``, ``A``, ``a``, ``σ²`` and ``φ``; one price unit for ``s``, ``z``,
``α``, ``δ`` and ``1/k``.

The model is turned into arrays for the numerical engines in exactly one place,
:meth:`Model.coefficients` (see :mod:`hjbsolve.coefficients`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_names, check_real, fields_dict
from .coefficients import MAX_LOG_RATE
from .prices import Brownian, OrnsteinUhlenbeck, PriceProcess, price_from_dict
from .regimes import Regimes

__all__ = ["Brownian", "OrnsteinUhlenbeck", "Model", "PriceProcess", "paper_model", "PAPER_S0", "SIDES"]

#: Initial mid-price of the paper's §4 simulations.
PAPER_S0 = 3000.0
#: Side names, in the order of every per-side array: ask (a fill lowers q), bid (a fill raises q).
SIDES = ("ask", "bid")


def _per_side(name: str, value, **bounds):
    """``value`` as a float (same on both sides) or a pair ``(ask, bid)`` of floats."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return check_real(name, value, **bounds)
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair ({name}_plus, {name}_minus) for the ask and bid "
                         f"sides, got {value!r}")
    plus = check_real(f"{name}_plus", value[0], **bounds)
    minus = check_real(f"{name}_minus", value[1], **bounds)
    return plus if plus == minus else (plus, minus)


@dataclass(frozen=True)
class Model:
    """One market-making problem (paper §3 with the transaction costs of §3.8).

    Parameters
    ----------
    price : Brownian or OrnsteinUhlenbeck
        Mid-price process.
    A : float or (float, float)
        Order-flow intensity scale ``A > 0`` (fills per time unit at distance ``−z``), or a
        pair ``(A⁺, A⁻)`` for the ask and bid sides.
    k : float or (float, float)
        Intensity decay ``k > 0`` (per price unit), or ``(k⁺, k⁻)``.
    z : float
        Half market spread ``z >= 0``; enters the intensity ``A e^{−k(z+δ)}`` and the paper's
        terminal penalty ``ε η z Q_T²``.
    T : float
        Horizon ``T > 0`` (same time unit as ``A``, ``σ²`` and ``a``).
    eps : float
        Inventory-risk weight ``ε >= 0``.
    eta, nu : float
        Weights ``η, ν >= 0`` of the terminal and running penalties.
    alpha : float
        Per-trade transaction cost ``α`` (negative: a rebate).
    phi : float, optional
        Running penalty rate ``φ >= 0`` set directly (price units per time unit per unit of
        inventory squared); default ``ε ν σ²``.
    varpi : float, optional
        Terminal penalty ``ϖ >= 0`` set directly (price units per unit of inventory squared);
        default ``ε η z``.
    s0 : float, optional
        Initial mid-price (price units): where a solve's default ``s_range`` is centred (the
        prices a path from ``s0`` is likely to visit, :meth:`~hjbsolve.prices.Brownian.default_s_range`).
        It is not part of the problem (the value function does not depend on it), so models that
        differ only in ``s0`` compare equal. :func:`paper_model` sets :data:`PAPER_S0`.
    regimes : Regimes, optional
        A Markov chain of market regimes (:class:`hjbsolve.regimes.Regimes`) whose states carry
        their own ``z, σ, A±, k±, α``; a per-regime field overrides the model-level one. In regime
        ``r`` the penalties are ``ε ν σ_r²`` and ``ε η z_r`` (unless ``phi``/``varpi`` are set).
        :meth:`regime_models` gives each regime as a model without regimes.

    Raises
    ------
    ValueError
        A parameter outside its range (the message names it, its value and what is allowed).
    """

    price: PriceProcess
    A: float | tuple
    k: float | tuple
    z: float
    T: float
    eps: float = 0.0
    eta: float = 1.0
    nu: float = 1.0
    alpha: float = 0.0
    phi: float | None = None
    varpi: float | None = None
    s0: float | None = dataclasses.field(default=None, compare=False)
    regimes: Regimes | None = None

    def __new__(cls, *args, **kwargs):
        _check_names(kwargs)
        return super().__new__(cls)

    def __post_init__(self):
        if not isinstance(self.price, (Brownian, OrnsteinUhlenbeck)):
            raise ValueError(
                f"price must be hs.Brownian(...) or hs.OrnsteinUhlenbeck(...), got {self.price!r}")
        object.__setattr__(self, "A", _per_side("A", self.A, gt=0.0))
        object.__setattr__(self, "k", _per_side("k", self.k, gt=0.0))
        for name, kw in (("z", dict(ge=0.0)), ("T", dict(gt=0.0)), ("eps", dict(ge=0.0)), ("eta", dict(ge=0.0)),
                         ("nu", dict(ge=0.0)), ("alpha", {})):
            object.__setattr__(self, name, check_real(name, getattr(self, name), **kw))
        for name, kw in (("phi", dict(ge=0.0)), ("varpi", dict(ge=0.0)), ("s0", {})):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_real(name, getattr(self, name), **kw))
        try:
            phi = self.running_penalty
        except OverflowError:
            phi = math.inf
        if not math.isfinite(phi):
            raise ValueError(f"the running penalty φ = ε ν σ² overflows (eps={self.eps!r}, nu={self.nu!r}, "
                             f"sigma={self.sigma!r}): change the price unit or set phi directly")
        if not self._log_base_rate() <= MAX_LOG_RATE:
            raise ValueError(f"the fill rate A e^(−1−k(z+α)) = e^{self._log_base_rate():.4g} overflows (A={self.A!r}, "
                             f"k={self.k!r}, z={self.z!r}, alpha={self.alpha!r}; at most e^{MAX_LOG_RATE:g}): "
                             f"lower A or raise k(z+α)")
        if self.regimes is not None and not isinstance(self.regimes, Regimes):
            raise ValueError(f"regimes must be an hs.Regimes(...) or None, got {self.regimes!r}")
        object.__setattr__(self, "_regime_models", self._build_regime_models())

    # ------------------------------------------------------------------ regimes
    def _build_regime_models(self) -> tuple:
        if self.regimes is None:
            return (self,)
        out = []
        f = self.regimes.fields()
        for r, name in enumerate(self.regimes.names):
            def pick(key, default):
                return f[key][r] if key in f else default
            price = self.price if "sigma" not in f else self.price.replace(sigma=f["sigma"][r])
            A = (pick("A_plus", self.A_plus), pick("A_minus", self.A_minus))
            k = (pick("k_plus", self.k_plus), pick("k_minus", self.k_minus))
            try:
                out.append(Model(price=price, A=A, k=k, z=pick("z", self.z), T=self.T, eps=self.eps, eta=self.eta,
                                 nu=self.nu, alpha=pick("alpha", self.alpha), phi=self.phi, varpi=self.varpi))
            except ValueError as e:
                raise ValueError(f"regime {r} ({name!r}): {e}") from None
        return tuple(out)

    @property
    def n_regimes(self) -> int:
        """Number of regime states (1 without regimes)."""
        return 1 if self.regimes is None else self.regimes.n

    def regime_models(self) -> tuple:
        """Each regime as a model without regimes (its own ``z, σ, A±, k±, α`` and penalties);
        ``(self,)`` without regimes."""
        return self._regime_models

    @property
    def n_distinct_regimes(self) -> int:
        """Number of distinct regime models (1 without regimes, or with identical regimes)."""
        return len(set(self._regime_models))

    def without_regimes(self, what: str) -> "Model":
        """The model without its chain when every regime is the same market (the numbers are then
        those of the chain-free model); ``ValueError`` naming ``what`` when regimes differ."""
        if self.regimes is None:
            return self
        if self.n_distinct_regimes > 1:
            raise ValueError(f"{what}: market regimes are not yet supported there (this model has "
                             f"{self.regimes.n} regimes with different parameters); use hs.solve(model) "
                             f"(method='fd') or hs.evaluate")
        return self._regime_models[0]

    # ------------------------------------------------------------------ per side
    @property
    def A_plus(self) -> float:
        return self.A[0] if isinstance(self.A, tuple) else self.A

    @property
    def A_minus(self) -> float:
        return self.A[1] if isinstance(self.A, tuple) else self.A

    @property
    def k_plus(self) -> float:
        return self.k[0] if isinstance(self.k, tuple) else self.k

    @property
    def k_minus(self) -> float:
        return self.k[1] if isinstance(self.k, tuple) else self.k

    @property
    def symmetric(self) -> bool:
        """Both sides have the same intensity (the paper's model)."""
        return not (isinstance(self.A, tuple) or isinstance(self.k, tuple))

    def side_params(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((A⁺, k⁺), (A⁻, k⁻))`` in the order of :data:`SIDES`."""
        return (self.A_plus, self.k_plus), (self.A_minus, self.k_minus)

    # ------------------------------------------------------------------ derived scales
    @property
    def sigma(self) -> float:
        """The mid-price volatility ``σ``."""
        return self.price.sigma

    @property
    def running_penalty(self) -> float:
        """``φ``: the running penalty is ``φ ∫ Q² dt`` (``ε ν σ²`` unless set directly)."""
        return self.eps * self.nu * self.price.sigma**2 if self.phi is None else self.phi

    @property
    def terminal_penalty(self) -> float:
        """``ϖ``: the terminal penalty is ``ϖ Q_T²`` (``ε η z`` unless set directly)."""
        return self.eps * self.eta * self.z if self.varpi is None else self.varpi

    def pi_eps(self, t):
        """``ε π̃(t) = ϖ + φ (T − t)``: the paper's unitary inventory penalty (eq. 24) times ``ε``."""
        return self.terminal_penalty + self.running_penalty * (self.T - np.asarray(t, dtype=float))

    def log_rates(self) -> tuple[float, float]:
        """``log(A± e^{−k± z})``: log-intensities of a quote at the mid (``δ = 0``), per side.

        Computed in the log domain so that large ``k z`` (prices in small units) cannot overflow.
        """
        return tuple(math.log(A) - k * self.z for A, k in self.side_params())

    @property
    def base_rate(self) -> float:
        """Largest fill rate of a side at the ε=0 optimum with ``Δ = 0``: ``A e^{−1} e^{−k(z+α)}``."""
        return math.exp(self._log_base_rate())

    def _log_base_rate(self) -> float:
        return max(lr - 1.0 - k * self.alpha for lr, (_, k) in zip(self.log_rates(), self.side_params()))

    def delta(self, t, s):
        """Directional bet ``Δ(t, s) = E_{t,s}[S_T] − s`` (paper §2.4); broadcasts."""
        return self.price.delta(t, s, self.T)

    def side_arrays(self, n_axes: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log_rate, k, alpha)``, each of shape ``(n_axes, 2)`` (axis, side): the same market on every
        inventory axis (:class:`hjbsolve.coefficients.MarketCoefficients`)."""
        lr = np.tile(np.array(self.log_rates()), (n_axes, 1))
        k = np.tile(np.array([k for _, k in self.side_params()]), (n_axes, 1))
        return lr, k, np.full((n_axes, 2), self.alpha)

    def penalty_forms(self, n_axes: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(φ I, ϖ I)``: the running and terminal quadratic forms on ``n_axes`` inventory axes."""
        return self.running_penalty * np.eye(n_axes), self.terminal_penalty * np.eye(n_axes)

    def coefficients(self, grid):
        """The model flattened onto a state grid for the numerical engines.

        See :class:`hjbsolve.coefficients.MarketCoefficients`; the only place where the model's
        parameters are turned into arrays.
        """
        from .coefficients import MarketCoefficients

        return MarketCoefficients.from_model(self, grid)

    def replace(self, **changes) -> "Model":
        """A copy with some parameters changed (validated again); unknown names are errors."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ other parametrisations
    @classmethod
    def cartea_jaimungal(cls, *, sigma: float, lam: float, kappa: float, phi: float,
                         terminal_penalty: float, T: float, alpha: float = 0.0,
                         price: PriceProcess | None = None) -> "Model":
        """Build a model in the Cartea–Jaimungal–Penalva (and mbt_gym) parametrisation.

        Their problem: fills at rate ``λ e^{−κ δ}``, objective
        ``E[X_T + Q_T (S_T − terminal_penalty·Q_T) − φ ∫ Q_u² du]`` (their ``α`` is our
        ``terminal_penalty``). It is :class:`Model` with ``A = λ``, ``k = κ``, ``z = 0`` (only
        ``A e^{−kz}`` enters the intensity), ``φ`` and ``ϖ = terminal_penalty`` set directly and
        ``ε = 1``. ``σ`` enters only the price: ``σ = 0`` is allowed. Large ``κ`` (prices in small
        units) is fine: nothing is exponentiated here.

        Parameters
        ----------
        sigma : float
            Mid-price volatility ``σ >= 0``.
        lam, kappa : float
            Their intensity scale ``λ > 0`` (fills per time unit at the mid) and decay ``κ > 0``.
        phi : float
            Running inventory penalty ``φ >= 0``.
        terminal_penalty : float
            Terminal liquidation penalty ``>= 0`` (their ``α``).
        T : float
            Horizon.
        alpha : float
            Our per-trade transaction cost (0 in their model).
        price : optional
            A price process to use instead of ``Brownian(sigma)``.
        """
        sigma = check_real("sigma", sigma, ge=0.0)
        lam = check_real("lam", lam, gt=0.0)
        kappa = check_real("kappa", kappa, gt=0.0)
        phi = check_real("phi", phi, ge=0.0)
        terminal_penalty = check_real("terminal_penalty", terminal_penalty, ge=0.0)
        price = Brownian(sigma) if price is None else price
        return cls(price=price, A=lam, k=kappa, z=0.0, T=T, eps=1.0, alpha=alpha, phi=phi, varpi=terminal_penalty)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return fields_dict(self, lambda name, v: v.to_dict() if name in ("price", "regimes") else
                           list(v) if isinstance(v, tuple) else v)

    @classmethod
    def from_dict(cls, d: dict) -> "Model":
        """Inverse of :meth:`to_dict`; unknown keys are errors."""
        if not isinstance(d, dict):
            raise ValueError(f"a model must be a dict/table, got {type(d).__name__}")
        d = dict(d)
        _check_names(d)
        if "price" not in d:
            raise ValueError("missing model parameter 'price'")
        d["price"] = price_from_dict(d["price"])
        if d.get("regimes") is not None:
            d["regimes"] = Regimes.from_dict(d["regimes"])
        for key in ("A", "k"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)


def _check_names(params: dict) -> None:
    """``ValueError`` naming the unknown keys of ``params`` and listing the :class:`Model` fields."""
    check_names(params, Model, "model")


def paper_model(price: str = "ou", /, **changes) -> Model:
    """The parameters of the paper's §4.

    ``A=1000, k=1, z=0.5, σ=0.5, T=1, a=0.1, μ=3009, ε=0.001, η=ν=1, α=0.05`` and the initial
    price ``s0`` = :data:`PAPER_S0` = 3000.

    Parameters
    ----------
    price : {"ou", "brownian"}
        The OU mid-price of §4, or a martingale with the same ``σ`` (positional only).
    **changes
        Any :class:`Model` field to override, ``price=`` (a price object) included.
    """
    if price == "ou":
        p = OrnsteinUhlenbeck(a=0.1, mu=3009.0, sigma=0.5)
    elif price == "brownian":
        p = Brownian(sigma=0.5)
    else:
        raise ValueError(f"price must be 'ou' or 'brownian', got {price!r}")
    m = Model(price=p, A=1000.0, k=1.0, z=0.5, T=1.0, eps=1e-3, eta=1.0, nu=1.0, alpha=0.05, s0=PAPER_S0)
    return m.replace(**changes) if changes else m

