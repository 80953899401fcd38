"""Tests of hjbsolve.article: the article's loop reproduced exactly, its scenarios, its extensions."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjbsolve import article as art
from hjbsolve.article import MarketMaker, PowerImpact, TrendFlow


# ---------------------------------------------------------------------------------------
# The article's loop, transcribed literally (only the two random calls are replaced by
# draws from a numpy Generator, in the article's order: size, then side).
# ---------------------------------------------------------------------------------------

def article_loop(P_0, spread_base, gamma, num_steps, kappa, lambda_inv, rng):
    # Initial conditions
    P = P_0
    inventory = 0
    prices = [P]
    inventory_levels = [inventory]
    profits = []
    bid_prices = []
    ask_prices = []
    spreads = []
    sides = []
    sizes = []
    # Simulation loop
    for t in range(num_steps):
        # Market maker sets bid and ask prices
        delta_inventory = gamma * inventory
        P_bid = P - spread_base - abs(min(delta_inventory, 0))
        P_ask = P + spread_base + max(delta_inventory, 0)
        spread = P_ask - P_bid
        bid_prices.append(P_bid)
        ask_prices.append(P_ask)
        spreads.append(spread)
        # Simulate random trades
        order_size = 1 + int(9 * rng.random())  # np.random.randint(1, 10)
        side = [-1, 1][int(2 * rng.random())]  # np.random.choice([-1, 1])
        inventory += order_size * side
        P += kappa * side * order_size
        # Record quantities
        profits.append(spread * order_size - lambda_inv * inventory**2)
        prices.append(P)
        inventory_levels.append(inventory)
        sides.append(side)
        sizes.append(order_size)
    return dict(prices=prices, inventory=inventory_levels, profits=profits, bid=bid_prices,
                ask=ask_prices, spreads=spreads, sides=sides, sizes=sizes)


def assert_matches_loop(run, params, seed):
    ref = article_loop(**params, rng=np.random.default_rng(seed))
    for name, values in ref.items():
        got = getattr(run, name)
        assert got.shape == (len(values),), name
        assert np.array_equal(got, np.array(values)), f"{name} differs from the article's loop"


@pytest.mark.parametrize("name", list(art.SCENARIOS))
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_scenarios_match_the_article_loop_exactly(name, seed):
    assert_matches_loop(art.simulate_scenario(name, seed), art.SCENARIOS[name].params, seed)


@settings(max_examples=25, deadline=None)
@given(P_0=st.floats(1.0, 1e4), spread_base=st.floats(0.0, 5.0), gamma=st.floats(0.0, 2.0),
       num_steps=st.integers(1, 60), kappa=st.floats(0.0, 1.0), lambda_inv=st.floats(0.0, 0.1),
       seed=st.integers(0, 2**32))
def test_any_parameters_match_the_article_loop_exactly(P_0, spread_base, gamma, num_steps, kappa,
                                                       lambda_inv, seed):
    params = dict(P_0=P_0, spread_base=spread_base, gamma=gamma, num_steps=num_steps,
                  kappa=kappa, lambda_inv=lambda_inv)
    assert_matches_loop(art.simulate(**params, seed=seed), params, seed)


def test_result_shapes_and_cumulative_utility():
    run = art.simulate(num_steps=50, seed=3)
    assert run.prices.shape == run.inventory.shape == (51,)
    for name in ("profits", "bid", "ask", "spreads", "sides", "sizes", "fills"):
        assert getattr(run, name).shape == (50,)
    assert run.n_runs is None and run.n_makers is None and run.num_steps == 50
    assert np.array_equal(run.cumulative_utility, np.cumsum(run.profits))
    assert set(np.unique(run.sides)) <= {-1, 1}
    assert run.sizes.min() >= 1 and run.sizes.max() <= 9
    assert np.array_equal(run.fills, run.sizes)
    assert np.all(run.bid <= run.ask)


def test_sizes_and_sides_have_the_article_distribution():
    run = art.simulate_batch(n_runs=200, num_steps=100)
    counts = np.bincount(run.sizes.ravel(), minlength=10)[1:]
    n = run.sizes.size
    assert np.all(np.abs(counts - n / 9) < 5 * math.sqrt(n * (1 / 9) * (8 / 9)))
    assert abs(run.sides.mean()) < 5 / math.sqrt(n)


def test_generator_seed_gives_the_same_run():
    a = art.simulate(seed=np.random.default_rng(7))
    b = art.simulate(seed=7)
    assert np.array_equal(a.prices, b.prices) and np.array_equal(a.profits, b.profits)
    assert a.seeds == -1 and b.seeds == 7


def test_save_and_load_round_trip(tmp_path):
    run = art.simulate_scenario(2, seed=4)
    path = run.save(tmp_path / "run")
    assert path.suffix == ".npz"
    back = art.load(path)
    for name in ("prices", "inventory", "profits", "bid", "ask", "spreads", "sides", "sizes", "seeds"):
        assert np.array_equal(getattr(back, name), getattr(run, name)), name
    assert back.params == run.params
    assert back.params["impact"] == {"kind": "PowerImpact", "kappa": 0.1, "beta": 1.0}
    batch = art.simulate_batch(n_runs=3, num_steps=20)
    assert np.array_equal(art.ArticleRun.load(batch.save(tmp_path / "b.npz")).inventory, batch.inventory)


# ---------------------------------------------------------------------------------------
# Batch == single runs
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"beta": 0.5}, {"flow": TrendFlow.momentum(0.5, 3)}],
                         ids=["article", "power-impact", "momentum"])
def test_batch_equals_single_runs(options):
    seeds = [0, 5, 17, 3]
    params = dict(art.SCENARIOS["high_volatility"].params, num_steps=80)
    batch = art.simulate_batch(**params, seeds=seeds, **options)
    assert batch.prices.shape == (4, 81) and batch.profits.shape == (4, 80)
    assert list(batch.seeds) == seeds and len(batch) == 4
    for r, s in enumerate(seeds):
        single = art.simulate(**params, seed=s, **options)
        for name in ("prices", "inventory", "profits", "bid", "ask", "spreads", "sides", "sizes"):
            assert np.array_equal(getattr(batch, name)[r], getattr(single, name)), (name, s)
        assert np.array_equal(batch[r].cumulative_utility, single.cumulative_utility)


def test_batch_from_n_runs_and_seed():
    batch = art.simulate_batch(n_runs=3, seed=10, num_steps=30)
    assert list(batch.seeds) == [10, 11, 12]
    assert np.array_equal(batch[-1].inventory, art.simulate(num_steps=30, seed=12).inventory)
    assert np.array_equal(batch.cumulative_utility, np.cumsum(batch.profits, axis=-1))


# ---------------------------------------------------------------------------------------
# Scenarios and the article's statements
# ---------------------------------------------------------------------------------------

def test_scenarios_are_the_articles():
    expected = {1: (0.01, 0.1, 0.01), 2: (0.1, 0.1, 0.01), 3: (0.1, 0.01, 0.01), 4: (0.1, 0.01, 0.002)}
    for number, (kappa, gamma, lam) in expected.items():
        sc = art.get_scenario(number)
        assert (sc.kappa, sc.gamma, sc.lambda_inv) == (kappa, gamma, lam)
        assert (sc.P_0, sc.spread_base, sc.num_steps) == (100.0, 0.5, 200)
        assert art.get_scenario(sc.name) is sc
        assert np.array_equal(art.simulate_scenario(number, 2).prices, art.simulate_scenario(sc.name, 2).prices)


def test_trades_do_not_depend_on_kappa_gamma_or_lambda():
    runs = [art.simulate_scenario(n, seed=9) for n in (1, 2, 3, 4)]
    for r in runs[1:]:
        assert np.array_equal(r.inventory, runs[0].inventory)
        assert np.array_equal(r.sides, runs[0].sides) and np.array_equal(r.sizes, runs[0].sizes)
    # linear impact: the price is a function of the inventory
    for r, sc in zip(runs, art.SCENARIOS.values()):
        np.testing.assert_allclose(r.prices, sc.P_0 + sc.kappa * r.inventory, rtol=0, atol=1e-10)


@pytest.fixture(scope="module")
def checks():
    return {c.key: c for c in art.check_article_statements(seed=0, n_seeds=300)}


def test_statement_a_kappa_moves_prices_only(checks):
    n = checks["a"].numbers
    assert checks["a"].verdict == "agree"
    assert n["same_inventory"] and n["same_inventory_batch"]
    assert n["profit_gap"] < 1e-9 and n["price_gap"] > 1.0
    assert n["vol_ratio"] == pytest.approx(10.0, rel=1e-9)


def test_statement_b_low_gamma_loses_in_most_runs(checks):
    n = checks["b"].numbers
    assert n["same_inventory"]
    assert n["mean_spread"] < n["mean_spread_scenario2"]
    assert n["frac_negative"] > 0.7 > 0.5 > n["frac_negative_scenario2"]
    assert n["median_final"] < 0
    # not on every path: seed 0 ends with a gain (reported, not forced)
    assert n["final_utility"] == pytest.approx(548.5, abs=0.05)
    assert checks["b"].verdict == "partly"


def test_statement_c_low_lambda_restores_scenario_1(checks):
    n = checks["c"].numbers
    assert checks["c"].verdict == "agree"
    assert n["curve_corr"] > 0.99 and n["sign_agree_seeds"] > 0.85
    assert n["frac_negative"] < 0.5 and n["frac_negative_scenario1"] < 0.5
    assert n["breakeven"] == pytest.approx(n["breakeven_scenario1"], rel=0.15)


def test_statement_d_short_inventory_lowers_bid_and_only_moves_ask_with_the_mid(checks):
    n = checks["d"].numbers
    assert checks["d"].verdict == "partly"
    assert n["q_min"] < -20
    assert n["slope_bid"] == pytest.approx(0.11, abs=1e-9)  # κ + γ
    assert n["slope_ask"] == pytest.approx(0.01, abs=1e-9)  # κ
    assert n["d_bid"] < n["d_ask"] < 0 and n["ask_offset_error"] < 1e-12


def test_statement_e_profit_peaks_at_the_breakeven_inventory(checks):
    n = checks["e"].numbers
    assert checks["e"].verdict.startswith("agree")
    assert n["q_breakeven_theory"] == pytest.approx(58.07, abs=0.01)
    assert n["q_breakeven_empirical"] == pytest.approx(n["q_breakeven_theory"], rel=0.1)
    assert n["q_peak_median"] == pytest.approx(n["q_breakeven_theory"], rel=0.15)
    assert n["q_literal"] < 20  # the literal reading (λq² = spread) is far off


def test_breakeven_inventory_is_where_the_expected_increment_vanishes():
    from hjbsolve.article.report import breakeven_inventory

    for sc in art.SCENARIOS.values():
        q = breakeven_inventory(sc.spread_base, sc.gamma, sc.lambda_inv)
        sizes = np.arange(1, 10)
        mean = np.mean([(2 * sc.spread_base + sc.gamma * q) * s - sc.lambda_inv * (q + d * s) ** 2
                        for s in sizes for d in (-1, 1)])
        assert mean == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------------------
# Extension 1: power-law impact
# ---------------------------------------------------------------------------------------

def test_beta_one_is_the_linear_impact_exactly():
    params = art.SCENARIOS["high_volatility"].params
    assert np.array_equal(art.simulate(**params, seed=1, beta=1.0).prices, art.simulate(**params, seed=1).prices)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.5])
def test_power_impact_moves_the_price_by_kappa_size_to_the_beta(beta):
    run = art.simulate(kappa=0.1, seed=2, beta=beta, num_steps=100)
    np.testing.assert_allclose(np.diff(run.prices), 0.1 * run.sides * run.sizes.astype(float) ** beta,
                               rtol=0, atol=1e-9)
    base = art.simulate(kappa=0.1, seed=2, num_steps=100)
    assert np.array_equal(run.inventory, base.inventory)


def test_concave_impact_is_smaller_for_large_orders():
    sizes = np.arange(1, 10)
    sq = PowerImpact(0.1, 0.5)(np.ones(9, dtype=int), sizes)
    lin = PowerImpact(0.1, 1.0)(np.ones(9, dtype=int), sizes)
    assert sq[0] == lin[0] and np.all(sq[1:] < lin[1:])
    assert np.all(np.diff(sq) > 0) and np.all(np.diff(np.diff(sq)) < 0)


# ---------------------------------------------------------------------------------------
# Extension 2: competing market makers
# ---------------------------------------------------------------------------------------

def test_route_order_goes_to_the_best_quote_and_splits_ties():
    bid = np.array([[99.0, 99.5, 99.5], [99.0, 99.5, 99.5]])
    ask = np.array([[101.0, 100.7, 100.5], [100.5, 100.5, 100.5]])
    fill = art.route_order(np.array([1, -1]), np.array([5, 6]), bid, ask)
    # side +1 (the makers buy): highest bid, tie between makers 1 and 2; 5 splits 2.5 + 2.5
    np.testing.assert_array_equal(fill[0], [0.0, 2.5, 2.5])
    # side -1 (the makers sell): lowest ask, three-way tie
    np.testing.assert_array_equal(fill[1], [2.0, 2.0, 2.0])
    fill = art.route_order(np.array([-1]), np.array([7]), bid[:1], ask[:1])
    np.testing.assert_array_equal(fill[0], [0.0, 0.0, 7.0])


def test_a_strictly_better_quote_gets_all_the_flow():
    run = art.compete([MarketMaker(0.5, 0.0, 0.01), MarketMaker(0.4, 0.0, 0.01)], seed=3, num_steps=150)
    assert run.inventory.shape == (2, 151) and run.fills.shape == (2, 150)
    np.testing.assert_array_equal(run.fills[1], run.sizes)
    np.testing.assert_array_equal(run.fills[0], 0.0)
    np.testing.assert_array_equal(run.inventory[0], 0.0)
    # the loser only pays its (zero-inventory) penalty: nothing
    np.testing.assert_array_equal(run.profits[0], 0.0)


def test_identical_makers_split_evenly():
    run = art.compete([MarketMaker(), MarketMaker()], seed=4)
    np.testing.assert_array_equal(run.fills[0], run.fills[1])
    np.testing.assert_array_equal(run.fills[0], run.sizes / 2)
    np.testing.assert_array_equal(run.inventory[0], run.inventory[1])
    np.testing.assert_array_equal(run.inventory.sum(axis=0), art.simulate(seed=4).inventory)


def test_one_maker_in_a_list_is_the_article():
    single = art.simulate(seed=6)
    listed = art.compete([MarketMaker(0.5, 0.1, 0.01)], seed=6)
    for name in ("prices", "profits", "bid", "ask", "inventory"):
        assert np.array_equal(getattr(listed, name)[0] if name != "prices" else listed.prices,
                              getattr(single, name)), name


def test_each_maker_has_its_own_quotes_and_utility():
    makers = [MarketMaker(0.5, 0.1, 0.01), MarketMaker(0.3, 0.05, 0.002)]
    run = art.compete(makers, seed=8, num_steps=60)
    for i, m in enumerate(makers):
        bid, ask = m.quotes(run.prices[:-1], run.inventory[i, :-1])
        np.testing.assert_array_equal(run.bid[i], bid)
        np.testing.assert_array_equal(run.ask[i], ask)
        np.testing.assert_array_equal(run.profits[i], m.utility(ask - bid, run.fills[i], run.inventory[i, 1:]))
    np.testing.assert_array_equal(run.fills.sum(axis=0), run.sizes)


def test_batch_competition_has_run_and_maker_axes():
    seeds = [1, 2]
    batch = art.compete([MarketMaker(), MarketMaker(0.5, 0.05)], seed=seeds, num_steps=40)
    assert batch.inventory.shape == (2, 2, 41) and batch.prices.shape == (2, 41)
    one = art.compete([MarketMaker(), MarketMaker(0.5, 0.05)], seed=2, num_steps=40)
    assert np.array_equal(batch[1].inventory, one.inventory)


# ---------------------------------------------------------------------------------------
# Extension 3: traders reacting to recent prices
# ---------------------------------------------------------------------------------------

def test_zero_strength_is_the_random_side_exactly():
    base = art.simulate(kappa=0.1, seed=5)
    for flow in (TrendFlow(0.0, 4), TrendFlow.momentum(0.0, 4), TrendFlow.contrarian(0.0)):
        assert np.array_equal(art.simulate(kappa=0.1, seed=5, flow=flow).sides, base.sides)
    assert TrendFlow(0.0).prob_up(np.array([[100.0, 120.0]]))[0] == 0.5


def test_trend_flow_probability_is_logistic_in_the_recent_change():
    prices = np.array([[100.0, 101.0, 103.0, 102.0]])
    flow = TrendFlow(0.7, lookback=2)
    assert flow.prob_up(prices)[0] == pytest.approx(1 / (1 + math.exp(-0.7 * (102.0 - 101.0))))
    assert TrendFlow(0.7, lookback=10).prob_up(prices)[0] == pytest.approx(1 / (1 + math.exp(-0.7 * 2.0)))
    assert TrendFlow.contrarian(0.7, 2).prob_up(prices)[0] == pytest.approx(1 / (1 + math.exp(0.7)))
    assert np.isfinite(TrendFlow(1e6).prob_up(np.array([[0.0, -5.0]]))).all()


def _z_side_follows_change(run, lookback):
    """z-score of P(side = sign(P_t − P_{t−L})) against ½, computed directly."""
    P, sides = run.prices, run.sides
    N = sides.shape[-1]
    change = P[:, :N] - P[:, np.maximum(np.arange(N) - lookback, 0)]
    m = change != 0
    hits = (sides == np.sign(change))[m]
    return (hits.mean() - 0.5) / math.sqrt(0.25 / hits.size)


@pytest.mark.parametrize("strength, sign", [(0.5, 1), (-0.5, -1), (0.0, 0)])
def test_momentum_and_contrarian_flows_have_the_right_sign(strength, sign):
    run = art.simulate_batch(kappa=0.1, n_runs=100, seed=0, flow=TrendFlow(strength, 5))
    z = _z_side_follows_change(run, 5)
    from hjbsolve.article.report import side_return_agreement

    assert side_return_agreement(run, 5)[1] == pytest.approx(z)
    if sign == 0:
        assert abs(z) < 3
    else:
        assert sign * z > 10


def test_momentum_widens_and_contrarian_narrows_the_inventory():
    sd = {s: art.simulate_batch(kappa=0.1, n_runs=300, flow=TrendFlow(s, 5)).inventory[:, -1].std()
          for s in (-0.5, 0.0, 0.5)}
    assert sd[-0.5] < 0.8 * sd[0.0] and sd[0.5] > 1.5 * sd[0.0]


def test_a_flow_returning_a_bad_probability_is_reported():
    class Broken:
        def prob_up(self, prices):
            return 1.5

    with pytest.raises(ValueError, match="prob_up"):
        art.simulate(flow=Broken())


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(num_steps=0), "num_steps"), (dict(num_steps=2.5), "num_steps"), (dict(num_steps=True), "num_steps"),
    (dict(spread_base=-0.1), "spread_base"), (dict(gamma=-1.0), "gamma"), (dict(kappa=-0.01), "kappa"),
    (dict(lambda_inv=-1e-3), "lambda_inv"), (dict(P_0=0.0), "P_0"), (dict(P_0=float("nan")), "P_0"),
    (dict(P_0=float("inf")), "P_0"), (dict(P_0="100"), "P_0"), (dict(seed=-1), "seed"),
    (dict(seed=1.0), "seed"), (dict(seed=[1, 2]), "seed"), (dict(beta=-0.5), "beta"),
])
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name) as err:
        art.simulate(**kwargs)
    value = next(iter(kwargs.values()))
    if not isinstance(value, list):
        assert repr(value) in str(err.value) or str(float(value)) in str(err.value)


@pytest.mark.parametrize("make, name", [
    (lambda: MarketMaker(gamma=-0.1), "gamma"),
    (lambda: TrendFlow(float("nan")), "strength"),
    (lambda: TrendFlow(1.0, lookback=0), "lookback"),
    (lambda: TrendFlow.momentum(-1.0), "strength"),
    (lambda: art.compete([]), "makers"),
    (lambda: art.compete([MarketMaker(), "mm"]), r"makers\[1\]"),
    (lambda: art.compete(MarketMaker()), "makers"),
    (lambda: art.simulate_batch(), "seeds"),
    (lambda: art.simulate_batch(seeds=[1], n_runs=2), "n_runs"),
    (lambda: art.simulate_batch(n_runs=0), "n_runs"),
    (lambda: art.simulate_batch(seeds=[0, -3]), r"seeds\[1\]"),
    (lambda: art.simulate_batch(seeds=[]), "seeds"),
    (lambda: art.get_scenario(5), "scenario"),
    (lambda: art.get_scenario("nope"), "scenario"),
    (lambda: art.simulate_market(MarketMaker(), impact=3.0), "impact"),
    (lambda: art.simulate_market(MarketMaker(), flow=object()), "flow"),
])
def test_bad_components_are_named(make, name):
    with pytest.raises(ValueError, match=name):
        make()


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------

def test_plots_return_axes_and_refuse_batches():
    run = art.simulate(num_steps=30)
    for plot in (art.plot_quotes, art.plot_inventory, art.plot_utility):
        ax = plot(run)
        assert ax.lines
    assert len(art.plot_scenario(run, "t").axes) == 3
    with pytest.raises(ValueError, match="single run"):
        art.plot_quotes(art.simulate_batch(n_runs=2, num_steps=5))


def test_report_writes_figures_and_summary(tmp_path):
    path = art.write_article_report(tmp_path / "out", seed=0, n_seeds=40)
    assert path == tmp_path / "out" / "article_summary.md"
    text = path.read_text()
    for key in "abcde":
        assert f"**({key})" in text
    pngs = [f"article_scenario{k}.png" for k in (1, 2, 3, 4)] + [
        f"article_ext_{x}.png" for x in ("impact", "competition", "flow")]
    for name in pngs:
        data = (tmp_path / "out" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
        assert name in text
    assert "548.5" in text  # scenario 3's final utility on seed 0
    # the summary opens the report and the article's symbols are defined before their first use
    assert [line for line in text.splitlines() if line.startswith("## ")][0] == "## Summary"
    for sym in ("κ", "γ", "λ"):
        assert text.index(sym) > text.index("Symbols of the article's model"), sym


def test_summary_lines_follow_the_verdicts():
    from hjbsolve.article.report import SYMBOLS, Check, summary_lines

    checks = [Check("a", "Statement A.", "agree", "long", {}, "numbers A"),
              Check("b", "Statement B.", "partly", "long", {}, "numbers B"),
              Check("c", "Statement C.", "agree, reading x", "long", {}, "numbers C")]
    lines = summary_lines(checks, 40)
    text = "\n".join(lines)
    assert lines[0] == "## Summary" and SYMBOLS in text
    assert "**What agreed** (2 of 3)" in text and "**What did not, or only partly** (1 of 3)" in text
    agreed, other = text.split("**What did not")
    assert "(a) Statement A. *agree*: numbers A." in agreed and "(c)" in agreed and "(b)" not in agreed
    assert "(b) Statement B. *partly*: numbers B." in other
    assert text.index(SYMBOLS) < text.index("* (a)")
    assert "unrelated to the Fodra–Labadie model" in SYMBOLS
