"""Compiled Monte Carlo kernels and their numpy twins (private; used by :mod:`hjbsolve.montecarlo`).

The market of one path over one grid step ``[t_i, t_{i+1}]``
------------------------------------------------------------
The state carries an asset axis: ``M`` mid-prices and inventories (``M = 1``: the single-asset
market, the same loop and the same numbers; several assets: :class:`hjbsolve.multiasset.MultiAssetModel`).

1. ``S_{t_{i+1}}`` is drawn from the exact Gaussian transition of the prices
   ``dS_m = (c₀_m − a S_m) dt + σ_m (L dW)_m`` (:meth:`hjbsolve.prices.Brownian.kernel_params`;
   ``L`` the lower Cholesky factor of the correlation matrix, so that the increments have the
   covariance ``Λ dt``: ``S'_m = ρ S_m + c_m + std_m·(L Z)_m``, stream 0 of the path).
2. The quotes are set at ``(t_i, S_{t_i}, Q)`` through the one table interpolation
   (:mod:`hjbsolve.interpolation`) and the inventory-limit rule (:mod:`hjbsolve.grid`); each
   side's fill intensity ``λ = exp(ℓ − kδ)`` (:mod:`hjbsolve.hamiltonian`, coefficients from
   :class:`hjbsolve.coefficients.MarketCoefficients`) is then constant until the next fill or
   ``t_{i+1}``.
3. Fills are the events of ``2M`` Poisson clocks (ask and bid of every asset) run by the
   *modified next reaction method* (Anderson 2007): each clock carries a unit-exponential
   threshold ``E`` (streams 1: asks, 2: bids) and its integrated intensity ``I``; it fires when
   ``I`` reaches ``E``. This gives the exact event times for piecewise-constant intensities (the
   total rate ``Σ_m (λ⁺_m + λ⁻_m)``), any number of fills per side per step, and one random
   number per fill. The quotes of every asset are re-set after every fill (of any asset).
4. At a fill time ``τ`` the price vector is drawn exactly from the Gaussian (Ornstein–Uhlenbeck
   or Brownian) bridge between the last sampled prices and ``S_{t_{i+1}}`` (stream 3; per asset
   the scalar bridge, driven by the correlated normals ``L Z``: for a Brownian vector with
   covariance ``Λ`` the bridge's mean is the per-asset one and its covariance is
   ``Λ τ₁τ₂/(τ₁+τ₂)``, exactly this): the fill times depend only on the past, so this is the
   exact joint law, and the grid-time prices are the same whatever the policy (common random
   numbers across policies). The fill is executed at ``S_τ ± δ`` and the quotes are re-set at
   ``(τ, S_τ, Q_τ)``.
5. ``∫ Q Q' dt`` is accumulated exactly (``Q`` is constant between events); the objective uses the
   penalty forms ``Φ`` and ``Ω̃`` of the coefficients (``− ∫ Q'ΦQ dt − Q_T'Ω̃Q_T``; one asset:
   ``φ`` and ``ϖ``).
6. Market regimes (:class:`hjbsolve.regimes.Regimes`): the regime ``r`` is a third kind of event.
   The chain is autonomous, so its jumps are drawn exactly and lazily from their own stream 4:
   at a jump from ``r`` (time ``τ``) a uniform picks the next state ``j`` with probability
   ``Q[r, j]/(−Q[r, r])`` (cumulative ``cump``) and the next uniform its exponential holding time
   ``rates[j] = −Q[j, j]`` (two numbers per jump; a state with rate 0 is never left). Between
   events everything is regime ``r``'s: ``σ_r`` (price), ``(ℓ, k, α)_r`` (fills), ``φ_r`` (running
   penalty, accumulated per regime) and the quotes of ``r``'s table; ``ϖ`` is that of the regime
   at ``T``. The price is Gaussian with piecewise-constant ``σ``: the grid-time transition's
   variance and every bridge's ``Var(S_{t_{i+1}} | S_τ)`` are summed over the regime pieces up to
   ``t_{i+1}`` (:func:`_var_ahead`, which reads the stream ahead without consuming it). At a jump
   the price is drawn from the bridge and the quotes are re-set, as at a fill; the fill clocks keep
   their thresholds (only the intensities change). Without a chain ``rates = [0]``: no jump.
7. A path that reaches ``max_events`` fills stops and is flagged (``I_BUDGET``): fill rates that
   cannot be simulated end in an error instead of a hang.

Random numbers
--------------
Counter-based: the ``n``-th 64-bit output of stream ``j`` of path ``p`` is
``mix(key_{p,j} + (n+1)·γ)`` (the SplitMix64 output function ``mix``, Weyl constant ``γ``),
with ``key_{p,j} = mix(base_j + p·γ₂)`` and ``base`` drawn from
``numpy.random.SeedSequence(seed)``. A path's numbers depend only on ``(seed, p)``, never on
the thread that runs it, and the numpy twin reproduces them exactly.

With ``M`` assets the streams are interleaved by asset: the grid normal of asset ``m`` at step
``i`` is number ``i·M + m`` of stream 0, the ``c``-th threshold of asset ``m``'s ask (bid) clock
number ``c·M + m`` of stream 1 (2), the bridge normal of asset ``m`` at the ``c``-th event number
``c·M + m`` of stream 3. With ``M = 1`` these are the single-asset numbers ``i``, ``c``, ``c``:
one asset draws exactly the random numbers it drew before the asset axis existed.

Side coefficients
-----------------
``side`` has shape (n_regimes, M, 2, 3): ``(ℓ, k, α)`` of the ask (0) and the bid (1) of every
asset, so that ``λ(δ) = exp(ℓ − kδ)`` and a fill books ``δ − α``; ``phi``/``varpi`` are the
running and terminal penalty forms (n_regimes, M, M).

Martingale controls (per path; each has mean zero for any policy)
------------------------------------------------------------------
* ``G``  = Σ_fills (δ − α) − ∫ [λ⁺(δ⁺ − α) + λ⁻(δ⁻ − α)] dt   (compensated spread income)
* ``S``  = Σ_intervals Q·(S_end − E[S_end | S_start])         (price martingale part of ∫Q·dS)
* ``N⁺``, ``N⁻`` = fills − ∫ λ dt of each side, summed over the assets (compensated fill counts)
* ``SD`` = as ``S`` weighted by ``e^{−a(T−t)}`` (the ``∂_s`` of ``Q E_t[S_T]``; OU)
* ``W``, ``WD``, ``WT`` = the price innovations ``S_end − E[S_end | S_start]`` (summed over the assets) with
  weights ``1``, ``e^{−a(T−t)}`` and ``T − t`` (a basis for ``∂_s h``; OU)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .grid import ask_quoted_nb, bid_quoted_nb
from .hamiltonian import fill_intensity, fill_intensity_nb
from .interpolation import interpolate_nb, stencil_nb

# ----------------------------------------------------------------------------- random numbers
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_GAMMA2 = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO53 = 2.0 ** -53
_TWO_PI = 2.0 * math.pi

N_STREAMS = 5          # 0: price at grid times, 1: ask clock, 2: bid clock, 3: bridge prices, 4: regime chain
N_CONTROLS = 8
CONTROL_NAMES = ("G", "S", "N_ask", "N_bid", "SD", "W", "WD", "WT")
# per-path integer outputs (I_OUT: quotes read outside the table's price range; I_BUDGET: the path hit
# the event budget and was stopped; I_RT: regime at T, I_NSW: regime jumps)
I_OUT, I_BUDGET, I_RT, I_NSW = range(4)
N_IOUT = 4
# per-path and per-asset integer outputs: inventory at T, its intraday minimum and maximum, ask and bid fills
IA_QT, IA_QMIN, IA_QMAX, IA_NASK, IA_NBID = range(5)
N_IA = 5
# per-path float outputs
F_OBJ, F_PNL, F_X = range(3)
N_FOUT = 3
# per-path and per-asset float outputs: mid-price at T, lowest and highest mid-price sampled
FA_S, FA_SMIN, FA_SMAX = range(3)
N_FA = 3


@njit(cache=True, inline="always")
def _mix(x):
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@njit(cache=True, inline="always")
def _uniform(key, n):
    """``n``-th uniform of a stream, in the open interval (0, 1)."""
    x = _mix(key + (np.uint64(n) + _ONE) * _GAMMA)
    return (float(x >> _S11) + 0.5) * _TWO53


@njit(cache=True, inline="always")
def _normal(key, n):
    """``n``-th standard normal of a stream (Box–Muller on uniforms ``2⌊n/2⌋``, ``2⌊n/2⌋+1``)."""
    m = n - (n % 2)
    r = math.sqrt(-2.0 * math.log(_uniform(key, m)))
    th = _TWO_PI * _uniform(key, m + 1)
    if n % 2 == 0:
        return r * math.cos(th)
    return r * math.sin(th)


@njit(cache=True, inline="always")
def _exponential(key, n):
    return -math.log(_uniform(key, n))


@njit(cache=True)
def path_keys(base, paths):
    """Stream keys, shape (len(paths), N_STREAMS), from ``base`` (N_STREAMS uint64)."""
    out = np.empty((paths.size, N_STREAMS), dtype=np.uint64)
    for i in range(paths.size):
        for j in range(N_STREAMS):
            out[i, j] = _mix(base[j] + np.uint64(paths[i]) * _GAMMA2)
    return out


# numpy twins of the generator (vectorised over paths; identical numbers)
def _mix_np(x):
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _uniform_np(key, n):
    n = np.asarray(n).astype(np.uint64)
    x = _mix_np(key + (n + _ONE) * _GAMMA)
    return ((x >> _S11).astype(np.float64) + 0.5) * _TWO53


def _normal_np(key, n):
    n = np.asarray(n, dtype=np.int64)
    m = n - (n % 2)
    r = np.sqrt(-2.0 * np.log(_uniform_np(key, m)))
    th = _TWO_PI * _uniform_np(key, m + 1)
    return np.where(n % 2 == 0, r * np.cos(th), r * np.sin(th))


def _exponential_np(key, n):
    return -np.log(_uniform_np(key, n))


def path_keys_np(base, paths):
    paths = np.asarray(paths, dtype=np.uint64)
    return _mix_np(base[None, :] + paths[:, None] * _GAMMA2)


# ----------------------------------------------------------------------------- price helpers
@njit(cache=True, inline="always")
def _phi1(a, tau):
    """``(1 − e^{−aτ})/a`` (``τ`` when ``a = 0``)."""
    if a == 0.0:
        return tau
    return -math.expm1(-a * tau) / a


@njit(cache=True, inline="always")
def _var(a, sig2, tau):
    """Transition variance over ``tau`` (``a = 0``: Brownian)."""
    if a == 0.0:
        return sig2 * tau
    return sig2 * (-math.expm1(-2.0 * a * tau)) / (2.0 * a)


@njit(cache=True, inline="always")
def _bridge(x, y, tau1, tau2, a, c0, sig2, zn):
    """Price at ``u + tau1`` given ``S_u = x`` and ``S_{u+tau1+tau2} = y`` (exact Gaussian bridge)."""
    return _bridge_v(x, y, tau1, tau2, a, c0, _var(a, sig2, tau1), _var(a, sig2, tau2), zn)


@njit(cache=True, inline="always")
def _bridge_v(x, y, tau1, tau2, a, c0, v1, v2, zn):
    """:func:`_bridge` given the two transition variances ``v1 = Var(S_{u+tau1} | S_u)`` and
    ``v2 = Var(S_{u+tau1+tau2} | S_{u+tau1})`` (a piecewise-constant ``σ``: the same Gaussian
    algebra, ``Cov = e^{−a tau2} v1``)."""
    rho1 = math.exp(-a * tau1)
    rho2 = math.exp(-a * tau2)
    m1 = rho1 * x + c0 * _phi1(a, tau1)
    vt = rho2 * rho2 * v1 + v2
    if vt <= 0.0:
        return m1
    my = rho2 * m1 + c0 * _phi1(a, tau2)
    return m1 + rho2 * v1 / vt * (y - my) + math.sqrt(v1 * v2 / vt) * zn


# ----------------------------------------------------------------------------- the regime chain
@njit(cache=True, inline="always")
def _holding(key, c, r, t, rates):
    """Time of the next jump from ``r`` entered at ``t`` (uniform ``c`` of the stream; ``inf`` if
    ``rates[r] = 0``)."""
    if rates[r] > 0.0:
        return t + _exponential(key, c) / rates[r]
    return np.inf


@njit(cache=True, inline="always")
def _jump(key, c, r, t, rates, cump):
    """The chain's jump from ``r`` at ``t``: ``(next state, its jump time, next counter)`` from
    uniforms ``c`` (the state: the first ``j`` with ``U < cump[r, j]``) and ``c + 1`` (holding time)."""
    u = _uniform(key, c)
    n = cump.shape[1]
    j = n - 1
    for i in range(n):
        if u < cump[r, i]:
            j = i
            break
    return j, _holding(key, c + 1, j, t, rates), c + 2


@njit(cache=True)
def _var_ahead(t, t1, r, t_sw, c, key, rates, cump, a, sig2):
    """``Var(S_{t1} | S_t)`` along the regime path from ``t`` (regime ``r``, next jump at ``t_sw``,
    stream counter ``c``): the pieces of constant ``σ_r²`` (``sig2[r]``) summed, each carried to
    ``t1`` by ``e^{−2a(…)}``. Reads the stream ahead without consuming it (the same jumps are drawn
    again when the path reaches them)."""
    if not t_sw < t1:
        return _var(a, sig2[r], t1 - t)
    v = 0.0
    w = t
    while True:
        end = t_sw if t_sw < t1 else t1
        v = v * math.exp(-2.0 * a * (end - w)) + _var(a, sig2[r], end - w)
        if not t_sw < t1:
            return v
        r, t_sw, c = _jump(key, c, r, t_sw, rates, cump)
        w = end


def _holding_np(key, c, r, t, rates):
    rate = rates[r]
    with np.errstate(divide="ignore"):
        return np.where(rate > 0.0, t + _exponential_np(key, c) / np.where(rate > 0.0, rate, 1.0), np.inf)


def _jump_np(key, c, r, t, rates, cump):
    """Numpy twin of :func:`_jump` (arrays over paths)."""
    u = _uniform_np(key, c)
    below = u[:, None] < cump[r]
    j = np.where(below.any(axis=1), np.argmax(below, axis=1), cump.shape[1] - 1)
    return j, _holding_np(key, c + 1, j, t, rates), c + 2


def _var_ahead_np(t, t1, r, t_sw, c, key, rates, cump, a, sig2):
    """Numpy twin of :func:`_var_ahead` (arrays over paths; ``t1`` a float)."""
    t, r, t_sw, c = (np.array(x, copy=True) for x in (t, r, t_sw, c))
    v = np.zeros(t.shape)
    todo = np.ones(t.shape, bool)
    while todo.any():
        i = np.flatnonzero(todo)
        end = np.minimum(t_sw[i], t1)
        v[i] = v[i] * np.exp(-2.0 * a * (end - t[i])) + _var_np(a, sig2[r[i]], end - t[i])
        go = t_sw[i] < t1
        todo[i[~go]] = False
        g = i[go]
        if g.size:
            t[g] = t_sw[g]
            r[g], t_sw[g], c[g] = _jump_np(key[g], c[g], r[g], t_sw[g], rates, cump)
    return v


# ----------------------------------------------------------------------------- policy tables
def kernel_table(ask, bid):
    """The kernel's table layout ``(n_cells, M, 2, n_t, n_s)`` from ``ask, bid`` of shape
    (n_t, n_s, n_cells, M) (or (n_t, n_s, n_q) for one asset): the ``(t, s)`` stencil of one
    inventory cell, asset and side is contiguous in memory."""
    ask, bid = np.asarray(ask), np.asarray(bid)
    if ask.ndim == 3:
        ask, bid = ask[..., None], bid[..., None]
    return np.ascontiguousarray(np.stack([ask, bid], axis=0).transpose(3, 4, 0, 1, 2))


@njit(cache=True, inline="always")
def _cell(q, q_min, q_n):
    """C-order cell index of the inventory vector ``q`` in the box (``-1`` outside it)."""
    cell = 0
    for m in range(q.size):
        qi = q[m] - q_min[m]
        if qi < 0 or qi > q_n[m] - 1:
            return -1
        cell = cell * q_n[m] + qi
    return cell


@njit(cache=True, inline="always")
def _quote(tt, ts, tab, order, q_min, q_n, t, s, q, it, js, wt, ws, dq):
    """Quotes of a tabulated policy at ``(t, s, q)`` (:mod:`hjbsolve.interpolation`), written into
    ``dq`` (shape (M, 2): ``δ⁺, δ⁻`` per asset).

    ``tab`` has shape (n_cells, M, 2, n_t, n_s); ``q`` the inventory vector (M,), the cells the
    C-order product of the axes ``q_min[m] … q_min[m] + q_n[m] − 1``. The inventory-limit rule
    (:mod:`hjbsolve.grid`) acts along each asset's axis; nothing is quoted outside the box. Returns
    ``(outside, it, js)`` with ``outside`` = ``s`` beyond the table's range and ``it, js`` the located
    intervals (the next search's guess).
    """
    outside = ts.size > 1 and (s < ts[0] or s > ts[ts.size - 1])
    i0, mt, it = stencil_nb(tt, t, order, it, wt)
    j0, ms, js = stencil_nb(ts, s, order, js, ws)
    cell = _cell(q, q_min, q_n)
    for m in range(q.size):
        if cell < 0:
            dq[m, 0] = np.inf
            dq[m, 1] = np.inf
            continue
        qi = q[m] - q_min[m]
        dq[m, 0] = interpolate_nb(tab[cell, m, 0], i0, mt, wt, j0, ms, ws) if ask_quoted_nb(qi, q_n[m]) else np.inf
        dq[m, 1] = interpolate_nb(tab[cell, m, 1], i0, mt, wt, j0, ms, ws) if bid_quoted_nb(qi, q_n[m]) else np.inf
    return outside, it, js


# ----------------------------------------------------------------------------- the path kernel
@njit(cache=True, inline="always")
def _intensity(side, j, d):
    if d == np.inf:
        return 0.0
    return fill_intensity_nb(d, side[j, 0], side[j, 1])


@njit(cache=True, inline="always")
def _correlate(chol, z, out):
    """``out = L z`` (``L`` lower triangular; one asset: ``out = 1.0 · z``, exactly ``z``)."""
    for m in range(z.size):
        acc = chol[m, 0] * z[0]
        for l in range(1, m + 1):
            acc += chol[m, l] * z[l]
        out[m] = acc


@njit(cache=True, inline="always")
def _take_prices(dst, src, smin, smax):
    """``dst[:] = src`` and the running extremes ``smin``, ``smax`` of every asset's sampled price."""
    for m in range(src.size):
        dst[m] = src[m]
        if dst[m] < smin[m]:
            smin[m] = dst[m]
        if dst[m] > smax[m]:
            smax[m] = dst[m]


@njit(cache=True, parallel=True)
def simulate_tabulated(keys, paths, n_steps, T, a, c0, sig2, chol, s0, q0, r0, side, phi, varpi, rates, cump,
                       tt, ts, tab, order, q_min, q_n, max_events,
                       fout, fasset, iout, iasset, ctrl, occ, pen_r,
                       n_rec, rec_s, rec_q, rec_x, rec_a, rec_b, rec_r):
    """Simulate the paths ``paths`` (global indices) with a tabulated policy, for ``M >= 1`` assets.

    Parameters
    ----------
    keys : uint64 array, shape (n, N_STREAMS)
        Stream keys of each path (:func:`path_keys`).
    paths : int64 array, shape (n,)
        Global path indices (recording uses ``paths[j] < n_rec``).
    n_steps, T : int, float
        Grid ``t_i = T i / n_steps``.
    a : float
        Mean reversion ``a`` (0: Brownian).
    c0 : float array, shape (M,)
        Prices ``dS_m = (c₀_m − a S_m) dt + σ_{r,m} (L dW)_m``.
    sig2 : float array, shape (n_regimes, M)
        ``σ_{r,m}²`` of each regime and asset (one asset: ``σ_r · σ_r``; several: the diagonal of ``Λ``).
    chol : float array, shape (M, M)
        Lower Cholesky factor ``L`` of the correlation matrix of the price noise (``[[1.]]`` for one
        asset).
    s0 : float array, shape (M,); q0 : int64 array, shape (M,); r0 : int
        Initial state (cash 0; regime ``r0``).
    side : float array, shape (n_regimes, M, 2, 3)
        ``(ℓ, k, α)`` of ask and bid of each asset in each regime (module docstring).
    phi, varpi : float arrays, shape (n_regimes, M, M)
        Running and terminal penalty forms ``Φ``, ``Ω̃`` of each regime (objective
        ``… − ∫ q'Φq dt − q'Ω̃q``; one asset: ``φ``, ``ϖ``).
    rates : float array, shape (n_regimes,)
        ``−Q[r, r]``, the rate of leaving regime ``r`` (``[0.]`` without a chain).
    cump : float array, shape (n_regimes, n_regimes)
        Cumulative jump probabilities ``Σ_{i ≤ j} Q[r, i]/(−Q[r, r])`` (``i ≠ r``).
    tt, ts : float arrays, shapes (n_t,), (n_s,)
        Table nodes (``n_s > 1`` only for one asset: the price coordinate is ``S_0``).
    tab : float array, shape (n_tables, n_cells, M, 2, n_t, n_s)
        :func:`kernel_table` of each regime's quotes (``n_tables = 1``: the same in every regime).
    order : int
        Interpolation degree of the table (1 or 3).
    q_min, q_n : int64 arrays, shape (M,)
        Lowest inventory and number of inventories of each axis of the table's box.
    max_events : int
        Fills after which a path is stopped and flagged (``iout[:, I_BUDGET]``).
    fout : float array, shape (n, N_FOUT)           (written: objective, PnL, cash)
    fasset : float array, shape (n, N_FA, M)        (written: ``S_T``, lowest and highest price)
    iout : int64 array, shape (n, N_IOUT)           (written)
    iasset : int64 array, shape (n, N_IA, M)        (written: ``Q_T``, min, max, ask and bid fills)
    ctrl : float array, shape (n, N_CONTROLS)       (written)
    occ : float array, shape (n, n_regimes)         (written: time spent in each regime)
    pen_r : float array, shape (n, n_regimes, M, M) (written: ``∫ Q Q' dt`` over each regime)
    n_rec : int
    rec_s, rec_q, rec_a, rec_b : arrays, shape (n_rec, n_steps + 1, M)   (written for recorded paths)
    rec_x, rec_r : arrays, shape (n_rec, n_steps + 1)                    (cash; int64 regime)
    """
    n = paths.size
    n_reg = sig2.shape[0]
    M = s0.size
    n_tab = tab.shape[0]
    sig2T = np.ascontiguousarray(sig2.T)      # (M, n_regimes): one asset's σ_r² contiguous
    dt = T / n_steps
    rho_dt = math.exp(-a * dt)
    c_dt = np.empty(M)
    for m in range(M):
        c_dt[m] = c0[m] * _phi1(a, dt)
    std_dt = np.empty((n_reg, M))
    for r in range(n_reg):
        for m in range(M):
            std_dt[r, m] = math.sqrt(_var(a, sig2[r, m], dt))
    dcy_grid = np.empty(n_steps)          # e^{−a(T−t_i)}
    for i in range(n_steps):
        dcy_grid[i] = math.exp(-a * (T - T * i / n_steps))
    for j in prange(n):
        wt = np.empty(4)
        ws = np.empty(4)
        p = paths[j]
        k0 = keys[j, 0]
        kc = keys[j, 1:3]          # the ask (1) and bid (2) clocks
        k3 = keys[j, 3]
        k4 = keys[j, 4]
        # per asset m and side: the c-th threshold is number c·M + m of the side's stream
        E = np.empty((M, 2))
        Ic = np.zeros((M, 2))
        lam = np.empty((M, 2))
        dq = np.empty((M, 2))
        cc = np.ones((M, 2), np.int64)
        nfill = np.zeros((M, 2), np.int64)
        for m in range(M):
            E[m, 0] = _exponential(kc[0], m)
            E[m, 1] = _exponential(kc[1], m)
        c3 = 0
        r = r0
        t_sw = _holding(k4, 0, r, 0.0, rates)
        c4 = 1
        n_sw = 0
        for rr in range(n_reg):
            occ[j, rr] = 0.0
            for m in range(M):
                for l in range(M):
                    pen_r[j, rr, m, l] = 0.0
        S = s0.copy()
        S1 = np.empty(M)
        Su = np.empty(M)
        Send = np.empty(M)
        zg = np.empty(M)
        zc = np.empty(M)
        q = q0.copy()
        qlo = q0.copy()
        qhi = q0.copy()
        smin = s0.copy()
        smax = s0.copy()
        x = 0.0
        pen = np.zeros((M, M))  # ∫QQ' dt since the last regime jump (flushed into pen_r at jumps)
        t_in = 0.0         # when the current regime was entered
        rt = min(r, n_tab - 1)      # the current regime's table, market and variances (re-read at jumps)
        side_r = side[r]
        sig2_r = sig2[r]
        g_ctl = 0.0
        s_ctl = 0.0
        na_ctl = 0.0
        nb_ctl = 0.0
        sd_ctl = 0.0
        w_ctl = 0.0
        wd_ctl = 0.0
        wt_ctl = 0.0
        n_events = 0
        n_out = 0
        stopped = 0
        rec = p < n_rec
        it = 0
        js = 0
        z_next = 0.0
        for i in range(n_steps):
            t0 = T * i / n_steps
            t1 = T * (i + 1) / n_steps if i + 1 < n_steps else T
            for m in range(M):   # normal number i·M + m of stream 0; one Box–Muller pair gives two
                nz = i * M + m
                if nz % 2 == 0:
                    r_bm = math.sqrt(-2.0 * math.log(_uniform(k0, nz)))
                    th_bm = _TWO_PI * _uniform(k0, nz + 1)
                    zg[m] = r_bm * math.cos(th_bm)
                    z_next = r_bm * math.sin(th_bm)
                else:
                    zg[m] = z_next
            _correlate(chol, zg, zc)
            for m in range(M):
                if t_sw < t1:      # a regime jump within the step: σ piecewise constant
                    std = math.sqrt(_var_ahead(t0, t1, r, t_sw, c4, k4, rates, cump, a, sig2T[m]))
                else:
                    std = std_dt[r, m]      # (the one-regime path: the same number as without a chain)
                S1[m] = rho_dt * S[m] + c_dt[m] + std * zc[m]
            dcy0 = dcy_grid[i]
            u = t0
            Su[:] = S
            outside, it, js = _quote(tt, ts, tab[rt], order, q_min, q_n, u, Su[0], q, it, js,
                                     wt, ws, dq)
            if outside:
                n_out += 1
            if rec and i == 0:
                rec_x[p, 0] = x
                rec_r[p, 0] = r
                for m in range(M):
                    rec_s[p, 0, m] = S[m]
                    rec_q[p, 0, m] = q[m]
                    rec_a[p, 0, m] = dq[m, 0]
                    rec_b[p, 0, m] = dq[m, 1]
            while True:
                # the next fill: the clock (asset, side) whose integrated intensity reaches its
                # threshold first (ties: the first in the order asset 0 ask, asset 0 bid, asset 1 ask, …)
                best = np.inf
                bm = 0
                bs = 0
                for m in range(M):
                    for sd in range(2):
                        lam[m, sd] = _intensity(side_r[m], sd, dq[m, sd])
                        tm = (E[m, sd] - Ic[m, sd]) / lam[m, sd] if lam[m, sd] > 0.0 else np.inf
                        if tm < best:
                            best = tm
                            bm = m
                            bs = sd
                tau = u + best
                fire = tau < t1 and tau < t_sw
                jump = not fire and t_sw < t1
                end = tau if fire else (t_sw if jump else t1)
                d = end - u
                # interval [u, end] at constant q, quotes and regime
                for m in range(M):
                    for l in range(M):
                        pen[m, l] += q[m] * q[l] * d
                for m in range(M):
                    if lam[m, 0] > 0.0:
                        g_ctl -= lam[m, 0] * (dq[m, 0] - side_r[m, 0, 2]) * d
                        na_ctl -= lam[m, 0] * d
                    if lam[m, 1] > 0.0:
                        g_ctl -= lam[m, 1] * (dq[m, 1] - side_r[m, 1, 2]) * d
                        nb_ctl -= lam[m, 1] * d
                if fire or jump:   # the price vector at the event: one correlated bridge
                    for m in range(M):
                        zg[m] = _normal(k3, c3 * M + m)
                    _correlate(chol, zg, zc)
                    for m in range(M):
                        if t_sw < t1:      # another regime jump (or this one) before t1
                            v2 = _var_ahead(end, t1, r, t_sw, c4, k4, rates, cump, a, sig2T[m])
                        else:
                            v2 = _var(a, sig2_r[m], t1 - end)
                        Send[m] = _bridge_v(Su[m], S1[m], d, t1 - end, a, c0[m], _var(a, sig2_r[m], d), v2, zc[m])
                    c3 += 1
                else:
                    Send[:] = S1
                plain = u == t0 and not (fire or jump)
                if plain:
                    rho = rho_dt
                    dcy = dcy0
                else:
                    rho = math.exp(-a * d)
                    dcy = math.exp(-a * (T - u))
                for m in range(M):
                    if plain:
                        mean = rho_dt * Su[m] + c_dt[m]
                    else:
                        mean = rho * Su[m] + c0[m] * _phi1(a, d)
                    dev = Send[m] - mean
                    s_ctl += q[m] * dev
                    sd_ctl += q[m] * dcy * dev
                    w_ctl += dev
                    wd_ctl += dcy * dev
                    wt_ctl += (T - u) * dev
                if not (fire or jump):
                    for m in range(M):
                        Ic[m, 0] += lam[m, 0] * d
                        Ic[m, 1] += lam[m, 1] * d
                    break
                u = end
                _take_prices(Su, Send, smin, smax)
                # every clock but the one that fires integrates its intensity over [u - d, u]
                for m in range(M):
                    for sd in range(2):
                        if jump or m != bm or sd != bs:
                            Ic[m, sd] += lam[m, sd] * d
                if jump:       # the regime changes; the fill clocks keep their thresholds
                    for m in range(M):
                        for l in range(M):
                            pen_r[j, r, m, l] += pen[m, l]
                            pen[m, l] = 0.0
                    occ[j, r] += end - t_in
                    t_in = end
                    r, t_sw, c4 = _jump(k4, c4, r, t_sw, rates, cump)
                    n_sw += 1
                    rt = min(r, n_tab - 1)
                    side_r = side[r]
                    sig2_r = sig2[r]
                else:
                    Ic[bm, bs] = 0.0
                    E[bm, bs] = _exponential(kc[bs], cc[bm, bs] * M + bm)
                    cc[bm, bs] += 1
                    alpha = side_r[bm, bs, 2]
                    nfill[bm, bs] += 1
                    n_events += 1
                    if bs == 0:    # ask fill: sell one at Su + δ⁺
                        x += Su[bm] + dq[bm, 0] - alpha
                        q[bm] -= 1
                        g_ctl += dq[bm, 0] - alpha
                        na_ctl += 1.0
                        if q[bm] < qlo[bm]:
                            qlo[bm] = q[bm]
                    else:          # bid fill: buy one at Su − δ⁻
                        x -= Su[bm] - dq[bm, 1] + alpha
                        q[bm] += 1
                        g_ctl += dq[bm, 1] - alpha
                        nb_ctl += 1.0
                        if q[bm] > qhi[bm]:
                            qhi[bm] = q[bm]
                if n_events >= max_events:
                    stopped = 1
                    break
                outside, it, js = _quote(tt, ts, tab[rt], order, q_min, q_n, u, Su[0], q, it, js,
                                         wt, ws, dq)
                if outside:
                    n_out += 1
            if stopped:
                break
            _take_prices(S, S1, smin, smax)
            if rec:
                outside, it, js = _quote(tt, ts, tab[rt], order, q_min, q_n, t1, S[0], q, it, js,
                                         wt, ws, dq)
                rec_x[p, i + 1] = x
                rec_r[p, i + 1] = r
                for m in range(M):
                    rec_s[p, i + 1, m] = S[m]
                    rec_q[p, i + 1, m] = q[m]
                    rec_a[p, i + 1, m] = dq[m, 0]
                    rec_b[p, i + 1, m] = dq[m, 1]
        for m in range(M):
            for l in range(M):
                pen_r[j, r, m, l] += pen[m, l]
        occ[j, r] += T - t_in
        pnl = x
        for m in range(M):
            pnl += q[m] * S[m]
        obj = pnl
        for m in range(M):
            for l in range(M):
                obj -= varpi[r, m, l] * q[m] * q[l]
        for rr in range(n_reg):
            for m in range(M):
                for l in range(M):
                    obj -= phi[rr, m, l] * pen_r[j, rr, m, l]
        fout[j, F_OBJ] = obj
        fout[j, F_PNL] = pnl
        fout[j, F_X] = x
        for m in range(M):
            fasset[j, FA_S, m] = S[m]
            fasset[j, FA_SMIN, m] = smin[m]
            fasset[j, FA_SMAX, m] = smax[m]
            iasset[j, IA_QT, m] = q[m]
            iasset[j, IA_QMIN, m] = qlo[m]
            iasset[j, IA_QMAX, m] = qhi[m]
            iasset[j, IA_NASK, m] = nfill[m, 0]
            iasset[j, IA_NBID, m] = nfill[m, 1]
        iout[j, I_OUT] = n_out
        iout[j, I_BUDGET] = stopped
        iout[j, I_RT] = r
        iout[j, I_NSW] = n_sw
        ctrl[j, 0] = g_ctl
        ctrl[j, 1] = s_ctl
        ctrl[j, 2] = na_ctl
        ctrl[j, 3] = nb_ctl
        ctrl[j, 4] = sd_ctl
        ctrl[j, 5] = w_ctl
        ctrl[j, 6] = wd_ctl
        ctrl[j, 7] = wt_ctl

# ----------------------------------------------------------------------------- numpy twin
def _phi1_np(a, tau):
    tau = np.asarray(tau, float)
    return tau if a == 0.0 else -np.expm1(-a * tau) / a


def _var_np(a, sig2, tau):
    tau = np.asarray(tau, float)
    if a == 0.0:
        return sig2 * tau
    return sig2 * (-np.expm1(-2.0 * a * tau)) / (2.0 * a)


def _bridge_np(x, y, tau1, tau2, a, c0, sig2, zn):
    return _bridge_v_np(x, y, tau1, tau2, a, c0, _var_np(a, sig2, tau1), _var_np(a, sig2, tau2), zn)


def _bridge_v_np(x, y, tau1, tau2, a, c0, v1, v2, zn):
    rho1 = np.exp(-a * tau1)
    rho2 = np.exp(-a * tau2)
    m1 = rho1 * x + c0 * _phi1_np(a, tau1)
    vt = rho2 * rho2 * v1 + v2
    my = rho2 * m1 + c0 * _phi1_np(a, tau2)
    safe = np.where(vt > 0.0, vt, 1.0)
    return np.where(vt > 0.0, m1 + rho2 * v1 / safe * (y - my) + np.sqrt(v1 * v2 / safe) * zn, m1)


def _intensity_np(sd, d):
    """Fill rates at quotes ``d`` (any shape) with side coefficients ``sd`` (shape of ``d`` + (3,)):
    ``(ℓ, k, α)``."""
    d = np.asarray(d, float)
    with np.errstate(over="ignore"):
        return np.where(d == np.inf, 0.0, fill_intensity(np.where(d == np.inf, 0.0, d), sd[..., 0], sd[..., 1]))


def _correlate_np(chol, z):
    """Numpy twin of :func:`_correlate`: ``z`` (m, M) → ``z L'`` summed in the kernel's order."""
    out = np.empty(z.shape)
    for m in range(z.shape[1]):
        acc = chol[m, 0] * z[:, 0]
        for l in range(1, m + 1):
            acc = acc + chol[m, l] * z[:, l]
        out[:, m] = acc
    return out


def simulate_numpy(quote_fn, keys, paths, n_steps, T, a, c0, sig2, chol, s0, q0, r0, side, phi, varpi, rates, cump,
                   max_events, n_rec, step_callback=None):
    """Numpy twin of :func:`simulate_tabulated`: vectorised over paths, a Python loop over steps.

    Within a step, paths with an event (a fill or a regime jump) are processed in *rounds* (one
    event per path per round, then the quotes of those paths are re-set), until no path has an
    event left in the step: the same exact event times and the same random numbers as the compiled
    kernel. A path that reaches ``max_events`` fills is stopped and flagged, as in the kernel.

    Parameters
    ----------
    quote_fn : callable
        ``quote_fn(t, q, s, r) -> (δ⁺, δ⁻, outside)`` for ``t`` float or array (m,), ``q`` int64
        inventories (m, M), ``s`` float prices (m, M), ``r`` int64 regimes (m,): validated quote
        arrays of shape (m, M) and a bool array (m,).
    step_callback : callable, optional
        Called with no argument after each step (progress bar).
    Other parameters as :func:`simulate_tabulated`.

    Returns
    -------
    fout, fasset, iout, iasset, ctrl, occ, pen_r : arrays as the kernel's outputs; rec : a tuple of
    six arrays ``s, q, x, δ⁺, δ⁻, regime`` of shapes (n_rec_local, n_steps + 1, M) (``s, q, δ±``) and
    (n_rec_local, n_steps + 1) (``x``, regime).
    """
    n = paths.size
    M = s0.size
    n_reg = sig2.shape[0]
    dt = T / n_steps
    rho_dt = math.exp(-a * dt)
    c_dt = c0 * np.array([float(_phi1_np(a, dt))])
    std_dt = np.sqrt(_var_np(a, sig2, dt))                     # (n_regimes, M)
    k0, k1, k2, k3, k4 = (keys[:, j] for j in range(N_STREAMS))
    kc = (k1, k2)
    mm = np.arange(M)
    cc = np.ones((n, M, 2), np.int64)
    E = np.stack([np.stack([_exponential_np(kc[sd], np.full(n, m, np.int64)) for sd in range(2)], axis=-1)
                  for m in range(M)], axis=1)                  # (n, M, 2)
    c3 = np.zeros(n, np.int64)
    c4 = np.ones(n, np.int64)
    r = np.full(n, int(r0), np.int64)
    t_sw = _holding_np(k4, np.zeros(n, np.int64), r, 0.0, rates)
    n_sw = np.zeros(n, np.int64)
    occ = np.zeros((n, n_reg))
    pen_r = np.zeros((n, n_reg, M, M))
    pen = np.zeros((n, M, M))
    t_in = np.zeros(n)      # when the current regime was entered
    Ic = np.zeros((n, M, 2))
    S = np.tile(np.asarray(s0, float), (n, 1))
    q = np.tile(np.asarray(q0, np.int64), (n, 1))
    x = np.zeros(n)
    ctl = np.zeros((n, N_CONTROLS))
    qlo = q.copy()
    qhi = q.copy()
    nfill = np.zeros((n, M, 2), np.int64)
    n_out = np.zeros(n, np.int64)
    stopped = np.zeros(n, bool)
    smin = S.copy()
    smax = S.copy()
    recm = paths < n_rec
    ridx = np.flatnonzero(recm)
    nr = ridx.size
    rec = (np.zeros((nr, n_steps + 1, M)), np.zeros((nr, n_steps + 1, M)), np.zeros((nr, n_steps + 1)),
           np.zeros((nr, n_steps + 1, M)), np.zeros((nr, n_steps + 1, M)), np.zeros((nr, n_steps + 1), np.int64))

    def record(col, da_r, db_r):
        for rv, v in zip(rec, (S[ridx], q[ridx], x[ridx], da_r, db_r, r[ridx])):
            rv[:, col] = v

    def flush(pp, t):       # close the regime piece of paths pp at times t: ∫QQ' dt and time into their regime
        np.add.at(pen_r, (pp, r[pp]), pen[pp])
        np.add.at(occ, (pp, r[pp]), t - t_in[pp])
        pen[pp] = 0.0
        t_in[pp] = t

    for i in range(n_steps):
        t0 = T * i / n_steps
        t1 = T * (i + 1) / n_steps if i + 1 < n_steps else T
        live = ~stopped
        std = std_dt[r]                                        # (n, M)
        ahead = np.flatnonzero(live & (t_sw < t1))
        if ahead.size:
            for m in range(M):
                std[ahead, m] = np.sqrt(_var_ahead_np(np.full(ahead.size, t0), t1, r[ahead], t_sw[ahead], c4[ahead],
                                                      k4[ahead], rates, cump, a, sig2[:, m]))
        zg = np.stack([_normal_np(k0, np.full(n, i * M + m)) for m in range(M)], axis=1)
        S1 = np.where(live[:, None], rho_dt * S + c_dt + std * _correlate_np(chol, zg), S)
        act = np.flatnonzero(live)
        u = np.full(act.size, t0)
        Su = S[act].copy()
        da, db, out = quote_fn(t0, q[act], Su, r[act])
        n_out[act] += out
        if i == 0 and nr:
            qa_r, qb_r, _ = quote_fn(t0, q[ridx], S[ridx], r[ridx])
            record(0, qa_r, qb_r)
        first = True
        while act.size:
            ra = r[act]
            sd = side[ra]                                      # (m, M, 2, 3)
            dq = np.stack([da, db], axis=-1)                   # (m, M, 2)
            lam = _intensity_np(sd, dq)
            with np.errstate(divide="ignore"):
                tclk = np.where(lam > 0.0, (E[act] - Ic[act]) / np.where(lam > 0.0, lam, 1.0), np.inf)
            flat = tclk.reshape(act.size, 2 * M)               # order: asset 0 ask, asset 0 bid, asset 1 ask, …
            best = np.argmin(flat, axis=1)                     # ties: the first
            tau = u + flat[np.arange(act.size), best]
            bm, bs = best // 2, best % 2
            tsw = t_sw[act]
            fire = (tau < t1) & (tau < tsw)
            jump = ~fire & (tsw < t1)
            ev = fire | jump
            end = np.where(fire, tau, np.where(jump, tsw, t1))
            d = end - u
            qa = q[act]
            pen[act] += qa[:, :, None] * qa[:, None, :] * d[:, None, None]
            for m in range(M):
                for s_, col in ((0, 2), (1, 3)):
                    lm = lam[:, m, s_]
                    ctl[act, 0] -= np.where(lm > 0.0, lm * (np.where(lm > 0.0, dq[:, m, s_], 0.0) - sd[:, m, s_, 2])
                                            * d, 0.0)
                    ctl[act, col] -= np.where(lm > 0.0, lm * d, 0.0)
            Send = S1[act].copy()
            f = np.flatnonzero(ev)
            if f.size:
                fa = act[f]
                zb = _correlate_np(chol, np.stack([_normal_np(k3[fa], c3[fa] * M + m) for m in range(M)], axis=1))
                for m in range(M):
                    v2 = _var_ahead_np(end[f], t1, ra[f], tsw[f], c4[fa], k4[fa], rates, cump, a, sig2[:, m])
                    Send[f, m] = _bridge_v_np(Su[f, m], S1[fa, m], d[f], t1 - end[f], a, c0[m],
                                              _var_np(a, sig2[ra[f], m], d[f]), v2, zb[:, m])
                c3[fa] += 1
            if first:      # the whole step from t0 without an event: the kernel's precomputed constants
                plain = ~ev
                rho = np.where(plain, rho_dt, np.exp(-a * d))
                mean = np.where(plain[:, None], rho_dt * Su + c_dt, rho[:, None] * Su + c0 * _phi1_np(a, d)[:, None])
                dcy = np.where(plain, math.exp(-a * (T - t0)), np.exp(-a * (T - u)))
            else:
                rho = np.exp(-a * d)
                mean = rho[:, None] * Su + c0 * _phi1_np(a, d)[:, None]
                dcy = np.exp(-a * (T - u))
            first = False
            dev = Send - mean
            for m in range(M):
                ctl[act, 1] += qa[:, m] * dev[:, m]
                ctl[act, 4] += qa[:, m] * dcy * dev[:, m]
                ctl[act, 5] += dev[:, m]
                ctl[act, 6] += dcy * dev[:, m]
                ctl[act, 7] += (T - u) * dev[:, m]
            nf = np.flatnonzero(~ev)
            Ic[act[nf]] += lam[nf] * d[nf, None, None]
            if not f.size:
                break
            fa = act[f]
            uf = end[f]
            sf = Send[f]
            smin[fa] = np.minimum(smin[fa], sf)
            smax[fa] = np.maximum(smax[fa], sf)
            # every clock but the one that fires integrates its intensity (a regime jump: every clock)
            fired = fire[f][:, None, None] & (mm[None, :, None] == bm[f][:, None, None]) & \
                (np.arange(2)[None, None, :] == bs[f][:, None, None])
            Ic[fa] = np.where(fired, 0.0, Ic[fa] + lam[f] * d[f, None, None])
            # regime jumps: the fill clocks keep their thresholds
            J_ = f[jump[f]]
            pj = act[J_]
            flush(pj, end[J_])
            r[pj], t_sw[pj], c4[pj] = _jump_np(k4[pj], c4[pj], r[pj], t_sw[pj], rates, cump)
            n_sw[pj] += 1
            # fills: the fired clock (asset bm, side bs) draws its next threshold
            F_ = f[fire[f]]
            pf = act[F_]
            am, as_ = bm[F_], bs[F_]
            for s_, key in enumerate(kc):
                sel = as_ == s_
                if sel.any():
                    E[pf[sel], am[sel], s_] = _exponential_np(key[pf[sel]], cc[pf[sel], am[sel], s_] * M + am[sel])
            cc[pf, am, as_] += 1
            nfill[pf, am, as_] += 1
            price = Send[F_, am]
            quote = dq[F_, am, as_]
            alpha = sd[F_, am, as_, 2]
            ask = as_ == 0
            x[pf] += np.where(ask, price + quote - alpha, -(price - quote + alpha))
            q[pf, am] += np.where(ask, -1, 1)
            ctl[pf, 0] += quote - alpha
            ctl[pf[ask], 2] += 1.0
            ctl[pf[~ask], 3] += 1.0
            qlo[pf, am] = np.minimum(qlo[pf, am], q[pf, am])
            qhi[pf, am] = np.maximum(qhi[pf, am], q[pf, am])
            over = nfill[fa].sum(axis=(1, 2)) >= max_events
            stopped[fa[over]] = True
            cont = ~over
            act = fa[cont]
            u = uf[cont]
            Su = sf[cont]
            if act.size:
                da, db, out = quote_fn(u, q[act], Su, r[act])
                n_out[act] += out
        S = np.where(stopped[:, None], S, S1)
        smin = np.minimum(smin, S)
        smax = np.maximum(smax, S)
        if nr:
            tq = t1 if i + 1 < n_steps else T
            da_r, db_r, _ = quote_fn(tq, q[ridx], S[ridx], r[ridx])
            record(i + 1, da_r, db_r)
        if step_callback is not None:
            step_callback()
        if stopped.all():
            break
    flush(np.arange(n), T)
    pnl = x.copy()
    for m in range(M):
        pnl = pnl + q[:, m] * S[:, m]
    obj = pnl
    for m in range(M):
        for l in range(M):
            obj = obj - varpi[r, m, l] * q[:, m] * q[:, l]
    for rr in range(n_reg):
        for m in range(M):
            for l in range(M):
                obj = obj - phi[rr, m, l] * pen_r[:, rr, m, l]
    fout = np.empty((n, N_FOUT))
    fout[:, F_OBJ] = obj
    fout[:, F_PNL] = pnl
    fout[:, F_X] = x
    fasset = np.stack([S, smin, smax], axis=1)
    iout = np.empty((n, N_IOUT), np.int64)
    iout[:, I_OUT] = n_out
    iout[:, I_BUDGET] = stopped
    iout[:, I_RT] = r
    iout[:, I_NSW] = n_sw
    iasset = np.stack([q, qlo, qhi, nfill[:, :, 0], nfill[:, :, 1]], axis=1)
    return fout, fasset, iout, iasset, ctl, occ, pen_r, rec


def table_quotes_np(tabs, t, q, s, r):
    """``(δ⁺, δ⁻, outside)`` of tabulated policies (one per regime, or one for all) at arrays ``t``
    (m,) or a float, inventories ``q`` (m, M), prices ``s`` (m, M) and regimes ``r`` (m,) (the numpy
    twin of :func:`_quote`): quote arrays of shape (m, M)."""
    s = np.asarray(s, float)
    tab0 = tabs[0]
    s_c = s[:, 0]                                  # a price-dependent table reads asset 0's price (M = 1)
    outside = np.zeros(s_c.shape, bool) if tab0.s.size == 1 else (s_c < tab0.s[0]) | (s_c > tab0.s[-1])
    t = np.broadcast_to(np.asarray(t, float), s_c.shape)
    q = np.asarray(q, np.int64)
    sc = np.clip(s_c, tab0.s[0], tab0.s[-1])
    ask, bid = np.empty(q.shape), np.empty(q.shape)
    r = np.broadcast_to(np.asarray(r, np.int64), s_c.shape)
    for k, tab in enumerate(tabs):
        m = r == k if len(tabs) > 1 else np.ones(s_c.shape, bool)
        if m.any():
            ask[m], bid[m] = tab.box_quotes(t[m], q[m], sc[m])
    return ask, bid, outside
