"""The README's first lines are the two commands a newcomer runs; CI runs the second one."""

from pathlib import Path

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
