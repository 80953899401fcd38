"""The article's simulation loop, vectorised over runs, and its four scenarios.

One loop (:func:`simulate_market`) steps every run at once; the article's model and its
three "further steps" are the components it is given (:mod:`hjbsolve.article.components`):

========================  ==============================================================
article                   ``simulate(...)``: one :class:`MarketMaker`, ``PowerImpact(κ, 1)``,
                          :class:`RandomFlow`
nonlinear impact          ``simulate(..., beta=β)``: ``ΔP = κ · side · size**β``
algorithmic traders       ``simulate(..., flow=TrendFlow.momentum(strength, L))``
competing market makers   ``compete([MarketMaker(...), ...], ...)``
========================  ==============================================================

Each step ``t`` (the article's loop body, in its order):

1. every maker quotes from the mid ``P_t`` and its inventory ``q_t`` (:func:`article_quotes`);
2. the order is drawn: size ``1 … 9`` uniformly, then side ``±1`` (probability of ``+1``
   from the flow model, ½ in the article);
3. the order is routed (the whole order to the single maker; best quote among several);
4. ``q ← q + side · fill``, ``P ← P + impact(side, size)``;
5. utility increment ``spread · fill − λ q²`` with the inventory *after* the trade.

Random draws
------------
Each run owns a ``numpy.random.Generator`` (``default_rng(seed)``) and consumes two
uniforms per step, **size first, then side**, as the article calls ``randint`` then
``choice``: with ``u = rng.random((num_steps, 2))``, step ``t`` uses

* ``size = 1 + ⌊9 u[t, 0]⌋`` — the article's ``np.random.randint(1, 10)``, uniform on 1…9;
* ``side = −1 if u[t, 1] < 1 − p_up else +1`` — with ``p_up = ½`` this is
  ``np.random.choice([-1, 1])``.

Drawing the ``(num_steps, 2)`` block at once gives the same numbers as calling
``rng.random()`` twice per step, so a literal scalar transcription of the article's loop
reproduces a run exactly (``tests/test_article.py`` checks this). Sizes never depend on the
flow model, so runs with different flows share their order sizes.

The sign convention is the article's (see :mod:`hjbsolve.article.components`): ``side = +1``
adds to the maker's inventory and raises the price.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._validation import check_int, check_real
from .components import (MarketMaker, PowerImpact, RandomFlow, _describe, article_quotes,
                         route_order, utility_increment)

__all__ = [
    "ArticleRun", "load",
    "simulate_market", "simulate", "simulate_batch", "compete",
    "Scenario", "SCENARIOS", "get_scenario", "simulate_scenario",
    "draw_uniforms", "MAX_ORDER_SIZE",
]

#: Order sizes are uniform on ``1 … MAX_ORDER_SIZE`` (the article's ``randint(1, 10)``).
MAX_ORDER_SIZE = 9

_ARRAYS = ("prices", "inventory", "profits", "bid", "ask", "spreads", "fills", "sides", "sizes", "seeds")


# ---------------------------------------------------------------------------------------
# Result object
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ArticleRun:
    """Paths of one or several simulations. Time is always the **last** axis.

    Shapes (``N = num_steps``; ``[R,]`` present for a batch of runs, ``[M,]`` when several
    makers compete):

    ==============================================  ======================
    ``prices``                                      ``([R,] N+1)``  mid ``P_0 … P_N``
    ``inventory``                                   ``([R,] [M,] N+1)``  ``q_0 = 0 … q_N``
    ``bid``, ``ask``, ``spreads``                   ``([R,] [M,] N)``  quotes at step ``t``
                                                    (set from ``P_t``, ``q_t``)
    ``profits``                                     ``([R,] [M,] N)``  ``spread·fill − λ q_{t+1}²``
    ``fills``                                       ``([R,] [M,] N)``  quantity each maker traded
    ``sides``, ``sizes``                            ``([R,] N)``  the order flow
    ``seeds``                                       ``([R])``  ``−1`` where a Generator was given
    ==============================================  ======================

    ``params`` is a JSON-able description of the model (``P_0``, ``num_steps``, the makers,
    the impact and the flow).
    """

    prices: np.ndarray
    inventory: np.ndarray
    profits: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    spreads: np.ndarray
    fills: np.ndarray
    sides: np.ndarray
    sizes: np.ndarray
    seeds: np.ndarray
    params: dict

    @property
    def cumulative_utility(self) -> np.ndarray:
        """Running sum of :attr:`profits` over time (the article's "MM profit" curve)."""
        return np.cumsum(self.profits, axis=-1)

    @property
    def num_steps(self) -> int:
        return self.sides.shape[-1]

    @property
    def n_runs(self) -> int | None:
        """Number of runs of a batch, ``None`` for a single run."""
        return self.prices.shape[0] if self.prices.ndim == 2 else None

    @property
    def n_makers(self) -> int | None:
        """Number of competing makers, ``None`` for the article's single maker."""
        return self.inventory.shape[-2] if self.inventory.ndim == self.prices.ndim + 1 else None

    def __len__(self):
        if self.n_runs is None:
            raise TypeError("a single run has no len(); index a batch")
        return self.n_runs

    def __getitem__(self, i) -> "ArticleRun":
        """Run ``i`` of a batch, as a single run."""
        if self.n_runs is None:
            raise TypeError("a single run cannot be indexed")
        i = check_int("i", i, ge=-self.n_runs, le=self.n_runs - 1)
        fields = {name: getattr(self, name)[i] for name in _ARRAYS}
        return ArticleRun(**fields, params=self.params)

    def save(self, path) -> Path:
        """Write the run to ``path`` (``.npz``; the suffix is added if missing)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        np.savez(path, **{name: getattr(self, name) for name in _ARRAYS},
                 params=np.array(json.dumps(self.params)))
        return path

    @classmethod
    def load(cls, path) -> "ArticleRun":
        """Read a run written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            fields = {name: data[name] for name in _ARRAYS}
            params = json.loads(str(data["params"][()]))
        return cls(**fields, params=params)


def load(path) -> ArticleRun:
    """Read an :class:`ArticleRun` written by :meth:`ArticleRun.save`."""
    return ArticleRun.load(path)


# ---------------------------------------------------------------------------------------
# Randomness
# ---------------------------------------------------------------------------------------

def _as_generator(name, seed):
    if isinstance(seed, np.random.Generator):
        return seed, -1
    seed = check_int(name, seed, ge=0)
    return np.random.default_rng(seed), seed


def draw_uniforms(seed, num_steps: int):
    """The uniforms driving the order flow: ``(u, seeds, batched)``.

    ``seed`` is an int ``>= 0`` or a ``Generator`` (one run), or a sequence of those (a
    batch). ``u`` has shape ``(R, num_steps, 2)``: ``u[r, t, 0]`` sets the size and
    ``u[r, t, 1]`` the side of order ``t`` in run ``r``; each run's block is one call
    ``rng.random((num_steps, 2))`` on its own generator.
    """
    num_steps = check_int("num_steps", num_steps, ge=1)
    batched = not (isinstance(seed, (numbers.Integral, np.random.Generator)))
    if batched:
        if isinstance(seed, (str, bytes)) or not isinstance(seed, (Sequence, np.ndarray)):
            raise ValueError(f"seed must be an int >= 0, a numpy Generator or a sequence of those, "
                             f"got {seed!r}")
        seeds = list(seed)
        if not seeds:
            raise ValueError("seeds must not be empty")
    else:
        seeds = [seed]
    u = np.empty((len(seeds), num_steps, 2))
    recorded = np.empty(len(seeds), dtype=np.int64)
    for r, s in enumerate(seeds):
        rng, recorded[r] = _as_generator(f"seeds[{r}]" if batched else "seed", s)
        u[r] = rng.random((num_steps, 2))
    return u, recorded, batched


# ---------------------------------------------------------------------------------------
# The one time loop
# ---------------------------------------------------------------------------------------

def _check_makers(makers):
    if isinstance(makers, MarketMaker):
        return [makers], False
    try:
        makers = list(makers)
    except TypeError:
        raise ValueError(f"makers must be a MarketMaker or a sequence of them, got {makers!r}") from None
    if not makers:
        raise ValueError("makers must contain at least one MarketMaker, got an empty sequence")
    for i, m in enumerate(makers):
        if not isinstance(m, MarketMaker):
            raise ValueError(f"makers[{i}] must be a MarketMaker, got {m!r}")
    return makers, True


def simulate_market(makers, *, P_0: float = 100.0, num_steps: int = 200, impact=None,
                    flow=None, seed=0) -> ArticleRun:
    """Simulate makers quoting the article's rule against a shared order flow.

    Parameters
    ----------
    makers : MarketMaker or sequence of MarketMaker
        One maker (the article) or several competing for each order (:func:`route_order`).
    P_0 : float
        Initial mid-price, finite and ``> 0``.
    num_steps : int
        Number of orders, ``>= 1``.
    impact : callable, optional
        ``impact(side, size) -> ΔP`` on arrays of shape ``(R,)``; default
        ``PowerImpact(kappa=0.01, beta=1)``.
    flow : OrderFlow, optional
        Object with ``prob_up(prices) -> P(side = +1)``; default :class:`RandomFlow`.
    seed : int, Generator, or sequence of those
        One seed gives a single run; a sequence gives a batch with a leading run axis
        (run ``r`` equals the single run with ``seed[r]``).

    Returns
    -------
    ArticleRun
        Without a maker axis if ``makers`` is a single :class:`MarketMaker`.
    """
    makers, multi = _check_makers(makers)
    P_0 = check_real("P_0", P_0, gt=0.0)
    num_steps = check_int("num_steps", num_steps, ge=1)
    impact = PowerImpact() if impact is None else impact
    flow = RandomFlow() if flow is None else flow
    if not callable(impact):
        raise ValueError(f"impact must be callable as impact(side, size), got {impact!r}")
    if not callable(getattr(flow, "prob_up", None)):
        raise ValueError(f"flow must have a prob_up(prices) method, got {flow!r}")
    u, seeds, batched = draw_uniforms(seed, num_steps)

    R, N, M = u.shape[0], num_steps, len(makers)
    spread_base = np.array([m.spread_base for m in makers])
    gamma = np.array([m.gamma for m in makers])
    lambda_inv = np.array([m.lambda_inv for m in makers])

    sizes = 1 + np.floor(MAX_ORDER_SIZE * u[..., 0]).astype(np.int64)
    sides = np.empty((R, N), dtype=np.int64)
    prices = np.empty((R, N + 1))
    inventory = np.empty((R, M, N + 1))
    bid, ask, fills, profits = (np.empty((R, M, N)) for _ in range(4))

    P = np.full(R, P_0)
    q = np.zeros((R, M))
    prices[:, 0] = P
    inventory[..., 0] = q
    for t in range(N):
        b, a = article_quotes(P[:, None], q, spread_base, gamma)
        p_up = np.broadcast_to(np.asarray(flow.prob_up(prices[:, : t + 1]), dtype=float), (R,))
        if not np.all((p_up >= 0.0) & (p_up <= 1.0)):
            raise ValueError(f"flow.prob_up must return probabilities in [0, 1], got {p_up!r} at step {t}")
        side = np.where(u[:, t, 1] < 1.0 - p_up, -1, 1)
        size = sizes[:, t]
        fill = route_order(side, size, b, a)
        q = q + side[:, None] * fill
        P = P + np.broadcast_to(impact(side, size), (R,))

        bid[..., t], ask[..., t], fills[..., t] = b, a, fill
        profits[..., t] = utility_increment(a - b, fill, q, lambda_inv)
        sides[:, t] = side
        prices[:, t + 1] = P
        inventory[..., t + 1] = q

    out = dict(prices=prices, inventory=inventory, profits=profits, bid=bid, ask=ask,
               spreads=ask - bid, fills=fills, sides=sides, sizes=sizes, seeds=seeds)
    if not multi:
        out = {k: (v[:, 0] if v.ndim == 3 else v) for k, v in out.items()}
    if not batched:
        out = {k: v[0] for k, v in out.items()}
    params = dict(P_0=P_0, num_steps=N, makers=[_describe(m) for m in makers],
                  impact=_describe(impact), flow=_describe(flow))
    return ArticleRun(**out, params=params)


# ---------------------------------------------------------------------------------------
# The article's entry points
# ---------------------------------------------------------------------------------------

def simulate(P_0: float = 100.0, spread_base: float = 0.5, gamma: float = 0.1,
             num_steps: int = 200, kappa: float = 0.01, lambda_inv: float = 0.01, seed=0,
             *, beta: float = 1.0, flow=None) -> ArticleRun:
    """The article's ``simulate``: one heuristic market maker facing random orders.

    Parameters are the article's (``P_0`` initial price, ``spread_base`` base spread,
    ``gamma`` inventory adjustment weight, ``num_steps``, ``kappa`` price sensitivity,
    ``lambda_inv`` inventory risk penalty) plus ``seed`` (int ``>= 0`` or ``Generator``).
    The keyword-only extensions: ``beta`` (power-law impact ``κ·size**β``; ``1`` is the
    article) and ``flow`` (order-flow model; ``None`` is the article's random side).

    Returns
    -------
    ArticleRun
        Arrays of shape ``(num_steps + 1,)`` (``prices``, ``inventory``) and
        ``(num_steps,)`` (the rest).
    """
    if not isinstance(seed, (numbers.Integral, np.random.Generator)):
        raise ValueError(f"seed must be an int >= 0 or a numpy Generator, got {seed!r}; "
                         "use simulate_batch for several seeds")
    return simulate_market(MarketMaker(spread_base, gamma, lambda_inv), P_0=P_0,
                           num_steps=num_steps, impact=PowerImpact(kappa, beta), flow=flow, seed=seed)


def _batch_seeds(seeds, n_runs, seed):
    if seeds is not None:
        if n_runs is not None:
            raise ValueError("give either seeds or n_runs (with seed), not both")
        if isinstance(seeds, (numbers.Integral, np.random.Generator)):
            raise ValueError(f"seeds must be a sequence, got {seeds!r}; use n_runs=... for a count")
        return seeds
    if n_runs is None:
        raise ValueError("give seeds (a sequence) or n_runs (an int >= 1)")
    n_runs = check_int("n_runs", n_runs, ge=1)
    seed = check_int("seed", seed, ge=0)
    return seed + np.arange(n_runs)


def simulate_batch(P_0: float = 100.0, spread_base: float = 0.5, gamma: float = 0.1,
                   num_steps: int = 200, kappa: float = 0.01, lambda_inv: float = 0.01, *,
                   seeds=None, n_runs: int | None = None, seed: int = 0,
                   beta: float = 1.0, flow=None) -> ArticleRun:
    """Many runs of :func:`simulate` at once (vectorised over runs).

    Give ``seeds`` (a sequence of ints ``>= 0``), or ``n_runs`` and ``seed``, which means
    ``seeds = seed, seed + 1, …, seed + n_runs − 1``. Run ``r`` equals
    ``simulate(..., seed=seeds[r])`` exactly.

    Returns
    -------
    ArticleRun
        Arrays with a leading run axis: ``(R, num_steps + 1)`` and ``(R, num_steps)``.
    """
    return simulate_market(MarketMaker(spread_base, gamma, lambda_inv), P_0=P_0,
                           num_steps=num_steps, impact=PowerImpact(kappa, beta), flow=flow,
                           seed=_batch_seeds(seeds, n_runs, seed))


def compete(makers: Sequence[MarketMaker], *, P_0: float = 100.0, num_steps: int = 200,
            kappa: float = 0.01, beta: float = 1.0, flow=None, seed=0) -> ArticleRun:
    """Several article market makers competing for one order flow.

    Each order goes to the best quote (highest bid for ``side = +1``, lowest ask for
    ``side = −1``; exact ties split fractionally, see :func:`route_order`). Each maker has
    its own ``spread_base``, ``gamma``, ``lambda_inv``, inventory and utility; the mid-price
    moves with the whole order.

    Returns
    -------
    ArticleRun
        Maker-indexed arrays of shape ``(M, num_steps[+1])`` (``(R, M, …)`` if ``seed`` is a
        sequence).
    """
    if isinstance(makers, MarketMaker):
        raise ValueError("makers must be a sequence of MarketMaker; use simulate for one maker")
    return simulate_market(makers, P_0=P_0, num_steps=num_steps,
                           impact=PowerImpact(kappa, beta), flow=flow, seed=seed)


# ---------------------------------------------------------------------------------------
# The article's four scenarios
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """One of the article's parameter sets (all: ``P_0 = 100``, ``spread_base = 0.5``, 200 steps)."""

    number: int
    name: str
    description: str
    kappa: float
    gamma: float
    lambda_inv: float
    P_0: float = 100.0
    spread_base: float = 0.5
    num_steps: int = 200

    @property
    def params(self) -> dict:
        """Keyword arguments of :func:`simulate` / :func:`simulate_batch`."""
        return dict(P_0=self.P_0, spread_base=self.spread_base, gamma=self.gamma,
                    num_steps=self.num_steps, kappa=self.kappa, lambda_inv=self.lambda_inv)

    @property
    def maker(self) -> MarketMaker:
        return MarketMaker(self.spread_base, self.gamma, self.lambda_inv)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(1, "low_volatility", "low price sensitivity, moderate γ and λ",
             kappa=0.01, gamma=0.1, lambda_inv=0.01),
    Scenario(2, "high_volatility", "price sensitivity ×10",
             kappa=0.1, gamma=0.1, lambda_inv=0.01),
    Scenario(3, "low_gamma", "inventory adjustment weight ÷10 (the MM fails)",
             kappa=0.1, gamma=0.01, lambda_inv=0.01),
    Scenario(4, "low_lambda", "inventory penalty ÷5 (the first behaviour is back)",
             kappa=0.1, gamma=0.01, lambda_inv=0.002),
)}


def get_scenario(name) -> Scenario:
    """A scenario by name (``"low_volatility"`` …) or article number (1 … 4)."""
    if isinstance(name, Scenario):
        return name
    if isinstance(name, numbers.Integral) and not isinstance(name, bool):
        for s in SCENARIOS.values():
            if s.number == name:
                return s
    elif isinstance(name, str) and name in SCENARIOS:
        return SCENARIOS[name]
    allowed = ", ".join(f"{s.number} / {s.name!r}" for s in SCENARIOS.values())
    raise ValueError(f"scenario must be one of {allowed}, got {name!r}")


def simulate_scenario(name, seed=0, **options) -> ArticleRun:
    """Run one of the article's scenarios (see :data:`SCENARIOS`).

    ``seed`` may be a sequence (then :func:`simulate_batch` is used); ``options`` are the
    keyword-only extensions of :func:`simulate` (``beta``, ``flow``).
    """
    params = get_scenario(name).params
    if isinstance(seed, (numbers.Integral, np.random.Generator)):
        return simulate(**params, seed=seed, **options)
    return simulate_batch(**params, seeds=seed, **options)

