"""The multi-asset market-making problem of the paper's §5: frozen, validated parameters.

``M`` assets with correlated mid-prices ``dS = b dt + Σ dW`` (``Λ = Σ'Σ`` the covariance
matrix ``cov``, ``b`` per-asset constant drifts; paper eq. 28), and per asset ``i`` and side the
fill intensities ``λ±_i = A±_i exp(−k±_i (z_i + δ±_i))`` (eq. 27, asymmetric sides allowed as in
:class:`hjbsolve.model.Model`) and a per-trade cost ``α_i`` (§5.7). The objective (eq. 29) is ::

    max E[ X_T + Q_T·S_T − ε η Q_T'ΩQ_T − ε ν ∫_t^T Q'ΛQ dξ ]

with ``Ω`` defaulting to ``diag(z)`` (§5.1, "the cost of passing market orders at the end of the
trading day"). The value function is ``u = x + v(t, q, s)``; with a constant drift ``v = q·s +
g(t, q)`` and ``g`` solves the M-dimensional ODE system on the inventory box (see
:func:`hjbsolve.solve`, :mod:`hjbsolve.solver.operators`).

Conventions per asset are those of :mod:`hjbsolve.model` (an ask fill of asset ``i`` lowers
``q_i`` by one and adds ``s_i + δ⁺_i − α_i`` to cash). With ``M = 1`` the problem is the
single-asset :class:`~hjbsolve.model.Model` (:meth:`MultiAssetModel.asset_model`,
:meth:`MultiAssetModel.from_model`), and the solvers run the same code on it.

Optional per-asset Ornstein–Uhlenbeck prices ``dS_i = a_i (μ_i − S_i) dt + (Σ dW)_i``
(``mean_reversion``, ``mu``) are accepted for the closed forms; the exact solver refuses them
(the value would depend on ``M`` price coordinates: a grid in ``M`` price dimensions on top of the
``M`` inventory dimensions).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_names, check_real, fields_dict
from .coefficients import MAX_LOG_RATE
from .prices import Brownian, OrnsteinUhlenbeck

__all__ = ["MultiAssetModel", "inventory_risk"]

#: Most assets accepted (the inventory grid has one axis per asset: its size is a power of M).
MAX_ASSETS = 8


def _matrix(name: str, value, M: int | None) -> np.ndarray:
    """``value`` as a finite symmetric ``M × M`` float matrix (``M`` from the matrix when ``None``)."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a square matrix of real numbers, got {value!r}") from None
    if arr.ndim == 0 and M is not None:
        arr = arr.reshape(1, 1) if M == 1 else arr
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a square matrix (M × M), got shape {arr.shape}")
    if M is not None and arr.shape[0] != M:
        raise ValueError(f"{name} must be {M} × {M} (one row per asset), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if not np.allclose(arr, arr.T, rtol=1e-12, atol=0.0):
        i, j = np.unravel_index(int(np.argmax(np.abs(arr - arr.T))), arr.shape)
        raise ValueError(f"{name} must be symmetric, got {name}[{i}][{j}]={arr[i, j]!r} != "
                         f"{name}[{j}][{i}]={arr[j, i]!r}")
    arr = 0.5 * (arr + arr.T)
    arr.setflags(write=False)
    return arr


def _eigmin(arr: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(arr)[0])


def _per_asset(name: str, value, M: int, pair: bool, **bounds) -> tuple:
    """``value`` per asset: a number (every asset) or a length-``M`` sequence; with ``pair`` an entry
    may be a pair ``(ask, bid)``. Returns a tuple of floats (or of pairs when the sides differ)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return tuple(check_real(name, value, **bounds) for _ in range(M))
    if len(value) != M:
        raise ValueError(f"{name} must be a number or one entry per asset (M={M}, the size of cov), "
                         f"got {len(value)} entries: {value!r}")
    out = []
    for i, v in enumerate(value):
        if pair and isinstance(v, (list, tuple, np.ndarray)):
            if len(v) != 2:
                raise ValueError(f"{name}[{i}] must be a number or a pair (ask, bid), got {v!r}")
            p = (check_real(f"{name}[{i}] (ask)", v[0], **bounds), check_real(f"{name}[{i}] (bid)", v[1], **bounds))
            out.append(p[0] if p[0] == p[1] else p)
        else:
            out.append(check_real(f"{name}[{i}]", v, **bounds))
    return tuple(out)


def _side(v, j: int) -> float:
    return v[j] if isinstance(v, tuple) else v


@dataclass(frozen=True)
class MultiAssetModel:
    """One multi-asset market-making problem (paper §5, with the costs of §5.7).

    Parameters
    ----------
    A : float or sequence, length M
        Intensity scale per asset (fills per time unit at distance ``−z_i``); an entry may be a pair
        ``(A⁺_i, A⁻_i)`` for the ask and bid sides. A single number applies to every asset.
    k : float or sequence, length M
        Intensity decay per asset (per price unit), or pairs ``(k⁺_i, k⁻_i)``.
    z : float or sequence, length M
        Half market spread ``z_i >= 0`` (price units).
    alpha : float or sequence, length M
        Per-trade cost ``α_i`` (negative: a rebate).
    cov : array_like, shape (M, M)
        Covariance ``Λ`` of the mid-price increments per time unit (symmetric positive definite);
        ``M`` is its size. The running penalty is ``ε ν q'Λq`` (§5.1).
    T : float
        Horizon ``T > 0``.
    eps, eta, nu : float
        ``ε, η, ν >= 0``: the penalties are ``ε η q'Ωq`` at ``T`` and ``ε ν ∫ q'Λq``.
    Omega : array_like, shape (M, M), optional
        Terminal-penalty matrix ``Ω`` (symmetric positive semi-definite); default ``diag(z)``.
    drift : float or sequence, length M, optional
        Constant drifts ``b_i`` of the mid-prices (price units per time unit); default 0. With them
        ``Δ_i(t) = b_i (T − t)``.
    mean_reversion, mu : sequence, length M, optional
        Per-asset Ornstein–Uhlenbeck prices ``dS_i = a_i (μ_i − S_i) dt + (Σ dW)_i`` (``a_i > 0``;
        an entry ``0`` keeps asset ``i`` Brownian). For the closed forms only: the exact solver
        refuses them. Not together with ``drift``.
    running_form, terminal_form : array_like, shape (M, M), optional
        The penalty matrices set directly (``Φ`` of ``∫ q'Φq``, ``Ω̃`` of ``q'Ω̃q`` at ``T``);
        defaults ``ε ν Λ`` and ``ε η Ω``. (The multi-asset form of ``Model(phi=, varpi=)``.)

    Raises
    ------
    ValueError
        A parameter outside its range or of the wrong shape (the message names it, its value and
        what is allowed); ``cov`` not positive definite (the message gives its smallest eigenvalue).
    """

    A: tuple
    k: tuple
    z: tuple
    alpha: tuple
    cov: np.ndarray
    T: float
    eps: float = 0.0
    eta: float = 1.0
    nu: float = 1.0
    Omega: np.ndarray | None = None
    drift: tuple | None = None
    mean_reversion: tuple | None = None
    mu: tuple | None = None
    running_form: np.ndarray | None = None
    terminal_form: np.ndarray | None = None

    def __new__(cls, *args, **kwargs):
        _check_names(kwargs)
        return super().__new__(cls)

    def __post_init__(self):
        cov = _matrix("cov", self.cov, None)
        M = cov.shape[0]
        if M > MAX_ASSETS:
            raise ValueError(f"cov is {M} × {M}: at most {MAX_ASSETS} assets are supported")
        lam_min = _eigmin(cov)
        if not lam_min > 0.0:
            raise ValueError(f"cov must be positive definite (a covariance matrix of M={M} mid-prices), but its "
                             f"smallest eigenvalue is {lam_min:.6g}: cov={cov.tolist()}")
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "A", _per_asset("A", self.A, M, True, gt=0.0))
        object.__setattr__(self, "k", _per_asset("k", self.k, M, True, gt=0.0))
        object.__setattr__(self, "z", _per_asset("z", self.z, M, False, ge=0.0))
        object.__setattr__(self, "alpha", _per_asset("alpha", self.alpha, M, False))
        for name, kw in (("T", dict(gt=0.0)), ("eps", dict(ge=0.0)), ("eta", dict(ge=0.0)), ("nu", dict(ge=0.0))):
            object.__setattr__(self, name, check_real(name, getattr(self, name), **kw))
        if self.drift is not None:
            object.__setattr__(self, "drift", _per_asset("drift", self.drift, M, False))
        if (self.mean_reversion is None) != (self.mu is None):
            raise ValueError(f"mean_reversion and mu go together (per-asset OU prices), got "
                             f"mean_reversion={self.mean_reversion!r}, mu={self.mu!r}")
        if self.mean_reversion is not None:
            if self.drift is not None and any(self.drift):
                raise ValueError(f"drift={self.drift!r} and mean_reversion cannot be combined: an OU price has the "
                                 "drift a(μ − s); give one or the other")
            object.__setattr__(self, "mean_reversion", _per_asset("mean_reversion", self.mean_reversion, M, False,
                                                                  ge=0.0))
            object.__setattr__(self, "mu", _per_asset("mu", self.mu, M, False))
        omega = np.diag(np.array(self.z)) if self.Omega is None else _matrix("Omega", self.Omega, M)
        if self.Omega is not None and _eigmin(omega) < -1e-12 * max(1.0, float(np.abs(omega).max())):
            raise ValueError(f"Omega must be positive semi-definite, but its smallest eigenvalue is "
                             f"{_eigmin(omega):.6g}: Omega={omega.tolist()}")
        object.__setattr__(self, "Omega", None if self.Omega is None else omega)
        for name in ("running_form", "terminal_form"):
            v = getattr(self, name)
            if v is not None:
                arr = _matrix(name, v, M)
                if _eigmin(arr) < -1e-12 * max(1.0, float(np.abs(arr).max())):
                    raise ValueError(f"{name} must be positive semi-definite, but its smallest eigenvalue is "
                                     f"{_eigmin(arr):.6g}: {name}={arr.tolist()}")
                object.__setattr__(self, name, arr)
        for i in range(M):
            lr = self._log_base_rate(i)
            if not lr <= MAX_LOG_RATE:
                raise ValueError(f"the fill rate of asset {i}, A e^(−1−k(z+α)) = e^{lr:.4g}, overflows (A={self.A[i]!r}, "
                                 f"k={self.k[i]!r}, z={self.z[i]!r}, alpha={self.alpha[i]!r}; at most "
                                 f"e^{MAX_LOG_RATE:g}): lower A or raise k(z+α)")

    # ------------------------------------------------------------------ sizes and sides
    @property
    def n_assets(self) -> int:
        """``M``, the number of assets."""
        return self.cov.shape[0]

    def side_params(self, i: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((A⁺_i, k⁺_i), (A⁻_i, k⁻_i))`` of asset ``i``, in the order of :data:`hjbsolve.model.SIDES`."""
        return tuple((_side(self.A[i], j), _side(self.k[i], j)) for j in range(2))

    def log_rates(self, i: int) -> tuple[float, float]:
        """``log(A±_i e^{−k±_i z_i})`` per side of asset ``i`` (log domain: no overflow)."""
        return tuple(math.log(A) - k * self.z[i] for A, k in self.side_params(i))

    def _log_base_rate(self, i: int) -> float:
        return max(lr - 1.0 - k * self.alpha[i] for lr, (_, k) in zip(self.log_rates(i), self.side_params(i)))

    @property
    def base_rate(self) -> float:
        """Largest fill rate of a side at the ε=0 optimum with ``Δ = 0``, over the assets."""
        return math.exp(max(self._log_base_rate(i) for i in range(self.n_assets)))

    @property
    def sigma(self) -> np.ndarray:
        """Per-asset volatilities ``sqrt(Λ_ii)``, shape (M,)."""
        return np.sqrt(np.diag(self.cov))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix of the mid-price increments, shape (M, M)."""
        s = self.sigma
        return self.cov / np.outer(s, s)

    @property
    def drifts(self) -> np.ndarray:
        """Constant drifts ``b`` (zeros when none), shape (M,)."""
        return np.zeros(self.n_assets) if self.drift is None else np.array(self.drift, dtype=float)

    @property
    def Omega_matrix(self) -> np.ndarray:
        """``Ω`` (``diag(z)`` unless given), shape (M, M)."""
        return np.diag(np.array(self.z)) if self.Omega is None else self.Omega

    @property
    def running_penalty_form(self) -> np.ndarray:
        """``Φ``: the running penalty is ``∫ q'Φq dξ`` (``ε ν Λ`` unless set directly), shape (M, M)."""
        return self.eps * self.nu * self.cov if self.running_form is None else self.running_form

    @property
    def terminal_penalty_form(self) -> np.ndarray:
        """``Ω̃``: the terminal penalty is ``q'Ω̃q`` (``ε η Ω`` unless set directly), shape (M, M)."""
        return self.eps * self.eta * self.Omega_matrix if self.terminal_form is None else self.terminal_form

    # ------------------------------------------------------------------ prices
    def asset_price(self, i: int):
        """The marginal law of mid-price ``i``: ``hs.Brownian(σ_i, drift=b_i)`` or
        ``hs.OrnsteinUhlenbeck(a_i, μ_i, σ_i)`` (its maths lives in :mod:`hjbsolve.prices`)."""
        sig = float(self.sigma[i])
        if self.mean_reversion is not None and self.mean_reversion[i] > 0.0:
            return OrnsteinUhlenbeck(a=self.mean_reversion[i], mu=self.mu[i], sigma=sig)
        return Brownian(sig, drift=float(self.drifts[i]))

    def asset_prices(self) -> tuple:
        """:meth:`asset_price` of every asset."""
        return tuple(self.asset_price(i) for i in range(self.n_assets))

    @property
    def depends_on_price(self) -> bool:
        """Whether ``g = v − q·s`` depends on ``s`` (an OU asset): then the exact solver refuses."""
        return any(p.depends_on_price for p in self.asset_prices())

    def delta(self, t, s=None):
        """Directional bets ``Δ_i(t, s) = E_{t,s}[S_i(T)] − s_i`` (paper §5.4), trailing axis M."""
        s = np.zeros(self.n_assets) if s is None else np.asarray(s, dtype=float)
        t = np.asarray(t, dtype=float)
        return np.stack(np.broadcast_arrays(*(p.delta(t, s[..., i], self.T)
                                              for i, p in enumerate(self.asset_prices()))), axis=-1)

    # ------------------------------------------------------------------ the engines' interface
    @property
    def regimes(self):
        """No regime chain (the engines' interface; regimes are not combined with assets yet)."""
        return None

    n_regimes = 1

    def regime_models(self) -> tuple:
        return (self,)

    def coefficients(self, grid):
        """The model flattened onto a state grid with one inventory axis per asset
        (:class:`hjbsolve.coefficients.MarketCoefficients`)."""
        from .coefficients import MarketCoefficients

        return MarketCoefficients.from_model(self, grid)

    def side_arrays(self, n_axes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log_rate, k, alpha)``, each of shape ``(n_axes, 2)`` (axis = asset, side)."""
        if n_axes != self.n_assets:
            raise ValueError(f"the grid has {n_axes} inventory axes but the model has {self.n_assets} assets")
        lr = np.array([self.log_rates(i) for i in range(n_axes)])
        k = np.array([[k for _, k in self.side_params(i)] for i in range(n_axes)])
        alpha = np.repeat(np.array(self.alpha)[:, None], 2, axis=1)
        return lr, k, alpha

    def penalty_forms(self, n_axes: int) -> tuple[np.ndarray, np.ndarray]:
        """``(Φ, Ω̃)``: the running and terminal quadratic forms, each ``(n_axes, n_axes)``."""
        return self.running_penalty_form, self.terminal_penalty_form

    # ------------------------------------------------------------------ one asset
    def asset_model(self, i: int):
        """Asset ``i`` alone as a single-asset :class:`hjbsolve.model.Model` (its own sides, cost,
        price law and the diagonal penalties ``Φ_ii``, ``Ω̃_ii``). With ``M = 1`` it is the same
        problem, and the solvers give the same numbers."""
        from .model import Model

        i = check_int("asset index i", i, ge=0, le=self.n_assets - 1)
        (Ap, kp), (Am, km) = self.side_params(i)
        phi = None if self.running_form is None else float(self.running_form[i, i])
        varpi = None
        if self.terminal_form is not None:
            varpi = float(self.terminal_form[i, i])
        elif self.Omega is not None and self.Omega[i, i] != self.z[i]:
            varpi = self.eps * self.eta * float(self.Omega[i, i])
        return Model(price=self.asset_price(i), A=Ap if Ap == Am else (Ap, Am), k=kp if kp == km else (kp, km),
                     z=self.z[i], T=self.T, eps=self.eps, eta=self.eta, nu=self.nu, alpha=self.alpha[i],
                     phi=phi, varpi=varpi)

    @classmethod
    def from_model(cls, model) -> "MultiAssetModel":
        """A single-asset :class:`~hjbsolve.model.Model` as a one-asset ``MultiAssetModel`` (the same
        problem; ``ValueError`` for a model with regimes)."""
        from .model import Model

        if not isinstance(model, Model):
            raise ValueError(f"model must be an hjbsolve.Model, got {type(model).__name__}")
        if model.regimes is not None:
            raise ValueError("a model with market regimes has no multi-asset form yet")
        if model.sigma <= 0.0:
            raise ValueError(f"a multi-asset model needs a positive definite covariance; the model's sigma is "
                             f"{model.sigma!r}")
        p = model.price
        ou = isinstance(p, OrnsteinUhlenbeck)
        return cls(A=[model.A], k=[model.k], z=[model.z], alpha=[model.alpha], cov=[[model.sigma**2]], T=model.T,
                   eps=model.eps, eta=model.eta, nu=model.nu,
                   drift=None if ou or p.drift == 0.0 else [p.drift],
                   mean_reversion=[p.a] if ou else None, mu=[p.mu] if ou else None,
                   running_form=None if model.phi is None else [[model.phi]],
                   terminal_form=None if model.varpi is None else [[model.varpi]])

    # ------------------------------------------------------------------ risk (§5.8)
    def inventory_risk(self, q, t=0.0):
        """``Π(q) = ε [η q'Ωq + ν (T − t) q'Λq]`` (§5.8) at inventories ``q`` (trailing axis M)."""
        return inventory_risk(q, Omega=self.Omega_matrix, cov=self.cov, eps=self.eps, eta=self.eta, nu=self.nu,
                              T=self.T, t=t)

    # ------------------------------------------------------------------ copies and files
    def replace(self, **changes) -> "MultiAssetModel":
        """A copy with some parameters changed (validated again); unknown names are errors."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def __eq__(self, other):
        if not isinstance(other, MultiAssetModel):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(repr(sorted(self.to_dict().items())))

    def to_dict(self) -> dict:
        """Plain lists and numbers (JSON/TOML); :meth:`from_dict` reads it back."""
        return fields_dict(self, lambda name, v: v.tolist() if isinstance(v, np.ndarray) else
                           [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v)

    @classmethod
    def from_dict(cls, d: dict) -> "MultiAssetModel":
        """Inverse of :meth:`to_dict`; unknown keys are errors."""
        if not isinstance(d, dict):
            raise ValueError(f"a multi-asset model must be a dict/table, got {type(d).__name__}")
        _check_names(d)
        missing = [n for n in ("A", "k", "z", "alpha", "cov", "T") if n not in d]
        if missing:
            raise ValueError(f"missing multi-asset model parameter(s) {missing}")
        return cls(**d)


def _check_names(params: dict) -> None:
    check_names(params, MultiAssetModel, "multi-asset model")


def inventory_risk(q, *, Omega, cov, eps: float = 1.0, eta: float = 1.0, nu: float = 1.0, T: float = 1.0,
                   t: float = 0.0):
    """The inventory risk of the paper's §5.8: ``Π(q) = ε [Π₁(q) + Π₂(q)]``,
    ``Π₁ = η q'Ωq``, ``Π₂ = ν ∫_t^T q'Λq dξ = ν (T − t) q'Λq`` (constant ``Λ``).

    Parameters
    ----------
    q : array_like, shape (..., M)
        Inventory vectors (any real numbers: the iso-risk surfaces live in ``R^M``).
    Omega, cov : array_like, shape (M, M)
        ``Ω`` (symmetric positive semi-definite) and ``Λ`` (symmetric positive definite).
    eps, eta, nu : float
        ``ε, η, ν >= 0``.
    T, t : float
        Horizon and current time, ``0 <= t <= T``.

    Returns
    -------
    ndarray, shape (...)
        ``Π(q)`` (price units).

    Raises
    ------
    ValueError
        Shapes that do not match, matrices that are not symmetric or definite as required, a
        parameter out of range, or a risk beyond double precision.
    """
    Om = _matrix("Omega", Omega, None)
    M = Om.shape[0]
    La = _matrix("cov", cov, M)
    if _eigmin(Om) < -1e-12 * max(1.0, float(np.abs(Om).max())):
        raise ValueError(f"Omega must be positive semi-definite, smallest eigenvalue {_eigmin(Om):.6g}")
    if _eigmin(La) < -1e-12 * max(1.0, float(np.abs(La).max())):
        raise ValueError(f"cov must be positive semi-definite, smallest eigenvalue {_eigmin(La):.6g}")
    eps, eta, nu = (check_real(n, v, ge=0.0) for n, v in (("eps", eps), ("eta", eta), ("nu", nu)))
    T = check_real("T", T, gt=0.0)
    t = check_real("t", t, ge=0.0, le=T)
    try:
        qa = np.asarray(q, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"q must be real inventory vectors (a trailing axis of length M={M}), got {q!r}") from None
    if qa.ndim == 0 or qa.shape[-1] != M:
        raise ValueError(f"q must have a trailing axis of length M={M} (one entry per asset), got shape {qa.shape}")
    if not np.all(np.isfinite(qa)):
        raise ValueError("q must be finite")
    form = eta * Om + nu * (T - t) * La
    with np.errstate(over="ignore", invalid="ignore"):
        out = eps * np.einsum("...i,ij,...j->...", qa, form, qa)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the inventory risk overflows double precision at q up to {float(np.max(np.abs(qa))):.3g} "
                         f"(|Π| beyond {np.finfo(float).max:.3g}): give smaller inventories or penalties")
    return out
