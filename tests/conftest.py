"""Shared test set-up: headless plotting, fixed seeds, floating-point errors raise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import hjbsolve as hs


@pytest.fixture(autouse=True)
def _numerics():
    """Seed numpy's legacy global generator (tests pass explicit seeds anyway) and make
    invalid operations and divisions by zero raise instead of warning."""
    np.random.seed(12345)
    with np.errstate(invalid="raise", divide="raise"):
        yield


@pytest.fixture(scope="session")
def brownian():
    """The paper's §4 model with a martingale mid-price."""
    return hs.paper_model("brownian")


@pytest.fixture(scope="session")
def ou():
    """The paper's §4 model (Ornstein–Uhlenbeck mid-price)."""
    return hs.paper_model("ou")
