"""Every compiled kernel agrees with its plain-numpy twin on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from hjbsolve.policies import TabulatedPolicy
from hjbsolve.solver import _kernels as K


def _state(rng, n_s=7, n_q=41):
    q = np.arange(n_q) - n_q // 2
    g = -0.01 * q[None, :] ** 2 + 0.3 * rng.standard_normal((n_s, n_q)).cumsum(axis=1) * 0.1
    return q.astype(float), g


@pytest.mark.parametrize("optimal", [True, False])
def test_ros2_step_twins(optimal):
    rng = np.random.default_rng(1)
    q, g = _state(rng)
    phi_q2 = 2.5e-4 * q**2
    ask0 = 1.0 + 0.2 * rng.random(g.shape)
    bid0 = 1.0 + 0.2 * rng.random(g.shape)
    ask1, bid1 = ask0 + 0.01, bid0 - 0.01
    ask0[:, 0] = ask1[:, 0] = np.inf
    bid0[:, -1] = bid1[:, -1] = np.inf
    a, b, c = g.copy(), g.copy(), g.copy()
    work = np.empty((g.shape[0], K.N_WORK, g.shape[1]))
    args = (0.013, phi_q2, 1000.0, 1.0, 0.5, 0.05, optimal, ask0, bid0, ask1, bid1, work)
    K._ros2_jump_step(a, *args)
    K._ros2_jump_step_numpy(b, *args)
    K._ros2_jump_step_serial(c, *args)
    assert np.abs(a - b).max() < 1e-12 * np.abs(g).max()
    assert np.array_equal(a, c)
    assert np.abs(a - g).max() > 1e-3  # the step did something


def test_thomas_solver_against_dense_solve():
    rng = np.random.default_rng(2)
    n = 30
    lo, up = -rng.random(n), -rng.random(n)
    di = 3.0 + rng.random(n)
    r = rng.standard_normal(n)
    A = np.diag(di) + np.diag(lo[1:], -1) + np.diag(up[:-1], 1)
    cp, inv_m, x = np.empty(n), np.empty(n), np.empty(n)
    K._thomas_factor(lo, di, up, cp, inv_m)
    K._thomas_solve(lo, cp, inv_m, r, x)
    ref = np.linalg.solve(A, r)
    assert np.abs(x - ref).max() < 1e-13
    y = K._thomas_numpy(lo[None], di[None], up[None], r[None])[0]
    assert np.abs(y - ref).max() < 1e-13


def test_price_propagation_twins():
    rng = np.random.default_rng(3)
    n_s, n_q = 9, 15
    P = rng.random((n_s, n_s))
    first = np.maximum(np.arange(n_s) - 2, 0)
    last = np.minimum(np.arange(n_s) + 3, n_s - 1)
    beta, q = rng.standard_normal(n_s), np.arange(n_q) - 7.0
    g = rng.standard_normal((n_s, n_q))
    a, b = np.empty_like(g), np.empty_like(g)
    K._propagate_prices(P, first, last, beta, q, g, a)
    K._propagate_prices_numpy(P, first, last, beta, q, g, b)
    assert np.abs(a - b).max() < 1e-13


def test_grid_quotes_twins():
    rng = np.random.default_rng(4)
    t = np.linspace(0, 1, 6)
    s = np.linspace(10, 12, 5)
    ask = 1 + rng.random((6, 5, 11))
    bid = 1 + rng.random((6, 5, 11))
    ask[:, :, 0] = np.inf
    bid[:, 2, 4] = np.inf  # an unquoted cell
    pol = TabulatedPolicy(t, s, -5, 5, ask, bid)
    nodes = np.array([10.0, 10.3, 11.0, 11.99])
    q = np.arange(-7, 8)
    a1, b1 = pol.quotes_on_grid(0.37, nodes, q, compiled=True)
    a2, b2 = pol.quotes_on_grid(0.37, nodes, q, compiled=False)
    assert np.array_equal(np.isinf(a1), np.isinf(a2)) and np.array_equal(np.isinf(b1), np.isinf(b2))
    fin = np.isfinite(a1)
    assert np.abs(a1[fin] - a2[fin]).max() < 1e-14
    # and both agree with the general (t, q, s) interpolation
    a3, b3 = pol.quotes(0.37, q[None, :], nodes[:, None])
    assert np.array_equal(np.isinf(a1), np.isinf(a3))
    assert np.abs(a1[fin] - a3[fin]).max() < 1e-14
