"""hjbsolve: the Fodra–Labadie market-making HJB system solved exactly, and its closed forms checked.

Quick start::

    import hjbsolve as hs
    m = hs.paper_model("ou")                      # the paper's §4 parameters
    sol = hs.solve(m, q_max=600, s_range=(2995.0, 3005.0))
    dp, dm = sol.quotes(0.0, [0, 10, 100], 3000.0)
    ex = hs.expansion(m, order=1)                 # the paper's ε-first-order closed forms
"""

import os as _os

# numba's OpenMP threads spin while they wait for work by default; on a machine whose cores are
# busy (another process, a test runner, a notebook kernel) that made the compiled kernels 4-5x
# slower than one thread. Waiting passively costs nothing measurable on an idle machine.
# A value the user set wins (set it before importing hjbsolve or numba).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import article
from .exact import exact_brownian
from .expansion import Expansion, expansion
from .model import PAPER_S0, Model, paper_model
from .multiasset import MultiAssetModel, inventory_risk
from .montecarlo import SimulationResult, price_range, simulate
from .policies import BoxPolicy, ConstantSpread, InventorySkew, Policy, RegimePolicy, TabulatedPolicy
from .prices import Brownian, OrnsteinUhlenbeck
from .regimes import Regimes
from .solution import Solution
from .solver import SCHEMES, BoundWarning, NonFiniteError, evaluate, solve

__all__ = [
    "Brownian", "OrnsteinUhlenbeck", "Model", "paper_model", "PAPER_S0", "Regimes", "MultiAssetModel",
    "inventory_risk",
    "solve", "evaluate", "Solution", "SCHEMES", "NonFiniteError", "BoundWarning",
    "expansion", "Expansion", "exact_brownian",
    "Policy", "TabulatedPolicy", "BoxPolicy", "RegimePolicy", "ConstantSpread", "InventorySkew",
    "simulate", "SimulationResult", "price_range",
    "article",
]

__version__ = "0.2.0"
