"""hjbsolve: the Fodra–Labadie market-making HJB system solved exactly, and its closed forms checked."""

from .model import Brownian, Model, OrnsteinUhlenbeck, PAPER_S0, paper_model
from .policies import ConstantSpread, Policy, TabulatedPolicy

__all__ = [
    "Brownian", "OrnsteinUhlenbeck", "Model", "paper_model", "PAPER_S0",
    "Policy", "TabulatedPolicy", "ConstantSpread",
]
__version__ = "0.1.0"
