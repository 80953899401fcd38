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
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import check_real

__all__ = ["Regimes", "REGIME_FIELDS"]

#: Per-state fields and their allowed ranges (keyword arguments of :func:`check_real`).
REGIME_FIELDS = {"z": dict(ge=0.0), "sigma": dict(ge=0.0), "A_plus": dict(gt=0.0), "A_minus": dict(gt=0.0),
                 "k_plus": dict(gt=0.0), "k_minus": dict(gt=0.0), "alpha": {}}
#: Most regime states accepted (the joint price × regime propagator is a dense matrix).
MAX_REGIMES = 64
#: Relative tolerance of the zero row sums of a generator.
ROW_SUM_RTOL = 1e-9


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
