"""Every compiled kernel agrees with its plain-numpy twin on random inputs."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import pytest

from hjbsolve.coefficients import ALPHA, K, LOG_RATE, OFFSET
from hjbsolve.interpolation import interpolate, interpolate_on_grid, lagrange_stencil
from hjbsolve.policies import TabulatedPolicy
from hjbsolve.solver import _kernels as KK


def _state(rng, n_s=7, n_q=41):
    q = np.arange(n_q) - n_q // 2
    g = -0.01 * q[None, :] ** 2 + 0.3 * rng.standard_normal((n_s, n_q)).cumsum(axis=1) * 0.1
    return q.astype(float), g


def _coef(n_states=1, n_axes=1, asymmetric=False):
    """(ℓ, k, α, o) per state, axis, side: the paper's ask, and an asymmetric bid when asked."""
    c = np.empty((n_states, n_axes, 2, 4))
    for j, (A, k) in enumerate([(1000.0, 1.0), (700.0, 1.3) if asymmetric else (1000.0, 1.0)]):
        c[..., j, LOG_RATE] = np.log(A) - k * 0.5
        c[..., j, K] = k
        c[..., j, ALPHA] = 0.05
        c[..., j, OFFSET] = 1.0 / k
    return c


@pytest.mark.parametrize("optimal", [True, False])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_ros2_step_twins(optimal, asymmetric):
    rng = np.random.default_rng(1)
    q, g = _state(rng)
    running = (2.5e-4 * q**2)[None, :]
    ask0 = 1.0 + 0.2 * rng.random(g.shape)
    bid0 = 1.0 + 0.2 * rng.random(g.shape)
    ask1, bid1 = ask0 + 0.01, bid0 - 0.01
    ask0[:, 0] = ask1[:, 0] = np.inf
    bid0[:, -1] = bid1[:, -1] = np.inf
    a, b, c = g.copy(), g.copy(), g.copy()
    work = np.empty((g.shape[0], KK.N_WORK, g.shape[1]))
    rows = np.zeros(g.shape[0], np.int64)
    args = (0.013, g.shape[1], 1, rows, _coef(asymmetric=asymmetric), 0, running, 1.0, optimal,
            ask0, bid0, ask1, bid1, work)
    KK._ros2_jump_step(a, *args)
    KK._ros2_jump_step_numpy(b, *args)
    KK._ros2_jump_step_serial(c, *args)
    assert np.abs(a - b).max() < 1e-12 * np.abs(g).max()
    assert np.array_equal(a, c)
    assert np.abs(a - g).max() > 1e-3  # the step did something


@pytest.mark.parametrize("optimal", [True, False])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_extrapolated_ros2_kernel_is_the_combination_of_numpy_steps(optimal, asymmetric):
    """The fused ``(4 J_{h/2}∘J_{h/2} − J_h)/3`` kernel (parallel and serial) equals the same
    combination of numpy ROS2 steps, with the policy's quotes at the start, middle and end."""
    rng = np.random.default_rng(3)
    q, g = _state(rng)
    running = (2.5e-4 * q**2)[None, :]
    ask0, bid0 = 1.0 + 0.2 * rng.random(g.shape), 1.0 + 0.2 * rng.random(g.shape)
    askm, bidm = ask0 + 0.004, bid0 - 0.006
    ask1, bid1 = ask0 + 0.01, bid0 - 0.01
    for a_ in (ask0, askm, ask1):
        a_[:, 0] = np.inf
    for b_ in (bid0, bidm, bid1):
        b_[:, -1] = np.inf
    rows = np.zeros(g.shape[0], np.int64)
    head = (g.shape[1], 1, rows, _coef(asymmetric=asymmetric), 0, running, 1.0, optimal)
    dt = 0.013
    one, two = g.copy(), g.copy()
    KK._ros2_jump_step_numpy(one, dt, *head, ask0, bid0, ask1, bid1)
    KK._ros2_jump_step_numpy(two, dt / 2, *head, ask0, bid0, askm, bidm)
    KK._ros2_jump_step_numpy(two, dt / 2, *head, askm, bidm, ask1, bid1)
    expected = (4.0 * two - one) / 3.0
    work = np.empty((g.shape[0], KK.N_WORK, g.shape[1]))
    a, c = g.copy(), g.copy()
    KK._ros2x_jump_step(a, dt, *head, ask0, bid0, askm, bidm, ask1, bid1, work)
    KK._ros2x_jump_step_serial(c, dt, *head, ask0, bid0, askm, bidm, ask1, bid1, work)
    assert np.abs(a - expected).max() < 1e-12 * np.abs(g).max()
    assert np.array_equal(a, c)
    assert np.abs(a - two).max() > 1e-9   # the extrapolation changed the two half steps


def test_error_estimate_kernels_match_numpy_twins():
    """The automatic mode's one-pass error reductions equal their numpy twins (per node, both the
    quote and the relative value error), with and without a price axis."""
    from hjbsolve.solver import _estimates as E

    rng = np.random.default_rng(4)
    gf, gc = rng.normal(size=(21, 30, 41)), rng.normal(size=(11, 30, 41))
    q = np.arange(-20, 21.0)
    qmask = np.abs(q) <= 10
    s = np.linspace(2990.0, 3010.0, 30)
    t = np.sort(np.r_[0.0, rng.uniform(0, 1, 19), 1.0])
    for S in (None, s):
        pairs = [(E.time_error(gf, gc, S, q, qmask, 2.0, 2, True), E.time_error(gf, gc, S, q, qmask, 2.0, 2, False)),
                 (E.t_interpolation_error(t, gf, S, q, qmask, 2.0, True),
                  E.t_interpolation_error(t, gf, S, q, qmask, 2.0, False)),
                 (E.difference_error(gf[:11], gc, 1 / 3, S, q, qmask, 2.0, True),
                  E.difference_error(gf[:11], gc, 1 / 3, S, q, qmask, 2.0, False))]
        for fast, slow in pairs:
            np.testing.assert_allclose(fast, slow, rtol=1e-13, atol=0)
            assert slow.min() > 0
    odd = np.arange(1, 30, 2)[3:12]
    np.testing.assert_allclose(E.s_interpolation_error(s, gf, odd, q, qmask, 2.0, True, True),
                               E.s_interpolation_error(s, gf, odd, q, qmask, 2.0, True, False), rtol=1e-13, atol=0)


def test_ros2_step_along_a_strided_axis_equals_the_transposed_step():
    """Lines along an inner axis (stride > 1) give the same result as the same lines made contiguous."""
    rng = np.random.default_rng(5)
    n1, n2 = 9, 11
    g = rng.standard_normal((3, n1 * n2)) * 0.1
    running = rng.random((1, n1 * n2)) * 1e-3
    rows = np.zeros(3, np.int64)
    coef = _coef(n_axes=2)
    d = np.zeros((1, 1))
    a = g.copy()
    KK._ros2_jump_step(a, 0.01, n1, n2, rows, coef, 0, running, 1.0, True, d, d, d, d,
                       np.empty((3 * n2, KK.N_WORK, n1)))
    gt = g.reshape(3, n1, n2).transpose(0, 2, 1).reshape(3, -1).copy()
    rt = running.reshape(1, n1, n2).transpose(0, 2, 1).reshape(1, -1).copy()
    KK._ros2_jump_step(gt, 0.01, n1, 1, rows, coef, 0, rt, 1.0, True, d, d, d, d,
                       np.empty((3 * n2, KK.N_WORK, n1)))
    np.testing.assert_array_equal(a, gt.reshape(3, n2, n1).transpose(0, 2, 1).reshape(3, -1))
    b = g.copy()
    KK._ros2_jump_step_numpy(b, 0.01, n1, n2, rows, coef, 0, running, 1.0, True, d, d, d, d)
    assert np.abs(a - b).max() < 1e-13


def test_thomas_solver_against_dense_solve():
    rng = np.random.default_rng(2)
    n = 30
    lo, up = -rng.random(n), -rng.random(n)
    di = 3.0 + rng.random(n)
    r = rng.standard_normal(n)
    A = np.diag(di) + np.diag(lo[1:], -1) + np.diag(up[:-1], 1)
    cp, inv_m, x = np.empty(n), np.empty(n), np.empty(n)
    KK._thomas_factor(lo, di, up, cp, inv_m)
    KK._thomas_solve(lo, cp, inv_m, r, x)
    ref = np.linalg.solve(A, r)
    assert np.abs(x - ref).max() < 1e-13
    y = KK._thomas_numpy(lo[None], di[None], up[None], r[None])[0]
    assert np.abs(y - ref).max() < 1e-13


def test_state_propagation_twins():
    """The sparse-row propagation kernel equals a dense product of the same matrix (a banded block
    and a far coupling, as a price × regime propagator has), built independently here."""
    rng = np.random.default_rng(3)
    n_s, n_q = 9, 15
    P = rng.random((n_s, n_s))
    near = np.abs(np.subtract.outer(np.arange(n_s), np.arange(n_s))) <= 2
    far = np.abs(np.subtract.outer(np.arange(n_s), np.arange(n_s))) == 5
    P = np.where(near | far, P, 0.0)
    csr = scipy.sparse.csr_matrix(P)
    beta, q = rng.standard_normal(n_s), np.arange(n_q) - 7.0
    g = rng.standard_normal((n_s, n_q))
    ref = P @ g + beta[:, None] * q[None, :]
    a, b = np.empty_like(g), np.empty_like(g)
    args = (csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data, beta, q, g)
    KK._propagate_state(*args, a)
    KK._propagate_state_numpy(*args, b)
    assert np.abs(a - ref).max() < 1e-13
    assert np.abs(b - ref).max() < 1e-13


@pytest.mark.parametrize("order", [1, 3])
def test_grid_quotes_twins(order):
    rng = np.random.default_rng(4)
    t = np.array([0.0, 0.1, 0.25, 0.5, 0.8, 1.0])          # not uniform
    s = np.linspace(10, 12, 5)
    ask = 1 + rng.random((6, 5, 11))
    bid = 1 + rng.random((6, 5, 11))
    bid[:, 2, 4] = np.inf  # an unquoted cell
    pol = TabulatedPolicy(t, s, -5, 5, ask, bid, order=order)
    nodes = np.array([10.0, 10.3, 11.0, 11.99])
    q = np.arange(-7, 8)
    a1, b1 = pol.quotes_on_grid(0.37, nodes, q, compiled=True)
    a2, b2 = pol.quotes_on_grid(0.37, nodes, q, compiled=False)
    assert np.array_equal(np.isinf(a1), np.isinf(a2)) and np.array_equal(np.isinf(b1), np.isinf(b2))
    fin = np.isfinite(a1)
    assert np.abs(a1[fin] - a2[fin]).max() < 1e-14
    # and both agree with the general (t, q, s) interpolation, and obey the limit rule
    a3, b3 = pol.quotes(0.37, q[None, :], nodes[:, None])
    assert np.array_equal(np.isinf(a1), np.isinf(a3))
    assert np.abs(a1[fin] - a3[fin]).max() < 1e-14
    assert np.all(np.isinf(a1[:, q <= -5])) and np.all(np.isinf(b1[:, q >= 5]))
    assert np.all(np.isfinite(a1[:, (q > -5) & (q <= 5)]))


@pytest.mark.parametrize("order", [1, 3])
def test_lagrange_stencils_reproduce_polynomials_of_their_degree(order):
    """Degree-``order`` Lagrange interpolation is exact on polynomials of that degree, on uneven
    nodes, inside and at the ends; at a node it returns the node's value."""
    rng = np.random.default_rng(7)
    nodes = np.cumsum(rng.uniform(0.2, 1.5, 12))
    x = np.r_[nodes, rng.uniform(nodes[0], nodes[-1], 50)]
    poly = np.polynomial.Polynomial(rng.standard_normal(order + 1))
    tab = poly(nodes)[:, None, None] * np.ones((1, 1, 1))
    v = interpolate(tab, nodes, np.zeros(1), order, 1, x, 0.0, 0)
    np.testing.assert_allclose(v, poly(x), rtol=1e-12, atol=1e-12)
    start, w = lagrange_stencil(nodes, nodes, order)
    assert np.all(np.isin(w, [0.0, 1.0]))
    v2 = interpolate_on_grid(np.broadcast_to(tab[:, :, :1], (12, 1, 3)).copy(), nodes, np.zeros(1), order, 1,
                             x[20], np.zeros(2), np.arange(3))
    np.testing.assert_allclose(v2, poly(x[20]), rtol=1e-12)
