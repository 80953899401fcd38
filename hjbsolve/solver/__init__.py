"""Finite-difference solvers of the q-indexed verification system (and the automatic drivers).

* :func:`solve` — the HJB system with the exact optimal controls (no linearisation), by finite
  differences (``method="fd"``) or matrix exponentials (``method="expm"``);
* :func:`evaluate` — the expected objective of a fixed quoting policy (a linear equation,
  same machinery).
"""

from .api import METHODS, evaluate, solve
from .rollback import NonFiniteError, rollback
from .schemes import SCHEMES, Scheme, get_scheme
from .setup import BoundWarning, binding_q_max, default_n_steps, default_q_max, default_s_range, largest_q_max

__all__ = ["solve", "evaluate", "METHODS", "default_q_max", "binding_q_max", "default_n_steps", "default_s_range", "largest_q_max",
           "SCHEMES", "Scheme", "get_scheme", "NonFiniteError", "BoundWarning", "rollback"]
