"""Time-stepping schemes, as registered data.

Every scheme is a splitting of ``∂_τ h = 𝓛 h + 𝓙(t, h)`` into the exact price propagator
``P(dt) = exp(dt 𝓛_h)`` and a second-order Rosenbrock (ROS2) step of the inventory jumps
``J(t → t')``; only the composition differs. The backward loop
(:func:`hjbsolve.solver.rollback.rollback`) reads ``splitting`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Scheme", "SCHEMES", "get_scheme"]


@dataclass(frozen=True)
class Scheme:
    """A named time-stepping scheme.

    Attributes
    ----------
    name : str
    splitting : {"strang", "lie"}
        ``"strang"``: ``J(dt/2) P(dt) J(dt/2)`` (second order). ``"lie"``: ``P(dt) J(dt)``
        (first order).
    order : int
        Order of convergence in ``dt`` (asserted by the tests).
    """

    name: str
    splitting: str
    order: int
    description: str = ""


SCHEMES: dict[str, Scheme] = {
    "strang": Scheme("strang", "strang", 2, "Strang splitting: exact price propagator, ROS2 inventory jumps"),
    "lie": Scheme("lie", "lie", 1, "Lie splitting: exact price propagator then ROS2 inventory jumps"),
}


def get_scheme(name) -> Scheme:
    if isinstance(name, Scheme):
        return name
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {name!r}")
    return SCHEMES[name]
