"""The README's first lines are the two commands a newcomer runs; CI runs the second one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```bash")
    return [l.split("   #")[0].split("  #")[0].strip() for l in lines[start + 1:start + 3]]


def test_readme_starts_with_install_and_run_commands():
    main_job, tests = _commands()
    assert "pip install" in main_job and "hjbsolve solve" in main_job
    assert "pip install" in tests and "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in [l.strip() for l in ci]


def _python_blocks():
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks, cur = [], None
    for line in lines:
        if cur is None and line.strip() == "```python":
            cur = []
        elif cur is not None and line.strip() == "```":
            blocks.append("\n".join(cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


@pytest.mark.slow
def test_readme_python_blocks_run_as_pasted(tmp_path):
    """Every ```python block of the README, in order, in one fresh interpreter (as a newcomer pastes
    them), outside the checkout. About a minute (an OU solve and a 2,000-path simulation)."""
    blocks = _python_blocks()
    assert len(blocks) >= 2
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n\n".join(blocks) + "\nprint('README blocks ran')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    env["MPLBACKEND"] = "Agg"
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "README blocks ran" in r.stdout


@pytest.mark.parametrize("name", ["quickstart", "expansion_accuracy", "paper_section4"])
def test_notebooks_are_committed_executed_with_figures(name):
    """Each notebook is stored with its outputs (readable on a repository page): every code cell ran,
    in order, without an error, and the figures are there as PNG images."""
    import json

    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
