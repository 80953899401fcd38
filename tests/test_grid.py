"""Grids: time nodes land on requested times and grade towards T; price axes cover the reach of the
paths; the inventory-limit rule; grids know nothing of the model."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.grid import (InventoryAxis, PriceAxis, StateGrid, ask_quoted, bid_quoted, graded_time_grid,
                           halve_steps, uniform_time_grid)
from hjbsolve.solver.setup import price_axis


def test_uniform_time_grid_lands_on_requested_times():
    t, save = uniform_time_grid(1.0, 40, t_eval=[0.25, 0.3, 0.9])
    for x in (0.0, 0.25, 0.3, 0.9, 1.0):
        assert np.any(np.isclose(t[save], x, atol=1e-15))
    assert save.sum() == 5
    assert np.all(np.diff(t) > 0) and np.diff(t).max() <= 1.0 / 40 + 1e-15


def test_default_time_grid_is_uniform_with_terminal_refinement():
    t, save = uniform_time_grid(2.0, 100, terminal_refinement=8)
    dt = np.diff(t)
    assert np.allclose(dt[:99], 0.02)
    # the last coarse step is split into dt/2, dt/4, …, dt/256, dt/256
    assert np.allclose(dt[99:], 0.02 * np.array([0.5 ** j for j in range(1, 9)] + [0.5**8]))
    assert save[0] and save[-1] and save.sum() == 101


def test_graded_time_grid():
    """Steps grow geometrically from the terminal time scale to h_max, are power-of-two fractions of
    h_max (few distinct lengths), and requested times are nodes; halving keeps every old node."""
    T, h_max, growth, tau_0 = 2.0, 0.05, 0.25, 1e-4
    t = graded_time_grid(T, h_max, growth, tau_0, t_eval=[0.3, 1.999])
    dt = np.diff(t)
    assert t[0] == 0.0 and t[-1] == T and np.all(dt > 0)
    assert {0.3, 1.999} <= set(t)
    plain = np.diff(graded_time_grid(T, h_max, growth, tau_0))
    levels = np.log2(h_max / plain[:-1])
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
    assert plain[-1] <= tau_0 * growth * 1.0001 and plain.max() <= h_max * (1 + 1e-12)
    taus = T - graded_time_grid(T, h_max, growth, tau_0)[::-1]      # 0 = τ_0 < τ_1 < … (from T)
    target = np.minimum(h_max, np.maximum(tau_0, taus[:-2]) * growth)
    step = np.diff(taus)[:-1]                                        # the last step absorbs the remainder
    assert np.all(step <= target * (1 + 1e-12)) and np.all(step > 0.5 * target * (1 - 1e-12))
    f = halve_steps(t)
    np.testing.assert_array_equal(f[0::2], t)
    np.testing.assert_allclose(np.diff(f)[0::2], dt / 2, rtol=0, atol=4 * np.finfo(float).eps * T)  # t rounding
    # steps never below 32 ulps of T (distinct times in double precision)
    tiny = graded_time_grid(1.0, 0.1, 0.5, 1e-30)
    assert np.diff(tiny).min() >= 31 * np.finfo(float).eps


def test_price_axis_covers_the_reach_and_respects_the_peclet_bound():
    m = hs.paper_model("ou")
    g = price_axis(m, (2995.0, 3005.0))
    lo, hi = m.price.reach((2995.0, 3005.0), m.T)
    assert g.s[0] <= lo and g.s[-1] >= hi
    # reach: mean path to E[S_T] and ±6 sd of S_T
    sd = math.sqrt(m.price.variance(m.T))
    assert lo == pytest.approx(2995.0 - 6 * sd)
    assert hi == pytest.approx(m.price.mean(3005.0, m.T) + 6 * sd)
    bmax = np.abs(m.price.drift_at(g.s)).max()
    assert bmax * g.ds <= m.sigma**2 + 1e-12
    assert g.interest == (2995.0, 3005.0)


def test_inventory_axis_index_and_the_limit_rule():
    inv = InventoryAxis(5)
    assert list(inv.index([-5, 0, 5])) == [0, 5, 10]
    assert list(inv.index(np.array([2.0]))) == [7]
    for bad, words in ((6, "q must lie in"), (0.5, "integer"), (np.nan, "finite"), ("0", "integer"),
                       (1 + 1j, "integer"), (-2**63, "q must lie in")):
        with pytest.raises(ValueError, match=words):
            inv.index(bad)
    with pytest.raises(ValueError, match="q_max must be >= 1"):
        InventoryAxis(0)
    j = np.arange(11)
    assert list(ask_quoted(j, 11)) == [False] + [True] * 10
    assert list(bid_quoted(j, 11)) == [True] * 10 + [False]


def test_state_grid_layout():
    g = StateGrid(PriceAxis(np.linspace(0, 1, 4), (0.2, 0.8)), (InventoryAxis(2), InventoryAxis(1)), n_states=2)
    assert g.shape == (8, 15) and g.inventory_shape == (5, 3)
    assert g.stride(0) == 3 and g.stride(1) == 1
    np.testing.assert_array_equal(g.row_state, [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(g.q_cells(0), np.repeat(np.arange(-2, 3), 3))
    np.testing.assert_array_equal(g.q_cells(1), np.tile(np.arange(-1, 2), 5))


def test_grids_import_nothing_from_the_model():
    """Grids know nothing of the equations (design rule): grid.py imports no model module."""
    tree = ast.parse((Path(hs.__file__).parent / "grid.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"model", "prices", "coefficients", "solver", ".model"}
    assert all("model" not in (m or "") for m in imported)
