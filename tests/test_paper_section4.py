"""`hjbsolve paper` end to end on a small run: figures, tables, claims and the bias table."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_paper_section4_small_run(tmp_path):
    from hjbsolve.cli import main

    assert main(["paper", "--paths", "300", "--steps", "200", "--readings", "printed", "--tol", "1e-2",
                 "--out", str(tmp_path),
                 "--no-progress"]) == 0
    report = (tmp_path / "report.md").read_text()
    for fig in ("fig2_martingale_day", "fig3_ou_day", "fig4_minmax_inventory", "fig5_pnl_M_vs_OU",
                "fig6_pnl_eps", "fig7_pnl_alpha"):
        png = tmp_path / f"{fig}.png"
        assert png.stat().st_size > 5_000 and png.read_bytes()[:4] == b"\x89PNG"
        assert f"({fig}.png)" in report
    assert "Claims of §4" in report and "**agree**" in report
    assert "The simulator's bias against n_steps" in report and "| 1000 |" in report
    assert (tmp_path / "fig5_table.csv").exists()


# ----------------------------------------------------------------------------- the verdicts
def _run(q_min, q_max, ask, bid, s_min=(2990.0,), s_max=(3012.0,), mu=3009.0):
    """A stand-in for a SimulationResult: the fields the claims read."""
    from types import SimpleNamespace

    return SimpleNamespace(paths=SimpleNamespace(ask=np.array([ask]), bid=np.array([bid])),
                           q_min=np.asarray(q_min), q_max=np.asarray(q_max), s_min=np.asarray(s_min),
                           s_max=np.asarray(s_max), model=SimpleNamespace(price=SimpleNamespace(mu=mu)))


def _stats(mean, std, sharpe=None, **kw):
    base = dict(mean=mean, median=mean, std=std, sharpe=mean / std if sharpe is None else sharpe, skewness=0.0,
                kurtosis=3.0, **{"q0.01": mean - 2.3 * std, "q0.05": mean - 1.6 * std, "q0.95": mean + 1.6 * std,
                                 "q0.99": mean + 2.3 * std})
    return base | kw


def _agreeing():
    day = np.linspace(0.95, 1.05, 50)
    M = _run(np.full(100, -60), np.full(100, 60), day, day[::-1])
    OU = _run(np.full(100, -300), np.full(100, 450), 1.0 + np.sin(np.arange(50.0)), 1.0 + np.cos(np.arange(50.0)))
    tM = _stats(400.0, 10.0)
    tOU = _stats(460.0, 30.0, skewness=0.5, kurtosis=4.0) | {"q0.01": 350.0, "q0.05": 380.0}
    teps = {"eps=1e-4": _stats(470.0, 40.0), "eps=1e-3": _stats(460.0, 30.0), "eps=1e-2": _stats(440.0, 15.0)}
    talpha = {"a=0": _stats(460.0, 30.0), "a=0.1": _stats(440.0, 30.0) | {"q0.01": 391.0}}
    talpha["a=0.1"]["q0.01"] = talpha["a=0"]["q0.01"] - 0.5
    return M, OU, tM, tOU, teps, talpha


def _verdicts(M, OU, tM, tOU, teps, talpha):
    from hjbsolve.validation.paper_section4 import claims

    return {c: v for c, _, v in claims(M, OU, {}, {}, tM, tOU, teps, talpha)}


def test_each_verdict_follows_its_numbers():
    """Every claim agrees on numbers built to agree, and each one alone turns to disagree when its own
    numbers are changed (the others stay as they were; Fig. 4's "much bigger inventory risk" cannot
    flip alone: it follows from the two inventory ranges claimed before it)."""
    base = _verdicts(*_agreeing())
    assert len(base) == 13 and all(v.startswith("**agree**") for v in base.values()), base

    def flip(change, claim_start, expect="**disagree**"):
        args = list(_agreeing())
        change(*args)
        got = _verdicts(*args)
        changed = {c for c in got if got[c] != base[c]}
        assert len(changed) == 1 and next(iter(changed)).startswith(claim_start), changed
        assert got[next(iter(changed))].startswith(expect), got

    M, OU = 0, 1
    flip(lambda *a: a[M].paths.ask.__iadd__(0.5), "Fig. 2: martingale controls")
    flip(lambda *a: a[OU].s_max.__isub__(10.0), "Fig. 3: the mid-price")
    flip(lambda *a: (np.copyto(a[OU].paths.ask, 1.0), np.copyto(a[OU].paths.bid, 1.0)), "Fig. 3: OU controls")
    flip(lambda *a: a[M].q_max.__imul__(3), "Fig. 4: martingale inventory")
    flip(lambda *a: a[OU].q_min.__imul__(2), "Fig. 4: OU inventory")
    flip(lambda *a: a[2].update(mean=500.0, median=500.0, **{"q0.95": 520.0}), "Fig. 5: OU earns more")
    flip(lambda *a: a[3].update(kurtosis=2.0), "Fig. 5: OU is riskier", "**partly**")
    flip(lambda *a: a[4]["eps=1e-2"].update(std=35.0), "Fig. 6: as ε increases")
    flip(lambda *a: a[4]["eps=1e-2"].update(sharpe=0.1), "Fig. 6: the average daily gain")
    flip(lambda *a: a[5]["a=0.1"].update(mean=470.0, sharpe=20.0), "Fig. 7: higher α")
    flip(lambda *a: a[5]["a=0.1"].update(**{"q0.01": 380.0}), "Fig. 7: the shift")


# ----------------------------------------------------------------------------- the summary
def _sol_res(v, mc, se, rel=1e-5):
    from types import SimpleNamespace

    sol = SimpleNamespace(value=lambda t, q, s: v, info={"value_error_estimate": rel}, q_max=400)
    res = SimpleNamespace(estimate=lambda kind: (mc, se) if kind == "control" else (mc + 1.0, 2.0))
    return sol, res


def test_consistency_verdicts_follow_z():
    from hjbsolve.validation.paper_section4 import consistency_rows

    rows = consistency_rows([("martingale controls", *_sol_res(0.0, 420.0, 0.1)),
                             ("OU controls", *_sol_res(462.0, 462.01, 0.01)),
                             ("OU controls, ε = 0.01", *_sol_res(450.0, 450.5, 0.01))])
    assert [r["verdict"] for r in rows] == ["—", "agree", "DISAGREE"]
    assert rows[0]["z"] is None and abs(rows[1]["z"]) < 3 < abs(rows[2]["z"])


def test_report_summary_counts_the_claim_verdicts_and_marks_unconverged_readings():
    from hjbsolve.validation.paper_section4 import claims, consistency_rows, summary_lines

    M, OU, tM, tOU, teps, talpha = _agreeing()
    cl = claims(M, OU, {}, {}, tM, tOU, teps, talpha)
    OU.s_max -= 10.0                              # one claim (Fig. 3, crossing μ) now disagrees
    cl2 = claims(M, OU, {}, {}, tM, tOU, {}, {})
    cons = consistency_rows([("OU controls", *_sol_res(462.0, 462.01, 0.01))])
    lines = summary_lines({"printed": cl, "per-step": cl2}, {"printed": cons, "per-step": []})
    text = "\n".join(lines)
    assert lines[0] == "## Summary" and "**What was checked.**" in text
    assert f"{len(cl)} of {len(cl)} claims agree" in text
    n_ok = sum(v.startswith("**agree") for _, _, v in cl2)
    assert n_ok == len(cl2) - 1 and f"{n_ok} of {len(cl2)} claims agree" in text
    assert "* disagree: Fig. 3: the mid-price" in text
    assert "Reading 'per-step' — ⚠ NOT CONVERGED" in text and "Reading 'printed'." in text
    assert "1 of 1 runs agree within 3 standard errors" in text
    for sym in ("ε is the inventory risk aversion", "α the transaction cost", "δ⁺ and δ⁻", "μ = 3009"):
        assert sym in text
