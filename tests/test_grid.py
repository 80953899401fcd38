"""Grids: time nodes land on requested times; price grids cover the reach of the paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.grid import InventoryGrid, price_grid, price_reach, time_grid


def test_time_grid_lands_on_requested_times():
    t, save = time_grid(1.0, 40, t_eval=[0.25, 0.3, 0.9])
    for x in (0.0, 0.25, 0.3, 0.9, 1.0):
        assert np.any(np.isclose(t[save], x, atol=1e-15))
    assert save.sum() == 5
    assert np.all(np.diff(t) > 0) and np.diff(t).max() <= 1.0 / 40 + 1e-15


def test_default_time_grid_is_uniform_with_terminal_refinement():
    t, save = time_grid(2.0, 100, terminal_refinement=8)
    dt = np.diff(t)
    assert np.allclose(dt[:99], 0.02)
    # the last coarse step is split into dt/2, dt/4, …, dt/256, dt/256
    assert np.allclose(dt[99:], 0.02 * np.array([0.5 ** j for j in range(1, 9)] + [0.5**8]))
    assert save[0] and save[-1] and save.sum() == 101


def test_price_grid_covers_the_reach_and_respects_the_peclet_bound():
    m = hs.paper_model("ou")
    g = price_grid(m, (2995.0, 3005.0))
    lo, hi = price_reach(m, (2995.0, 3005.0))
    assert g.s[0] <= lo and g.s[-1] >= hi
    # reach: mean path to E[S_T] and ±6 sd of S_T
    sd = math.sqrt(m.price.variance(m.T))
    assert lo == pytest.approx(2995.0 - 6 * sd)
    assert hi == pytest.approx(m.price.mean(3005.0, m.T) + 6 * sd)
    bmax = np.abs(m.price.drift(g.s)).max()
    assert bmax * g.ds <= m.sigma**2 + 1e-12


def test_inventory_grid_index():
    inv = InventoryGrid(5)
    assert list(inv.index([-5, 0, 5])) == [0, 5, 10]
    with pytest.raises(ValueError, match="q must lie in"):
        inv.index(6)
    with pytest.raises(ValueError, match="q_max must be >= 1"):
        InventoryGrid(0)
