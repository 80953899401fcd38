"""A finite-state Markov chain of market regimes (what the regimes ARE; no numerics).

A :class:`Regimes` is a continuous-time Markov chain on ``n`` states — its generator ``Q``
(square, off-diagonal entries ``>= 0``, rows summing to zero) — whose states carry their own
market parameters: the half market spread ``z``, the volatility ``σ``, the intensities
``A⁺, A⁻, k⁺, k⁻`` and the per-trade cost ``α``. A field left out (``None``) takes the
:class:`~hjbsolve.model.Model`'s value in every state; a given field overrides it state by state.
In state ``r`` the running penalty is ``ε ν σ_r² ∫ Q² dt`` and the terminal one ``ε η z_r Q_T²``
(paper §3.1; ``phi``/``varpi`` set directly on the model stay the same in every state).

``Regimes.product(a, b, ...)`` combines independent chains (a 2-state spread and a 3-state
volatility make 6 states): the generator is ``Q_a ⊗ I + I ⊗ Q_b`` (the last factor fastest), the
states are named ``"a_name/b_name"`` and each field comes from the one factor that sets it.

``Regimes.from_diffusion(field, drift, volatility, grid)`` (and its presets ``ou_factor`` and
``cir_factor``) approximates a one-dimensional diffusion factor ``dX = b(X) dt + σ(X) dW`` driving
one field (a stochastic volatility, a mean-reverting spread, …) by a locally consistent Markov chain
on a uniform grid (Kushner & Dupuis, *Numerical Methods for Stochastic Control Problems in
Continuous Time*, 2nd ed., 2001, §5.1): the chain's states are the grid's nodes, the field's value in
a state is its node. The result is an ordinary :class:`Regimes` and combines with others through
``product``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import check_real

__all__ = ["Regimes", "REGIME_FIELDS", "FACTOR_KINDS", "resolve_regime"]

#: Per-state fields and their allowed ranges (keyword arguments of :func:`check_real`).
REGIME_FIELDS = {"z": dict(ge=0.0), "sigma": dict(ge=0.0), "A_plus": dict(gt=0.0), "A_minus": dict(gt=0.0),
                 "k_plus": dict(gt=0.0), "k_minus": dict(gt=0.0), "alpha": {}}
#: Most regime states accepted (the joint price × regime propagator is a dense matrix).
MAX_REGIMES = 64
#: Relative tolerance of the zero row sums of a generator.
ROW_SUM_RTOL = 1e-9
#: Diffusion factors with a preset grid (:meth:`Regimes.factor`): name → constructor name.
FACTOR_KINDS = {"ou": "ou_factor", "cir": "cir_factor"}
# Largest uniformised argument ‖K‖λτ summed as a series by :func:`metzler_expm` (beyond: squaring,
# each of which about doubles the rounding error, so the series takes a long step).
_SERIES_ARG = 30.0
# Terms of that series: the Poisson(30) tail beyond 100 terms is below 1e-22.
_SERIES_TERMS = 100
# Series weights below this are dropped (relative to the leading terms, which are >= e^{-30}).
_NEGLIGIBLE = 1e-280


def metzler_expm(M, tau) -> np.ndarray:
    """``e^{Mτ}`` for a matrix ``M`` with non-negative off-diagonal entries, at many ``τ >= 0`` at once.

    Uniformisation: with ``λ >= max(−M_ii)`` and ``K = I + M/λ >= 0`` (entrywise),
    ``e^{Mτ} = e^{−λτ} Σ_j (λτ)^j/j! K^j``, a series of non-negative terms (no cancellation).
    The argument is halved ``m`` times until ``‖K‖∞ λτ <= 30`` for every ``τ`` of the batch, the
    series summed to 100 terms (truncation below 1e-22 relative) and the result squared ``m``
    times (each squaring about doubles the rounding error; measured against
    ``scipy.linalg.expm``: 5e-15 for ``λτ <= 100``, 6e-14 at ``λτ = 10³``, 8e-13 at ``10⁴``).
    Vectorised over ``τ`` (``scipy.linalg.expm`` takes about 0.3 ms per matrix, too slow for the
    thousands of ``τ`` of a double time integral). A Markov generator gives the transition matrices; the generator bordered by a
    non-negative column gives the integrals ``∫_0^τ e^{Qu} du g`` as well (:meth:`Regimes.expectation`).

    Parameters
    ----------
    M : ndarray, shape (d, d)
        Off-diagonal entries ``>= 0`` (not checked; the callers build such matrices).
    tau : array_like, any shape, entries ``>= 0``

    Returns
    -------
    ndarray, shape ``tau.shape + (d, d)``
    """
    M = np.asarray(M, dtype=float)
    tau = np.asarray(tau, dtype=float)
    d = M.shape[0]
    lam = max(0.0, float(-np.min(np.diag(M))))
    if not np.any(M):
        return np.broadcast_to(np.eye(d), tau.shape + (d, d)).copy()
    lam = lam if lam > 0.0 else float(np.max(np.abs(M)))
    K = np.eye(d) + M / lam
    norm = float(np.max(np.sum(np.abs(K), axis=1)))
    x_max = lam * norm * (float(np.max(tau)) if tau.size else 0.0)
    halvings = max(0, math.ceil(math.log2(x_max / _SERIES_ARG))) if x_max > _SERIES_ARG else 0
    y = (lam / 2.0**halvings) * tau.reshape(-1)                     # (B,)
    powers = np.empty((_SERIES_TERMS + 1, d, d))
    powers[0] = np.eye(d)
    for j in range(1, _SERIES_TERMS + 1):
        powers[j] = powers[j - 1] @ K
    weights = np.zeros((_SERIES_TERMS + 1, y.size))                  # Poisson(y) probabilities
    weights[0] = np.exp(-y)
    for j in range(1, _SERIES_TERMS + 1):
        wj = weights[j - 1] * y / j
        wj[wj < _NEGLIGIBLE] = 0.0          # never into subnormals (slow), far below rounding
        weights[j] = wj
        if not np.any(wj):
            break
    E = np.einsum("jb,jkl->bkl", weights, powers)
    for _ in range(halvings):
        E = E @ E
    return E.reshape(tau.shape + (d, d))


def resolve_regime(chain: "Regimes | None", regime):
    """The regime index of a query on a model with chain ``chain`` (``None`` without regimes).

    ``regime`` may be omitted (``None``) without a chain or with a one-state chain (index 0) and
    is required otherwise: an index or a name. ``ValueError`` for a missing or bad ``regime``.
    """
    if chain is None:
        if regime is not None and not (isinstance(regime, (int, np.integer)) and not isinstance(regime, bool)
                                       and int(regime) == 0):
            raise ValueError(f"regime={regime!r} given, but the model has no regimes")
        return None
    if regime is None:
        if chain.n == 1:
            return 0
        raise ValueError(f"regime is required: the model has {chain.n} regimes; pass regime= an index in "
                         f"[0, {chain.n - 1}] or one of the names {list(chain.names)}")
    return chain.index(regime)


def _check_generator(generator) -> tuple:
    if isinstance(generator, (str, bytes)):
        raise ValueError(f"generator must be a square matrix of real numbers, got {generator!r}")
    try:
        Q = np.array(generator, dtype=object)
    except Exception:  # pragma: no cover - ragged input raises below
        Q = None
    if Q is None or Q.ndim != 2 or Q.shape[0] != Q.shape[1] or Q.shape[0] < 1:
        shape = None if Q is None else Q.shape
        raise ValueError(f"generator must be a square matrix (n × n, n >= 1), got {generator!r} of shape {shape}")
    n = Q.shape[0]
    if n > MAX_REGIMES:
        raise ValueError(f"generator has {n} states; at most {MAX_REGIMES} regimes are supported")
    for i in range(n):
        for j in range(n):
            v = Q[i, j]
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
                raise ValueError(f"generator[{i}][{j}] must be a finite real number, got {v!r}")
    Q = Q.astype(float)
    for i in range(n):
        for j in range(n):
            if i != j and Q[i, j] < 0:
                raise ValueError(f"generator[{i}][{j}] = {Q[i, j]!r} is a transition rate and must be >= 0 "
                                 f"(off-diagonal entries of a Markov generator are non-negative)")
        total = float(np.sum(Q[i]))
        scale = max(1.0, float(np.sum(np.abs(Q[i]))))
        if abs(total) > ROW_SUM_RTOL * scale:
            raise ValueError(f"row {i} of the generator sums to {total!r}, not 0 (each diagonal entry must be minus "
                             f"the sum of its row's rates: generator[{i}][{i}] = {-(total - Q[i, i])!r})")
    return tuple(tuple(float(x) for x in row) for row in Q)


def _check_tau(tau) -> np.ndarray:
    try:
        tau = np.asarray(tau, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"tau must be a real number or array of elapsed times, got {tau!r}") from None
    if not np.all(np.isfinite(tau)) or np.any(tau < 0.0):
        raise ValueError(f"tau must hold finite elapsed times >= 0, got values in [{np.min(tau)}, {np.max(tau)}]")
    return tau


def _check_vector(name: str, value, n: int) -> np.ndarray:
    if value is None:
        return np.zeros(n)
    try:
        v = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {n} real numbers (one per regime), got {value!r}") from None
    if v.shape != (n,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be {n} finite real numbers (one per regime), got {value!r}")
    return v


def _check_field(name: str, value, n: int):
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{name} must be a list of {n} numbers (one per regime), got {value!r}")
    if len(value) != n:
        raise ValueError(f"{name} must have one value per regime ({n}), got {len(value)}: {list(value)!r}")
    return tuple(check_real(f"{name}[{i}]", v, **REGIME_FIELDS[name]) for i, v in enumerate(value))


def _check_nodes(n) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or not 2 <= int(n) <= MAX_REGIMES:
        raise ValueError(f"n (the number of regimes of the factor) must be an integer in [2, {MAX_REGIMES}], got {n!r}")
    return int(n)


def _check_grid(grid) -> np.ndarray:
    """The nodes of a ``(lo, hi, n)`` triple or of an increasing, uniformly spaced array."""
    if isinstance(grid, tuple) and len(grid) == 3 and isinstance(grid[2], numbers.Integral):
        lo, hi = check_real("grid lo", grid[0]), check_real("grid hi", grid[1])
        n = _check_nodes(grid[2])
        if not hi > lo:
            raise ValueError(f"grid = {grid!r}: hi must be > lo")
        return np.linspace(lo, hi, n)
    try:
        x = np.asarray(grid, dtype=float)
    except (TypeError, ValueError):
        x = None
    if x is None or x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"grid must be (lo, hi, n) or a 1-D array of finite nodes, got {grid!r}")
    _check_nodes(x.size)
    h = np.diff(x)
    if not (np.all(h > 0) and np.allclose(h, h[0], rtol=1e-9, atol=0.0)):
        raise ValueError(f"grid nodes must be increasing and uniformly spaced, got {x.tolist()!r}")
    return x


def _at_nodes(name: str, f, x: np.ndarray) -> np.ndarray:
    """``f`` (a callable or a constant) at the nodes, shape ``(n,)``; ``ValueError`` if not finite."""
    if callable(f):
        v = np.asarray(f(x), dtype=float)
        v = np.broadcast_to(v, x.shape) if v.ndim == 0 else v
    else:
        v = np.full(x.shape, check_real(name, f))
    if v.shape != x.shape or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must give a finite value at each of the {x.size} nodes, got {v!r}")
    return v


@dataclass(frozen=True)
class Regimes:
    """A Markov chain of market regimes whose states carry their own market parameters.

    Parameters
    ----------
    generator : n × n array_like
        The chain's generator ``Q``: ``Q[i][j] >= 0`` (``i ≠ j``) is the rate of the jump from
        regime ``i`` to ``j``; every row sums to zero.
    z, sigma, A_plus, A_minus, k_plus, k_minus, alpha : sequence of n floats, optional
        Per-regime market parameters; ``None``: the model's value in every regime.
    names : sequence of n str, optional
        Regime names (default ``"0"``, ``"1"``, …); queries accept a name or an index.

    Raises
    ------
    ValueError
        A generator that is not square, has a negative rate or a row not summing to zero; a field
        of the wrong length or outside its range; names not unique.

    Examples
    --------
    >>> chain = Regimes(generator=[[-2.0, 2.0], [5.0, -5.0]], z=[0.1, 0.4], sigma=[0.3, 1.0])
    >>> vol = Regimes(generator=[[-1.0, 1.0], [1.0, -1.0]], sigma=[0.2, 0.6], names=["calm", "wild"])
    >>> spread = Regimes(generator=[[-3.0, 3.0], [3.0, -3.0]], z=[0.05, 0.2], names=["tight", "wide"])
    >>> Regimes.product(spread, vol).names
    ('tight/calm', 'tight/wild', 'wide/calm', 'wide/wild')
    """

    generator: tuple
    z: tuple | None = None
    sigma: tuple | None = None
    A_plus: tuple | None = None
    A_minus: tuple | None = None
    k_plus: tuple | None = None
    k_minus: tuple | None = None
    alpha: tuple | None = None
    names: tuple | None = None

    def __post_init__(self):
        gen = _check_generator(self.generator)
        object.__setattr__(self, "generator", gen)
        n = len(gen)
        for name in REGIME_FIELDS:
            object.__setattr__(self, name, _check_field(name, getattr(self, name), n))
        names = self.names
        if names is None:
            names = tuple(str(i) for i in range(n))
        if isinstance(names, (str, bytes)) or not hasattr(names, "__len__") or len(names) != n:
            raise ValueError(f"names must be a list of {n} strings (one per regime), got {names!r}")
        if not all(isinstance(x, str) and x for x in names):
            raise ValueError(f"names must be non-empty strings, got {list(names)!r}")
        if len(set(names)) != n:
            raise ValueError(f"names must be unique, got {list(names)!r}")
        object.__setattr__(self, "names", tuple(names))

    # ------------------------------------------------------------------ queries
    @property
    def n(self) -> int:
        """Number of regimes."""
        return len(self.generator)

    @property
    def Q(self) -> np.ndarray:
        """The generator as an array, each diagonal entry set to minus its row's rates (rows sum
        to zero exactly)."""
        Q = np.array(self.generator, dtype=float)
        np.fill_diagonal(Q, 0.0)
        np.fill_diagonal(Q, -Q.sum(axis=1))
        return Q

    def fields(self) -> dict:
        """The per-regime fields that are set: ``{name: tuple of n floats}``."""
        return {k: getattr(self, k) for k in REGIME_FIELDS if getattr(self, k) is not None}

    def index(self, regime) -> int:
        """Index of ``regime`` (an index ``0 … n−1`` or a name); ``ValueError`` otherwise."""
        if isinstance(regime, str):
            if regime not in self.names:
                raise ValueError(f"regime {regime!r} is not one of the regime names {list(self.names)}")
            return self.names.index(regime)
        if isinstance(regime, np.ndarray) and regime.ndim == 0:
            regime = regime.item()
        if isinstance(regime, (bool, np.bool_)) or not isinstance(regime, numbers.Integral):
            raise ValueError(f"regime must be an integer index in [0, {self.n - 1}] or one of the names "
                             f"{list(self.names)}, got {regime!r}")
        if not 0 <= int(regime) < self.n:
            raise ValueError(f"regime must lie in [0, {self.n - 1}] (the chain has {self.n} regimes), got {regime}")
        return int(regime)

    def stationary(self) -> np.ndarray:
        """A stationary distribution ``π`` (``π Q = 0``, ``Σ π = 1``; least squares if not unique)."""
        Q = self.Q
        M = np.vstack([Q.T, np.ones(self.n)])
        rhs = np.zeros(self.n + 1)
        rhs[-1] = 1.0
        return np.linalg.lstsq(M, rhs, rcond=None)[0]

    def transition(self, tau) -> np.ndarray:
        """Transition matrices ``P(τ) = e^{Qτ}``: ``P(τ)[i, j] = P(R_{t+τ} = j | R_t = i)``.

        Parameters
        ----------
        tau : array_like, entries ``>= 0`` (time units of the generator)

        Returns
        -------
        ndarray, shape ``tau.shape + (n, n)``
            Computed by :func:`metzler_expm` (a series of non-negative terms; rows sum to one to
            rounding).
        """
        return metzler_expm(self.Q, _check_tau(tau))

    def expectation(self, tau, terminal=None, running=None) -> np.ndarray:
        """``E_r[f(R_{t+τ})] + E_r[∫_t^{t+τ} g(R_ξ) dξ]`` for per-regime ``f = terminal``, ``g = running``.

        ``= P(τ) f + (∫_0^τ P(u) du) g``, the solution at ``τ`` of the backward Kolmogorov system
        ``dy/dτ = Q y + g``, ``y(0) = f``; computed as one exponential of the bordered generator
        ``[[Q, g⁺, g⁻], [0, 0, 0], [0, 0, 0]]`` (``g = g⁺ − g⁻``, non-negative parts) applied to
        ``(f, 1, −1)``. Examples (paper §3.5, eqs. 18, 24): ``E_r[Z(T)] = expectation(T − t, z)``,
        ``E_r[∫_t^T Σ²(ξ) dξ] = expectation(T − t, running=sigma**2)``.

        Parameters
        ----------
        tau : array_like, entries ``>= 0``
        terminal, running : array_like, shape (n,), optional
            Per-regime values (default zero).

        Returns
        -------
        ndarray, shape ``tau.shape + (n,)``
        """
        n = self.n
        f = _check_vector("terminal", terminal, n)
        g = _check_vector("running", running, n)
        M = np.zeros((n + 2, n + 2))
        M[:n, :n] = self.Q
        M[:n, n] = np.maximum(g, 0.0)
        M[:n, n + 1] = np.maximum(-g, 0.0)
        E = metzler_expm(M, _check_tau(tau))
        return E[..., :n, :n] @ f + E[..., :n, n] - E[..., :n, n + 1]

    def jump_chain(self) -> tuple[np.ndarray, np.ndarray]:
        """The chain as holding rates and a jump matrix: ``(rates, P)`` with ``rates[r] = −Q[r, r]``
        (the rate of leaving ``r``: its holding time is exponential with this rate), shape (n,), and
        ``P[r, j] = Q[r, j] / rates[r]`` (``j ≠ r``; the law of the state entered), shape (n, n),
        zero on the diagonal and on the rows of states that are never left (``rates[r] = 0``)."""
        Q = self.Q
        rates = -np.diag(Q).copy()
        P = Q.copy()
        np.fill_diagonal(P, 0.0)
        P = np.divide(P, rates[:, None], out=np.zeros_like(P), where=rates[:, None] > 0.0)
        return rates, P

    # ------------------------------------------------------------------ builders
    @classmethod
    def product(cls, *factors: "Regimes") -> "Regimes":
        """Independent chains combined: ``Q = Q_a ⊗ I + I ⊗ Q_b`` (the last factor fastest).

        Each per-regime field must be set by at most one factor (``ValueError`` otherwise); the
        states are named ``"a/b"``.
        """
        if len(factors) < 1 or not all(isinstance(f, Regimes) for f in factors):
            raise ValueError(f"Regimes.product takes Regimes factors, got {[type(f).__name__ for f in factors]}")
        sizes = [f.n for f in factors]
        total = int(np.prod(sizes))
        if total > MAX_REGIMES:
            raise ValueError(f"the product has {total} regimes; at most {MAX_REGIMES} are supported")
        Q = np.zeros((total, total))
        for i, f in enumerate(factors):
            left = np.eye(int(np.prod(sizes[:i])))
            right = np.eye(int(np.prod(sizes[i + 1:])))
            Q += np.kron(np.kron(left, f.Q), right)
        fields = {}
        for i, f in enumerate(factors):
            for name, vals in f.fields().items():
                if name in fields:
                    raise ValueError(f"field {name!r} is set by two factors of the product; set it in one only")
                reps = int(np.prod(sizes[i + 1:]))
                tiles = int(np.prod(sizes[:i]))
                fields[name] = tuple(np.tile(np.repeat(np.array(vals), reps), tiles).tolist())
        names = tuple("/".join(p) for p in itertools.product(*(f.names for f in factors)))
        return cls(generator=Q.tolist(), names=names, **fields)

    # ------------------------------------------------------------------ diffusion factors
    @classmethod
    def from_diffusion(cls, field, drift, volatility, grid) -> "Regimes":
        """A Markov chain approximating a one-dimensional diffusion factor that drives ``field``.

        The factor ``dX = b(X) dt + σ(X) dW`` is replaced by the locally consistent chain of Kushner
        & Dupuis (2001, §5.1) on the uniform grid ``x_0 < … < x_{n−1}`` (spacing ``h``), with the
        upwind rates ::

            q(x_i → x_{i+1}) = σ(x_i)² / (2h²) + max(b(x_i), 0) / h      (i < n − 1)
            q(x_i → x_{i−1}) = σ(x_i)² / (2h²) + max(−b(x_i), 0) / h     (i > 0)

        so that at every interior node the jump's mean rate is ``b(x_i)`` exactly and its second
        moment rate ``σ(x_i)² + h |b(x_i)|`` (``E[ΔX] = b Δt + o(Δt)``, ``Var ΔX = σ² Δt + O(h) Δt``):
        the chain converges to the diffusion as ``h → 0``, at first order in ``h``. The ends reflect:
        the rate that would leave the grid is dropped. Regime ``i`` has ``field = x_i``.

        Parameters
        ----------
        field : str or sequence of str
            The per-regime field(s) the factor sets (:data:`REGIME_FIELDS`: ``"z"``, ``"sigma"``,
            ``"A_plus"``, ``"A_minus"``, ``"k_plus"``, ``"k_minus"``, ``"alpha"``); several names
            (e.g. ``("A_plus", "A_minus")``) give every one of them the node's value.
        drift : callable or float
            ``b(x)``, field units per time unit (a callable is given the nodes, shape ``(n,)``, and
            returns shape ``(n,)``; a number is a constant drift).
        volatility : callable or float
            ``σ(x) >= 0``, field units per √time unit (same conventions).
        grid : (lo, hi, n) or array_like of shape (n,)
            The nodes: ``n`` equally spaced values from ``lo`` to ``hi`` (``2 <= n <=``
            :data:`MAX_REGIMES`), or the nodes themselves (increasing, uniformly spaced).

        Returns
        -------
        Regimes
            ``n`` regimes named ``"field=x_i"`` (``"A_plus+A_minus=x_i"`` for several fields; ``x_i``
            with the fewest significant digits, from 4, that tell the nodes apart).

        Raises
        ------
        ValueError
            An unknown field, a grid that is not uniform and increasing or has too few or too many
            nodes, a node outside the field's range (``sigma, z >= 0``; ``A, k > 0``: use a positive
            grid, e.g. :meth:`cir_factor`), a drift or volatility that is not finite (or a negative
            volatility) at a node.

        Examples
        --------
        >>> vol = Regimes.from_diffusion("sigma", drift=lambda x: 2.0 * (0.5 - x), volatility=0.2,
        ...                              grid=(0.2, 0.8, 5))
        >>> vol.names
        ('sigma=0.2', 'sigma=0.35', 'sigma=0.5', 'sigma=0.65', 'sigma=0.8')
        """
        fields = (field,) if isinstance(field, str) or not hasattr(field, "__iter__") else tuple(field)
        bad = [f for f in fields if f not in REGIME_FIELDS]
        if not fields or bad:
            raise ValueError(f"field must be one of {list(REGIME_FIELDS)} or a list of them, got {field!r}")
        x = _check_grid(grid)
        n = x.size
        for f in fields:
            rng = REGIME_FIELDS[f]
            lo_ok = x[0] > rng["gt"] if "gt" in rng else x[0] >= rng["ge"] if "ge" in rng else True
            if not lo_ok:
                allowed = f"> {rng['gt']}" if "gt" in rng else f">= {rng['ge']}"
                raise ValueError(f"grid: the nodes are the values of {f}, which must be {allowed}; the lowest node "
                                 f"is {float(x[0])!r} (use a grid inside the allowed range, e.g. Regimes.cir_factor, "
                                 f"whose nodes are positive)")
        b = _at_nodes("drift", drift, x)
        sig = _at_nodes("volatility", volatility, x)
        if np.any(sig < 0):
            i = int(np.argmax(sig < 0))
            raise ValueError(f"volatility must be >= 0 at every node, got {sig[i]!r} at x = {x[i]!r}")
        h = x[1] - x[0]
        diff = sig**2 / (2.0 * h * h)
        up = diff + np.maximum(b, 0.0) / h
        down = diff + np.maximum(-b, 0.0) / h
        Q = np.diag(up[:-1], 1) + np.diag(down[1:], -1)          # reflecting ends: no rate leaves the grid
        np.fill_diagonal(Q, -Q.sum(axis=1))
        if not np.all(np.isfinite(Q)):
            raise ValueError(f"the chain's rates are not finite (drift or volatility too large for the grid "
                             f"spacing h = {h!r})")
        label = "+".join(fields)
        for digits in (4, 6, 9, 12, 17):                        # the shortest names that tell the nodes apart
            names = tuple(f"{label}={v:.{digits}g}" for v in x)
            if len(set(names)) == n:
                break
        return cls(generator=Q.tolist(), names=names, **{f: tuple(x.tolist()) for f in fields})

    @classmethod
    def ou_factor(cls, field, mean, reversion, vol, n, width_sd=3.0) -> "Regimes":
        """An Ornstein–Uhlenbeck factor ``dX = κ(m − X) dt + ξ dW`` driving ``field``, as a chain.

        :meth:`from_diffusion` on ``n`` nodes spanning ``m ± width_sd · ξ/√(2κ)`` (the stationary
        standard deviation); an odd ``n`` puts a node at ``m``.

        Parameters
        ----------
        field : str or sequence of str
            As in :meth:`from_diffusion`.
        mean : float
            Long-run level ``m`` (field units).
        reversion : float
            Mean-reversion rate ``κ > 0`` (per time unit).
        vol : float
            Volatility ``ξ > 0`` (field units per √time unit).
        n : int
            Number of regimes, ``2 <= n <=`` :data:`MAX_REGIMES`.
        width_sd : float
            Half-width of the grid in stationary standard deviations (``> 0``; default 3).

        Raises
        ------
        ValueError
            Any parameter out of its range, or a grid leaving the field's range (e.g. a σ or an
            ``A`` factor whose ``m − width_sd · sd`` is negative: use :meth:`cir_factor`).
        """
        mean = check_real("mean", mean)
        kappa = check_real("reversion", reversion, gt=0.0)
        xi = check_real("vol", vol, gt=0.0)
        w = check_real("width_sd", width_sd, gt=0.0)
        half = w * xi / math.sqrt(2.0 * kappa)
        return cls.from_diffusion(field, lambda x: kappa * (mean - x), xi,
                                  (mean - half, mean + half, _check_nodes(n)))

    @classmethod
    def cir_factor(cls, field, mean, reversion, vol, n, width_sd=3.0) -> "Regimes":
        """A Cox–Ingersoll–Ross factor ``dX = κ(m − X) dt + ξ √X dW`` driving ``field``, as a chain.

        :meth:`from_diffusion` on ``n`` nodes between the quantiles ``Φ(∓width_sd)`` of the
        stationary law ``Gamma(shape 2κm/ξ², scale ξ²/(2κ))`` — always positive, so the factor can
        drive fields that must be positive (``A``, ``k``) as well as ``σ`` and ``z``.

        Parameters
        ----------
        field : str or sequence of str
            As in :meth:`from_diffusion`.
        mean : float
            Long-run level ``m > 0`` (field units).
        reversion : float
            Mean-reversion rate ``κ > 0`` (per time unit).
        vol : float
            Volatility scale ``ξ > 0`` (field units per √(field unit · time unit)).
        n : int
            Number of regimes, ``2 <= n <=`` :data:`MAX_REGIMES`.
        width_sd : float
            The grid spans the stationary quantiles ``Φ(−width_sd)`` to ``Φ(width_sd)`` (``> 0``;
            default 3: 0.135 % to 99.865 %).

        Raises
        ------
        ValueError
            Any parameter out of its range.
        """
        from scipy import stats

        m = check_real("mean", mean, gt=0.0)
        kappa = check_real("reversion", reversion, gt=0.0)
        xi = check_real("vol", vol, gt=0.0)
        w = check_real("width_sd", width_sd, gt=0.0)
        law = stats.gamma(2.0 * kappa * m / xi**2, scale=xi**2 / (2.0 * kappa))
        lo, hi = float(law.ppf(stats.norm.cdf(-w))), float(law.ppf(stats.norm.cdf(w)))
        if not (0.0 < lo < hi and math.isfinite(hi)):
            raise ValueError(f"width_sd = {w!r} gives no usable grid for the CIR law (quantiles {lo!r}, {hi!r}); "
                             f"use a smaller width_sd")
        return cls.from_diffusion(field, lambda x: kappa * (m - x), lambda x: xi * np.sqrt(x),
                                  (lo, hi, _check_nodes(n)))

    @classmethod
    def factor(cls, kind, **params) -> "Regimes":
        """A preset diffusion factor by name: ``kind`` in :data:`FACTOR_KINDS` (``"ou"``:
        :meth:`ou_factor`, ``"cir"``: :meth:`cir_factor`), ``params`` their keyword arguments."""
        if kind not in FACTOR_KINDS:
            raise ValueError(f"factor kind must be one of {list(FACTOR_KINDS)}, got {kind!r}")
        return getattr(cls, FACTOR_KINDS[kind])(**params)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        d = {"generator": [list(r) for r in self.generator]}
        d.update({k: list(v) for k, v in self.fields().items()})
        d["names"] = list(self.names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Regimes":
        """Inverse of :meth:`to_dict`; unknown keys are errors."""
        if isinstance(d, Regimes):
            return d
        if not isinstance(d, dict):
            raise ValueError(f"regimes must be a dict/table, got {type(d).__name__}")
        allowed = ["generator", *REGIME_FIELDS, "names"]
        unknown = sorted(map(str, set(d) - set(allowed)))
        if unknown:
            raise ValueError(f"unknown regimes parameter(s) {unknown}; allowed: {allowed}")
        if "generator" not in d:
            raise ValueError("missing regimes parameter 'generator'")
        return cls(**d)
