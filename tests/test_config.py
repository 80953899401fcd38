"""One configuration schema for the Python API, the parameter files and the command line; defaults a
newcomer can trust (the model's initial price s0, the default s_range); the compact solution file."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import hjbsolve as hs
import hjbsolve.solver
from hjbsolve.cli import build_parser, main
from hjbsolve.config import SCHEMA, load_config, markdown_table

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")   # small bounds keep the tests fast


def _file(tmp_path, text):
    p = tmp_path / "params.toml"
    p.write_text(text)
    return p


def _keys(section):
    return {k.name for k in SCHEMA if k.section == section}


# ----------------------------------------------------------------------------- one schema
def test_schema_keys_are_the_python_names():
    """[model] = the Model fields, [price] = the price fields and kind, [solve] = every option of hs.solve
    (except the two that are command-line flags or for debugging), [regimes] = the fields of hs.Regimes
    and the keyword arguments of its diffusion factors (hs.Regimes.factor)."""
    assert _keys("model") == {f.name for f in dataclasses.fields(hs.Model)} - {"price", "regimes"}
    factor_args = set(inspect.signature(hs.Regimes.ou_factor).parameters) | {"factor"}
    assert set(inspect.signature(hs.Regimes.cir_factor).parameters) | {"factor"} == factor_args
    assert _keys("regimes") == {f.name for f in dataclasses.fields(hs.Regimes)} | factor_args
    assert _keys("price") == {"kind"} | {f.name for c in (hs.Brownian, hs.OrnsteinUhlenbeck)
                                         for f in dataclasses.fields(c)}
    assert _keys("solve") == set(inspect.signature(hs.solve).parameters) - {"model", "progress", "compiled"}
    # [assets]: the MultiAssetModel fields that are per asset (the exact solve refuses OU prices)
    from hjbsolve.config import ASSETS_MODEL_KEYS

    # (+ s0: the initial mid-prices of hjbsolve simulate, not a model field)
    assert _keys("assets") | set(ASSETS_MODEL_KEYS) == \
        {f.name for f in dataclasses.fields(hs.MultiAssetModel)} - {"mean_reversion", "mu"} | {"s0"}


def test_readme_documents_every_key():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_readme_parameter_file_loads(tmp_path):
    text = (ROOT / "README.md").read_text()
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = load_config(_file(tmp_path, block))
    assert cfg.model.price == hs.Brownian(0.3) and cfg.model.s0 == 100.0 and cfg.model.eps == 0.01
    assert (cfg.model.A_plus, cfg.model.A_minus) == (950.0, 1050.0) and cfg.solve == {"tol": 1e-4}


@pytest.mark.parametrize("text, match", [
    ("[solve]\ns_range = 5\n", r"\[solve\] s_range = 5: must be \[low, high\] pair of numbers"),
    ("[solve]\ns_range = [1.0, 2.0, 3.0]\n", r"\[solve\] s_range = \[1\.0, 2\.0, 3\.0\]: must be"),
    ("[report]\nq = 5\n", r"\[report\] q = 5: must be list of integers"),
    ("[report]\nq = [\"a\"]\n", r"\[report\] q = \[\"a\"\]: must be list of integers"),
    ("[report]\nq = [0.5, 1]\n", r"\[report\] q = \[0\.5, 1\]: must be list of integers"),
    ("[report]\nq = []\n", r"\[report\] q = \[\]: must be list of integers"),
    ("[report]\ns0 = 3000.0\n", r"unknown key\(s\) \['s0'\] in \[report\].*now \[model\] s0"),
    ("[model]\ns0 = \"3000\"\n", r"\[model\] s0 = \"3000\": must be number"),
    ("[model]\nA = [1.0, 2.0, 3.0]\n", r"\[model\] A = .*: must be number or \[ask, bid\] pair"),
    ("[price]\nsigma = true\n", r"\[price\] sigma = true: must be number"),
    ("[solve]\nq_max = 100.0\n", r"\[solve\] q_max = 100\.0: must be integer"),
    ("[solve]\ntol = \"small\"\n", r"\[solve\] tol = \"small\": must be number"),
    ("[solve]\nscheme = \"rk4\"\n", r"\[solve\] scheme = \"rk4\": must be one of 'strang'"),
    ("[solve]\nmethod = \"mc\"\n", r"\[solve\] method = \"mc\": must be one of 'fd', 'expm'"),
    ("[solve]\nt_eval = [0.5, \"x\"]\n", r"\[solve\] t_eval = .*: must be list of numbers"),
    ("solve = 3\n", r"unknown section\(s\) \['solve'\]|\[solve\] must be a table"),
    ("[model]\nT = 0.0\n", "T must be > 0"),
    ("[report]\nt = 5.0\n", r"\[report\] t = 5\.0: must lie in \[0, T\] = \[0, 1\]"),
    ("[report]\nq = [1, 100000000000]\n", r"\[report\] q = \[1, 100000000000\]: inventories must satisfy \|q\| <= 500000"),
])
def test_types_are_checked_with_a_named_value_error(tmp_path, capsys, text, match):
    p = _file(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        load_config(p)
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hjbsolve: error:") and err.count("\n") == 1 and re.search(match, err)


class _Stop(Exception):
    pass


def _capture(monkeypatch):
    """Replace ``hs.solve`` as the command line sees it by a recorder that stops the command."""
    seen = {}

    def record(model, **kw):
        seen.update(kw, model=model)
        raise _Stop

    monkeypatch.setattr(hjbsolve.solver, "solve", record)
    return seen


ALL_SOLVE = ('[solve]\nq_max = 30\ns_range = [2999.5, 3000.5]\ntol = 1e-3\nvalue_rtol = 1e-4\n'
             't_eval = [0.25, 0.5]\nn_steps = 40\nds = 0.2\nscheme = "lie"\nmethod = "fd"\n')


@pytest.mark.parametrize("command", ["solve", "simulate"])
def test_every_solve_option_of_the_file_is_passed_through(tmp_path, monkeypatch, command):
    seen = _capture(monkeypatch)
    with pytest.raises(_Stop):
        main([command, str(_file(tmp_path, ALL_SOLVE)), "--out", str(tmp_path / "o"), "--no-progress"])
    assert {k: seen[k] for k in ("q_max", "s_range", "tol", "value_rtol", "t_eval", "n_steps", "ds", "scheme",
                                 "method")} == dict(q_max=30, s_range=(2999.5, 3000.5), tol=1e-3, value_rtol=1e-4,
                                                    t_eval=[0.25, 0.5], n_steps=40, ds=0.2, scheme="lie",
                                                    method="fd")


def test_command_line_q_max_overrides_the_file(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    with pytest.raises(_Stop):
        main(["solve", str(_file(tmp_path, ALL_SOLVE)), "--q-max", "12", "--out", str(tmp_path), "--no-progress"])
    assert seen["q_max"] == 12


def test_simulate_defaults_cover_every_simulated_day(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    with pytest.raises(_Stop):
        main(["simulate", "--paths", "500", "--out", str(tmp_path), "--no-progress"])
    m = hs.paper_model("ou")
    assert seen["s_range"] == hs.price_range(m, 3000.0, 500)
    assert (seen["q_max"], seen["tol"], seen["value_rtol"]) == (hs.solver.default_q_max(m, seen["s_range"]), 1e-4, 1e-5)


def test_no_reported_inventory_inside_the_bound_is_refused_before_solving(tmp_path, monkeypatch, capsys):
    _capture(monkeypatch)
    p = _file(tmp_path, "[solve]\nq_max = 10\n[report]\nq = [50, -60]\n")
    assert main(["solve", str(p), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "no inventory with |q| < q_max=10" in capsys.readouterr().err


# ----------------------------------------------------------------------------- dependent settings
@pytest.mark.parametrize("text, match", [
    ("[price]\na = 5.0\nsigma = 1.0\n", r"must give all of \['a', 'mu', 'sigma'\] \(missing \['mu'\]\)"),
    ("[price]\nkind = \"ou\"\nmu = 100.0\n", r"missing \['a', 'sigma'\]"),
    ("[price]\nkind = \"brownian\"\n", r"missing \['sigma'\]"),
    ("[price]\na = 5.0\nmu = 3009.0\nsigma = 1.0\n", r"\[model\] s0 .* is required with an OU \[price\]"),
    ("[price]\nkind = \"ou\"\na = 1.0\nmu = 10.0\nsigma = 0.1\ndrift = 1.0\n[model]\ns0 = 10.0\n",
     r"unknown price parameter\(s\) \['drift'\]"),
])
def test_a_price_table_is_complete(tmp_path, text, match):
    """A changed a or sigma never silently runs with the paper's mu = 3009 and s0 = 3000."""
    with pytest.raises(ValueError, match=match):
        load_config(_file(tmp_path, text))


def test_a_complete_price_table_with_s0_is_used_as_given(tmp_path):
    cfg = load_config(_file(tmp_path, "[price]\na = 5.0\nmu = 100.0\nsigma = 1.0\n[model]\ns0 = 99.0\nA = [900, 1100]\n"))
    assert cfg.model.price == hs.OrnsteinUhlenbeck(a=5.0, mu=100.0, sigma=1.0)
    assert cfg.model.s0 == cfg.s0 == 99.0 and cfg.model.A == (900.0, 1100.0)
    lo, hi = hs.solver.default_s_range(cfg.model)
    assert lo < 99.0 < hi and hi < 102.0            # around s0 and E[S_T], not the paper's 3009
    b = load_config(_file(tmp_path, "[price]\nkind = \"brownian\"\nsigma = 0.3\n")).model
    assert b.price == hs.Brownian(0.3) and b.s0 == 3000.0   # a Brownian problem does not depend on s0


# ----------------------------------------------------------------------------- the initial price s0
def test_model_s0_round_trips_and_old_dicts_still_load():
    m = hs.paper_model("ou")
    assert m.s0 == hs.PAPER_S0 == 3000.0 and hs.paper_model("brownian").s0 == 3000.0
    assert hs.Model.from_dict(m.to_dict()).s0 == 3000.0
    assert m.replace(s0=2990.0).s0 == 2990.0 and m.replace(s0=2990.0).to_dict()["s0"] == 2990.0
    old = {k: v for k, v in m.to_dict().items() if k != "s0"}    # a dict written before s0 existed
    assert hs.Model.from_dict(old).s0 is None and hs.Model.from_dict(old) == m   # s0 is not part of the problem
    with pytest.raises(ValueError, match="s0 must be a real number, got '3000'"):
        m.replace(s0="3000")
    with pytest.raises(ValueError, match="s0 must be finite"):
        m.replace(s0=float("nan"))


def test_default_s_range_covers_the_initial_price():
    m = hs.paper_model("ou")
    lo, hi = hs.solver.default_s_range(m)
    e_T = float(m.price.mean(3000.0, m.T))
    sd = float(np.sqrt(m.price.variance(m.T)))
    assert (lo, hi) == pytest.approx((3000.0 - 2 * sd, e_T + 2 * sd))
    assert hs.solver.default_s_range(m.replace(s0=None)) == pytest.approx((3009 - 4.4721, 3009 + 4.4721), abs=1e-3)
    flat = m.replace(price=hs.OrnsteinUhlenbeck(a=1.0, mu=3000.0, sigma=0.0))   # the price does not move
    assert hs.solver.default_s_range(flat) == (2999.0, 3001.0)
    with pytest.raises(ValueError, match="s_range is required"):
        hs.Brownian(0.5).default_s_range(1.0)


def test_a_default_solve_answers_at_the_papers_s0():
    """hs.solve(paper OU) without s_range answers at S0 = 3000 (before: only on mu ± 4 sd = (3004.5, 3013.5))."""
    sol = hs.solve(hs.paper_model("ou"), q_max=20, n_steps=20, compiled=False)
    assert sol.s_range == pytest.approx(hs.solver.default_s_range(hs.paper_model("ou")))
    ask, bid = sol.quotes(0.0, 0, 3000.0)
    assert np.isfinite(ask) and np.isfinite(bid)


# ----------------------------------------------------------------------------- the solution file
def test_compact_file_answers_within_the_solves_accuracy(tmp_path):
    m = hs.paper_model("ou")
    sol = hs.solve(m, q_max=20, tol=1e-3, value_rtol=1e-4)
    full = sol.save(tmp_path / "full.npz")
    small = sol.save(tmp_path / "small.npz", compact=True)
    assert small.stat().st_size * 5 < full.stat().st_size
    r = hs.Solution.load(small)
    assert r.q_max == 11 and r.t.size == (sol.t.size + 1) // 2 and r.s.size == (sol.s.size + 1) // 2
    assert r.s_range == sol.s_range and "|q| <= 11 (the solve's bound: 20)" in r.info["stored"]
    rng = np.random.default_rng(0)
    t, s, q = rng.uniform(0, m.T, 300), rng.uniform(*sol.s_range, 300), rng.integers(-10, 11, 300)
    assert np.max(np.abs(np.subtract(r.quotes(t, q, s), sol.quotes(t, q, s)))) <= sol.info["error_estimate"]
    v = sol.value(t, q, s)
    assert np.max(np.abs(r.value(t, q, s) - v) / np.maximum(1, np.abs(v))) <= sol.info["value_error_estimate"]


def test_compact_keeps_the_times_of_a_fixed_step_solve(tmp_path):
    sol = hs.solve(hs.paper_model("brownian"), q_max=10, n_steps=10, t_eval=[0.33])
    r = hs.Solution.load(sol.save(tmp_path / "f.npz", compact=True))
    np.testing.assert_array_equal(r.t, sol.t)
    assert r.q_max == 6
    np.testing.assert_array_equal(r.quotes(0.33, np.arange(-5, 6), 3000.0), sol.quotes(0.33, np.arange(-5, 6), 3000.0))
    with pytest.raises(ValueError, match="compact must be True or False"):
        sol.save(tmp_path / "g.npz", compact="yes")


def test_solve_command_writes_a_compact_file_unless_full(tmp_path, capsys):
    p = _file(tmp_path, '[price]\nkind = "brownian"\nsigma = 0.3\n[solve]\nq_max = 40\n[report]\nq = [-5, 0, 5]\n')
    assert main(["solve", str(p), "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "--full: the whole grid" in out and "MB" in out
    assert hs.Solution.load(tmp_path / "c" / "solution.npz").q_max == 21
    assert main(["solve", str(p), "--full", "--out", str(tmp_path / "f"), "--no-progress"]) == 0
    assert hs.Solution.load(tmp_path / "f" / "solution.npz").q_max == 40


# ----------------------------------------------------------------------------- help
def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("command", ["solve", "simulate", "paper", "validate", "article"])
def test_every_option_has_help_and_its_default(command):
    sub = _subparsers()[command]
    for a in sub._actions:
        if a.dest == "help":
            continue
        assert a.help, f"{command} {a.option_strings or a.dest} has no help"
        takes_value = a.nargs != 0
        if takes_value and a.option_strings:
            assert "default" in a.help, f"{command} {a.option_strings} does not say its default"
    has_file = any(a.dest == "params" for a in sub._actions)
    assert has_file == (command in ("solve", "simulate"))
    if not has_file:
        assert "takes no parameter file" in sub.description


# ----------------------------------------------------------------------------- [regimes]
def _readme_toml(i):
    return (ROOT / "README.md").read_text().split("```toml\n")[i + 1].split("```", 1)[0]


REGIMES_BASE = '[price]\nkind = "brownian"\nsigma = 0.3\n[model]\nA = 200.0\nk = 1.5\nz = 0.1\neps = 0.01\n'


def test_regimes_table_builds_the_chain(tmp_path):
    cfg = load_config(_file(tmp_path, _readme_toml(1)))
    chain = hs.Regimes(generator=[[-2.0, 2.0], [5.0, -5.0]], z=[0.1, 0.4], sigma=[0.3, 1.0], A_plus=[200.0, 80.0],
                       names=["calm", "stressed"])
    assert cfg.model == hs.Model(price=hs.Brownian(0.3), A=200.0, k=1.5, z=0.1, T=1.0, eps=0.01, alpha=0.02,
                                 regimes=chain)
    factor = load_config(_file(tmp_path, REGIMES_BASE + '[regimes]\nfactor = "cir"\nfield = ["A_plus", "A_minus"]\n'
                                          'mean = 150.0\nreversion = 2.0\nvol = 4.0\nn = 5\nwidth_sd = 2.0\n'))
    assert factor.model.regimes == hs.Regimes.cir_factor(("A_plus", "A_minus"), mean=150.0, reversion=2.0, vol=4.0,
                                                         n=5, width_sd=2.0)


@pytest.mark.parametrize("text, match", [
    ("[regimes]\ngenerator = 5\n", r"\[regimes\] generator = 5: must be list of n lists of n numbers"),
    ("[regimes]\ngenerator = [[-1.0, \"a\"]]\n", r"\[regimes\] generator = .*: must be list of n lists"),
    ("[regimes]\ngenerator = [[0.0]]\nz = \"x\"\n", r"\[regimes\] z = \"x\": must be list of n numbers"),
    ("[regimes]\ngenerator = [[0.0]]\nnames = [1]\n", r"\[regimes\] names = \[1\]: must be list of n strings"),
    ("[regimes]\nfactor = \"gbm\"\n", r"\[regimes\] factor = \"gbm\": must be one of 'ou', 'cir'"),
    ("[regimes]\nfactor = \"ou\"\nfield = \"vol\"\n", r"\[regimes\] field = \"vol\": must be one of 'z', 'sigma'"),
    ("[regimes]\nn = 3.0\n", r"\[regimes\] n = 3\.0: must be integer"),
    ("[regimes]\nq = 3\n", r"unknown key\(s\) \['q'\] in \[regimes\]"),
    # the chain's own checks, the table named
    ("[regimes]\ngenerator = [[-2.0, 2.0], [5.0, -5.0]]\nz = [0.1]\n",
     r"\[regimes\] z must have one value per regime \(2\), got 1: \[0\.1\]"),
    ("[regimes]\ngenerator = [[-2.0, 2.0], [5.0, -4.0]]\n", r"\[regimes\] row 1 of the generator sums to 1\.0"),
    ("[regimes]\ngenerator = [[-2.0, 2.0], [5.0, -5.0]]\nk_plus = [1.0, 0.0]\n", r"\[regimes\] k_plus\[1\] must be > 0"),
    ("[regimes]\nz = [0.1, 0.2]\n", r"\[regimes\] generator .* is required, or a diffusion factor"),
    ("[regimes]\nfactor = \"ou\"\nfield = \"z\"\nmean = 0.2\n", r"\[regimes\] factor = \"ou\" needs \['reversion', 'vol', 'n'\]"),
    ("[regimes]\nfactor = \"ou\"\nfield = \"z\"\nmean = 0.2\nreversion = 1.0\nvol = 0.1\nn = 3\nz = [1.0, 2.0, 3.0]\n",
     r"\[regimes\] with factor = \.\.\. takes \['factor', .*got also \['z'\]"),
    ("[regimes]\nfactor = \"ou\"\nfield = \"sigma\"\nmean = 0.1\nreversion = 1.0\nvol = 0.5\nn = 3\n",
     r"\[regimes\] grid: the nodes are the values of sigma, which must be >= 0"),
    ("[regimes]\nfactor = \"cir\"\nfield = \"z\"\nmean = 0.2\nreversion = 1.0\nvol = 0.1\nn = 99\n",
     r"\[regimes\] n \(the number of regimes of the factor\) must be an integer in \[2, 64\], got 99"),
])
def test_regimes_errors_name_the_table_key_and_value(tmp_path, capsys, text, match):
    p = _file(tmp_path, REGIMES_BASE + text)
    with pytest.raises(ValueError, match=match):
        load_config(p)
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_solve_command_reports_every_regime(tmp_path, capsys):
    """The printed quotes and values of each regime are those of the solution the command wrote
    (the numbers themselves are checked against Radau in tests/test_regimes.py); simulate takes
    the chain and the starting regime (by name or index; a bad one is refused before any work)."""
    p = _file(tmp_path, REGIMES_BASE + '[regimes]\nfactor = "ou"\nfield = "z"\nmean = 0.2\nreversion = 1.0\n'
                                      'vol = 0.05\nn = 3\n[solve]\nq_max = 30\ntol = 1e-4\n[report]\nq = [-3, 0, 3]\n')
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    sol = hs.Solution.load(tmp_path / "o" / "solution.npz")
    chain = sol.model.regimes
    assert chain.names == ("z=0.09393", "z=0.2", "z=0.3061") and (tmp_path / "o" / "quotes_vs_q.png").is_file()
    assert "3 market regimes" in out and "ε⁰" not in out
    pi = chain.stationary()
    for r, name in enumerate(chain.names):
        dp, dm = sol.quotes(0.0, [-3, 0, 3], 3000.0, regime=r)
        v = sol.value(0.0, [-3, 0, 3], 3000.0, regime=r)
        assert f"{name:>8} {pi[r]:6.3f} |    -3 | {dp[0]:10.6f} {dm[0]:10.6f} {dp[0] + dm[0]:10.6f} | {v[0]:12.6f}" in out
        assert f"|     3 | {dp[2]:10.6f} {dm[2]:10.6f} {dp[2] + dm[2]:10.6f} | {v[2]:12.6f}" in out
    sim = ["simulate", str(p), "--out", str(tmp_path / "s"), "--no-progress", "--policy", "constant", "--paths", "50",
           "--steps", "20"]
    assert main(sim + ["--regime0", "z=0.3061"]) == 0
    out = capsys.readouterr().out
    assert "regimes: started in 'z=0.3061'; mean fraction of the day in each:" in out
    res = hs.SimulationResult.load(tmp_path / "s" / "simulation.npz")
    assert res.settings["regime0"] == 2 and np.isclose(res.regime_occupancy.sum(), 1.0)
    assert main(sim + ["--regime0", "1"]) == 0 and "started in 'z=0.2'" in capsys.readouterr().out
    assert main(sim + ["--regime0", "7"]) == 2 and "regime" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("block, words", [(1, ("2 market regimes", "stressed")),
                                          (2, ("2 assets", "(5, -3)"))], ids=["regimes", "assets"])
def test_readme_example_files_run_as_pasted(tmp_path, capsys, block, words):
    """The README's [regimes] file (default q_max = 100; about 10 s) and [assets] file (each asset's
    default bound, expm; about 5 s, with iso_risk.png) through ``hjbsolve solve``."""
    assert main(["solve", str(_file(tmp_path, _readme_toml(block))), "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert all(w in out for w in words)
    assert (tmp_path / "iso_risk.png").is_file() == (block == 2)



# ----------------------------------------------------------------------------- [assets]
ASSETS_BASE = '[assets]\nA = [12.0, 8.0]\nk = 1.2\nz = [0.2, 0.35]\ncov = [[0.25, 0.1], [0.1, 0.64]]\n'


def test_assets_table_builds_the_multi_asset_model(tmp_path):
    """The README's [assets] file is the MultiAssetModel it describes ([model] eps, the paper's T, η, ν),
    with its solve options and inventory vectors; alpha defaults to 0 and the reported inventories to 0
    and ±5 along each asset."""
    cfg = load_config(_file(tmp_path, _readme_toml(2)))
    assert cfg.multi_asset and cfg.s0 == (0.0, 0.0)       # no [assets] s0: the days start at 0
    assert cfg.model == hs.MultiAssetModel(A=[100.0, 60.0], k=1.2, z=[0.2, 0.35], alpha=[0.01, -0.01],
                                           drift=[0.05, -0.1], cov=[[0.25, 0.24], [0.24, 0.64]], T=1.0,
                                           eps=0.01, eta=1.0, nu=1.0)
    assert cfg.solve == {"method": "expm"} and cfg.q == [[0, 0], [5, -3], [-4, 4]]
    bare = load_config(_file(tmp_path, ASSETS_BASE + '[solve]\nq_max = [6, 4]\n'))
    assert bare.model.alpha == (0.0, 0.0) and bare.solve["q_max"] == [6, 4]
    assert bare.q == [[0, 0], [5, 0], [-5, 0], [0, 5], [0, -5]]


@pytest.mark.parametrize("text, match", [
    ("[assets]\nA = [1.0, 2.0]\n", r"\[assets\] must give \['cov', 'k', 'z'\]"),
    (ASSETS_BASE + "[price]\nkind = \"brownian\"\nsigma = 0.3\n", r"\[assets\] .* cannot be combined with \[price\]"),
    (ASSETS_BASE + "[model]\nA = 5.0\n", r"\[model\] A = 5\.0: with \[assets\] the per-asset values go in"),
    (ASSETS_BASE + "Omega = [[1.0, 2.0], [2.0, 1.0]]\n", r"\[assets\] Omega must be positive semi-definite"),
    (ASSETS_BASE.replace("[0.25, 0.1]", "[0.25, 0.9]"), r"\[assets\] cov must be symmetric"),
    (ASSETS_BASE.replace("z = [0.2, 0.35]", "z = [0.2, 0.35, 0.1]"), r"\[assets\] z must be a number or one entry "
                                                                      r"per asset \(M=2"),
    (ASSETS_BASE.replace("k = 1.2", "k = \"fast\""), r"\[assets\] k = \"fast\": must be number, or list of M"),
    (ASSETS_BASE + "cov2 = 1.0\n", r"unknown key\(s\) \['cov2'\] in \[assets\]"),
    (ASSETS_BASE + "[solve]\nq_max = [5, 5, 5]\n", r"\[solve\] q_max = \[5, 5, 5\]: must be one integer, or one per "
                                                   r"asset \(M = 2\)"),
    ("[solve]\nq_max = [5, 5]\n", r"\[solve\] q_max = \[5, 5\]: must be integer \(one bound per asset only"),
    (ASSETS_BASE + "[report]\nq = [0, 1]\n", r"\[report\] q = \[0, 1\]: with \[assets\] each entry is an inventory "
                                             r"vector of M = 2"),
    ("[report]\nq = [[0, 1]]\n", r"\[report\] q = \[\[0, 1\]\]: must be list of integers \(inventory vectors only"),
    (ASSETS_BASE + "[solve]\nq_max = 3\n[report]\nq = [[3, 0]]\n", r"no inventory vector with \|q_i\| < q_max_i"),
])
def test_assets_errors_name_the_table_key_and_value(tmp_path, capsys, text, match):
    p = _file(tmp_path, text)
    if "no inventory vector" not in match:
        with pytest.raises(ValueError, match=match):
            load_config(p)
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_solve_command_with_assets_prints_and_saves_the_box(tmp_path, capsys):
    """The printed per-asset quotes are those of the saved solution (reloaded), next to the closed
    forms'; the compact file is the contract's box; two assets get iso_risk.png; simulate refuses."""
    p = _file(tmp_path, ASSETS_BASE + '[model]\neps = 0.01\n[solve]\nq_max = [8, 6]\nmethod = "expm"\n'
                                      '[report]\nq = [[0, 0], [2, -3], [9, 0]]\n')
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    sol = hs.Solution.load(tmp_path / "o" / "solution.npz")
    assert sol.q_max == (5, 4) and (tmp_path / "o" / "iso_risk.png").stat().st_size > 10_000
    assert "omitted" in out and "(9, 0)" not in out
    ex1 = hs.expansion(sol.model, 1)
    for q in ([0, 0], [2, -3]):
        a, b = sol.quotes(0.0, q, [0.0, 0.0])
        a1, b1 = ex1.quotes(0.0, q)
        line = f"{str(tuple(q)):>14} {0:>5d} | {a[0]:10.6f} {b[0]:10.6f} |"
        assert line in out, line
        assert f"| {a1[1]:10.6f} {b1[1]:10.6f} |" in out
    capsys.readouterr()
    assert main(["simulate", str(p), "--out", str(tmp_path / "s"), "--no-progress", "--paths", "200",
                 "--steps", "50"]) == 0                     # the Monte Carlo of the box, from the same file
    out = capsys.readouterr().out
    assert "2 assets" in out and "exact value" in out
