"""Compiled Monte Carlo kernels and their numpy twins (private; used by :mod:`hjbsolve.montecarlo`).

The market of one path over one grid step ``[t_i, t_{i+1}]``
------------------------------------------------------------
1. ``S_{t_{i+1}}`` is drawn from the exact Gaussian transition of the price
   ``dS = (c₀ − a S) dt + σ dW`` (:meth:`hjbsolve.prices.Brownian.kernel_params`;
   ``S' = ρ S + c + std·Z``, stream 0 of the path).
2. The quotes are set at ``(t_i, S_{t_i}, Q)`` through the one table interpolation
   (:mod:`hjbsolve.interpolation`) and the inventory-limit rule (:mod:`hjbsolve.grid`); each
   side's fill intensity ``λ = exp(ℓ − kδ)`` (:mod:`hjbsolve.hamiltonian`, coefficients from
   :class:`hjbsolve.coefficients.MarketCoefficients`) is then constant until the next fill or
   ``t_{i+1}``.
3. Fills are the events of two Poisson clocks (ask, bid) run by the *modified next
   reaction method* (Anderson 2007): each side carries a unit-exponential threshold
   ``E`` (streams 1, 2) and its integrated intensity ``I``; it fires when ``I`` reaches
   ``E``. This gives the exact event times for piecewise-constant intensities, any number
   of fills per side per step, and one random number per fill.
4. At a fill time ``τ`` the mid-price is drawn exactly from the Gaussian (Ornstein–Uhlenbeck
   or Brownian) bridge between the last sampled price and ``S_{t_{i+1}}`` (stream 3): the
   fill times depend only on the past, so this is the exact joint law, and the grid-time
   prices are the same whatever the policy (common random numbers across policies).
   The fill is executed at ``S_τ ± δ`` and the quotes are re-set at ``(τ, S_τ, Q_τ)``.
5. ``∫ Q² dt`` is accumulated exactly (``Q`` is constant between events); the objective uses the
   penalty forms ``φ`` and ``ϖ`` of the coefficients.
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

Side coefficients
-----------------
``side`` has shape (2, 3): ``(ℓ, k, α)`` of the ask (row 0) and the bid (row 1), so that
``λ(δ) = exp(ℓ − kδ)`` and a fill books ``δ − α``; ``phi``/``varpi`` are the running and
terminal penalty coefficients.

Martingale controls (per path; each has mean zero for any policy)
------------------------------------------------------------------
* ``G``  = Σ_fills (δ − α) − ∫ [λ⁺(δ⁺ − α) + λ⁻(δ⁻ − α)] dt   (compensated spread income)
* ``S``  = Σ_intervals Q (S_end − E[S_end | S_start])          (price martingale part of ∫Q dS)
* ``N⁺``, ``N⁻`` = fills − ∫ λ dt of each side                   (compensated fill counts)
* ``SD`` = as ``S`` weighted by ``e^{−a(T−t)}`` (the ``∂_s`` of ``Q E_t[S_T]``; OU)
* ``W``, ``WD``, ``WT`` = the price innovations ``S_end − E[S_end | S_start]`` summed with
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
# per-path integer outputs (I_BUDGET: the path hit the event budget and was stopped; I_RT: regime at T,
# I_NSW: regime jumps)
I_QMIN, I_QMAX, I_NASK, I_NBID, I_QT, I_OUT, I_BUDGET, I_RT, I_NSW = range(9)
N_IOUT = 9
# per-path float outputs
F_OBJ, F_PNL, F_X, F_S, F_PEN, F_SMIN, F_SMAX = range(7)
N_FOUT = 7


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
    """The kernel's table layout ``(n_q, 2, n_t, n_s)`` from ``ask, bid`` of shape (n_t, n_s, n_q):
    the ``(t, s)`` stencil of one inventory and side is contiguous in memory."""
    return np.ascontiguousarray(np.stack([ask, bid], axis=0).transpose(3, 0, 1, 2))


@njit(cache=True, inline="always")
def _quote(tt, ts, tab, order, q_min, t, s, q, it, js, wt, ws):
    """Quotes of a tabulated policy at ``(t, s, q)`` (:mod:`hjbsolve.interpolation`).

    ``tab`` has shape (n_q, 2, n_t, n_s). Returns ``(δ⁺, δ⁻, outside, it, js)`` with ``outside`` =
    ``s`` beyond the table's range and ``it, js`` the located intervals (the next search's guess).
    """
    n_q = tab.shape[0]
    outside = ts.size > 1 and (s < ts[0] or s > ts[ts.size - 1])
    qi = q - q_min
    i0, mt, it = stencil_nb(tt, t, order, it, wt)
    j0, ms, js = stencil_nb(ts, s, order, js, ws)
    if qi < 0 or qi > n_q - 1:
        return np.inf, np.inf, outside, it, js
    da = interpolate_nb(tab[qi, 0], i0, mt, wt, j0, ms, ws) if ask_quoted_nb(qi, n_q) else np.inf
    db = interpolate_nb(tab[qi, 1], i0, mt, wt, j0, ms, ws) if bid_quoted_nb(qi, n_q) else np.inf
    return da, db, outside, it, js


# ----------------------------------------------------------------------------- the path kernel
@njit(cache=True, inline="always")
def _intensity(side, j, d):
    if d == np.inf:
        return 0.0
    return fill_intensity_nb(d, side[j, 0], side[j, 1])


@njit(cache=True, parallel=True)
def simulate_tabulated(keys, paths, n_steps, T, a, c0, sig, s0, q0, r0, side, phi, varpi, rates, cump,
                       tt, ts, tab, order, q_min, max_events,
                       fout, iout, ctrl, occ, pen_r, n_rec, rec_s, rec_q, rec_x, rec_a, rec_b, rec_r):
    """Simulate the paths ``paths`` (global indices) with a tabulated policy.

    Parameters
    ----------
    keys : uint64 array, shape (n, N_STREAMS)
        Stream keys of each path (:func:`path_keys`).
    paths : int64 array, shape (n,)
        Global path indices (recording uses ``paths[j] < n_rec``).
    n_steps, T : int, float
        Grid ``t_i = T i / n_steps``.
    a, c0 : float
        Price ``dS = (c₀ − a S) dt + σ_r dW``.
    sig : float array, shape (n_regimes,)
        ``σ_r`` of each regime.
    s0, q0, r0 : float, int, int
        Initial state (cash 0; regime ``r0``).
    side : float array, shape (n_regimes, 2, 3)
        ``(ℓ, k, α)`` of ask and bid in each regime (module docstring).
    phi, varpi : float arrays, shape (n_regimes,)
        Running and terminal penalty coefficients of each regime.
    rates : float array, shape (n_regimes,)
        ``−Q[r, r]``, the rate of leaving regime ``r`` (``[0.]`` without a chain).
    cump : float array, shape (n_regimes, n_regimes)
        Cumulative jump probabilities ``Σ_{i ≤ j} Q[r, i]/(−Q[r, r])`` (``i ≠ r``).
    tt, ts : float arrays, shapes (n_t,), (n_s,)
    tab : float array, shape (n_tables, n_q, 2, n_t, n_s)
        :func:`kernel_table` of each regime's quotes (``n_tables = 1``: the same in every regime).
    order : int
        Interpolation degree of the table (1 or 3).
    q_min : int
    max_events : int
        Fills after which a path is stopped and flagged (``iout[:, I_BUDGET]``).
    fout : float array, shape (n, N_FOUT)       (written)
    iout : int64 array, shape (n, N_IOUT)       (written)
    ctrl : float array, shape (n, N_CONTROLS)   (written)
    occ, pen_r : float arrays, shape (n, n_regimes)   (written)
        Time spent in each regime and ``∫ Q² dt`` over it.
    n_rec : int
    rec_* : arrays, shape (n_rec, n_steps + 1)  (written for recorded paths; ``rec_r``: int64 regime)
    """
    n = paths.size
    n_reg = sig.size
    n_tab = tab.shape[0]
    sig2 = sig * sig
    dt = T / n_steps
    rho_dt = math.exp(-a * dt)
    c_dt = c0 * _phi1(a, dt)
    std_dt = np.empty(n_reg)
    for r in range(n_reg):
        std_dt[r] = math.sqrt(_var(a, sig2[r], dt))
    dcy_grid = np.empty(n_steps)          # e^{−a(T−t_i)}
    for i in range(n_steps):
        dcy_grid[i] = math.exp(-a * (T - T * i / n_steps))
    for j in prange(n):
        wt = np.empty(4)
        ws = np.empty(4)
        p = paths[j]
        k0 = keys[j, 0]
        k1 = keys[j, 1]
        k2 = keys[j, 2]
        k3 = keys[j, 3]
        k4 = keys[j, 4]
        c1 = 0
        c2 = 0
        c3 = 0
        Ea = _exponential(k1, c1)
        c1 += 1
        Eb = _exponential(k2, c2)
        c2 += 1
        r = r0
        t_sw = _holding(k4, 0, r, 0.0, rates)
        c4 = 1
        n_sw = 0
        for rr in range(n_reg):
            occ[j, rr] = 0.0
            pen_r[j, rr] = 0.0
        Ia = 0.0
        Ib = 0.0
        S = s0
        q = q0
        x = 0.0
        pen = 0.0          # ∫Q² dt and time since the last regime jump (flushed into pen_r, occ at jumps)
        held = 0.0
        g_ctl = 0.0
        s_ctl = 0.0
        na_ctl = 0.0
        nb_ctl = 0.0
        sd_ctl = 0.0
        w_ctl = 0.0
        wd_ctl = 0.0
        wt_ctl = 0.0
        qlo = q0
        qhi = q0
        n_ask = 0
        n_bid = 0
        n_out = 0
        stopped = 0
        smin = s0
        smax = s0
        rec = p < n_rec
        it = 0
        js = 0
        z_next = 0.0
        for i in range(n_steps):
            t0 = T * i / n_steps
            t1 = T * (i + 1) / n_steps if i + 1 < n_steps else T
            if i % 2 == 0:     # _normal(k0, i) and _normal(k0, i + 1) from one Box–Muller pair
                r_bm = math.sqrt(-2.0 * math.log(_uniform(k0, i)))
                th_bm = _TWO_PI * _uniform(k0, i + 1)
                zn = r_bm * math.cos(th_bm)
                z_next = r_bm * math.sin(th_bm)
            else:
                zn = z_next
            if t_sw < t1:      # a regime jump within the step: σ piecewise constant
                std = math.sqrt(_var_ahead(t0, t1, r, t_sw, c4, k4, rates, cump, a, sig2))
            else:
                std = std_dt[r]
            S1 = rho_dt * S + c_dt + std * zn
            dcy0 = dcy_grid[i]
            u = t0
            Su = S
            da, db, outside, it, js = _quote(tt, ts, tab[min(r, n_tab - 1)], order, q_min, u, Su, q, it, js, wt, ws)
            if outside:
                n_out += 1
            if rec and i == 0:
                rec_s[p, 0] = S
                rec_q[p, 0] = q
                rec_x[p, 0] = x
                rec_a[p, 0] = da
                rec_b[p, 0] = db
                rec_r[p, 0] = r
            while True:
                alpha_a = side[r, 0, 2]
                alpha_b = side[r, 1, 2]
                la = _intensity(side[r], 0, da)
                lb = _intensity(side[r], 1, db)
                ta = (Ea - Ia) / la if la > 0.0 else np.inf
                tb = (Eb - Ib) / lb if lb > 0.0 else np.inf
                tau = u + min(ta, tb)
                fire = tau < t1 and tau < t_sw
                jump = not fire and t_sw < t1
                end = tau if fire else (t_sw if jump else t1)
                d = end - u
                # interval [u, end] at constant q, quotes and regime
                pen += q * q * d
                held += d
                if la > 0.0:
                    g_ctl -= la * (da - alpha_a) * d
                    na_ctl -= la * d
                if lb > 0.0:
                    g_ctl -= lb * (db - alpha_b) * d
                    nb_ctl -= lb * d
                if fire or jump:
                    Send = _bridge_v(Su, S1, d, t1 - end, a, c0, _var(a, sig2[r], d),
                                     _var_ahead(end, t1, r, t_sw, c4, k4, rates, cump, a, sig2), _normal(k3, c3))
                    c3 += 1
                else:
                    Send = S1
                if u == t0 and not (fire or jump):
                    rho = rho_dt
                    dcy = dcy0
                    mean = rho_dt * Su + c_dt
                else:
                    rho = math.exp(-a * d)
                    dcy = math.exp(-a * (T - u))
                    mean = rho * Su + c0 * _phi1(a, d)
                dev = Send - mean
                s_ctl += q * dev
                sd_ctl += q * dcy * dev
                w_ctl += dev
                wd_ctl += dcy * dev
                wt_ctl += (T - u) * dev
                if not (fire or jump):
                    Ia += la * d
                    Ib += lb * d
                    break
                u = end
                Su = Send
                if Su < smin:
                    smin = Su
                if Su > smax:
                    smax = Su
                if jump:       # the regime changes; the fill clocks keep their thresholds
                    Ia += la * d
                    Ib += lb * d
                    pen_r[j, r] += pen
                    occ[j, r] += held
                    pen = 0.0
                    held = 0.0
                    r, t_sw, c4 = _jump(k4, c4, r, t_sw, rates, cump)
                    n_sw += 1
                elif ta <= tb:   # ask fill: sell one at Su + da
                    Ia = 0.0
                    Ea = _exponential(k1, c1)
                    c1 += 1
                    Ib += lb * d
                    x += Su + da - alpha_a
                    q -= 1
                    n_ask += 1
                    g_ctl += da - alpha_a
                    na_ctl += 1.0
                    if q < qlo:
                        qlo = q
                else:          # bid fill: buy one at Su - db
                    Ib = 0.0
                    Eb = _exponential(k2, c2)
                    c2 += 1
                    Ia += la * d
                    x -= Su - db + alpha_b
                    q += 1
                    n_bid += 1
                    g_ctl += db - alpha_b
                    nb_ctl += 1.0
                    if q > qhi:
                        qhi = q
                if n_ask + n_bid >= max_events:
                    stopped = 1
                    break
                da, db, outside, it, js = _quote(tt, ts, tab[min(r, n_tab - 1)], order, q_min, u, Su, q, it, js,
                                                 wt, ws)
                if outside:
                    n_out += 1
            if stopped:
                break
            S = S1
            if S < smin:
                smin = S
            if S > smax:
                smax = S
            if rec:
                rec_s[p, i + 1] = S
                rec_q[p, i + 1] = q
                rec_x[p, i + 1] = x
                da, db, outside, it, js = _quote(tt, ts, tab[min(r, n_tab - 1)], order, q_min, t1, S, q, it, js,
                                                 wt, ws)
                rec_a[p, i + 1] = da
                rec_b[p, i + 1] = db
                rec_r[p, i + 1] = r
        pen_r[j, r] += pen
        occ[j, r] += held
        pnl = x + q * S
        obj = pnl - varpi[r] * q * q
        pen_all = 0.0
        for rr in range(n_reg):
            obj -= phi[rr] * pen_r[j, rr]
            pen_all += pen_r[j, rr]
        fout[j, F_OBJ] = obj
        fout[j, F_PNL] = pnl
        fout[j, F_X] = x
        fout[j, F_S] = S
        fout[j, F_PEN] = pen_all
        fout[j, F_SMIN] = smin
        fout[j, F_SMAX] = smax
        iout[j, I_QMIN] = qlo
        iout[j, I_QMAX] = qhi
        iout[j, I_NASK] = n_ask
        iout[j, I_NBID] = n_bid
        iout[j, I_QT] = q
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
    """Fill rates at quotes ``d`` (m,) with per-path side coefficients ``sd`` (m, 3): ``(ℓ, k, α)``."""
    d = np.asarray(d, float)
    with np.errstate(over="ignore"):
        return np.where(d == np.inf, 0.0, fill_intensity(np.where(d == np.inf, 0.0, d), sd[:, 0], sd[:, 1]))


def simulate_numpy(quote_fn, keys, paths, n_steps, T, a, c0, sig, s0, q0, r0, side, phi, varpi, rates, cump,
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
        array (m,), ``s`` float array (m,), ``r`` int64 regimes (m,): validated arrays of shape (m,).
    step_callback : callable, optional
        Called with no argument after each step (progress bar).
    Other parameters as :func:`simulate_tabulated`.

    Returns
    -------
    fout, iout, ctrl, occ, pen_r, rec : arrays as the kernel's outputs; ``rec`` a tuple of six arrays
    of shape (n_rec_local, n_steps + 1) (``s, q, x, δ⁺, δ⁻, regime``).
    """
    n = paths.size
    n_reg = sig.size
    sig2 = sig * sig
    dt = T / n_steps
    rho_dt = math.exp(-a * dt)
    c_dt = c0 * float(_phi1_np(a, dt))
    std_dt = np.sqrt(_var_np(a, sig2, dt))
    k0, k1, k2, k3, k4 = (keys[:, j] for j in range(N_STREAMS))
    c1 = np.ones(n, np.int64)
    c2 = np.ones(n, np.int64)
    c3 = np.zeros(n, np.int64)
    c4 = np.ones(n, np.int64)
    Ea = _exponential_np(k1, np.zeros(n, np.int64))
    Eb = _exponential_np(k2, np.zeros(n, np.int64))
    r = np.full(n, int(r0), np.int64)
    t_sw = _holding_np(k4, np.zeros(n, np.int64), r, 0.0, rates)
    n_sw = np.zeros(n, np.int64)
    occ = np.zeros((n, n_reg))
    pen_r = np.zeros((n, n_reg))
    pen = np.zeros(n)
    held = np.zeros(n)
    Ia = np.zeros(n)
    Ib = np.zeros(n)
    S = np.full(n, float(s0))
    q = np.full(n, int(q0), np.int64)
    x = np.zeros(n)
    ctl = np.zeros((n, N_CONTROLS))
    qlo = q.copy()
    qhi = q.copy()
    n_ask = np.zeros(n, np.int64)
    n_bid = np.zeros(n, np.int64)
    n_out = np.zeros(n, np.int64)
    stopped = np.zeros(n, bool)
    smin = S.copy()
    smax = S.copy()
    recm = paths < n_rec
    ridx = np.flatnonzero(recm)
    rec = tuple(np.zeros((ridx.size, n_steps + 1)) for _ in range(5)) + (np.zeros((ridx.size, n_steps + 1), np.int64),)

    def flush(pp):          # close the regime piece of paths pp: ∫Q² dt and time into their regime's entries
        np.add.at(pen_r, (pp, r[pp]), pen[pp])
        np.add.at(occ, (pp, r[pp]), held[pp])
        pen[pp] = 0.0
        held[pp] = 0.0

    for i in range(n_steps):
        t0 = T * i / n_steps
        t1 = T * (i + 1) / n_steps if i + 1 < n_steps else T
        live = ~stopped
        std = std_dt[r]
        ahead = np.flatnonzero(live & (t_sw < t1))
        if ahead.size:
            std[ahead] = np.sqrt(_var_ahead_np(np.full(ahead.size, t0), t1, r[ahead], t_sw[ahead], c4[ahead],
                                               k4[ahead], rates, cump, a, sig2))
        S1 = np.where(live, rho_dt * S + c_dt + std * _normal_np(k0, np.full(n, i)), S)
        u = np.full(n, t0)
        Su = S.copy()
        act = np.flatnonzero(live)
        u = u[act]
        Su = Su[act]
        da, db, out = quote_fn(t0, q[act], Su, r[act])
        n_out[act] += out
        if i == 0 and ridx.size:
            for rv, v in zip(rec, (S, q, x, *quote_fn(t0, q, S, r)[:2], r)):
                rv[:, 0] = v[ridx]
        first = True
        while act.size:
            ra = r[act]
            sa, sb = side[ra, 0], side[ra, 1]
            la = _intensity_np(sa, da)
            lb = _intensity_np(sb, db)
            with np.errstate(divide="ignore"):
                ta = np.where(la > 0.0, (Ea[act] - Ia[act]) / np.where(la > 0.0, la, 1.0), np.inf)
                tb = np.where(lb > 0.0, (Eb[act] - Ib[act]) / np.where(lb > 0.0, lb, 1.0), np.inf)
            tau = u + np.minimum(ta, tb)
            tsw = t_sw[act]
            fire = (tau < t1) & (tau < tsw)
            jump = ~fire & (tsw < t1)
            ev = fire | jump
            end = np.where(fire, tau, np.where(jump, tsw, t1))
            d = end - u
            qa = q[act]
            pen[act] += qa * qa * d
            held[act] += d
            ga = np.where(la > 0.0, la * (np.where(la > 0.0, da, 0.0) - sa[:, 2]) * d, 0.0)
            gb = np.where(lb > 0.0, lb * (np.where(lb > 0.0, db, 0.0) - sb[:, 2]) * d, 0.0)
            ctl[act, 0] -= ga
            ctl[act, 0] -= gb
            ctl[act, 2] -= np.where(la > 0.0, la * d, 0.0)
            ctl[act, 3] -= np.where(lb > 0.0, lb * d, 0.0)
            Send = S1[act].copy()
            f = np.flatnonzero(ev)
            if f.size:
                fa = act[f]
                v2 = _var_ahead_np(end[f], t1, ra[f], tsw[f], c4[fa], k4[fa], rates, cump, a, sig2)
                Send[f] = _bridge_v_np(Su[f], S1[fa], d[f], t1 - end[f], a, c0, _var_np(a, sig2[ra[f]], d[f]), v2,
                                       _normal_np(k3[fa], c3[fa]))
                c3[fa] += 1
            if first:      # the whole step from t0 without an event: the kernel's precomputed constants
                plain = ~ev
                rho = np.where(plain, rho_dt, np.exp(-a * d))
                mean = np.where(plain, rho_dt * Su + c_dt, rho * Su + c0 * _phi1_np(a, d))
                dcy = np.where(plain, math.exp(-a * (T - t0)), np.exp(-a * (T - u)))
            else:
                rho = np.exp(-a * d)
                mean = rho * Su + c0 * _phi1_np(a, d)
                dcy = np.exp(-a * (T - u))
            first = False
            dev = Send - mean
            ctl[act, 1] += qa * dev
            ctl[act, 4] += qa * dcy * dev
            ctl[act, 5] += dev
            ctl[act, 6] += dcy * dev
            ctl[act, 7] += (T - u) * dev
            nf = np.flatnonzero(~ev)
            Ia[act[nf]] += la[nf] * d[nf]
            Ib[act[nf]] += lb[nf] * d[nf]
            if not f.size:
                break
            fa = act[f]
            uf = end[f]
            sf = Send[f]
            smin[fa] = np.minimum(smin[fa], sf)
            smax[fa] = np.maximum(smax[fa], sf)
            # regime jumps: the fill clocks keep their thresholds
            J_ = f[jump[f]]
            pj = act[J_]
            Ia[pj] += la[J_] * d[J_]
            Ib[pj] += lb[J_] * d[J_]
            flush(pj)
            r[pj], t_sw[pj], c4[pj] = _jump_np(k4[pj], c4[pj], r[pj], t_sw[pj], rates, cump)
            n_sw[pj] += 1
            # fills
            is_ask = fire[f] & (ta[f] <= tb[f])
            A_ = f[is_ask]
            B_ = f[fire[f] & ~is_ask]
            pa = act[A_]
            pb = act[B_]
            Ia[pa] = 0.0
            Ea[pa] = _exponential_np(k1[pa], c1[pa])
            c1[pa] += 1
            Ib[pa] += lb[A_] * d[A_]
            x[pa] += Send[A_] + da[A_] - sa[A_, 2]
            q[pa] -= 1
            n_ask[pa] += 1
            ctl[pa, 0] += da[A_] - sa[A_, 2]
            ctl[pa, 2] += 1.0
            qlo[pa] = np.minimum(qlo[pa], q[pa])
            Ib[pb] = 0.0
            Eb[pb] = _exponential_np(k2[pb], c2[pb])
            c2[pb] += 1
            Ia[pb] += la[B_] * d[B_]
            x[pb] -= Send[B_] - db[B_] + sb[B_, 2]
            q[pb] += 1
            n_bid[pb] += 1
            ctl[pb, 0] += db[B_] - sb[B_, 2]
            ctl[pb, 3] += 1.0
            qhi[pb] = np.maximum(qhi[pb], q[pb])
            over = (n_ask[fa] + n_bid[fa]) >= max_events
            stopped[fa[over]] = True
            cont = ~over
            act = fa[cont]
            u = uf[cont]
            Su = sf[cont]
            if act.size:
                da, db, out = quote_fn(u, q[act], Su, r[act])
                n_out[act] += out
        S = np.where(stopped, S, S1)
        smin = np.minimum(smin, S)
        smax = np.maximum(smax, S)
        if ridx.size:
            tq = t1 if i + 1 < n_steps else T
            da_r, db_r, _ = quote_fn(tq, q[ridx], S[ridx], r[ridx])
            for rv, v in zip(rec, (S[ridx], q[ridx], x[ridx], da_r, db_r, r[ridx])):
                rv[:, i + 1] = v
        if step_callback is not None:
            step_callback()
        if stopped.all():
            break
    flush(np.arange(n))
    fout = np.empty((n, N_FOUT))
    iout = np.empty((n, N_IOUT), np.int64)
    pnl = x + q * S
    obj = pnl - varpi[r] * q * q
    for rr in range(n_reg):
        obj = obj - phi[rr] * pen_r[:, rr]
    fout[:, F_OBJ] = obj
    fout[:, F_PNL] = pnl
    fout[:, F_X] = x
    fout[:, F_S] = S
    fout[:, F_PEN] = pen_r.sum(axis=1)
    fout[:, F_SMIN] = smin
    fout[:, F_SMAX] = smax
    iout[:, I_QMIN] = qlo
    iout[:, I_QMAX] = qhi
    iout[:, I_NASK] = n_ask
    iout[:, I_NBID] = n_bid
    iout[:, I_QT] = q
    iout[:, I_OUT] = n_out
    iout[:, I_BUDGET] = stopped
    iout[:, I_RT] = r
    iout[:, I_NSW] = n_sw
    return fout, iout, ctl, occ, pen_r, rec


def table_quotes_np(tabs, t, q, s, r):
    """``(δ⁺, δ⁻, outside)`` of tabulated policies (one per regime, or one for all) at arrays
    ``t, q, s`` and regimes ``r`` (the numpy twin of :func:`_quote`)."""
    s = np.asarray(s, float)
    tab0 = tabs[0]
    outside = np.zeros(s.shape, bool) if tab0.s.size == 1 else (s < tab0.s[0]) | (s > tab0.s[-1])
    t = np.broadcast_to(np.asarray(t, float), s.shape)
    q = np.asarray(q, np.int64)
    sc = np.clip(s, tab0.s[0], tab0.s[-1])
    if len(tabs) == 1:
        ask, bid = tab0._quotes_checked(t, q, sc)
        return ask, bid, outside
    ask, bid = np.empty(s.shape), np.empty(s.shape)
    r = np.broadcast_to(np.asarray(r, np.int64), s.shape)
    for k, tab in enumerate(tabs):
        m = r == k
        if m.any():
            ask[m], bid[m] = tab._quotes_checked(t[m], q[m], sc[m])
    return ask, bid, outside
