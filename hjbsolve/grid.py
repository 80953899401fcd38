"""Grids: inventory, mid-price and time.

The value array of every solver has the layout ``(n_s, n_q)`` — state axes first (price
now; regimes later), inventory axes last (one now; one per asset later). Grids are frozen
and know nothing of the equations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_real
from .model import Model

__all__ = ["InventoryGrid", "PriceGrid", "price_grid", "time_grid"]


@dataclass(frozen=True)
class InventoryGrid:
    """Inventories ``q ∈ {−q_max, …, q_max}``; no ask at ``−q_max``, no bid at ``+q_max``.

    ``q_max`` should be large enough that the answers near ``q = 0`` do not depend on it:
    the inventory diffuses by about ``sqrt(2 λ T)`` fills (λ ≈ ``model.base_rate``) and
    drifts with the directional bet, so a bound several times that reach is safe
    (:func:`hjbsolve.solver.default_q_max`; check by doubling it).
    """

    q_max: int

    def __post_init__(self):
        object.__setattr__(self, "q_max", check_int("q_max", self.q_max, ge=1))

    @property
    def q(self) -> np.ndarray:
        return np.arange(-self.q_max, self.q_max + 1)

    @property
    def n(self) -> int:
        return 2 * self.q_max + 1

    def index(self, q) -> np.ndarray:
        """Array index of inventory ``q``; ``ValueError`` outside ``[−q_max, q_max]`` or non-integer."""
        q = np.asarray(q)
        qi = np.rint(q).astype(np.int64)
        if np.any(np.abs(q - qi) > 1e-9):
            raise ValueError(f"q must be integer inventories, got {q!r}")
        if np.any(np.abs(qi) > self.q_max):
            raise ValueError(f"q must lie in [-{self.q_max}, {self.q_max}] (q_max), got values up to {np.abs(qi).max()}")
        return qi + self.q_max


@dataclass(frozen=True, eq=False)
class PriceGrid:
    """Uniform mid-price nodes and the sub-range where answers are wanted.

    ``s`` has one node (``s = [0]``) when the reduced value does not depend on the price
    (martingale mid-price and a price-independent problem).
    """

    s: np.ndarray
    interest: tuple[float, float]

    @property
    def n(self) -> int:
        return self.s.size

    @property
    def ds(self) -> float:
        return float(self.s[1] - self.s[0]) if self.s.size > 1 else math.inf

    @property
    def degenerate(self) -> bool:
        return self.s.size == 1

    @classmethod
    def single(cls) -> "PriceGrid":
        return cls(np.zeros(1), (-math.inf, math.inf))


def price_reach(model: Model, s_range, n_sd: float = 6.0) -> tuple[float, float]:
    """Prices that paths started in ``s_range`` visit on ``[0, T]`` with overwhelming probability.

    The mean path moves monotonically from ``s`` to ``E[S_T | s]``; around it the price
    spreads by at most ``sd_T = sqrt(Var[S_T])``. The reach is the hull of both ends padded by
    ``n_sd`` standard deviations (``n_sd = 6``: a two-sided Gaussian tail of 2e-9).
    """
    lo, hi = s_range
    m_lo, m_hi = model.price.mean(lo, model.T), model.price.mean(hi, model.T)
    sd = math.sqrt(float(model.price.variance(model.T)))
    return float(min(lo, m_lo) - n_sd * sd), float(max(hi, m_hi) + n_sd * sd)


def price_grid(model: Model, s_range=None, ds=None, n_sd: float = 6.0, max_nodes: int = 4001) -> PriceGrid:
    """Uniform price grid for an OU (or s-dependent) problem.

    Parameters
    ----------
    model : Model
    s_range : (float, float), optional
        Where the user wants answers. Default: ``μ ± 4 max(σ sqrt(T), σ/sqrt(2a))``.
    ds : float, optional
        Node spacing. Default: the smallest of a quarter of ``sd_T`` (the price's standard
        deviation over the horizon), the cell-Péclet bound ``σ² / max|b(s)|`` (central
        differences stay monotone) and a fortieth of the scale ``1/(k (1 − e^{−aT}))`` on
        which the directional bet changes the quotes by one ``1/k``.
    n_sd : float
        Padding in standard deviations (see :func:`price_reach`).
    """
    p = model.price
    sd_T = math.sqrt(float(p.variance(model.T)))
    if s_range is None:
        mu = getattr(p, "mu", 0.0)
        w = 4.0 * max(p.sigma * math.sqrt(model.T), getattr(p, "stationary_std", 0.0))
        s_range = (mu - w, mu + w)
    try:
        lo, hi = (check_real("s_range[0]", s_range[0]), check_real("s_range[1]", s_range[1]))
    except (TypeError, IndexError):
        raise ValueError(f"s_range must be a pair (low, high), got {s_range!r}") from None
    if not hi > lo:
        raise ValueError(f"s_range must satisfy low < high, got {s_range!r}")
    g_lo, g_hi = price_reach(model, (lo, hi), n_sd)
    if ds is None:
        cands = [sd_T / 4.0 if sd_T > 0 else math.inf]
        bmax = float(np.max(np.abs(p.drift(np.array([g_lo, g_hi])))))
        if bmax > 0 and p.sigma > 0:
            cands.append(p.sigma**2 / bmax)
        slope = 1.0 - float(p.decay(model.T))  # |∂Δ/∂s|
        if slope > 0:
            cands.append(1.0 / (40.0 * model.k * slope))
        ds = min(cands)
        if not math.isfinite(ds):
            ds = (g_hi - g_lo) / 64.0
    ds = check_real("ds", ds, gt=0.0)
    n = int(math.ceil((g_hi - g_lo) / ds)) + 1
    if n > max_nodes:
        raise ValueError(f"the price grid would need {n} nodes (> max_nodes={max_nodes}); "
                         f"narrow s_range={s_range!r} or pass a larger ds")
    n = max(n, 5)
    s = np.linspace(g_lo, g_hi, n)
    return PriceGrid(s, (lo, hi))


def time_grid(T: float, n_steps: int, t_eval=None, max_saved: int = 101,
              terminal_refinement: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Time nodes ``0 = t_0 < … < t_N = T`` and which of them are stored.

    Without ``t_eval`` the grid is uniform with ``n_steps`` steps and about ``max_saved``
    equally spaced nodes are stored (every step when ``n_steps < max_saved``). With
    ``t_eval`` each gap between consecutive requested times is split into equal steps no
    longer than ``T / n_steps`` and exactly the requested times (plus ``0`` and ``T``) are
    stored.

    The last step before ``T`` is then split geometrically into ``terminal_refinement``
    extra steps (lengths ``dt/16, …, dt/4, dt/2``): the terminal penalty starts a fast
    transient at large ``|q|``, which one full step would blur (measured against the matrix
    exponential at the paper's parameters: the error of the edge quotes one step before
    ``T`` drops from 1.3e-2 to 6e-3; at ``t = 0`` nothing changes).

    Returns
    -------
    t : ndarray, shape (N+1,)
    save : ndarray of bool, shape (N+1,)
    """
    n_steps = check_int("n_steps", n_steps, ge=1)
    if t_eval is None:
        t = np.linspace(0.0, T, n_steps + 1)
        stride = max(1, int(math.ceil(n_steps / (max_saved - 1))))
        save = np.zeros(n_steps + 1, bool)
        save[::stride] = True
        save[-1] = True
        return _refine_terminal(t, save, terminal_refinement)
    t_eval = np.asarray(t_eval, float).ravel()
    if not np.all(np.isfinite(t_eval)) or np.any(t_eval < 0) or np.any(t_eval > T):
        raise ValueError(f"t_eval must lie in [0, T={T}], got {t_eval!r}")
    t_eval = np.unique(np.concatenate([t_eval, [0.0, T]]))
    dt_max = T / n_steps
    pieces, save = [np.array([0.0])], [np.array([True])]
    for a, b in zip(t_eval[:-1], t_eval[1:]):
        m = max(1, int(math.ceil((b - a) / dt_max - 1e-9)))
        pieces.append(np.linspace(a, b, m + 1)[1:])
        flags = np.zeros(m, bool)
        flags[-1] = True
        save.append(flags)
    return _refine_terminal(np.concatenate(pieces), np.concatenate(save), terminal_refinement)


def _refine_terminal(t, save, levels):
    """Replace the last step ``[T − dt, T]`` by nodes ``T − dt·2^{−j}``, ``j = 1..levels``.

    Step lengths are ``dt/2^levels, …, dt/4, dt/2``: powers of two of the coarse step, so the
    price propagators of all steps are few and cached.
    """
    if levels <= 0 or t.size < 2:
        return t, save
    T, dt = t[-1], t[-1] - t[-2]
    extra = T - dt * 0.5 ** np.arange(1, levels + 1)
    return (np.concatenate([t[:-1], extra, [T]]),
            np.concatenate([save[:-1], np.zeros(levels, bool), [True]]))
