"""Mutation check of the numerical core: small, meaningful bugs that the tests must catch.

Each mutation replaces an exact snippet of the package's source (sign flips, 1 % factors, dropped
terms, broken interpolation, off-by-one inventory limits, wrong conditional laws, estimators
without their controls) and names the tests expected to kill it. The mutations are applied one
at a time to a temporary copy of the package (the work tree is never edited), and only the
listed tests run (``pytest -x -q`` with a timeout). The report gives killed/survived and the kill
rate; the target is every mutation killed, and the list grows whenever a bug is found.

Usage::

    python benchmarks/mutations.py            # every mutation
    python benchmarks/mutations.py --fast     # the CI-friendly subset (MUTATION.fast)
    python benchmarks/mutations.py --list     # print the list and the killing tests
    python benchmarks/mutations.py --only bridge-ignores-endpoint mc-ignores-q0

Numba caches: the copy keeps the work tree's compiled caches (so unmutated kernels load), and
drops the caches of the mutated module and of every module that imports from it (numba does not
track a kernel's dependencies: an inlined helper changed in another file would go unnoticed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hjbsolve"

MC = "tests/test_montecarlo.py::"
REG = "tests/test_regimes.py::"
ACC = "tests/test_accuracy.py::"
MA = "tests/test_multiasset_mc.py::"
EXP = "tests/test_expansion.py::"
SOL = "tests/test_solver.py::"


@dataclass(frozen=True)
class Mutation:
    """One small bug: ``edits`` are ``(file under hjbsolve/, exact original snippet, replacement)``;
    the snippet must occur exactly once in its file. ``tests`` are pytest node ids expected to kill it."""

    name: str
    description: str
    edits: tuple
    tests: tuple
    fast: bool = False


MUTATIONS = (
    # ------------------------------------------------------------------ Solution queries
    Mutation("solution-no-time-interpolation", "Solution values taken at the earlier stored time (no interpolation in t)",
             (("solution.py", "return interpolate(self._table(r), self.t, self.s, ORDER_T, ORDER_S, t, s, qi)",
               "return interpolate(self._table(r), self.t, self.s, ORDER_T, ORDER_S, "
               "self.t[np.clip(np.searchsorted(self.t, t, side='right') - 1, 0, self.t.size - 1)], s, qi)"),),
             (ACC + "test_error_estimates_are_close_to_the_measured_errors",), fast=True),
    Mutation("solution-linear-in-time", "Solution tables interpolated linearly in t instead of cubically",
             (("solution.py", "ORDER_T = 3", "ORDER_T = 1"),),
             (ACC + "test_error_estimates_are_close_to_the_measured_errors",
              ACC + "test_issue_cases_are_accurate_at_every_time")),
    Mutation("stencil-off-centre", "numpy Lagrange stencil shifted one node to the left (one-sided everywhere)",
             (("interpolation.py", "start = np.clip(j - (m // 2 - 1), 0, n - m).astype(np.int64)",
               "start = np.clip(j - (m // 2), 0, n - m).astype(np.int64)"),),
             ("tests/test_kernels.py::test_grid_quotes_twins", ACC + "test_issue_cases_are_accurate_at_every_time")),
    Mutation("stencil-weights-skewed", "compiled Lagrange weights perturbed by 1e-6 (do not sum to 1)",
             (("interpolation.py", "        w[a] = p\n", "        w[a] = p * (1.0 + 1e-6 * a)\n"),),
             ("tests/test_kernels.py::test_grid_quotes_twins",
              "tests/test_kernels.py::test_lagrange_stencils_reproduce_polynomials_of_their_degree")),
    # ------------------------------------------------------------------ the Hamiltonian and quotes
    Mutation("ask-marginal-sign", "p⁺ = Δ − (h_q − h_{q−1}) (sign flip of the ask's marginal value)",
             (("hamiltonian.py", "return Delta + h_q - h_qm1", "return Delta - h_q + h_qm1"),),
             (ACC + "test_unequal_decays_against_radau", SOL + "test_eps0_brownian_reproduces_eq9"), fast=True),
    Mutation("bid-marginal-drift-sign", "p⁻ = +Δ + h_q − h_{q+1} (sign of Δ on the bid)",
             (("hamiltonian.py", "return -Delta + h_q - h_qp1", "return Delta + h_q - h_qp1"),),
             (SOL + "test_eps0_ou_reproduces_eq9", EXP + "test_asymmetric_order0_is_exact_vs_expm")),
    Mutation("hamiltonian-sign", "maximised jump term H = −o λ* (sign flip; the closed forms' C± and the "
             "solver's numpy twin use it, the compiled solver has its own edge terms)",
             (("hamiltonian.py", "return offset * optimal_intensity(p, log_rate, k, alpha, offset)",
               "return -offset * optimal_intensity(p, log_rate, k, alpha, offset)"),),
             ("tests/test_kernels.py::test_ros2_step_twins", EXP + "test_asymmetric_order0_is_exact_vs_expm")),
    Mutation("kernel-bid-hamiltonian-sign", "compiled solver: the bid's optimal term H = o⁻λ subtracted",
             (("solver/_kernels.py", "    F[j - 1] += ob * lam_b\n", "    F[j - 1] -= ob * lam_b\n"),),
             ("tests/test_kernels.py::test_ros2_step_twins", ACC + "test_unequal_decays_against_radau")),
    Mutation("kernel-equal-k-rate-1pct", "compiled solver (k⁺ = k⁻ branch): fill rates exp(−1.01 k p)",
             (("solver/_kernels.py", "e = math.exp(-ka * (h[j] - h[j - 1]))", "e = math.exp(-1.01 * ka * (h[j] - h[j - 1]))"),),
             (ACC + "test_issue_cases_are_accurate_at_every_time",)),
    Mutation("kernel-jacobian-half", "compiled solver: the ask's Jacobian diagonal halved (Rosenbrock W-method)",
             (("solver/_kernels.py", "    diag[j] -= lam_a\n", "    diag[j] -= 0.5 * lam_a\n"),),
             (SOL + "test_brownian_time_error_is_second_order", "tests/test_kernels.py::test_ros2_step_twins")),
    Mutation("quote-cost-sign", "δ* = 1/k − α + p (sign of the transaction cost)",
             (("hamiltonian.py", "    return offset + alpha + p\n", "    return offset - alpha + p\n"),),
             (ACC + "test_unequal_decays_against_radau",)),
    Mutation("fill-intensity-1pct", "fill intensity exp(ℓ − 1.01 k δ)",
             (("hamiltonian.py", "return np.exp(log_rate - k * delta)", "return np.exp(log_rate - 1.01 * k * delta)"),),
             (MC + "test_fill_counts_are_poisson", MC + "test_constant_spread_value_closed_form")),
    Mutation("fixed-side-cost-sign", "policy evaluation (numpy twin) books δ + α per fill instead of δ − α",
             (("hamiltonian.py", "return np.where(quoted, lam * (d - alpha - p), 0.0), -lam",
               "return np.where(quoted, lam * (d + alpha - p), 0.0), -lam"),),
             ("tests/test_kernels.py::test_ros2_step_twins",)),
    Mutation("fixed-side-cost-sign-kernel", "policy evaluation (compiled) books δ + α per fill instead of δ − α",
             (("hamiltonian.py", "    return lam * (delta - alpha - p), -lam", "    return lam * (delta + alpha - p), -lam"),),
             ("tests/test_kernels.py::test_ros2_step_twins",      # compiled vs numpy twin: seconds
              MC + "test_simulation_from_an_inventory_and_off_mean_price_matches_policy_evaluation",
              MC + "test_constant_spread_matches_policy_evaluation")),
    # ------------------------------------------------------------------ inventory limits
    Mutation("bid-limit-off-by-one", "bid not quoted one inventory below the bound (numpy and compiled rule)",
             (("grid.py", "    return np.asarray(j) < n - 1\n", "    return np.asarray(j) < n - 2\n"),
              ("grid.py", "def bid_quoted_nb(j, n):\n    return j < n - 1", "def bid_quoted_nb(j, n):\n    return j < n - 2")),
             (MC + "test_inventory_limits_respected", "tests/test_grid.py::test_inventory_axis_index_and_the_limit_rule"),
             fast=True),
    Mutation("ask-limit-off-by-one-kernel", "ask not quoted one inventory above −Q in the compiled rule only",
             (("grid.py", "def ask_quoted_nb(j, n):\n    return j > 0", "def ask_quoted_nb(j, n):\n    return j > 1"),),
             (MC + "test_inventory_limits_respected",)),
    # ------------------------------------------------------------------ prices
    Mutation("ou-diffusion-1pct", "price generator's diffusion σ²/2 → 1.01 σ²/2 (OU finite differences)",
             (("prices.py", "dif = 0.5 * sig2 / ds**2", "dif = 0.505 * sig2 / ds**2"),),
             ("tests/test_ou_reference.py::test_fd_goldens_are_within_their_stated_accuracy",
              "tests/test_golden.py::test_golden_values"), fast=True),
    Mutation("brownian-drift-sign", "Brownian drift enters with the wrong sign",
             (("prices.py", "return 0.0, self.drift, self.sigma", "return 0.0, -self.drift, self.sigma"),),
             (ACC + "test_drifted_brownian_eps0_is_the_closed_form",)),
    Mutation("brownian-delta-1pct", "drifted Brownian Δ = b(T − t) 1 % too large (closed forms)",
             (("prices.py", "return self.drift_at(s) * self._phi1(tau)", "return 1.01 * self.drift_at(s) * self._phi1(tau)"),),
             (EXP + "test_asymmetric_order0_is_exact_vs_expm",)),
    Mutation("ou-delta-1pct", "OU Δ = (μ − s)(1 − e^{−a(T−t)}) 1 % too large",
             (("prices.py", "return (self.mu - np.asarray(s, dtype=float)) * (-np.expm1(-self.a * tau))",
               "return 1.01 * (self.mu - np.asarray(s, dtype=float)) * (-np.expm1(-self.a * tau))"),),
             (SOL + "test_eps0_ou_reproduces_eq9",)),
    # ------------------------------------------------------------------ closed forms
    Mutation("theta0-nu-term-0.5pct", "Brownian θ₀¹: the ν σ² τ²/2 term 0.5 % too large",
             (("expansion.py", "return (-su * (p0 * tau + 0.5 * p1 * tau**2)",
               "return (-su * (p0 * tau + 0.5 * 1.005 * p1 * tau**2)"),),
             (EXP + "test_value_error_is_order_eps_squared_vs_expm",), fast=True),
    Mutation("penalty-eta-1pct", "expansion's terminal penalty η z 1 % too large",
             (("expansion.py", "p0, p1, scale = [r.eta * r.z for r in models]",
               "p0, p1, scale = [1.01 * r.eta * r.z for r in models]"),),
             (EXP + "test_asymmetric_order1_error_is_order_eps_squared_vs_expm",
              EXP + "test_value_error_is_order_eps_squared_vs_expm")),
    # ------------------------------------------------------------------ finite differences, accuracy control
    Mutation("extrapolation-midpoint-at-start", "ROS2x under a policy: the quotes of the middle of the step taken at its start",
             (("solver/operators.py", "t_mid = 0.5 * (t_from + t_to)", "t_mid = t_from"),),
             (SOL + "test_automatic_evaluation_of_a_time_dependent_policy_against_radau",)),
    Mutation("extrapolation-void-half-steps", "fused ROS2x kernel: the two half steps do nothing",
             (("solver/_kernels.py", "    half = 0.5 * dtau\n", "    half = 0.0 * dtau\n"),),
             (SOL + "test_extrapolated_jumps_are_third_order",
              "tests/test_kernels.py::test_extrapolated_ros2_kernel_is_the_combination_of_numpy_steps")),
    Mutation("extrapolation-weight-1pct", "fused ROS2x kernel: extrapolation weight 4/3.03 instead of 4/3",
             (("solver/_kernels.py", "line[j] = (line[j] - one[j]) * (4.0 / 3.0) + one[j]",
               "line[j] = (line[j] - one[j]) * (4.0 / 3.03) + one[j]"),),
             ("tests/test_kernels.py::test_extrapolated_ros2_kernel_is_the_combination_of_numpy_steps",)),
    Mutation("state-outer-half-step-0.4", "strang-sx: the first state stage covers 0.6 of the step instead of 0.5",
             (("solver/schemes.py", "return ((n_ops - 1, 1.0, 0.5),) + inner", "return ((n_ops - 1, 1.0, 0.4),) + inner"),),
             (SOL + "test_time_convergence_order_ou[strang-sx]",)),
    Mutation("estimate-quote-error-halved", "compiled error reduction: quote differences halved",
             (("solver/_estimates.py", "            x = abs(d[c] - d[c - 1])", "            x = 0.5 * abs(d[c] - d[c - 1])"),),
             ("tests/test_kernels.py::test_error_estimate_kernels_match_numpy_twins",
              ACC + "test_error_estimates_are_close_to_the_measured_errors")),
    Mutation("value-error-estimate-div10", "reported value_error_estimate divided by 10",
             (("solver/api.py", "value_error_estimate=float(total[1])", "value_error_estimate=float(total[1]) / 10"),),
             (ACC + "test_error_estimates_are_close_to_the_measured_errors",), fast=True),
    Mutation("error-estimate-x0.6", "reported quote error_estimate 40 % too small",
             (("solver/api.py", "info.update(error_estimate=float(total[0])", "info.update(error_estimate=0.6 * float(total[0])"),),
             (ACC + "test_error_estimates_are_close_to_the_measured_errors",), fast=True),
    Mutation("error-control-x0.6", "the automatic control's estimate 40 % too small (fewer steps, reported low)",
             (("solver/api.py", "total = sum(est.values())", "total = 0.6 * sum(est.values())"),),
             (ACC + "test_error_estimates_are_close_to_the_measured_errors",)),
    # ------------------------------------------------------------------ Monte Carlo market
    Mutation("bridge-ignores-endpoint", "fill-time price drawn from the marginal law (both engines)",
             (("_mc_kernels.py", "return m1 + rho2 * v1 / vt * (y - my) + math.sqrt(v1 * v2 / vt) * zn",
               "return m1 + math.sqrt(v1) * zn"),
              ("_mc_kernels.py", "m1 + rho2 * v1 / safe * (y - my) + np.sqrt(v1 * v2 / safe) * zn, m1)",
               "m1 + np.sqrt(v1) * zn, m1)")),
             (MC + "test_bridge_has_the_law_conditional_on_its_endpoint",
              MC + "test_fill_prices_are_consistent_with_the_grid_prices"), fast=True),
    Mutation("bridge-marginal-variance", "compiled bridge keeps the conditional mean but the marginal variance",
             (("_mc_kernels.py", "return m1 + rho2 * v1 / vt * (y - my) + math.sqrt(v1 * v2 / vt) * zn",
               "return m1 + rho2 * v1 / vt * (y - my) + math.sqrt(v1) * zn"),),
             (MC + "test_bridge_has_the_law_conditional_on_its_endpoint",)),
    Mutation("mc-ignores-q0", "simulation always starts flat (q0 ignored)",
             (("montecarlo.py", "par = (n_steps, model.T, a, c0, sig2, chol, s0v, q0v, regime0,",
               "par = (n_steps, model.T, a, c0, sig2, chol, s0v, 0 * q0v, regime0,"),),
             (MC + "test_simulation_from_an_inventory_and_off_mean_price_matches_policy_evaluation",), fast=True),
    Mutation("kernel-transition-std-1pct", "compiled grid-time price transition 1 % too volatile",
             (("_mc_kernels.py", "            std_dt[r, m] = math.sqrt(_var(a, sig2[r, m], dt))",
               "            std_dt[r, m] = 1.01 * math.sqrt(_var(a, sig2[r, m], dt))"),),
             (MC + "test_numpy_twin_matches_kernel", MC + "test_price_transition_is_exact")),
    Mutation("kernel-running-penalty-1pct", "compiled objective's running penalty 1 % too small",
             (("_mc_kernels.py", "                    obj -= phi[rr, m, l] * pen_r[j, rr, m, l]",
               "                    obj -= 0.99 * phi[rr, m, l] * pen_r[j, rr, m, l]"),),
             (MC + "test_numpy_twin_matches_kernel",)),
    Mutation("kernel-ask-cost-sign", "compiled engine books an ask fill at S + δ + α",
             (("_mc_kernels.py", "x += Su[bm] + dq[bm, 0] - alpha", "x += Su[bm] + dq[bm, 0] + alpha"),),
             (MC + "test_numpy_twin_matches_kernel", MC + "test_constant_spread_value_closed_form")),
    Mutation("mc-assets-uncorrelated", "several assets: the price noise drawn without the correlation",
             (("montecarlo.py", "np.ascontiguousarray(np.linalg.cholesky(corr)))",
               "np.eye(corr.shape[0]))"),),
             (MA + "test_price_increments_have_the_covariance_and_drift",
              MA + "test_optimal_policy_matches_the_exact_value"), fast=True),
    # ------------------------------------------------------------------ Monte Carlo with a regime chain
    Mutation("regime-holding-rate-of-old-state", "a regime's holding time drawn with the rate of the state left",
             (("_mc_kernels.py", "    return j, _holding(key, c + 1, j, t, rates), c + 2",
               "    return j, _holding(key, c + 1, r, t, rates), c + 2"),
              ("_mc_kernels.py", "    return j, _holding_np(key, c + 1, j, t, rates), c + 2",
               "    return j, _holding_np(key, c + 1, r, t, rates), c + 2")),
             (REG + "test_mc_regime_chain_and_piecewise_volatility_are_exact",), fast=True),
    Mutation("kernel-regime-volatility-ignored-in-step", "compiled grid-time transition uses the step's first σ "
             "across a regime jump",
             (("_mc_kernels.py", "                    std = math.sqrt(_var_ahead(t0, t1, r, t_sw, c4, k4, rates, cump, a, sig2T[m]))",
               "                    std = std_dt[r, m]"),),
             (MC + "test_numpy_twin_matches_kernel", REG + "test_mc_regime_chain_and_piecewise_volatility_are_exact")),
    Mutation("kernel-terminal-penalty-of-regime0", "compiled objective's terminal penalty always regime 0's",
             (("_mc_kernels.py", "                obj -= varpi[r, m, l] * q[m] * q[l]",
               "                obj -= varpi[0, m, l] * q[m] * q[l]"),),
             (MC + "test_numpy_twin_matches_kernel",)),
    # ------------------------------------------------------------------ estimators
    Mutation("ou-controls-dropped", "the OU control variates (SD, W, WD, WT) left out of the 'control' estimator",
             (("montecarlo.py", "cols = [0, 1, 2, 3] + ([4, 5, 6, 7] if mean_reverting else [])", "cols = [0, 1, 2, 3]"),),
             (MC + "test_variance_reduction",), fast=True),
    Mutation("compensated-without-price-control", "'compensated' subtracts G only (not the price martingale S)",
             (("montecarlo.py", "return y - self.controls[:, 0] - self.controls[:, 1]", "return y - self.controls[:, 0]"),),
             (MC + "test_variance_reduction",)),
    Mutation("control-fitted-in-sample", "control coefficients fitted on the paths they correct (biased)",
             (("montecarlo.py", "fit, use = fold != f, fold == f", "fit, use = fold == f, fold == f"),),
             (MC + "test_control_coefficients_come_from_the_other_half", MC + "test_constant_spread_value_closed_form")),
)


# ----------------------------------------------------------------------------- machinery
def _module_of(path: str) -> str:
    return path[:-3].replace("/", ".")


def _dependents(files: set[str]) -> set[str]:
    """Package files (relative to hjbsolve/) importing, directly or not, from ``files``."""
    pkg = ROOT / PACKAGE
    sources = {str(p.relative_to(pkg)): p.read_text() for p in pkg.rglob("*.py")}
    out = set(files)
    while True:
        mods = {_module_of(f).split(".")[-1] for f in out}
        new = {f for f, text in sources.items() if f not in out
               and any(re.search(rf"from \.+(\w+\.)?{m} import", text) for m in mods)}
        if not new:
            return out
        out |= new


def apply(mutation: Mutation, pkg: Path) -> None:
    """Apply ``mutation`` to the package copy at ``pkg``; ``ValueError`` if a snippet is not unique."""
    for rel, old, new in mutation.edits:
        path = pkg / rel
        text = path.read_text()
        n = text.count(old)
        if n != 1:
            raise ValueError(f"{mutation.name}: the snippet occurs {n} times in {rel}: {old!r}")
        path.write_text(text.replace(old, new))


def check(mutations=MUTATIONS) -> list[str]:
    """Problems with the list: snippets not found exactly once, unknown test files or functions."""
    problems = []
    for m in mutations:
        for rel, old, _ in m.edits:
            n = (ROOT / PACKAGE / rel).read_text().count(old)
            if n != 1:
                problems.append(f"{m.name}: snippet found {n} times in {rel}")
        for node in m.tests:
            file, _, func = node.partition("::")
            func = func.split("[")[0]         # a parametrized test: the function's name
            path = ROOT / file
            if not path.exists() or (func and not re.search(rf"^def {re.escape(func)}\(", path.read_text(), re.M)):
                problems.append(f"{m.name}: no test {node}")
    names = [m.name for m in mutations]
    problems += [f"duplicate name {n}" for n in set(names) if names.count(n) > 1]
    return problems


def run_one(mutation: Mutation, workdir: Path, timeout: float) -> tuple[str, float, str]:
    """``(status, seconds, last output line)``; status ``killed``, ``survived`` or ``timeout``."""
    dest = workdir / mutation.name
    shutil.copytree(ROOT / PACKAGE, dest / PACKAGE, copy_function=shutil.copy2)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    apply(mutation, dest / PACKAGE)
    for rel in _dependents({e[0] for e in mutation.edits}):
        stem = Path(rel)
        for cached in (dest / PACKAGE / stem.parent / "__pycache__").glob(f"{stem.stem}.*.nb[ic]"):
            cached.unlink()
    env = os.environ | {"PYTHONPATH": str(dest), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *mutation.tests]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0, f"no result in {timeout:g} s"
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    status = "survived" if proc.returncode == 0 else "killed"
    if proc.returncode not in (0, 1):          # collection or usage error: the mutation broke import, say so
        status = "killed"
    return status, time.perf_counter() - t0, lines[-1] if lines else proc.stderr.strip()[-200:]


#: Where a full or ``--fast`` run records its result (read by the validation report).
RECORD = ROOT / "benchmarks" / "mutations-result.json"


def record(results, fast: bool) -> None:
    """Write the kill rate, the commit it was measured at and every mutation's status to :data:`RECORD`."""
    import datetime
    import json

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", PACKAGE], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    killed = sum(s != "survived" for _, s in results)
    RECORD.write_text(json.dumps({
        "date": datetime.date.today().isoformat(), "commit": commit + ("+changes" if dirty else ""),
        "mode": "fast" if fast else "full", "killed": killed, "total": len(results),
        "mutations": [{"name": m.name, "status": s, "tests": list(m.tests)} for m, s in results]}, indent=1) + "\n")
    print(f"recorded in {RECORD.relative_to(ROOT)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fast", action="store_true", help="only the CI subset")
    p.add_argument("--list", action="store_true", help="print the mutations and their killing tests")
    p.add_argument("--check", action="store_true", help="check that every snippet and test exists, run nothing")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run these mutations")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per mutation (default 600)")
    args = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if (not args.fast or m.fast) and (not args.only or m.name in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name}{' [fast]' if m.fast else ''}: {m.description}")
            for t in m.tests:
                print(f"    {t}")
        print(f"{len(chosen)} mutations ({sum(m.fast for m in chosen)} in --fast)")
        return 0
    problems = check(chosen)
    if problems or args.check:
        print("\n".join(problems) or f"{len(chosen)} mutations: every snippet and test found")
        return 1 if problems else 0
    results = []
    with tempfile.TemporaryDirectory(prefix="hjbsolve-mutations-") as tmp:
        for m in chosen:
            status, secs, last = run_one(m, Path(tmp), args.timeout)
            results.append((m, status))
            print(f"{status:>8}  {secs:6.1f} s  {m.name}: {last}", flush=True)
    killed = sum(s != "survived" for _, s in results)
    print(f"\nkill rate: {killed}/{len(results)} = {killed / max(1, len(results)):.0%}")
    if not args.only:
        record(results, fast=args.fast)
    survivors = [m.name for m, s in results if s == "survived"]
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
