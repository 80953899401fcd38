"""Time-stepping schemes, as registered composition data.

Every scheme is a splitting of ``∂_τ g = Σ_m 𝓐_m(g)`` over the list of operators the solver
builds (:mod:`hjbsolve.solver.operators`: the jump operators of the inventory axes first, the
state generator last). A scheme is the list of *stages* it applies in one step
``[t_lo, t_hi]``: ``(operator index, from, to)`` with ``from``/``to`` fractions of the step
(1 = ``t_hi``, 0 = ``t_lo``; backward in time). The backward loop
(:func:`hjbsolve.solver.rollback.rollback`) runs the stages and knows nothing else.

* ``"strang"``: the symmetric product — every operator but the last over the first half step,
  the last over the whole step, then the others back over the second half step in reverse
  order: ``J(dt/2) P(dt) J(dt/2)`` for one axis (second order).
* ``"symmetric-state"`` (``"strang-sx"``): the same product with the state generator outside —
  ``P(dt/2) J(dt) P(dt/2)`` for one axis (the jumps of several axes nested symmetrically inside):
  one jump stage per step instead of two. The state propagator is a banded matrix product, about
  thirty times cheaper than an extrapolated jump stage, so a step costs about half as much.
* ``"lie"``: the operators one after the other over the whole step, last first:
  ``P(dt) J(dt)`` (first order).

A scheme also names the integrator of the jump operators (``jumps``): ``"ros2"``, one ROS2
step per stage, or ``"ros2x"``, ROS2 locally extrapolated (one step of ``h`` and two of
``h/2`` combined as ``(4 J_{h/2}² − J_h)/3``: third order, still L-stable since the ROS2
stability function vanishes at infinity; about three times the work of one ROS2 step and, at
the paper's OU point, the same accuracy with four times fewer steps). ``"strang-x"`` is Strang
splitting with ``"ros2x"`` jumps: second order overall (the splitting), with the small error
constant of the splitting alone. ``"strang-sx"`` is the same with the state outside: at the paper's OU point
its value error is about three times smaller and its quote error about three times larger than
``"strang-x"``'s at equal steps, for half the work per step — the automatic mode of
:func:`hjbsolve.solve` uses it (``benchmarks/bench_solve.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Scheme", "SCHEMES", "get_scheme", "AUTOMATIC_SCHEME", "FIXED_SCHEME"]


def _symmetric(n_ops: int) -> tuple:
    half = tuple((m, 1.0, 0.5) for m in range(n_ops - 1))
    return half + ((n_ops - 1, 1.0, 0.0),) + tuple((m, 0.5, 0.0) for m in reversed(range(n_ops - 1)))


def _symmetric_state(n_ops: int) -> tuple:
    inner = _symmetric(n_ops - 1) if n_ops > 1 else ()
    return ((n_ops - 1, 1.0, 0.5),) + inner + ((n_ops - 1, 0.5, 0.0),)


def _sequential(n_ops: int) -> tuple:
    return tuple((m, 1.0, 0.0) for m in reversed(range(n_ops)))


_COMPOSITIONS = {"symmetric": _symmetric, "symmetric-state": _symmetric_state, "sequential": _sequential}


@dataclass(frozen=True)
class Scheme:
    """A named time-stepping scheme.

    Attributes
    ----------
    name : str
    composition : {"symmetric", "sequential"}
        How the operators are composed in one step (module docstring).
    order : int
        Order of convergence in ``dt`` (asserted by the tests).
    description : str
    jumps : {"ros2", "ros2x"}
        Integrator of the jump operators.
    """

    name: str
    composition: str
    order: int
    description: str = ""
    jumps: str = "ros2"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Scheme name must be a non-empty string, got {self.name!r}")
        if self.composition not in _COMPOSITIONS:
            raise ValueError(f"Scheme composition must be one of {sorted(_COMPOSITIONS)}, got {self.composition!r}")
        if isinstance(self.order, bool) or not isinstance(self.order, int) or not 1 <= self.order <= 4:
            raise ValueError(f"Scheme order must be an integer in 1..4, got {self.order!r}")
        if self.jumps not in ("ros2", "ros2x"):
            raise ValueError(f"Scheme jumps must be 'ros2' or 'ros2x', got {self.jumps!r}")

    def jump_evaluations(self, n_ops: int) -> int:
        """ROS2 evaluations of the jump operators in one step (the dominant cost: one per jump stage,
        three for an extrapolated one), for ``n_ops`` operators (the last is the state generator)."""
        return sum(1 for m, _, _ in self.stages(n_ops) if m < n_ops - 1) * (3 if self.jumps == "ros2x" else 1)

    def state_evaluations(self, n_ops: int) -> int:
        """Applications of the state propagator (the last of ``n_ops`` operators) in one step."""
        return sum(1 for m, _, _ in self.stages(n_ops) if m == n_ops - 1)

    def stages(self, n_ops: int) -> tuple:
        """``((operator index, from, to), …)`` for ``n_ops`` operators (module docstring)."""
        return _COMPOSITIONS[self.composition](n_ops)


SCHEMES: dict[str, Scheme] = {
    "strang": Scheme("strang", "symmetric", 2, "Strang splitting: exact state propagator, ROS2 inventory jumps"),
    "lie": Scheme("lie", "sequential", 1, "Lie splitting: exact state propagator then ROS2 inventory jumps"),
    "strang-x": Scheme("strang-x", "symmetric", 2, "Strang splitting: exact state propagator, locally "
                       "extrapolated ROS2 inventory jumps (third order)", jumps="ros2x"),
    "strang-sx": Scheme("strang-sx", "symmetric-state", 2, "Strang splitting with the state propagator outside "
                        "(one extrapolated jump stage per step)", jumps="ros2x"),
}
#: The scheme of the automatic mode of :func:`hjbsolve.solve` when none is given.
AUTOMATIC_SCHEME = "strang-sx"
#: The scheme of the fixed-step mode when none is given (the historical default).
FIXED_SCHEME = "strang"


def get_scheme(name) -> Scheme:
    if isinstance(name, Scheme):
        return name
    if not isinstance(name, str) or name not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {name!r}")
    return SCHEMES[name]
