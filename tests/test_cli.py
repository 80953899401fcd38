"""The command line end to end, and parameter files."""

from __future__ import annotations

import re

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve.cli import main
from hjbsolve.config import load_config


def test_solve_command_writes_table_solution_and_plot(tmp_path, capsys):
    rc = main(["solve", "--out", str(tmp_path), "--no-progress"])   # the README's main job
    assert rc == 0
    out = capsys.readouterr().out
    assert "exact δ⁺" in out and "ε¹ δ⁺" in out
    sol = hs.Solution.load(tmp_path / "solution.npz")
    assert sol.model == hs.paper_model("ou") and sol.info["q_max"] == hs.solver.default_q_max(hs.paper_model("ou")) == 400
    assert sol.q_max == 201 and "--full: the whole grid" in out              # compact: |q| <= q_max/2 stored
    png = tmp_path / "quotes_vs_q.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the printed q = 0 exact quote is the solution's
    line = next(l for l in out.splitlines() if l.strip().startswith("0 |"))
    printed = float(line.split("|")[1].split()[0])
    assert printed == pytest.approx(float(sol.quotes(0.0, 0, 3000.0)[0]), abs=1e-6)


def test_solve_command_reads_a_parameter_file(tmp_path, capsys):
    p = tmp_path / "params.toml"
    p.write_text('[price]\nkind = "brownian"\nsigma = 0.3\n[model]\neps = 0.01\nalpha = -0.01\ns0 = 100.0\n'
                 '[solve]\nq_max = 50\n[report]\nq = [-5, 0, 5]\n')
    assert main(["solve", str(p), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert "quotes at t=0, s=100" in capsys.readouterr().out
    sol = hs.Solution.load(tmp_path / "o" / "solution.npz")
    assert sol.model.price == hs.Brownian(0.3) and sol.model.alpha == -0.01 and sol.info["q_max"] == 50
    assert sol.model.s0 == 100.0


@pytest.mark.parametrize("text,match", [
    ("[model]\ngamma = 1.0\n", r"unknown key\(s\) \['gamma'\] in \[model\]"),
    ("[modle]\nA = 1.0\n", r"unknown section\(s\) \['modle'\]"),
    ("[model]\nk = -1.0\n", "k must be > 0"),
    ("[model]\nA = \"many\"\n", r"\[model\] A = \"many\": must be number or \[ask, bid\] pair"),
    ("[price]\nkind = \"levy\"\n", r"\[price\] kind = \"levy\": must be \"ou\" or \"brownian\""),
    ("[solve]\nq_max = 0\n", "q_max must be >= 2"),
    ("[solve]\nq_max = 1\n", "q_max must be >= 2, got 1"),
    ("not toml [", "not valid TOML"),
])
def test_bad_parameter_files_are_clear_errors(tmp_path, capsys, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    rc = main(["solve", str(p), "--out", str(tmp_path), "--no-progress"])
    assert rc == 2
    assert re.search(match, capsys.readouterr().err)


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_default_config_is_the_paper():
    cfg = load_config(None)
    assert cfg.model == hs.paper_model("ou") and cfg.s0 == 3000.0


def test_article_command(tmp_path):
    assert main(["article", "--out", str(tmp_path), "--seeds", "50"]) == 0
    assert (tmp_path / "article_summary.md").exists()
    assert len(list(tmp_path.glob("*.png"))) >= 4


@pytest.mark.parametrize("error", [hs.NonFiniteError("the solver produced NaN at t=0.5"),
                                   ValueError("q_max must be >= 1, got 0")])
def test_solver_errors_end_as_one_line_and_exit_code_2(monkeypatch, tmp_path, capsys, error):
    """An error raised inside the solve (a NonFiniteError, a ValueError) is one line on stderr, exit code 2."""
    import hjbsolve.solver

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(hjbsolve.solver, "solve", failing)
    assert main(["solve", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hjbsolve: error:") and str(error) in err


@pytest.mark.parametrize("policy", ["skew", "order1"])
def test_simulate_command_reproduces_the_library_simulation(tmp_path, capsys, policy):
    """``hjbsolve simulate`` runs exactly ``hs.simulate`` (same seed, same numbers), prints the table
    with the control-variate mean, and writes the result file and the two figures."""
    rc = main(["simulate", "--policy", policy, "--paths", "300", "--steps", "200", "--seed", "5", "--no-progress",
               "--out", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    got = hs.SimulationResult.load(tmp_path / "simulation.npz")
    m = hs.paper_model("ou")
    pol = hs.InventorySkew(1.0, 0.01) if policy == "skew" else hs.expansion(m, order=1)
    ref = hs.simulate(m, pol, n_paths=300, n_steps=200, s0=3000.0, seed=5, progress=False, estimator="control")
    np.testing.assert_array_equal(got.objective, ref.objective)
    assert f"{ref.mean:.6g} ± {ref.stderr:.2g}" in text
    for png in ("day.png", "objective_density.png"):
        assert (tmp_path / png).stat().st_size > 10_000
