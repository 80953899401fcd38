"""Automatic grids from a model: inventory bound, price axis, time steps, and the checks that
refuse what cannot be solved (overflowing fill rates, absurd sizes) before any work starts."""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._validation import check_int, check_real
from ..coefficients import MAX_LOG_RATE, MarketCoefficients
from ..grid import MAX_Q, InventoryAxis, PriceAxis, StateGrid

__all__ = ["default_q_max", "binding_q_max", "default_n_steps", "default_s_range", "price_axis", "state_grid", "largest_q_max", "BoundWarning",
           "MAX_PRICE_NODES", "multi_asset_grid", "MAX_CELLS"]

#: Most price nodes a solver accepts (the state propagator is a dense matrix exponential).
MAX_PRICE_NODES = 4001


class BoundWarning(UserWarning):
    """The inventory bound ``q_max`` is so small that it probably changes the answers near ``q = 0``."""


def _spread_lengths(model) -> tuple[float, float]:
    """``(sqrt((λ⁺ + λ⁻) T), ℓ)``: how far the inventory diffuses over the horizon, and the width
    ``ℓ = (C/φ)^{1/4}`` (``C = λ/k``) of the inventory distribution a running penalty ``φ``
    confines it to (``inf`` without one).

    With the optimal quotes the inventory is a birth–death process whose stationary law under
    a running penalty is close to ``exp(−q²/ℓ²)`` (the ground state of the linear system of
    the exponential substitution, a discrete harmonic oscillator).
    """
    lam = model.base_rate
    diffusion = math.sqrt(2.0 * lam * model.T)
    phi = model.running_penalty
    C = lam / max(model.k_plus, model.k_minus)
    confined = (C / phi) ** 0.25 if phi > 0 else math.inf
    return diffusion, confined


def _drift_rate(model, dmax: float) -> float:
    """Largest net fill rate ``|λ⁺ − λ⁻|`` of the ε=0 quotes ``1/k± + α ± Δ`` for ``|Δ| ≤ dmax``: the
    inventory drift of a directional bet or of unequal sides (λ± = A± e^{−1−k±(z+α±Δ)})."""
    (Ap, kp), (Am, km) = model.side_params()
    out = 0.0
    for d in (-dmax, 0.0, dmax):
        with np.errstate(over="ignore"):
            lp = math.exp(min(math.log(Ap) - 1.0 - kp * (model.z + model.alpha + d), 700.0))
            lm = math.exp(min(math.log(Am) - 1.0 - km * (model.z + model.alpha - d), 700.0))
        out = max(out, abs(lp - lm))
    return out


def default_q_max(model, s_range=None) -> int:
    """An inventory bound whose effect on the answers near ``q = 0`` is negligible (a
    :class:`~hjbsolve.MultiAssetModel`: a list, each asset's own bound).

    The inventory diffuses by ``sqrt(2 λ T)`` fills (``λ = model.base_rate`` per side) and,
    under a directional bet ``Δ`` or unequal sides, drifts at the net fill rate ``|λ⁺ − λ⁻|`` of
    the ε=0 quotes (``2 λ sinh(k|Δ|)`` for the paper's symmetric sides) unless the inventory
    penalty stops it first, near ``|q| ≈ |Δ| / (2 ε π̃)``, ``ε π̃ = ϖ + φ T``. A running penalty
    ``φ`` also confines it to a width ``ℓ = (C/φ)^{1/4}`` (``C = λ/k``). The bound is the smaller
    of eight diffusion lengths and ten widths, plus the drift, rounded up (to a multiple of 10
    below 100, of 50 above), and never above the largest bound whose fill rates stay finite
    (:func:`largest_q_max`). Doubling ``q_max`` is the check (the tests do it).
    """
    if hasattr(model, "n_assets"):     # several assets: each asset's own bound (a list, one per asset)
        return [default_q_max(model.asset_model(i)) for i in range(model.n_assets)]
    if model.regimes is not None:      # every regime's market: the widest bound
        return max(default_q_max(m, s_range) for m in model.regime_models())
    diffusion, confined = _spread_lengths(model)
    reach = min(8.0 * diffusion, 10.0 * confined)
    drift = _inventory_drift(model, s_range, diffusion)
    reach = max(reach + drift, 10.0)
    step = 10 if reach < 100 else 50
    q = int(step * math.ceil(reach / step))
    return int(min(q, largest_q_max(model), MAX_Q))


def _inventory_drift(model, s_range, diffusion: float) -> float:
    """How far a directional bet (or unequal sides) pushes the inventory over the horizon: the net
    fill rate of the ε=0 quotes, averaged over ``[0, T]`` (the bet ``Δ(t, s)`` fades as ``t → T``),
    times ``T``, unless the penalty stops it first (near ``|Δ| / (2 ε π̃) + 8`` diffusion lengths).
    Paper OU from S0 = 3000: estimate 186, simulated reach about 175–190."""
    times = np.linspace(0.0, model.T, 33)
    if model.price.depends_on_price:
        if s_range is None:
            s_range = default_s_range(model)
        deltas = np.abs(model.delta(times[:, None], np.array(s_range, dtype=float)[None, :])).max(axis=1)
    else:
        deltas = np.abs(np.broadcast_to(model.delta(times, 0.0), times.shape))
    dmax = float(np.max(deltas))
    rates = np.array([_drift_rate(model, float(d)) for d in deltas])
    drift = float(np.mean(0.5 * (rates[1:] + rates[:-1]))) * model.T          # trapezoid over [0, T]
    pen = model.terminal_penalty + model.running_penalty * model.T
    if pen > 0 and dmax > 0:
        drift = min(drift, dmax / (2.0 * pen) + 8.0 * diffusion)
    return drift


def largest_q_max(model) -> int:
    """The largest inventory bound whose optimal fill rates at ``T`` are finite in double precision.

    At ``T`` the marginal value across the edge ``(Q−1, Q)`` is ``±ϖ(2Q − 1)``; the optimal fill
    rate there is ``exp(ℓ − k(o + α) + kϖ(2Q − 1))`` and must stay below ``e^690``.
    """
    if model.regimes is not None:      # every regime's terminal penalty: the smallest limit
        return min(largest_q_max(m) for m in model.regime_models())
    pen = model.terminal_penalty
    if pen <= 0:
        return MAX_Q
    best = MAX_Q
    for (_, k), lr in zip(model.side_params(), model.log_rates()):
        free = MAX_LOG_RATE - (lr - k * (1.0 / k + model.alpha))
        if free <= k * pen:
            return 0
        best = min(best, int(math.floor(min((free / (k * pen) + 1.0) / 2.0, float(MAX_Q)))))
    return best


def binding_q_max(model, s_range=None) -> int:
    """The inventory bound below which :func:`check_q_max` warns (:class:`BoundWarning`): 2.5
    diffusion lengths (or 3 confinement widths) plus the inventory's drift under a directional bet
    (the paper's OU point: the inventory reaches about 175–190, so ``q_max = 150`` binds — its
    quotes near ``q = 0`` move by 1.7e-2 — and warns)."""
    def one(m):
        diffusion, confined = _spread_lengths(m)
        return 2.5 * min(diffusion, 1.25 * confined) + _inventory_drift(m, s_range, diffusion)
    return int(math.ceil(max(one(m) for m in model.regime_models())))     # the largest over the regimes


#: Smallest inventory bound of a solve (the contract's box ``|q| <= q_max/2`` must hold a pair of cells).
MIN_Q_MAX = 2


def check_q_max(model, q_max, s_range=None, name: str = "q_max") -> int:
    """``q_max`` validated: an integer in ``[2, largest_q_max]``; a warning when it is far below the
    default and probably binds near ``q = 0``."""
    q_max = check_int(name, q_max, le=MAX_Q)
    if q_max < MIN_Q_MAX:
        raise ValueError(f"{name} must be >= {MIN_Q_MAX}, got {q_max}: the accuracy contract covers |q| <= q_max/2, "
                         "and a smaller bound leaves no pair of neighbouring inventories whose quote errors it checks")
    limit = largest_q_max(model)
    if q_max > limit:
        steepest, where = model, ""
        if model.regimes is not None:         # name the regime whose terminal penalty sets the limit
            r = min(range(model.regimes.n), key=lambda i: largest_q_max(model.regime_models()[i]))
            steepest = model.regime_models()[r]
            where = f" of regime {r} ({model.regimes.names[r]!r}, z={steepest.z:g})"
        pen = steepest.terminal_penalty
        raise ValueError(
            f"q_max={q_max} is too large for the terminal penalty ϖ={pen:g}{where}: the optimal fill "
            f"rate at the bound at t=T would overflow (exp(k ϖ (2 q_max − 1)) > e^{MAX_LOG_RATE:g}); the largest "
            f"bound that works is q_max={limit}" if limit >= 1 else
            f"the terminal penalty ϖ={pen:g}{where} is so steep that even q_max=1 overflows the fill "
            f"rates at t=T")
    binding = binding_q_max(model, s_range)
    if q_max < binding:
        warnings.warn(f"q_max={q_max} is small compared with how far the inventory moves (about "
                      f"{min(_spread_lengths(model)):.3g} fills plus a drift): the bound probably changes the answers near q = 0 "
                      f"(default_q_max = {default_q_max(model, s_range)})", BoundWarning, stacklevel=_user_level())
    return q_max


def _user_level() -> int:
    """Stack level of the first frame outside the hjbsolve package (where a warning belongs)."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("hjbsolve"):
        frame, level = frame.f_back, level + 1
    return level


def default_n_steps(model) -> int:
    """Initial number of (largest) time steps of the automatic step selection in :func:`solve`.

    The error of the Strang/ROS2 scheme behaves like ``C (r dt)²`` with ``r`` the fastest rate
    of the problem — the fill rate ``λ`` per side or the mean reversion ``a``; the rule
    ``n = 2 sqrt(r T)`` (at least 20) starts models at a similar ``r dt``; the solver then
    refines until its error estimate meets the tolerance.
    """
    prices = model.asset_prices() if hasattr(model, "asset_prices") else (model.price,)
    rate = max(max(m.base_rate for m in model.regime_models()), max(p.mean_reversion for p in prices), 1.0 / model.T)
    return max(20, int(math.ceil(2.0 * math.sqrt(min(rate * model.T, 1e12)))))


def default_s_range(model) -> tuple[float, float]:
    """The ``s_range`` of a price-dependent solve that passes none.

    With the model's initial price ``model.s0`` (:func:`~hjbsolve.paper_model` sets 3000): the
    prices a path from ``s0`` is likely to visit over the horizon, from ``s0`` to
    ``E[S_T | s0]`` widened by two standard deviations of ``S_T`` (the paper's OU:
    ``(2999.05, 3001.81)``). Without ``s0`` (OU): ``μ ± 4 max(σ sqrt(T), σ/sqrt(2a))``. See
    :meth:`~hjbsolve.prices.Brownian.default_s_range`.
    """
    return model.price.default_s_range(model.T, model.s0)


def price_axis(model, s_range=None, ds=None, n_sd: float = 6.0, max_nodes: int = MAX_PRICE_NODES) -> PriceAxis:
    """Uniform price axis for a price-dependent problem.

    Parameters
    ----------
    model : Model
    s_range : (float, float), optional
        Where answers are wanted (default :func:`default_s_range`).
    ds : float, optional
        Node spacing (default :meth:`~hjbsolve.prices.Brownian.default_ds`).
    n_sd : float
        Padding in standard deviations of the price over the horizon
        (:meth:`~hjbsolve.prices.Brownian.reach`).
    max_nodes : int
        Largest number of nodes accepted.

    Raises
    ------
    ValueError
        A bad ``s_range`` or ``ds``, or a grid of more than ``max_nodes`` nodes (the message names
        the parameter to change).
    """
    prices = [m.price for m in model.regime_models()]     # every regime's volatility: the widest reach
    price = max(prices, key=lambda p: p.sigma)
    if s_range is None:
        s_range = default_s_range(model)
    if not isinstance(s_range, (tuple, list, np.ndarray)) or len(s_range) != 2:
        raise ValueError(f"s_range must be a pair (low, high), got {s_range!r}")
    lo = check_real("s_range[0]", s_range[0])
    hi = check_real("s_range[1]", s_range[1])
    if not hi > lo:
        raise ValueError(f"s_range must satisfy low < high, got {s_range!r}")
    reach = [p.reach((lo, hi), model.T, n_sd) for p in prices]
    g_lo, g_hi = min(r[0] for r in reach), max(r[1] for r in reach)
    if not (math.isfinite(g_lo) and math.isfinite(g_hi)):
        raise ValueError(f"s_range={s_range!r} is too wide: the padded price grid would not be finite")
    if not g_hi - g_lo > 1e-9 * max(1.0, abs(g_lo), abs(g_hi)):
        raise ValueError(f"the price grid around s_range={s_range!r} has no width (σ={price.sigma:g}: the price "
                         "barely moves); pass a wider s_range, or use a Brownian price for a constant one")
    if ds is None:
        ds = min(p.default_ds(model.T, max(max(m.k_plus, m.k_minus) for m in model.regime_models()), g_lo, g_hi)
                 for p in prices)
    ds = check_real("ds", ds, gt=0.0)
    n = (g_hi - g_lo) / ds + 1
    if not n <= max_nodes:
        raise ValueError(f"the price grid would need {n:.4g} nodes (> {max_nodes}); narrow s_range={s_range!r} "
                         f"or pass a larger ds (now {ds:.4g})")
    return PriceAxis.uniform(g_lo, g_hi, ds, (lo, hi))


def state_grid(model, q_max, s_range=None, ds=None, price_dependent: bool | None = None) -> StateGrid:
    """The state grid of a model: price axis (when the problem depends on the price) × inventory axis."""
    if price_dependent is None:
        price_dependent = model.price.depends_on_price
    if price_dependent:
        prices = price_axis(model, s_range, ds)
    else:
        if ds is not None:
            raise ValueError("ds applies only to a price-dependent problem (OU price, or a price-dependent policy)")
        prices = PriceAxis.single()
    if q_max is None:
        q_max = default_q_max(model, prices.interest if price_dependent else None)
    else:
        q_max = check_q_max(model, q_max, prices.interest if price_dependent else None)
    return StateGrid(prices, (InventoryAxis(q_max),), model.n_regimes)


#: Most inventory cells of a multi-asset box (product of the axes): a solve stores every time node
#: of the box (8 bytes a cell and node; a few hundred nodes), and its steps cost (2M − 1) jump stages
#: over every cell; 4·10⁶ cells is already several GB and hours.
MAX_CELLS = 4_000_000


def multi_asset_grid(model, q_max=None) -> StateGrid:
    """The state grid of a :class:`~hjbsolve.multiasset.MultiAssetModel`: one inventory axis per asset
    (``q_i ∈ {−Q_i … Q_i}``, the box ``Π_i [−Q_i, Q_i]``) and no price axis (constant drifts: the
    reduced value does not depend on the prices).

    Parameters
    ----------
    model : MultiAssetModel
    q_max : int or sequence of M ints, optional
        Bound per asset (one number: every asset). Default: :func:`default_q_max` of each asset alone
        (:meth:`~hjbsolve.multiasset.MultiAssetModel.asset_model`); each bound is checked like a
        single asset's (the largest finite bound, a :class:`BoundWarning` when it probably binds).

    Raises
    ------
    ValueError
        An OU asset (the value would depend on M price coordinates); a bad ``q_max``; a box of more
        than :data:`MAX_CELLS` cells (the message names ``q_max`` and the size).
    """
    M = model.n_assets
    if model.depends_on_price:
        ou = [i for i, p in enumerate(model.asset_prices()) if p.depends_on_price]
        raise ValueError(
            f"the exact multi-asset solver needs constant drifts: asset(s) {ou} have Ornstein–Uhlenbeck prices, "
            f"whose directional bet Δ_i depends on s_i, so the value would depend on {M} price coordinates (a grid in "
            f"{M} price dimensions on top of the {M} inventory dimensions); use Brownian prices (drift=...) or the "
            f"closed forms")
    if q_max is None:
        q = [default_q_max(model.asset_model(i)) for i in range(M)]
    else:
        if isinstance(q_max, np.ndarray):
            q_max = q_max.tolist()
        if isinstance(q_max, (list, tuple)):
            if len(q_max) != M:
                raise ValueError(f"q_max must be an integer or one bound per asset (M={M}), got {q_max!r}")
            q = [check_int(f"q_max[{i}]", v, le=MAX_Q) for i, v in enumerate(q_max)]
        else:
            q = [check_int("q_max", q_max, le=MAX_Q)] * M
        q = [check_q_max(model.asset_model(i), v, name=f"q_max[{i}]" if M > 1 else "q_max") for i, v in enumerate(q)]
    n_cells = float(np.prod([2.0 * v + 1.0 for v in q]))
    if n_cells > MAX_CELLS:
        raise ValueError(f"q_max={q} makes an inventory box of {n_cells:.4g} cells (limit {MAX_CELLS:.3g}; about "
                         f"{n_cells * 8 * 300 / 1e9:.3g} GB for 300 stored times): lower q_max")
    return StateGrid(PriceAxis.single(), tuple(InventoryAxis(v) for v in q), 1)


def terminal_rate(coef: MarketCoefficients, grid: StateGrid) -> float:
    """The fastest optimal fill rate at ``T`` over all inventory edges (how stiff the terminal layer is)."""
    return float(np.exp(np.max(coef.terminal_log_rates(grid))))
