"""A regular (non-editable) install works without the source checkout: the validation subpackage
ships in the wheel, ``hjbsolve validate`` / ``hjbsolve paper`` find it, and the sweep's worker
processes import its tasks from the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, env=None, timeout=600):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources (the build writes ``build/`` and ``*.egg-info`` next to
    them): without build isolation first (offline; needs ``setuptools`` and ``wheel`` in this
    environment), else with it (pip fetches the build requirements of ``pyproject.toml``)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "hjbsolve", src / "hjbsolve",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    dist = tmp / "dist"
    logs = []
    for isolation in (["--no-build-isolation"], []):
        r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(dist), str(src)],
                 cwd=tmp, timeout=900)
        wheels = sorted(dist.glob("hjbsolve-*.whl"))
        if r.returncode == 0 and wheels:
            return wheels[-1]
        logs.append(f"pip wheel {' '.join(isolation)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    pytest.fail("could not build the wheel:\n" + "\n".join(logs))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(site, env, cwd)``: the wheel installed into ``site`` (``pip install --target``), an environment
    whose ``PYTHONPATH`` is ``site`` only, and a working directory outside the checkout."""
    tmp = tmp_path_factory.mktemp("packaging")
    wheel = _build_wheel(tmp)
    site = tmp / "site"
    r = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
             cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(site), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return site, env, cwd


@pytest.mark.slow
def test_wheel_ships_the_validation_subpackage(installed):
    site, _, _ = installed
    assert (site / "hjbsolve" / "validation" / "suite.py").exists()
    assert (site / "hjbsolve" / "validation" / "tasks.py").exists()
    assert not (site / "validation").exists()          # no stray top-level package


@pytest.mark.slow
def test_installed_package_imports_outside_the_checkout(installed):
    site, env, cwd = installed
    code = textwrap.dedent("""
        import hjbsolve, hjbsolve.cli, hjbsolve.sweep
        import hjbsolve.validation.suite, hjbsolve.validation.paper_section4, hjbsolve.validation.heuristic
        import hjbsolve.validation.tasks, hjbsolve.validation.mc_bias
        from hjbsolve.validation.suite import run_validation
        from hjbsolve.validation.paper_section4 import run_paper_section4
        print(hjbsolve.__file__)
        print(hjbsolve.validation.suite.__file__)
    """)
    r = _run([sys.executable, "-c", code], cwd=cwd, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    files = [Path(line) for line in r.stdout.split()]
    assert len(files) == 2
    for f in files:
        assert f.resolve().is_relative_to(site.resolve()), f"{f} is not the installed copy in {site}"
        assert not f.resolve().is_relative_to(ROOT.resolve())


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "paper"])
def test_cli_help_of_the_installed_package(installed, command):
    _, env, cwd = installed
    r = _run([sys.executable, "-m", "hjbsolve.cli", command, "--help"], cwd=cwd, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "--out" in r.stdout and "usage: hjbsolve" in r.stdout


@pytest.mark.slow
def test_installed_tasks_run_in_spawned_workers(installed):
    """The suite's sweep on a process pool: the (spawned) workers import the tasks from the installed
    package, and the results equal a serial run."""
    site, env, cwd = installed
    code = textwrap.dedent("""
        import numpy as np
        import hjbsolve as hs
        from hjbsolve.sweep import SerialExecutor, default_executor, sweep
        from hjbsolve.validation.tasks import run_task

        m = hs.paper_model("brownian")
        params = [{"task": "expansion_errors", "model": m.replace(eps=e).to_dict(), "method": "exact",
                   "q_max": 40, "t": [0.0, 0.5], "q": [0, 5]} for e in (1e-4, 1e-3)]
        with default_executor(max_workers=2, threads_per_worker=1) as ex:
            pooled = sweep(run_task, params, executor=ex)
        serial = sweep(run_task, params, executor=SerialExecutor())
        for a, b in zip(pooled, serial):
            for order in ("exact", "order0", "order1"):
                for k in ("ask", "bid", "value"):
                    assert np.array_equal(a[order][k], b[order][k]), (order, k)
        import hjbsolve.validation.tasks as T
        print(T.__file__)
    """)
    r = _run([sys.executable, "-c", code], cwd=cwd, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Path(r.stdout.split()[-1]).resolve().is_relative_to(site.resolve())


@pytest.mark.slow
def test_installed_cli_solve_runs(installed, tmp_path):
    """``hjbsolve solve`` end to end from the installed package (a small Brownian parameter file);
    ``paper`` and ``validate`` run the same installed modules (imports and ``--help`` above; their
    numbers are tested from the checkout in ``test_paper_section4.py`` / ``test_validation.py``)."""
    _, env, cwd = installed
    params = tmp_path / "params.toml"
    params.write_text('[price]\nkind = "brownian"\nsigma = 0.3\n[solve]\nq_max = 40\n[report]\nq = [-5, 0, 5]\n')
    out = tmp_path / "solve"
    r = _run([sys.executable, "-m", "hjbsolve.cli", "solve", str(params), "--out", str(out), "--no-progress"],
             cwd=cwd, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / "solution.npz").exists() and (out / "quotes_vs_q.png").exists()


def test_the_montecarlo_benchmark_builds_its_policy_with_the_current_api():
    """The benchmark scripts are not run by CI (they time things); their setup code is, so an API
    change cannot break them silently (``Expansion.tabulate`` once lost ``n_t=`` and the script
    stopped running). The table it builds quotes what the expansion quotes at a grid node."""
    import importlib.util

    import numpy as np

    import hjbsolve as hs

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_montecarlo.py"
    spec = importlib.util.spec_from_file_location("bench_montecarlo", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    m = hs.paper_model("ou")
    pol = bench.build_policy(m, 3000.0, 100, "expansion")
    ask, bid = pol.quotes(0.0, np.array([-3, 0, 3]), 3000.0)
    ref_ask, ref_bid = hs.expansion(m, 1).quotes(0.0, np.array([-3, 0, 3]), 3000.0)
    assert np.allclose(ask, ref_ask, atol=1e-6) and np.allclose(bid, ref_bid, atol=1e-6)
