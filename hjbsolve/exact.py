"""The Brownian case solved exactly: the linearised h-system propagated by matrix exponentials.

The equations (paper eqs. 11 and 25 with ``Δ = 0``)
----------------------------------------------------
For a martingale mid-price ``dS = σ dW`` the ansatz ``u = x + v_q(t, s)`` with
``v_q(t, s) = q s + h_q(t)`` removes ``s``: the jump terms only see ``p⁺ = h_q − h_{q−1}`` and
``p⁻ = h_q − h_{q+1}`` (:mod:`hjbsolve.hamiltonian` with ``Δ = 0``) and the HJB system becomes
the ``2Q + 1`` ordinary differential equations ::

    h_q' + C [ e^{k(h_{q−1} − h_q)} 1{q > −Q} + e^{k(h_{q+1} − h_q)} 1{q < Q} ] = φ q²,
    h_q(T) = −ϖ q²,            C = A e^{−k(z+α)} / (e k),

with ``φ = ε ν σ²`` (:attr:`Model.running_penalty`) and ``ϖ = ε η z``
(:attr:`Model.terminal_penalty`). The substitution ``ω_q = e^{k h_q}`` makes it linear::

    ω' = M ω,    M = diag(k φ q²) − k C J,

where ``J`` is the adjacency matrix of the inventory path ``−Q … Q`` (ones on the first sub-
and super-diagonals, nothing across the limits). Hence ``ω(t) = expm(−(T − t) M) ω(T)`` with
``ω_q(T) = e^{−k ϖ q²}``; ``−M`` has non-negative off-diagonals, so ``ω`` stays positive. This
is Cartea–Jaimungal–Penalva (2015) eq. (10.11) in their parametrisation, ``kC = λ/e``.

The numerics
------------
``k h`` spans hundreds of log-units (at the paper's parameters with ``Q = 600``: from −180 at
``q = ±Q``, ``t = T`` to +424 at ``q = 0``, ``t = 0``), so one exponential applied to ``ω(T)``
overflows or loses every digit near the limits. We therefore work in the log domain and march
backwards over short slices. Over a slice of length ``τ``, with ``D = diag(ω_old)``, ::

    ω_new / ω_old = D⁻¹ expm(−τ M) D 1 = expm(τ G) 1,    G = −D⁻¹ M D,

and ``G`` has bounded entries: its off-diagonals are the optimal fill intensities
``λ⁺_q = k C e^{k(h_{q−1}−h_q)}`` (row ``q``, column ``q−1``) and ``λ⁻_q`` (column ``q+1``),
computed by :func:`hjbsolve.hamiltonian.optimal_intensity`, and its diagonal is ``−k φ q²``.
With ``c = k φ Q²`` the shifted matrix ``B = G + c I`` is entrywise non-negative, so ::

    expm(τ G) 1 = e^{−cτ} Σ_n (τB)^n 1 / n!

is a sum of non-negative vectors: every entry is obtained without cancellation, to a relative
accuracy of a few ulps (the truncation is bounded rigorously, see :func:`_expm_ones`). Then
``h_new = h_old + (log Σ − cτ) / k``. Slices are sized so that ``τ ‖B‖∞ ≤ slice_norm``
(default 4: about 26 terms per slice); the result is exact for any slicing, and halving the
slices changes it only by rounding (``tests/test_exact.py``). The same step agrees with
``scipy.sparse.linalg.expm_multiply`` to ~1e-13 but is about three times faster here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int, check_real
from .hamiltonian import ask_marginal, bid_marginal, optimal_intensity, optimal_quote
from .model import Brownian, Model
from .policies import TabulatedPolicy

__all__ = ["exact_brownian", "ExactBrownian"]

_EPS = float(np.finfo(float).eps)
#: Safety net against parameters whose fill rates make the number of slices explode.
_MAX_SLICES = 2_000_000
#: Largest ``k |h_q − h_{q±1}|`` whose exponential (a fill rate) is safely finite.
_MAX_LOG_RATE = 690.0


def _fill_rates(h: np.ndarray, model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Optimal fill intensities on the inventory path (the off-diagonals of ``G``).

    Parameters
    ----------
    h : ndarray, shape (n_q,)
        ``h_q`` for ``q = −Q … Q``.

    Returns
    -------
    ask : ndarray, shape (n_q − 1,)
        ``λ⁺_q`` for ``q = −Q+1 … Q`` (an ask fill, ``q → q−1``).
    bid : ndarray, shape (n_q − 1,)
        ``λ⁻_q`` for ``q = −Q … Q−1`` (a bid fill, ``q → q+1``).
    """
    A, k, z, alpha = model.A, model.k, model.z, model.alpha
    ask = optimal_intensity(ask_marginal(h[1:], h[:-1], 0.0), A, k, z, alpha)
    bid = optimal_intensity(bid_marginal(h[:-1], h[1:], 0.0), A, k, z, alpha)
    return ask, bid


def _expm_ones(ask: np.ndarray, bid: np.ndarray, bdiag: np.ndarray, tau: float) -> tuple[np.ndarray, int]:
    """``Σ_n (τB)^n 1 / n!`` for the non-negative tridiagonal ``B``, entrywise to ~ulp accuracy.

    ``B`` has diagonal ``bdiag >= 0``, sub-diagonal ``ask`` (row ``i``, column ``i−1``) and
    super-diagonal ``bid`` (row ``i``, column ``i+1``). All terms ``t_n = (τB)^n 1 / n!`` are
    non-negative and the sum is ``>= 1`` entrywise. With ``θ = τ‖B‖∞`` and ``r = θ/(n+1) < 1``,
    ``‖t_{n+m}‖∞ <= r^m ‖t_n‖∞``, so the neglected tail is at most ``‖t_n‖∞ r/(1 − r)``; the
    loop stops when that is below half an ulp of 1, hence below half an ulp of every entry.
    No cancellation occurs, so rounding is a few ulps per entry as well.

    Returns
    -------
    total : ndarray
        The sum, ``>= 1`` entrywise.
    n_terms : int
        Number of powers of ``B`` used.
    """
    theta = tau * float(np.max(bdiag + np.r_[0.0, ask] + np.r_[bid, 0.0]))
    term = np.ones_like(bdiag)
    total = term.copy()
    n = 0
    while True:
        n += 1
        nxt = bdiag * term
        nxt[1:] += ask * term[:-1]
        nxt[:-1] += bid * term[1:]
        term = nxt * (tau / n)
        total += term
        ratio = theta / (n + 1)              # ‖t_{n+1}‖∞ <= ratio ‖t_n‖∞, and ratio decreases
        if ratio < 1.0 and term.max() * ratio / (1.0 - ratio) <= 0.5 * _EPS:
            return total, n
        if n > 100_000:  # pragma: no cover - impossible with slice_norm <= 100
            raise RuntimeError("series for expm(τB)·1 did not converge")


@dataclass(frozen=True, eq=False)
class ExactBrownian:
    """The exact solution ``v_q(t, s) = q s + h_q(t)`` of the Brownian problem on stored times.

    Built by :func:`exact_brownian`. Arrays are read-only.

    Attributes
    ----------
    model : Model
        The problem solved (Brownian mid-price).
    q_max : int
        Inventory limit ``Q``: ``q ∈ {−Q, …, Q}``.
    t : ndarray, shape (n_t,)
        Increasing times in ``[0, T]`` at which ``h`` is stored.
    h : ndarray, shape (n_t, 2 Q + 1)
        ``h[i, q + Q] = h_q(t[i])`` (same units as the price).
    info : dict
        Diagnostics: ``slices``, ``wall_time`` (s), ``slice_norm``, ``max_terms``,
        ``mean_terms``, ``method``.
    """

    model: Model
    q_max: int
    t: np.ndarray
    h: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def q(self) -> np.ndarray:
        """Inventories ``−Q … Q``, shape ``(2 Q + 1,)``."""
        return np.arange(-self.q_max, self.q_max + 1)

    # ------------------------------------------------------------------ lookups
    def _time_index(self, t) -> np.ndarray:
        """Index into :attr:`t` of each requested time; ``ValueError`` if one is not stored."""
        t = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t)):
            raise ValueError(f"t must be finite, got {t!r}")
        j = np.clip(np.searchsorted(self.t, t), 0, self.t.size - 1)
        jm = np.clip(j - 1, 0, self.t.size - 1)
        j = np.where(np.abs(self.t[jm] - t) < np.abs(self.t[j] - t), jm, j)
        tol = 1e-12 * max(self.model.T, 1.0)
        bad = ~np.isclose(self.t[j], t, rtol=1e-12, atol=tol)
        if np.any(bad):
            raise ValueError(
                f"t must be one of the stored times ex.t (no interpolation); "
                f"got {np.asarray(t)[bad].ravel()[:5]!r}. Pass them to exact_brownian(model, t=...)")
        return j

    def _inventory_index(self, q) -> np.ndarray:
        q = np.asarray(q)
        qf = q.astype(float)
        if not np.all(np.isfinite(qf)) or np.any(qf != np.round(qf)):
            raise ValueError(f"q must be integer inventories, got {q!r}")
        if np.any(np.abs(qf) > self.q_max):
            raise ValueError(f"q must lie in [-{self.q_max}, {self.q_max}], "
                             f"got values up to |q| = {np.max(np.abs(qf)):g}")
        return qf.astype(np.int64) + self.q_max

    def _broadcast(self, t, q, s):
        t, q, s = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(q), np.asarray(s, dtype=float))
        if not np.all(np.isfinite(s)):
            raise ValueError(f"s must be finite, got {s!r}")
        return t, q, s, self._time_index(t), self._inventory_index(q)

    # ------------------------------------------------------------------ public evaluation
    def value(self, t, q, s):
        """``v_q(t, s) = q s + h_q(t)``; broadcasts over ``t, q, s``.

        ``t`` must be stored times (:attr:`t`, compared with ``np.isclose``); ``q`` integers in
        ``[−Q, Q]``. The full value function is ``u = x + v``.
        """
        t, q, s, it, iq = self._broadcast(t, q, s)
        out = q * s + self.h[it, iq]
        return out[()]

    def quotes(self, t, q, s):
        """Optimal half-spreads ``(δ⁺, δ⁻)``; broadcasts over ``t, q, s``.

        ``δ⁺ = 1/k + α + h_q − h_{q−1}`` and ``δ⁻ = 1/k + α + h_q − h_{q+1}`` (paper eqs. 3, 26),
        evaluated through :mod:`hjbsolve.hamiltonian` with ``Δ = model.delta(t, s) = 0``.
        The side that would leave ``[−Q, Q]`` is not quoted: ``δ⁺ = +inf`` at ``q = −Q``,
        ``δ⁻ = +inf`` at ``q = Q``.
        """
        t, q, s, it, iq = self._broadcast(t, q, s)
        m, n_q = self.model, self.h.shape[1]
        delta = m.delta(t, s)
        hq = self.h[it, iq]
        ask = optimal_quote(ask_marginal(hq, self.h[it, np.maximum(iq - 1, 0)], delta), m.k, m.alpha)
        bid = optimal_quote(bid_marginal(hq, self.h[it, np.minimum(iq + 1, n_q - 1)], delta), m.k, m.alpha)
        ask = np.where(iq == 0, np.inf, ask)
        bid = np.where(iq == n_q - 1, np.inf, bid)
        return ask[()], bid[()]

    def tabulate(self, model=None, n_t=None) -> TabulatedPolicy:
        """The optimal quotes as a :class:`~hjbsolve.policies.TabulatedPolicy` on the stored times.

        ``model`` and ``n_t`` are accepted for the policy interface; the table uses :attr:`t`
        (the quotes do not depend on ``s``). Between stored times the policy interpolates
        linearly, so store enough times for the use at hand.
        """
        if model is not None and model != self.model:
            raise ValueError("model differs from the model this exact solution was computed for")
        tt = self.t[:, None]
        ask, bid = self.quotes(tt, self.q[None, :], 0.0)
        return TabulatedPolicy(self.t, np.array([0.0]), -self.q_max, self.q_max,
                               ask[:, None, :], bid[:, None, :], name="exact_brownian")


def _check_times(t, T: float) -> np.ndarray:
    if t is None:
        return np.linspace(0.0, T, 101)
    try:
        arr = np.array(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a 1-d array of times in [0, T], got {t!r}") from None
    arr = np.atleast_1d(arr)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"t must be a non-empty 1-d array of times, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"t must be finite, got {arr!r}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError("t must be strictly increasing")
    if arr[0] < 0.0 or arr[-1] > T * (1.0 + 1e-12):
        raise ValueError(f"t must lie in [0, T] = [0, {T}], got [{arr[0]}, {arr[-1]}]")
    arr[-1] = min(arr[-1], T)
    return arr


def exact_brownian(model: Model, q_max: int = 600, t=None, *, slice_norm: float = 4.0) -> ExactBrownian:
    """Solve the Brownian market-making problem exactly (matrix exponential, log domain).

    Parameters
    ----------
    model : Model
        Problem with a :class:`~hjbsolve.model.Brownian` mid-price (any ``ε``, ``η``, ``ν``, ``α``).
    q_max : int
        Inventory limit ``Q >= 1``: the market maker stops quoting the side that would leave
        ``[−Q, Q]``. Use a ``Q`` large enough for the limit not to matter where you look.
    t : array_like, optional
        Strictly increasing times in ``[0, T]`` at which ``h`` is stored; default 101 uniform
        times on ``[0, T]``. Only these times can be queried.
    slice_norm : float
        Target ``τ ‖B‖∞`` per slice (module docstring), in ``(0, 100]``. Changes the cost,
        not the answer (beyond rounding).

    Returns
    -------
    ExactBrownian
        ``h`` of shape ``(len(t), 2 Q + 1)``, ``value``/``quotes`` evaluators and ``info``.

    Raises
    ------
    ValueError
        If ``model.price`` is not Brownian, a parameter is out of range, or the terminal
        penalty is so steep that fill rates at ``T`` overflow (``k ϖ (2Q − 1) > 690``).
    """
    if not isinstance(model, Model):
        raise ValueError(f"model must be a hjbsolve Model, got {type(model).__name__}")
    if not isinstance(model.price, Brownian):
        raise ValueError(
            f"model.price must be Brownian for the exact solution, got {type(model.price).__name__}; "
            "the exact matrix-exponential solution needs Δ = 0 (a martingale mid-price)")
    q_max = check_int("q_max", q_max, ge=1)
    slice_norm = check_real("slice_norm", slice_norm, gt=0.0, le=100.0)
    T, k = model.T, model.k
    times = _check_times(t, T)

    q = np.arange(-q_max, q_max + 1, dtype=float)
    wpen = model.terminal_penalty
    if k * wpen * (2 * q_max - 1) > _MAX_LOG_RATE:
        raise ValueError(
            f"terminal_penalty too steep for q_max: k*terminal_penalty*(2*q_max-1) = "
            f"{k * wpen * (2 * q_max - 1):.4g} > {_MAX_LOG_RATE} log-units, so the fill rates at T "
            f"overflow; reduce q_max (got {q_max}) or the terminal penalty (eps*eta*z = {wpen!r})")
    dpen = k * model.running_penalty * q**2        # −diag(G), >= 0
    c = float(dpen.max())
    bdiag = c - dpen                                # diag(B) = diag(G) + c >= 0

    start = time.perf_counter()
    h = -wpen * q**2
    out = np.empty((times.size, q.size))
    n_slices, max_terms, tot_terms = 0, 0, 0
    now = T
    with np.errstate(under="ignore", over="ignore"):
        for i in range(times.size - 1, -1, -1):
            remaining = now - times[i]
            while remaining > 0.0:
                ask, bid = _fill_rates(h, model)
                if not (np.all(np.isfinite(ask)) and np.all(np.isfinite(bid))):
                    raise ValueError(  # pragma: no cover - excluded by the terminal check
                        "fill rates overflowed: the inventory penalties are too steep for this q_max")
                norm_b = float(np.max(bdiag + np.r_[0.0, ask] + np.r_[bid, 0.0]))
                n_sub = max(1, math.ceil(remaining * norm_b / slice_norm))
                tau = remaining / n_sub
                total, n_terms = _expm_ones(ask, bid, bdiag, tau)
                h = h + (np.log(total) - c * tau) / k
                remaining = 0.0 if n_sub == 1 else remaining - tau
                n_slices += 1
                max_terms = max(max_terms, n_terms)
                tot_terms += n_terms
                if n_slices > _MAX_SLICES:
                    raise ValueError(
                        f"more than {_MAX_SLICES} slices needed (fill rates × T too large); "
                        f"increase slice_norm (got {slice_norm})")
            out[i] = h
            now = times[i]
    wall = time.perf_counter() - start

    times.setflags(write=False)
    out.setflags(write=False)
    info = {
        "method": "log-domain slices, rescaled generator, non-negative Taylor series",
        "slices": n_slices,
        "slice_norm": slice_norm,
        "max_terms": max_terms,
        "mean_terms": tot_terms / max(n_slices, 1),
        "wall_time": wall,
    }
    return ExactBrownian(model=model, q_max=q_max, t=times, h=out, info=info)
