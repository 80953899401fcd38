"""The pieces of the article's market: the quoting rule, the price impact, the order flow, the routing.

Each piece is a small frozen object (or function) that the one time loop in
:mod:`hjbsolve.article.simulate` composes; the article's own model is the combination
``MarketMaker`` + ``PowerImpact(beta=1)`` + ``RandomFlow`` with one maker.

Sign convention (the article's, kept as written)
------------------------------------------------
``side = +1`` is what the article calls a *buy*: it **adds** ``size`` to the market maker's
inventory and **raises** the mid-price by ``κ·size``; ``side = −1`` (a *sell*) does the
opposite. In a real book a trader's buy lowers the dealer's inventory; the article's
convention is transcribed unchanged so that the reproduction is exact. When several makers
compete (:func:`route_order`), an order is routed by its effect on the makers' inventory:
``side = +1`` raises a maker's inventory, i.e. the maker *buys* (a trader sells), so it goes
to the highest bid; ``side = −1`` is a maker sale (a trader buys) and goes to the lowest ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .._validation import check_int, check_real

__all__ = [
    "MarketMaker", "article_quotes", "utility_increment",
    "Impact", "PowerImpact",
    "OrderFlow", "RandomFlow", "TrendFlow",
    "route_order",
]


# ---------------------------------------------------------------------------------------
# The market maker: the article's quoting rule and its utility increment
# ---------------------------------------------------------------------------------------

def article_quotes(P, q, spread_base, gamma):
    """The article's quotes, vectorised (broadcast over all arguments).

    ``δ = γ q``; ``bid = P − spread_base − |min(δ, 0)|``; ``ask = P + spread_base + max(δ, 0)``.
    A short maker (``q < 0``) lowers its bid by ``γ|q|``, a long maker raises its ask by
    ``γ q``; the other quote stays at ``spread_base`` from the mid, so the spread is
    ``2·spread_base + γ|q|``.

    Returns
    -------
    bid, ask : ndarray
    """
    delta = gamma * q
    bid = P - spread_base - np.abs(np.minimum(delta, 0.0))
    ask = P + spread_base + np.maximum(delta, 0.0)
    return bid, ask


def utility_increment(spread, fill, q_after, lambda_inv):
    """The article's per-step "profit": ``spread · size − λ · q²``.

    ``q_after`` is the inventory *after* the trade (as in the article's code); ``fill`` is
    the quantity the maker traded this step (the whole order for a single maker).
    """
    return spread * fill - lambda_inv * q_after**2


@dataclass(frozen=True)
class MarketMaker:
    """A market maker quoting with the article's heuristic rule.

    Parameters
    ----------
    spread_base : float
        Half of the base spread ``Δ`` (each quote sits at least this far from the mid), ``>= 0``.
    gamma : float
        Inventory adjustment weight ``γ`` (price units per unit of inventory), ``>= 0``.
    lambda_inv : float
        Inventory risk penalty ``λ`` in the utility, ``>= 0``.
    """

    spread_base: float = 0.5
    gamma: float = 0.1
    lambda_inv: float = 0.01

    def __post_init__(self):
        for name in ("spread_base", "gamma", "lambda_inv"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), ge=0.0))

    def quotes(self, P, q):
        """``(bid, ask)`` at mid ``P`` and inventory ``q`` (see :func:`article_quotes`)."""
        return article_quotes(P, q, self.spread_base, self.gamma)

    def utility(self, spread, fill, q_after):
        """Per-step utility increment (see :func:`utility_increment`)."""
        return utility_increment(spread, fill, q_after, self.lambda_inv)


# ---------------------------------------------------------------------------------------
# Price impact
# ---------------------------------------------------------------------------------------

@runtime_checkable
class Impact(Protocol):
    """Anything callable as ``impact(side, size) -> ΔP`` on arrays of shape ``(n_runs,)``."""

    def __call__(self, side: np.ndarray, size: np.ndarray) -> np.ndarray:  # pragma: no cover
        ...


@dataclass(frozen=True)
class PowerImpact:
    """Power-law price impact ``ΔP = κ · side · size**β``.

    ``β = 1`` is the article's linear impact (bit-for-bit: ``size**1.0 == size``); ``β < 1``
    is the concave, "diminishing returns" impact of the article's further steps (the
    square-root law is ``β = ½``).

    Parameters
    ----------
    kappa : float
        Price sensitivity ``κ >= 0`` (price units per unit of size**β).
    beta : float
        Exponent ``β >= 0``.
    """

    kappa: float = 0.01
    beta: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_real("kappa", self.kappa, ge=0.0))
        object.__setattr__(self, "beta", check_real("beta", self.beta, ge=0.0))

    def __call__(self, side, size):
        # same operation order as the article's ``kappa * side * order_size``
        return self.kappa * side * np.power(size, self.beta)


# ---------------------------------------------------------------------------------------
# Order flow: the probability that the next order is a ``side = +1`` order
# ---------------------------------------------------------------------------------------

@runtime_checkable
class OrderFlow(Protocol):
    """Anything with ``prob_up(prices) -> p``.

    ``prices`` has shape ``(n_runs, t + 1)``: the mid-prices ``P_0 … P_t`` seen so far;
    ``p`` (shape ``(n_runs,)`` or scalar) is the probability that order ``t`` has
    ``side = +1`` (the article's "buy", which raises the price).
    """

    def prob_up(self, prices: np.ndarray) -> np.ndarray:  # pragma: no cover
        ...


@dataclass(frozen=True)
class RandomFlow:
    """The article's noise traders: each side with probability ½, whatever the prices."""

    def prob_up(self, prices):
        return 0.5


@dataclass(frozen=True)
class TrendFlow:
    """Traders reacting to the last ``L``-step price change.

    ``P(side = +1) = 1 / (1 + exp(−strength · (P_t − P_{t−L})))``, with ``P_{t−L}`` read as
    ``P_0`` while ``t < L``. The return is the arithmetic price change (the model's price is
    additive, ``P_t = P_0 + κ q_t`` under linear impact, and may approach zero), so
    ``strength`` is per unit of price.

    * ``strength > 0``: momentum — the probability of a (price-raising) buy grows with the
      recent return;
    * ``strength < 0``: contrarian — it falls;
    * ``strength = 0``: exactly the article's random side (``p = ½``).

    Use :meth:`momentum` / :meth:`contrarian` to build them from a non-negative strength.

    Parameters
    ----------
    strength : float
        Sensitivity to the recent price change (per price unit); any finite value.
    lookback : int
        ``L >= 1`` steps.
    """

    strength: float = 0.0
    lookback: int = 1

    def __post_init__(self):
        object.__setattr__(self, "strength", check_real("strength", self.strength))
        object.__setattr__(self, "lookback", check_int("lookback", self.lookback, ge=1))

    @classmethod
    def momentum(cls, strength: float, lookback: int = 1) -> "TrendFlow":
        """Trend followers: ``strength >= 0``."""
        return cls(check_real("strength", strength, ge=0.0), lookback)

    @classmethod
    def contrarian(cls, strength: float, lookback: int = 1) -> "TrendFlow":
        """Contrarians: ``strength >= 0``, stored as ``−strength``."""
        return cls(-check_real("strength", strength, ge=0.0), lookback)

    def recent_return(self, prices):
        """``P_t − P_{max(t−L, 0)}`` for each run, shape ``(n_runs,)``."""
        t = prices.shape[-1] - 1
        return prices[..., t] - prices[..., max(t - self.lookback, 0)]

    def prob_up(self, prices):
        x = self.strength * self.recent_return(prices)
        # the logistic 1/(1 + e^{−x}) written with tanh (no overflow; exactly ½ at x = 0)
        return 0.5 * (1.0 + np.tanh(0.5 * x))


# ---------------------------------------------------------------------------------------
# Routing one order among competing makers
# ---------------------------------------------------------------------------------------

def route_order(side, size, bid, ask):
    """Split each run's order among the makers quoting the best price.

    An order with ``side = +1`` raises the receiving maker's inventory (the maker buys), so
    it goes to the **highest bid**; ``side = −1`` (the maker sells) goes to the **lowest
    ask**. Makers whose quote equals the best one exactly share the order **equally and
    fractionally**: with ``k`` tied makers each receives ``size / k`` (an odd size between
    two makers gives 2.5 + 2.5, so inventories need not stay integer). Identical makers
    therefore stay identical.

    Parameters
    ----------
    side, size : ndarray, shape (n_runs,)
    bid, ask : ndarray, shape (n_runs, n_makers)

    Returns
    -------
    fill : ndarray, shape (n_runs, n_makers)
        Quantity (>= 0) each maker trades; rows sum to ``size``.
    """
    maker_buys = (np.asarray(side) > 0)[:, None]
    winners = np.where(maker_buys,
                       bid == bid.max(axis=-1, keepdims=True),
                       ask == ask.min(axis=-1, keepdims=True))
    k = winners.sum(axis=-1, keepdims=True)
    return np.where(winners, np.asarray(size)[:, None] / k, 0.0)


def _describe(obj) -> dict:
    """JSON-able description of a component (for saved runs and reports)."""
    import dataclasses

    if dataclasses.is_dataclass(obj):
        d = {"kind": type(obj).__name__}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            d[f.name] = v if isinstance(v, (int, float, str, bool)) else repr(v)
        return d
    return {"kind": type(obj).__name__, "repr": repr(obj)}
