"""`hjbsolve paper` end to end on a small run: figures, tables, claims and the bias table."""

from __future__ import annotations

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
