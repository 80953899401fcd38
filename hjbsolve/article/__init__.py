"""The article "inventory and price impact": a heuristic market maker with linear impact.

A faithful, vectorised reproduction of the article's simulation loop (its code listing is
the specification), its four scenarios, the three extensions it lists as further steps
(power-law impact, trend-following/contrarian traders, competing market makers), and a
report that checks the article's claims with numbers (:func:`write_article_report`).

The article's sign convention is kept: ``side = +1`` (a "buy") adds to the market maker's
inventory and raises the price. See :mod:`hjbsolve.article.simulate` for the loop and the
order of the random draws.
"""

from .components import (MarketMaker, OrderFlow, PowerImpact, RandomFlow, TrendFlow,
                         article_quotes, route_order, utility_increment)
from .simulate import (SCENARIOS, ArticleRun, Scenario, compete, get_scenario, load,
                       simulate, simulate_batch, simulate_market, simulate_scenario)
from .report import (check_article_statements, plot_inventory, plot_quotes, plot_scenario,
                     plot_utility, write_article_report)

__all__ = [
    "simulate", "simulate_batch", "simulate_market", "compete",
    "ArticleRun", "load",
    "Scenario", "SCENARIOS", "get_scenario", "simulate_scenario",
    "MarketMaker", "PowerImpact", "RandomFlow", "TrendFlow", "OrderFlow",
    "article_quotes", "route_order", "utility_increment",
    "check_article_statements", "write_article_report",
    "plot_quotes", "plot_inventory", "plot_utility", "plot_scenario",
]
