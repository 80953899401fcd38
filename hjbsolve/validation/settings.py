"""Settings of the validation suite (quick and full) and the shared cases.

Every number here is a choice of *how much* to compute, never of what the answer is. The
inventory bounds and grids were checked by doubling (section 7 of the report measures the
dependence on each of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import hjbsolve as hs

__all__ = ["Settings", "S0", "OU_S_RANGE", "paper", "QUOTE_THRESHOLDS"]

#: The paper's initial mid-price (§4).
S0 = hs.PAPER_S0
#: Where OU answers are wanted in the expansion studies: around S0 (the solver pads it).
OU_S_RANGE = (S0 - 0.5, S0 + 0.5)
#: Thresholds of the error maps (relative errors).
QUOTE_THRESHOLDS = (0.01, 0.05, 0.10)


def paper(price: str = "ou", **changes) -> hs.Model:
    """The paper's §4 model (``hs.paper_model``) with changes."""
    return hs.paper_model(price, **changes)


def _logspace(lo, hi, n):
    return tuple(float(x) for x in np.logspace(lo, hi, n))


@dataclass(frozen=True)
class Settings:
    """How much the suite computes. ``Settings.make(quick)`` gives the two presets."""

    quick: bool
    # --- Brownian ε-scan (exact matrix-exponential reference), horizon T_max so that the
    #     (ε, T) map comes from the same solves (the problem depends on t only via T − t)
    br_eps: tuple = _logspace(-7, -1, 25)
    br_T_max: float = 10.0
    br_tau: tuple = _logspace(-2, 1, 25)             # times to maturity T − t
    br_q: tuple = tuple(range(-60, 61))
    br_alphas: tuple = (0.05, 0.0)
    # --- OU ε-scan (finite differences, ε = 0 reference on the same grids)
    ou_eps: tuple = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    ou_alphas: tuple = (0.05,)
    ou_q_max: int = 650
    ou_n_t: int = 26
    ou_q: tuple = tuple(range(-60, 61))
    ou_check_refined: bool = False                  # re-run the smallest ε on a refined grid
    # --- ε = 0 check
    eps0_br_q_max: int = 300
    eps0_ou_q_max: int = 700
    eps0_ou_s: tuple = (S0 - 1.5, S0 + 1.5)
    # --- collapse
    n_collapse_brownian: int = 30
    collapse_ou: tuple = ("paper_a1", "fast_mr", "few_fills")
    # --- convergence
    conv_br_steps: tuple = (25, 50, 100, 200, 400)
    conv_ou_steps: tuple = (50, 100, 200)
    conv_ou_ds: tuple = (0.24, 0.12, 0.06)
    conv_ou_ds_steps: int = 100
    conv_br_Q: tuple = (20, 40, 60, 80, 100, 140, 200, 300)
    conv_ou_Q: tuple = (100, 150, 200, 300)
    conv_ou_Q_ref: int = 450
    conv_ou_q_max: int = 300
    # --- value loss and Monte Carlo
    loss_cases: tuple = ("brownian", "brownian_eps1e-2", "ou")
    mc_paths: int = 2000
    mc_steps: int = 1000
    mc_q_max: int = 700
    mc_seed: int = 2024
    # --- several assets (section 10): exact expm on the box |q_i| <= ma_q_max, ε-scan of the closed forms
    ma_eps: tuple = (0.02, 0.01, 0.005)
    ma_eps_table: float = 0.01
    ma_q_max: int = 30
    # --- market regimes (section 11): every solve's bound and tol (quotes in 1/k, values relative),
    #     Monte Carlo size, the factor chains' sizes (odd: they share their central node)
    reg_q_max: int = 200
    reg_tol: float = 1e-6
    reg_mc_paths: int = 2000
    reg_mc_steps: int = 200
    reg_factor_n: tuple = (5, 9, 17)
    extra: dict = field(default_factory=dict)

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if quick:
            return cls(quick=True)
        return cls(
            quick=False,
            br_eps=_logspace(-7, -1, 49),
            br_tau=_logspace(-2, 1, 49),
            ou_eps=(2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2),
            ou_alphas=(0.05, 0.0),
            ou_n_t=51,
            ou_check_refined=True,
            eps0_ou_q_max=900,
            eps0_ou_s=(S0 - 3.0, S0 + 3.0),
            n_collapse_brownian=150,
            collapse_ou=("paper_a1", "fast_mr", "few_fills", "low_k", "long_T", "far_mean"),
            conv_ou_steps=(50, 100, 200, 400),
            conv_ou_ds=(0.24, 0.12, 0.06, 0.03),
            conv_ou_ds_steps=200,
            conv_br_Q=(20, 40, 60, 80, 100, 140, 200, 300, 400),
            conv_ou_Q=(100, 150, 200, 300, 400),
            conv_ou_Q_ref=600,
            loss_cases=("brownian", "brownian_eps1e-2", "brownian_rebate", "ou", "ou_alpha0", "ou_eps3e-4"),
            mc_paths=20000,
            ma_eps=(0.04, 0.02, 0.01, 0.005, 0.0025),
            ma_q_max=40,
            reg_mc_paths=20000,
            reg_factor_n=(5, 9, 17, 33),
        )
