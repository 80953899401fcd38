"""Monte Carlo simulation of the controlled market, path by path (paper §4).

``simulate(model, policy)`` runs ``n_paths`` trading days of the market of
:mod:`hjbsolve.model` under a quoting policy and returns a :class:`SimulationResult`
with, per path, the objective ``X_T + Q_T S_T − ε(η z Q_T² + ν ∫ σ² Q² dt)``, the PnL
``X_T + Q_T S_T``, the intraday inventory range and the fill counts, plus estimators of
the expected objective with their standard errors.

The simulated market (exact; no Euler step, no cap on fills)
------------------------------------------------------------
* The mid-price is drawn at the grid times ``t_i = T i / n_steps`` from its exact Gaussian
  transition (``model.price.transition``), and at every fill time from the exact Gaussian
  bridge between the surrounding samples: a fill at ``τ`` executes at ``S_τ ± δ``.
* The market maker re-sets her quotes at every grid time and immediately after every
  fill, at the current ``(t, S_t, Q_t)``; between those instants the quotes, hence the fill
  intensities ``A e^{−k(z+δ)}``, are constant. Fills are the events of the two Poisson
  processes with these piecewise-constant intensities, simulated with their exact event
  times (modified next reaction method): any number of fills per side per step.
* ``∫ Q² dt`` is integrated exactly (``Q`` is constant between fills).
* Market regimes (``Model(..., regimes=chain)``, :class:`hjbsolve.regimes.Regimes`): the regime
  chain is simulated exactly — exponential holding times with the generator row's rate, the next
  state drawn with probabilities ``Q[r, j]/(−Q[r, r])`` — at its exact jump times within each
  step. Between events the market is the current regime's, read from the same compiled
  per-regime coefficients the solver reads (:class:`hjbsolve.coefficients.MarketCoefficients`):
  fills at ``A±_r e^{−k±_r(z_r+δ)}`` booking ``δ − α_r``, the running penalty ``φ_r = ε ν σ_r²``,
  and the price with volatility ``σ_r`` (Brownian or OU with the model's drift: a Gaussian
  process with piecewise-constant ``σ``, still drawn exactly); the terminal penalty is that of
  the regime at ``T`` (``ϖ_r = ε η z_r``, paper §3.1). The quotes are re-set at every jump.

* Several assets (:class:`hjbsolve.multiasset.MultiAssetModel`, paper §5): the same loop with an
  asset axis — ``M`` correlated Brownian prices with drifts (exact steps and bridges through the
  Cholesky factor of the correlation), ``2M`` fill clocks (total rate ``Σ_i (λ⁺_i + λ⁻_i)``), the
  limit rule along each axis, the objective ``X_T + Q_T·S_T − Q_T'Ω̃Q_T − ∫ Q'ΦQ dt`` with the
  solver's penalty forms. ``M = 1`` draws the same random numbers as one asset (bit for bit).

So for a given quoting rule the only approximation is that the rule is *applied* at grid
and fill times: the quotes are held over at most one grid step. For an optimal policy the
value lost is second order in the quote error (the objective is stationary at the optimum);
measured against ``n_steps`` (``validation/mc_bias.py``, paper's parameters) the bias of
the optimal policy's mean objective is below 2e-7 (absolute, on a value of 424) for a
Brownian price at every ``n_steps`` from 1 to 1000, and below the finite-difference
value's own accuracy (a few 1e-3 on 462) for the OU price.

Policies
--------
* With regimes, a multi-regime ``Solution`` (its optimal policy) and a
  :class:`~hjbsolve.policies.RegimePolicy` quote per regime; every other policy (a single table,
  ``ConstantSpread``, ``InventorySkew``, an expansion, a plain callable) is regime-blind: the
  same quotes in every regime.
* A :class:`~hjbsolve.policies.TabulatedPolicy`, or anything with a ``tabulate`` method
  (solutions, expansions, :class:`~hjbsolve.policies.ConstantSpread`), runs inside a compiled
  numba kernel, parallel over paths.
* Any other object with ``quotes(t, q, s) -> (δ⁺, δ⁻)`` runs through the numpy engine: the
  same market, vectorised across paths with a Python loop over steps (and over the fill
  rounds within a step), about 30 times slower. Its outputs are checked:
  each must be a float array of the shape of ``q`` with no NaN or ``−inf`` (``+inf`` = not
  quoted).
* A tabulated policy is defined only inside its table's price range, and a ``Solution``
  only inside the ``s_range`` it was solved for (its table's padding is where the solver's
  boundary conditions act). If any path leaves that range the simulation raises
  ``ValueError`` naming a range to solve with instead: it never extrapolates silently.
  :func:`price_range` gives a range that all ``n_paths`` paths stay in with probability
  ``≥ 1 − 10⁻⁶``; solve with ``s_range=price_range(model, s0, n_paths)``.

Random numbers
--------------
Each path has its own counter-based streams derived from ``(seed, path index)`` only
(:mod:`hjbsolve._mc_kernels`), so the same seed gives the same numbers whatever the
number of threads or the chunking, and the numpy engine reproduces the compiled one. The
grid-time prices use their own stream: two policies simulated with the same seed see the
same price paths (common random numbers).

Estimators
----------
``"plain"``
    The sample mean of the realised objectives.
``"compensated"``
    Each path's realised spread income ``Σ_fills (δ − α)`` is replaced by its compensator
    ``∫ [λ⁺(δ⁺ − α) + λ⁻(δ⁻ − α)] dt`` and each price increment of ``∫ Q dS`` between events
    by its conditional mean: the objective minus two martingales (controls ``G`` and ``S``),
    unbiased for every policy.
``"control"``
    The objective minus a linear combination of the martingale controls (``G``, ``S``,
    ``N_ask``, ``N_bid``; for an OU price also the price innovations weighted by
    ``Q e^{−a(T−t)}``, ``1``, ``e^{−a(T−t)}`` and ``T − t``), with coefficients fitted by
    least squares, cross-fitted over two halves of the paths (each half is corrected with
    the other half's coefficients, so the estimator stays unbiased). For an optimal policy
    this reproduces the value function's own martingale: each fill is worth exactly ``1/k``
    to ``X + v`` and ``∂_s v = Q`` (Brownian) or ``≈ Q e^{−a(T−t)} + ∂_s h`` (OU), so the
    variance collapses (by ~10¹³ for the Brownian optimum, ~10⁶ for the OU optimum; ~4·10³ for
    a constant spread on a Brownian price, only ~20 on an OU price).
"""

from __future__ import annotations

import json
import math
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
from scipy import stats as _stats
from tqdm import tqdm  # text bars (tqdm.auto warns in notebooks without ipywidgets)

from . import _mc_kernels as K
from ._validation import check_int, check_real
from .model import Model
from .grid import MAX_Q
from .multiasset import MultiAssetModel
from .policies import BoxPolicy, RegimePolicy, TabulatedPolicy, check_policy_assets, tabulate_policy
from .solution import Solution, _as_path, _check_time_axis, _load_model, _open_npz, _read_meta
from .solver.api import MAX_BYTES

__all__ = ["simulate", "SimulationResult", "RecordedPaths", "price_range", "pnl_statistics", "ESTIMATORS"]

ESTIMATORS = ("plain", "compensated", "control")
#: Tabulation of a policy that offers ``tabulate(model, t, s)`` (an expansion) for a
#: price-dependent (OU) model: at most this many times, and this many price nodes over
#: :func:`price_range`. The quotes are smooth in ``t`` and close to affine in ``s`` (``Δ`` is
#: affine in ``s``), and the tables are interpolated by cubics; pass your own
#: ``policy.tabulate(...)`` for other choices.
_TAB_NT_S = 201
#: Price nodes of such a table over :func:`price_range`.
_TAB_NS = 41
#: Fewest paths for the cross-fitted ``control`` estimator (4 × (controls + intercept + 1)).
_MIN_PATHS_CONTROL = 4 * (K.N_CONTROLS + 2)
#: Fills one path may take (expected from the policy's fastest quote, times this margin) before
#: it is stopped and the simulation refused: rates that cannot be simulated end in an error.
_EVENT_MARGIN = 20.0
#: Largest expected number of fills of one simulation (about an hour of compute).
MAX_EVENTS_TOTAL = 2e10
#: Most path-steps ``n_paths × n_steps`` of one simulation (about an hour of compute).
MAX_PATH_STEPS = 2e11
#: Cost model of a simulation (seconds, one busy core): per path-step and per fill, and the
#: longest estimated time accepted before any work starts (the caps bound time, not only size).
PATH_STEP_SECONDS, EVENT_SECONDS, MAX_SIM_SECONDS = 4e-7, 2e-7, 600.0
#: Fills (in seconds of compute, all paths) a table policy may take when its most aggressive quotes
#: (somewhere in its range) are too fast for a whole day but its start quotes are not.
RUNAWAY_SECONDS = 60.0
#: Cost of one round of the numpy engine (one fill per active path; measured 1.7 ms on 20 paths, 2 assets)
#: and its part per path: the budget of a plain ``quotes`` policy (:func:`_plain_policy_budget`).
NUMPY_ROUND_SECONDS, NUMPY_PATH_ROUND_SECONDS = 2e-3, 2e-7
#: Cost of one look at a pending regime jump (measured: 2 paths, 10 steps, rate 4e4 per unit time
#: took 10 s): a step holding ``j`` jumps costs about ``j²`` of them.
JUMP_SCAN_SECONDS = 3e-8
#: Float/int outputs kept per path, and per recorded path and grid time (memory estimate).
_PER_PATH = K.N_FOUT + K.N_IOUT + K.N_CONTROLS
_PER_RECORD = 6
ENGINES = ("auto", "numba", "numpy")


# ----------------------------------------------------------------------------- price reach
def price_range(model: Model, s0: float, n_paths: int = 10_000, prob: float = 1e-6) -> tuple[float, float]:
    """A mid-price interval that ``n_paths`` paths over ``[0, T]`` all stay in with probability ``≥ 1 − prob``.

    Use it as the ``s_range`` of a solution that is to be simulated
    (:meth:`hjbsolve.prices.Brownian.path_range` gives the construction). With market regimes:
    the union of every regime's range (a path whose ``σ`` switches between the regimes' values
    spreads no more than one at the largest ``σ``).

    Returns
    -------
    (lo, hi) : tuple of float
    """
    if not isinstance(model, Model):
        raise ValueError(f"model must be an hjbsolve.Model, got {type(model).__name__}")
    ranges = [m.price.path_range(s0, model.T, n_paths, prob) for m in model.regime_models()]
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


# ----------------------------------------------------------------------------- statistics
def pnl_statistics(x, quantiles=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)) -> dict:
    """Summary statistics of a sample (the paper's §4 tables).

    Parameters
    ----------
    x : array_like, shape (n,)
    quantiles : sequence of float

    Returns
    -------
    dict
        ``n, mean, stderr, median, std, skewness, kurtosis`` (Pearson: 3 for a normal law),
        ``sharpe`` (mean/std, per day when ``x`` are daily PnLs), ``min``, ``max`` and
        ``q<p>`` for each quantile (e.g. ``q0.05``).
    """
    x = np.asarray(x, dtype=float).ravel()
    std = float(x.std(ddof=1)) if x.size > 1 else float("nan")
    out = {
        "n": int(x.size),
        "mean": float(x.mean()),
        "stderr": std / math.sqrt(x.size) if x.size > 1 else float("nan"),
        "median": float(np.median(x)),
        "std": std,
        "skewness": float(_stats.skew(x)) if x.size > 2 else float("nan"),
        "kurtosis": float(_stats.kurtosis(x, fisher=False)) if x.size > 3 else float("nan"),
        "sharpe": float(x.mean() / std) if std > 0 else float("nan"),
        "min": float(x.min()),
        "max": float(x.max()),
    }
    for p, v in zip(quantiles, np.quantile(x, quantiles)):
        out[f"q{p:g}"] = float(v)
    return out


# ----------------------------------------------------------------------------- results
@dataclass(eq=False)
class RecordedPaths:
    """Full paths on the time grid for the first ``record`` simulated days.

    Attributes
    ----------
    t : ndarray, shape (n_steps + 1,)
    s, q, x : ndarray, shape (record, n_steps + 1)
        Mid-price, inventory and cash at the grid times (several assets: ``s`` and ``q`` have a
        trailing asset axis, shape (record, n_steps + 1, M)).
    ask, bid : ndarray, shape (record, n_steps + 1) (several assets: (record, n_steps + 1, M))
        Quotes ``δ⁺, δ⁻`` in force just after each grid time (``+inf``: not quoted).
    regime : int ndarray, shape (record, n_steps + 1)
        Market regime at the grid times (zeros without regimes; default zeros).
    """

    t: np.ndarray
    s: np.ndarray
    q: np.ndarray
    x: np.ndarray
    ask: np.ndarray
    bid: np.ndarray
    regime: np.ndarray | None = None

    def __post_init__(self):
        if self.regime is None:
            self.regime = np.zeros(self.s.shape[:2], np.int64)

    def __len__(self):
        return self.s.shape[0]


_PATH_ARRAYS = ("objective", "pnl", "cash", "s_final", "q_final", "q_min", "q_max", "n_ask", "n_bid",
                "inventory_integral", "s_min", "s_max", "controls")
_INT_ARRAYS = ("q_final", "q_min", "q_max", "n_ask", "n_bid")
_REC_ARRAYS = ("s", "q", "x", "ask", "bid")
#: Per-path regime outputs (optional in files written before regimes were simulated).
_REGIME_ARRAYS = ("regime_final", "n_switches", "occupancy")
#: Format tag of :meth:`SimulationResult.save` files.
SIM_FORMAT = "hjbsolve.SimulationResult/1"


@dataclass(eq=False)
class SimulationResult:
    """The outcome of :func:`simulate`.

    Attributes
    ----------
    objective : ndarray, shape (n_paths,)
        ``X_T + Q_T S_T − ε(η z Q_T² + ν σ² ∫ Q² dt)`` (with regimes ``z`` of the regime at ``T``
        and ``σ² ∫ Q² dt`` summed over the regimes' pieces, ``∫ σ_R² Q² dt``).
    pnl : ndarray, shape (n_paths,)
        ``X_T + Q_T S_T``.
    cash, s_final : ndarray, shape (n_paths,)
        ``X_T`` and ``S_T``.
    q_final, q_min, q_max : int ndarray, shape (n_paths,)
        ``Q_T`` and the intraday minimum and maximum inventory.
    n_ask, n_bid : int ndarray, shape (n_paths,)
        Fills of each side.
    inventory_integral : ndarray, shape (n_paths,)
        ``∫ Q² dt``.

    With several assets (a :class:`~hjbsolve.multiasset.MultiAssetModel`) ``s_final``, ``q_final``,
    ``q_min``, ``q_max``, ``n_ask``, ``n_bid``, ``s_min`` and ``s_max`` have a trailing asset axis
    (shape (n_paths, M)), ``inventory_integral`` is ``∫ Q Q' dt`` (shape (n_paths, M, M)), and the
    objective is ``X_T + Q_T·S_T − Q_T'Ω̃Q_T − ∫ Q'ΦQ dt`` (``Ω̃ = ε η Ω``, ``Φ = ε ν Λ``).
    s_min, s_max : ndarray, shape (n_paths,)
        Lowest and highest mid-price sampled (grid and fill times).
    controls : ndarray, shape (n_paths, 8)
        Martingale controls ``G, S, N_ask, N_bid, SD, W, WD, WT`` (:attr:`control_names`;
        each has mean zero, see :mod:`hjbsolve._mc_kernels`).
    regime_final, n_switches : int ndarray, shape (n_paths,)
        Market regime at ``T`` and number of regime jumps (zeros without regimes).
    occupancy : ndarray, shape (n_paths, n_regimes)
        Time spent in each regime (rows sum to ``T``; ``[[T], …]`` without regimes).
        :attr:`regime_occupancy` is its mean fraction of the day.
    paths : RecordedPaths or None
        Recorded paths (``record > 0``).
    model : Model
    estimator : str
        The estimator behind :attr:`mean` and :attr:`stderr`.
    settings : dict
        ``n_paths, n_steps, s0, q0, seed, policy, engine``.
    info : dict
        Diagnostics: ``wall_time`` (s), ``threads``, ``engine``, ``chunks``, ``estimator``,
        ``path_steps_per_second``.
    """

    objective: np.ndarray
    pnl: np.ndarray
    cash: np.ndarray
    s_final: np.ndarray
    q_final: np.ndarray
    q_min: np.ndarray
    q_max: np.ndarray
    n_ask: np.ndarray
    n_bid: np.ndarray
    inventory_integral: np.ndarray
    s_min: np.ndarray
    s_max: np.ndarray
    controls: np.ndarray
    model: Model
    settings: dict
    paths: RecordedPaths | None = None
    estimator: str = "plain"
    info: dict = field(default_factory=dict)
    regime_final: np.ndarray | None = None
    n_switches: np.ndarray | None = None
    occupancy: np.ndarray | None = None

    def __post_init__(self):
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        n = self.objective.size
        if self.regime_final is None:
            self.regime_final = np.zeros(n, np.int64)
        if self.n_switches is None:
            self.n_switches = np.zeros(n, np.int64)
        if self.occupancy is None:
            self.occupancy = np.full((n, 1), self.model.T)

    @property
    def regime_occupancy(self) -> np.ndarray:
        """Mean fraction of ``[0, T]`` spent in each regime, shape (n_regimes,)."""
        return self.occupancy.mean(axis=0) / self.model.T

    # ------------------------------------------------------------------ estimators
    @property
    def n_paths(self) -> int:
        return self.objective.size

    @property
    def n_fills(self) -> np.ndarray:
        """Fills per path (both sides), int array of shape (n_paths,)."""
        return self.n_ask + self.n_bid

    @property
    def control_names(self) -> tuple[str, ...]:
        return K.CONTROL_NAMES

    def estimator_values(self, estimator: str | None = None) -> np.ndarray:
        """Per-path values whose sample mean is the estimator's estimate, shape (n_paths,).

        ``"plain"``: the objectives; ``"compensated"``: objective − G − S; ``"control"``: the
        objective minus the cross-fitted regression on the controls (see module docstring).
        """
        est = self.estimator if estimator is None else estimator
        y = self.objective
        if est == "plain":
            return y.copy()
        if est == "compensated":
            return y - self.controls[:, 0] - self.controls[:, 1]
        if est == "control":
            return _cross_fitted(y, self.controls[:, self._control_columns()])
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {est!r}")

    def _control_columns(self):
        mean_reverting = isinstance(self.model, Model) and self.model.price.mean_reversion > 0.0
        cols = [0, 1, 2, 3] + ([4, 5, 6, 7] if mean_reverting else [])
        # drop controls that are identically zero (e.g. a side never quoted)
        return [c for c in cols if np.any(self.controls[:, c] != 0.0)]

    def estimate(self, estimator: str | None = None) -> tuple[float, float]:
        """``(mean, stderr)`` of the expected objective by ``estimator`` (default: :attr:`estimator`)."""
        v = self.estimator_values(estimator)
        if v.size < 2:
            return float(v.mean()), float("nan")
        return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))

    @property
    def estimates(self) -> dict:
        """``{estimator: (mean, stderr)}`` for every estimator."""
        out = {}
        for e in ESTIMATORS:
            try:
                out[e] = self.estimate(e)
            except ValueError:
                out[e] = (float("nan"), float("nan"))
        return out

    @property
    def mean(self) -> float:
        """Estimate of ``E[objective]`` (by :attr:`estimator`)."""
        return self.estimate()[0]

    @property
    def stderr(self) -> float:
        """Standard error of :attr:`mean`."""
        return self.estimate()[1]

    def statistics(self, which: str = "pnl", **kw) -> dict:
        """:func:`pnl_statistics` of ``"pnl"`` or ``"objective"``."""
        if which not in ("pnl", "objective"):
            raise ValueError(f"which must be 'pnl' or 'objective', got {which!r}")
        return pnl_statistics(getattr(self, which), **kw)

    def __repr__(self):
        m, se = self.estimate()
        return (f"SimulationResult(n_paths={self.n_paths}, n_steps={self.settings.get('n_steps')}, "
                f"policy={self.settings.get('policy')!r}, mean={m:.6g} ± {se:.2g} [{self.estimator}])")

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write to ``path`` (``.npz``; the suffix is added if missing). Returns the path."""
        path = _as_path(path, "path")
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays = {name: getattr(self, name) for name in _PATH_ARRAYS + _REGIME_ARRAYS}
        if self.paths is not None:
            for name in ("t",) + _REC_ARRAYS + ("regime",):
                arrays[f"paths_{name}"] = getattr(self.paths, name)
        meta = {"model": self.model.to_dict(), "settings": self.settings, "info": self.info,
                "estimator": self.estimator, "format": SIM_FORMAT}
        np.savez_compressed(path, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
        return path

    @classmethod
    def load(cls, path) -> "SimulationResult":
        """Read a file written by :meth:`save`, checking everything it reads.

        Raises
        ------
        ValueError
            The file is missing, not a simulation file, of another format version, or has
            inconsistent or non-finite contents (the message names the file and the field).
        """
        path = _as_path(path, "path")
        f = _open_npz(path, ("meta",) + _PATH_ARRAYS)
        meta = _read_meta(path, f, SIM_FORMAT)
        model = _load_sim_model(path, meta)
        # several assets: the per-asset fields have a trailing axis M, the inventory integral (M, M)
        tail = (model.n_assets,) if isinstance(model, MultiAssetModel) else ()
        n = f["objective"].shape[0] if f["objective"].ndim == 1 else 0
        arrays = {}
        for name in _PATH_ARRAYS:
            a = f[name]
            shape = (n, K.N_CONTROLS) if name == "controls" else (n,) + tail * _ASSET_AXES.get(name, 0)
            kind = "iu" if name in _INT_ARRAYS else "f"
            if n < 1 or a.shape != shape or a.dtype.kind not in kind:
                raise ValueError(f"{path}: field {name!r} must be {'an integer' if kind == 'iu' else 'a float'} array "
                                 f"of shape {shape} (n_paths = len(objective)), got {a.shape} of dtype {a.dtype}")
            if kind == "f" and not np.all(np.isfinite(a)):
                raise ValueError(f"{path}: field {name!r} contains non-finite values")
            arrays[name] = a
        for name in _REGIME_ARRAYS:
            if name not in f:
                continue
            a = f[name]
            shape = (n, model.n_regimes) if name == "occupancy" else (n,)
            ok = a.dtype.kind in ("f" if name == "occupancy" else "iu") and a.shape == shape
            if not ok or not np.all(np.isfinite(a)) or (name == "regime_final" and np.any((a < 0) | (a >= model.n_regimes))):
                raise ValueError(f"{path}: field {name!r} must be a finite array of shape {shape} (regimes in "
                                 f"[0, {model.n_regimes - 1}]), got {a.shape} of dtype {a.dtype}")
            arrays[name] = a
        for key, kind in (("settings", dict), ("info", dict), ("estimator", str)):
            if not isinstance(meta.get(key), kind):
                raise ValueError(f"{path}: field {key!r} must be a {kind.__name__}, got {meta.get(key)!r}")
        if meta["estimator"] not in ESTIMATORS:
            raise ValueError(f"{path}: field 'estimator' must be one of {ESTIMATORS}, got {meta['estimator']!r}")
        paths = None
        if "paths_t" in f:
            t = f["paths_t"]
            _check_time_axis(path, t, model.T)
            rec = []
            for name in _REC_ARRAYS:
                a = f.get(f"paths_{name}")
                extra = tail if name != "x" else ()
                if a is None or a.ndim != 2 + len(extra) or a.shape[1:] != (t.size,) + extra or a.shape[0] > n or \
                        a.dtype.kind not in "iuf":
                    raise ValueError(f"{path}: field 'paths_{name}' must be a real array of shape (record, len(paths_t)"
                                     f"{', M' if extra else ''}) with record <= n_paths, got "
                                     f"{None if a is None else a.shape}")
                bad = np.isnan(a) | (a == -np.inf) if name in ("ask", "bid") else ~np.isfinite(a)
                if bad.any() or a.shape[0] != f["paths_s"].shape[0]:
                    raise ValueError(f"{path}: field 'paths_{name}' contains non-finite values or has another "
                                     f"number of paths than 'paths_s'")
                rec.append(a)
            reg = f.get("paths_regime")
            if reg is not None and (reg.shape != rec[0].shape[:2] or reg.dtype.kind not in "iu"
                                    or np.any((reg < 0) | (reg >= model.n_regimes))):
                raise ValueError(f"{path}: field 'paths_regime' must be an integer array of shape {rec[0].shape[:2]} "
                                 f"with regimes in [0, {model.n_regimes - 1}]")
            paths = RecordedPaths(t, *rec, regime=reg)
        return cls(**arrays, model=model, settings=meta["settings"], paths=paths, estimator=meta["estimator"],
                   info=meta["info"])


#: Per-path fields with an asset axis (``M``) for a multi-asset model: how many trailing ``M`` axes.
_ASSET_AXES = {"s_final": 1, "q_final": 1, "q_min": 1, "q_max": 1, "n_ask": 1, "n_bid": 1, "s_min": 1, "s_max": 1,
               "inventory_integral": 2}


def _load_sim_model(path: Path, meta: dict):
    """The model of a simulation file: a :class:`MultiAssetModel` (its table has ``cov``) or a
    :class:`Model` (``ValueError`` naming the file otherwise)."""
    d = meta.get("model")
    if isinstance(d, dict) and "cov" in d:
        try:
            return MultiAssetModel.from_dict(d)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: field 'model' is not a valid multi-asset model ({e})") from None
    return _load_model(path, meta)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def _cross_fitted(y, C):
    """``y − C β`` with ``β`` fitted (least squares, with intercept) on the other half of the paths."""
    n = y.size
    if C.shape[1] == 0:
        return y.copy()
    if n < 4 * (C.shape[1] + 2):
        raise ValueError(f"the 'control' estimator needs at least {4 * (C.shape[1] + 2)} paths, got {n}")
    fold = np.arange(n) % 2
    out = np.empty(n)
    for f in (0, 1):
        fit, use = fold != f, fold == f
        X = np.column_stack([np.ones(fit.sum()), C[fit]])
        beta = np.linalg.lstsq(X, y[fit], rcond=None)[0][1:]
        out[use] = y[use] - C[use] @ beta
    return out


# ----------------------------------------------------------------------------- policies
class _OneRegime:
    """One regime of a policy with a chain (its ``tabulate(..., regime=r)``), as a regime-free policy."""

    def __init__(self, policy, regime: int):
        self.policy, self.regime = policy, regime

    def tabulate(self, model, t, s):
        return self.policy.tabulate(model, t, s, regime=self.regime)


def _tabulate(policy, model, n_steps, s0, n_paths) -> TabulatedPolicy:
    """``policy.tabulate(model, t, s)`` with suggested nodes (the protocol of :mod:`hjbsolve.policies`)."""
    s_dependent = model.depends_on_price if isinstance(model, MultiAssetModel) else model.price.depends_on_price
    n_t = n_steps + 1 if not s_dependent else min(n_steps + 1, _TAB_NT_S)
    t = np.linspace(0.0, model.T, n_t)
    if s_dependent:
        lo, hi = price_range(model, s0, n_paths)
        s = np.linspace(lo, hi, _TAB_NS)
    else:
        s = np.array([s0])
    if isinstance(model, MultiAssetModel):
        tab = policy.tabulate(model, t, s)
        if isinstance(tab, BoxPolicy):
            return tab
    return tabulate_policy(policy, model, t, s)


def _checked_quotes(policy, multi: bool = False, rates=None):
    """Wrap a plain ``policy.quotes`` as ``(t, q, s, r) -> (δ⁺, δ⁻, outside)`` on the kernel's arrays
    (``q``, ``s`` and the quotes of shape (m, M)), with validation (the regime ``r`` is ignored: the
    same quotes in every regime). One asset (``multi`` false): ``policy.quotes(t, q, s)`` with ``q``,
    ``s`` of shape (m,); several: with the trailing asset axis, as a multi-asset ``Solution`` takes them.

    ``rates``: ``(model, side, n_paths)``: every call's fastest quotes must pass :func:`_event_budget`
    (a policy that turns aggressive after some fills is refused at once, not run to the budget).
    """
    name = type(policy).__name__

    def fn(t, q, s, r=None):          # a plain policy is regime-blind: ``r`` is not passed on
        if not multi:
            out = policy.quotes(t, q[:, 0], s[:, 0])
        elif hasattr(policy, "box_quotes"):           # a rule of the inventory (every asset by its own)
            out = policy.box_quotes(t, q, s)
        else:
            out = policy.quotes(t, q, s)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"{name}.quotes(t, q, s) must return a pair (ask, bid), got {type(out).__name__}")
        shape = q.shape if multi else q.shape[:1]
        res = []
        for side, v in zip(("ask", "bid"), out):
            v = np.asarray(v)
            if v.dtype.kind not in "iuf" or v.dtype == np.bool_:
                raise ValueError(f"{name}.quotes returned {side} quotes of dtype {v.dtype}; quotes must be real")
            v = v.astype(float)
            if v.shape != shape:
                raise ValueError(f"{name}.quotes returned {side} quotes of shape {v.shape} for {q.shape[0]} states; "
                                 f"expected shape {shape} (the broadcast shape of t, q, s"
                                 f"{' with the trailing asset axis' if multi else ''})")
            v = v.reshape(q.shape)
            bad = np.isnan(v) | (v == -np.inf)
            if bad.any():
                j, i = np.unravel_index(int(np.flatnonzero(bad)[0]), q.shape)
                tj = float(np.broadcast_to(t, q.shape[:1])[j])
                where = f"q={q[j].tolist()}, s={s[j].tolist()}" if multi else f"q={int(q[j, 0])}, s={float(s[j, 0]):g}"
                of = f" of asset {i}" if multi else ""
                raise ValueError(f"{name}.quotes returned {v[j, i]} for the {side} quote{of} at t={tj:g}, {where}: "
                                 f"quotes must be finite or +inf (not quoted)")
            res.append(v)
        if rates is not None and q.size:
            model, side, n_paths = rates
            ja, jb = np.argmin(res[0], axis=0), np.argmin(res[1], axis=0)          # per asset
            amin, bmin = res[0].min(axis=0), res[1].min(axis=0)
            ra, rb = _fastest_rates(side, amin, bmin, per_asset=True)
            i = int(np.argmax(np.maximum(ra, rb)))
            j = int(ja[i] if ra[i] >= rb[i] else jb[i])
            where = f"q={q[j].tolist()}" if multi else f"q={int(q[j, 0])}, s={float(s[j, 0]):g}"
            _event_budget(model, side, amin, bmin, n_paths,
                          f"the policy {name!r} at (t={float(np.broadcast_to(t, q.shape[:1])[j]):g}, {where})")
        return res[0], res[1], np.zeros(q.shape[:1], bool)

    return fn


_KERNEL_TABLES: "weakref.WeakKeyDictionary[object, np.ndarray]" = weakref.WeakKeyDictionary()


def _kernel_table(pol: RegimePolicy) -> np.ndarray:
    """The kernel's (n_tables, n_q, 2, n_t, n_s) layout of a policy's tables, cached per (immutable) policy."""
    table = _KERNEL_TABLES.get(pol)
    if table is None:
        table = np.ascontiguousarray(np.stack([K.kernel_table(tab.ask, tab.bid) for tab in pol.tables]))
        _KERNEL_TABLES[pol] = table
    return table


def _fastest_rates(side: np.ndarray, ask_min, bid_min, per_asset: bool = False):
    """Fill rates ``exp(ℓ − kδ)`` of the most aggressive ask and bid quotes of each asset in the fastest
    regime (``side``: shape (n_regimes, M, 2, 3); ``ask_min, bid_min``: shape (M,)), summed over the
    assets (the total intensity ``Σ_i λ±_i``), or per asset (arrays of shape (M,))."""
    out = []
    for j, d in ((0, np.atleast_1d(ask_min)), (1, np.atleast_1d(bid_min))):
        with np.errstate(over="ignore", invalid="ignore"):
            lam = np.exp(side[:, :, j, 0] - side[:, :, j, 1] * np.where(np.isfinite(d), d, 0.0)).max(axis=0)
        out.append(np.where(np.isfinite(d), lam, 0.0))
    if per_asset:
        return out[0], out[1]
    return float(out[0].sum()), float(out[1].sum())


def _event_budget(model, side, ask_min, bid_min, n_paths, what, start=None) -> int:
    """Fills a path may take; ``ValueError`` if the policy's fastest quotes (per asset, shape (M,))
    cannot be simulated (with regimes: at the largest intensity of any regime; several assets: the
    sum of their rates).

    ``start``: the ``(ask, bid)`` quotes where the paths start, for a table whose most aggressive
    quotes lie somewhere in its ``(t, s, q)`` range (e.g. far from the mean of an OU price, where the
    directional bet makes the quotes negative). When those extremes would be too fast for a whole
    day but the start quotes are not, the paths run with a budget of :data:`RUNAWAY_SECONDS` of
    fills in all (at least the margin over the start quotes' fills); a path that exhausts it is
    stopped and the simulation refused, so the run stays bounded either way."""
    ra, rb = _fastest_rates(side, ask_min, bid_min)
    per_path = model.T * (ra + rb)
    if per_path * n_paths <= MAX_EVENTS_TOTAL and per_path * n_paths * EVENT_SECONDS <= MAX_SIM_SECONDS:
        return int(min(4e9, max(1e4, _EVENT_MARGIN * per_path)))
    if start is not None:
        ra0, rb0 = _fastest_rates(side, *start)
        per0 = model.T * (ra0 + rb0)
        if per0 * n_paths <= MAX_EVENTS_TOTAL and per0 * n_paths * EVENT_SECONDS <= MAX_SIM_SECONDS:
            cap = RUNAWAY_SECONDS / (EVENT_SECONDS * n_paths)
            return int(min(4e9, max(1e4, _EVENT_MARGIN * per0, cap)))
        per_path = per0
        ask_min, bid_min = start
        what = f"{what} at the start (t=0, q0, s0)"
    seconds = per_path * n_paths * EVENT_SECONDS
    pa, pb = _fastest_rates(side, ask_min, bid_min, per_asset=True)
    i = int(np.argmax(np.maximum(pa, pb)))
    which = "ask" if pa[i] >= pb[i] else "bid"
    quote = float(np.atleast_1d(ask_min if pa[i] >= pb[i] else bid_min)[i])
    asset = f" of asset {i}" if pa.size > 1 else ""
    raise ValueError(
        f"{what} quotes {which} half-spread δ={quote:.6g}{asset}, whose fill rate A e^(-k(z+δ)) = "
        f"{max(pa[i], pb[i]):.3g} per unit time would make about {per_path:.3g} fills per path over T={model.T:g} "
        f"({per_path * n_paths:.3g} for n_paths={n_paths}, about {seconds:.3g} s; limits {MAX_EVENTS_TOTAL:.0e} "
        f"fills, {MAX_SIM_SECONDS:g} s); such a policy cannot be simulated: lower n_paths, quote further from "
        f"the mid or check A, k, z")


def _plain_policy_budget(policy, model, side, ask0, bid0, q0v, s0v, n_paths: int, n_steps: int, multi: bool) -> float:
    """The time of a simulation of a plain ``quotes`` policy (the numpy engine calls it once per step and
    once per round of fills within a step, on every path): one call on ``n_paths`` states is timed and
    multiplied by the calls the start quotes' fill rates imply; ``ValueError`` beyond
    :data:`MAX_SIM_SECONDS`. Returns the estimate (seconds)."""
    fn = _checked_quotes(policy, multi)
    qs, ss = np.repeat(q0v[None, :], n_paths, axis=0), np.repeat(s0v[None, :], n_paths, axis=0)
    t0 = time.perf_counter()
    fn(0.0, qs, ss)
    per_call = time.perf_counter() - t0
    ra, rb = _fastest_rates(side, ask0, bid0)
    mu = model.T * (ra + rb) / n_steps                  # fills per step of a path
    rounds = 1.0 + mu + 4.0 * math.sqrt(mu) + 3.0       # the most a path of n_paths takes, with a margin
    seconds = n_steps * rounds * (per_call + NUMPY_ROUND_SECONDS + n_paths * NUMPY_PATH_ROUND_SECONDS)
    if seconds > MAX_SIM_SECONDS:
        raise ValueError(
            f"the policy {type(policy).__name__} is a plain quotes() callable (simulated by the numpy engine, one "
            f"round of about {NUMPY_ROUND_SECONDS * 1e3:g} ms plus {per_call * 1e3:.3g} ms for its quotes on {n_paths} "
            f"paths per fill of a step): with about {mu:.3g} fills per step at its start "
            f"quotes, n_steps={n_steps} would take about {seconds:.3g} s (limit {MAX_SIM_SECONDS:g} s); lower "
            "n_paths or n_steps, or give a table (a Solution, TabulatedPolicy or BoxPolicy: the compiled engine)")
    return seconds


def _as_regime_policy(policy, model: Model, n_steps: int, s0: float, n_paths: int) -> RegimePolicy | None:
    """The tables a policy is simulated from: one per regime (a multi-regime ``Solution``, a
    :class:`RegimePolicy`) or one for every regime (regime-blind); ``None`` for a plain callable."""
    n_reg = model.n_regimes
    check_policy_assets(model, policy)
    if isinstance(policy, Solution):
        policy.check_whole_grid()
    if isinstance(policy, Solution) and policy.multi_asset or isinstance(policy, BoxPolicy):
        return policy.tabulate()
    if isinstance(model, MultiAssetModel) and hasattr(policy, "quotes") and \
            not isinstance(policy, (Solution, TabulatedPolicy, RegimePolicy)):
        # a multi-asset closed form or a heuristic (every asset, each by its own inventory): its quotes
        # at the paths' states, with the trailing asset axis
        return None
    if isinstance(policy, Solution):
        if policy.n_regimes not in (1, n_reg):
            raise ValueError(f"the policy's solution has {policy.n_regimes} regime(s), the model {n_reg}")
        pol = policy.tabulate_regimes() if policy.n_regimes > 1 else RegimePolicy((policy.tabulate(),),
                                                                                  name=policy.tabulate().name)
    elif isinstance(policy, RegimePolicy):
        pol = policy
    elif isinstance(policy, TabulatedPolicy):
        pol = RegimePolicy((policy,), name=policy.name)
    elif getattr(getattr(policy, "model", None), "regimes", None) is not None and policy.model.n_regimes > 1:
        # the closed forms of a chain (hs.expansion of a regime model): one table per regime
        if policy.model.n_regimes != n_reg:
            raise ValueError(f"the policy's model has {policy.model.n_regimes} regime(s), the model {n_reg}")
        tabs = tuple(_tabulate(_OneRegime(policy, r), model, n_steps, s0, n_paths) for r in range(n_reg))
        pol = RegimePolicy(tabs, name=tabs[0].name)
    elif hasattr(policy, "tabulate"):
        tab = _tabulate(policy, model, n_steps, s0, n_paths)
        if isinstance(tab, BoxPolicy):
            return tab
        pol = RegimePolicy((tab,), name=tab.name)
    else:
        return None
    if pol.n_regimes not in (1, n_reg):
        raise ValueError(f"the policy has {pol.n_regimes} regime tables but the model has {n_reg} regime(s): give "
                         f"one table per regime, or one for all")
    return pol


def _regime0(model: Model, regime0) -> int:
    """``regime0`` as an index (an index or, with a chain, a name); ``ValueError`` naming it otherwise."""
    n = model.n_regimes
    if isinstance(regime0, str) and model.regimes is not None and regime0 in model.regimes.names:
        return model.regimes.names.index(regime0)
    if isinstance(regime0, (bool, np.bool_)) or not isinstance(regime0, (int, np.integer)) or not 0 <= regime0 < n:
        names = f" or one of the names {list(model.regimes.names)}" if model.regimes is not None else ""
        raise ValueError(f"regime0 must be an integer index in [0, {n - 1}] (the model has {n} regime(s)){names}, "
                         f"got {regime0!r}")
    return int(regime0)


def _chain_arrays(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """``(rates, cump)`` of the kernel (:func:`hjbsolve._mc_kernels.simulate_tabulated`): holding rates and
    cumulative jump probabilities, the last positive entry of each row set to 2 (rounding never
    leaves a uniform unassigned); ``([0], [[0]])`` without a chain."""
    if model.regimes is None:
        return np.zeros(1), np.zeros((1, 1))
    rates, P = model.regimes.jump_chain()
    cump = np.cumsum(P, axis=1)
    for r in range(P.shape[0]):
        pos = np.flatnonzero(P[r] > 0.0)
        if pos.size:
            cump[r, pos[-1]:] = 2.0
    return np.ascontiguousarray(rates), np.ascontiguousarray(cump)


# ----------------------------------------------------------------------------- simulate
def simulate(model: Model, policy, n_paths: int = 10_000, n_steps: int = 1000, s0: float | None = None,
             q0: int = 0, seed: int = 7, progress: bool = True, record: int = 0,
             estimator: str = "plain", engine: str = "auto", chunk_size: int | None = None,
             regime0=0) -> SimulationResult:
    """Simulate ``n_paths`` trading days of the market under ``policy``.

    Several assets (paper §5): with a :class:`~hjbsolve.multiasset.MultiAssetModel` the same kernel
    loop runs with an asset axis — correlated Brownian price steps with drifts (exact: the Cholesky
    factor of the correlation), a correlated Brownian bridge at every event, fills of every asset and
    side at their exact event times (total rate ``Σ_i (λ⁺_i + λ⁻_i)`` from the quotes at the current
    ``(t, q)``), the inventory-limit rule along each axis, the penalties ``ε ν ∫ q'Λq`` and
    ``ε η q'Ωq`` from the solver's coefficient forms. ``s0`` and ``q0`` are then length-``M``
    sequences (``s0`` required); the policy is a multi-asset ``Solution`` (its
    :class:`~hjbsolve.policies.BoxPolicy`), a ``BoxPolicy``, or an object with
    ``quotes(t, q, s)`` taking and returning arrays with the trailing asset axis (numpy engine). With
    ``M = 1`` the numbers are the single-asset simulation's, bit for bit.

    Parameters
    ----------
    model : Model or MultiAssetModel
        The market (price process, intensities, penalties, costs; optionally a regime chain).
    policy : object
        A :class:`~hjbsolve.policies.TabulatedPolicy`; an object with ``tabulate`` (a
        ``Solution``, an expansion, :class:`~hjbsolve.policies.ConstantSpread`), tabulated
        first and run compiled; or any object with ``quotes(t, q, s) -> (δ⁺, δ⁻)``, run by
        the numpy engine (slower; outputs validated). With regimes, a multi-regime ``Solution``
        and a :class:`~hjbsolve.policies.RegimePolicy` quote per regime; any other policy quotes
        the same in every regime.
    n_paths : int
        Number of simulated days, ``>= 1``.
    n_steps : int
        Grid steps over ``[0, T]`` (quotes are re-set at grid times, after every fill and at
        every regime jump).
    s0 : float, optional
        Initial mid-price. Default: the model's ``s0`` (:func:`~hjbsolve.model.paper_model` sets
        3000), else 3000. Several assets: a sequence of ``M`` prices, or one number for every
        asset (default 0: with Brownian prices the value ``q·s + g(t, q)`` depends on the prices
        only through ``q0·s0``).
    q0 : int
        Initial inventory (cash starts at 0); must lie inside the policy's inventory limits.
        Several assets: a sequence of ``M`` integers inside the policy's box, or one integer for
        every asset.
    seed : int
        Seed (``>= 0``): path ``p``'s random numbers depend only on ``(seed, p)``.
    progress : bool
        Show a tqdm progress bar over chunks of paths (numpy engine: over steps), when standard
        error is a terminal.
    record : int
        Number of paths (the first ones) whose full grid paths are kept in ``.paths``.
    estimator : {"plain", "compensated", "control"}
        Estimator behind ``.mean`` / ``.stderr`` (all are available via ``.estimate(name)``).
    engine : {"auto", "numba", "numpy"}
        ``"auto"``: compiled for tabulated policies, numpy otherwise. ``"numpy"`` runs a
        tabulated policy through the numpy twin (a reference; identical random numbers).
    chunk_size : int, optional
        Paths per compiled call (progress granularity); does not change the numbers.
    regime0 : int or str
        Market regime at ``t = 0`` (index or name; default 0, the only one without a chain).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        Bad arguments; a policy returning NaN, ``−inf`` or arrays of the wrong shape; ``q0``
        outside the policy's inventory range (box); ``s0``/``q0`` without one entry per asset; a
        one-axis policy for several assets; per-asset OU prices with several assets; ``regime0`` not
        a regime of the model; a policy
        with another number of regime tables than the model; paths leaving a tabulated
        policy's price range; fill rates (in the fastest regime) or regime jumps too fast to
        simulate.
    """
    if not isinstance(model, (Model, MultiAssetModel)):
        raise ValueError(f"model must be an hs.Model or an hs.MultiAssetModel, got {type(model).__name__}")
    multi = isinstance(model, MultiAssetModel)
    n_paths = check_int("n_paths", n_paths, ge=2)        # a mean with a standard error needs two paths
    n_steps = check_int("n_steps", n_steps, ge=1)
    if multi:
        s0v, q0v = _asset_state(model, s0, q0)
    else:
        if s0 is None:
            s0 = model.s0 if model.s0 is not None else 3000.0
        s0 = _check_s0("s0", s0)
        q0 = check_int("q0", q0)
        s0v, q0v = np.array([s0]), np.array([q0], np.int64)
    M = s0v.size
    a, c0, sig2, chol = _price_arrays(model)          # (several assets: Brownian prices, refused otherwise)
    seed = check_int("seed", seed, ge=0)
    regime0 = _regime0(model, regime0)
    record = check_int("record", record, ge=0)
    if record > n_paths:
        raise ValueError(f"record must be <= n_paths ({n_paths}), got {record}")
    rates, cump = _chain_arrays(model)
    n_bytes = 8.0 * (n_paths * (_PER_PATH + (K.N_FA + K.N_IA) * M + model.n_regimes * (1 + M * M))
                     + record * (n_steps + 1) * _PER_RECORD * M)
    # regime jumps are events too: at most the fastest holding rate per unit time; and every event
    # of a step scans the jumps left in it (the bridge's piecewise variance): ~(jumps per step)² a step
    jumps_per_step = float(rates.max()) * model.T / n_steps
    seconds = float(n_paths) * (n_steps * PATH_STEP_SECONDS + float(rates.max()) * model.T * EVENT_SECONDS
                                + n_steps * jumps_per_step ** 2 * JUMP_SCAN_SECONDS)
    if n_paths * n_steps > MAX_PATH_STEPS or n_bytes > MAX_BYTES or seconds > MAX_SIM_SECONDS:
        raise ValueError(f"n_paths={n_paths} × n_steps={n_steps} = {float(n_paths * n_steps):.3g} path-steps with "
                         f"record={record} and regime jumps at rates up to {float(rates.max()):.3g} per unit time "
                         f"({n_bytes / 1e9:.3g} GB of outputs, about {seconds:.3g} s) is too large "
                         f"(limits {MAX_PATH_STEPS:.3g} path-steps, {MAX_BYTES / 1e9:g} GB, {MAX_SIM_SECONDS:g} s): "
                         f"lower n_paths or record, raise n_steps (fewer regime jumps a step: "
                         f"{jumps_per_step:.3g} now), or lower the generator's rates")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "control" and n_paths < _MIN_PATHS_CONTROL:
        raise ValueError(f"the 'control' estimator needs n_paths >= {_MIN_PATHS_CONTROL} "
                         f"(coefficients are fitted on each half of the paths), got {n_paths}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, ge=1)
    if not (hasattr(policy, "tabulate") or hasattr(policy, "quotes")):
        raise ValueError(f"policy must have quotes(t, q, s) or tabulate(...), got {type(policy).__name__}")

    # the policy's representation does not depend on the engine: a policy that tabulates is run from
    # its tables by both engines (the numpy engine then reproduces the compiled one path by path)
    pol = _as_regime_policy(policy, model, n_steps, s0v[0], n_paths)
    if pol is None and engine == "numba":
        raise ValueError(f"engine='numba' needs a policy with tabulate(); {type(policy).__name__} has none")
    if pol is not None:
        box = _policy_box(pol, M)
        if not np.all((box[0] <= q0v) & (q0v < box[0] + box[1])):
            lo, hi = box[0], box[0] + box[1] - 1
            where = (f"[{lo[0]}, {hi[0]}]" if not multi else
                     "the box " + " × ".join(f"[{a}, {b}]" for a, b in zip(lo, hi)))
            raise ValueError(f"q0={q0v.tolist() if multi else q0} lies outside the policy's inventory range {where}")
        pol.check_horizon(model.T)
    if pol is not None and pol.s_dependent and not (pol.s_range[0] <= s0v[0] <= pol.s_range[1]):
        raise ValueError(f"s0={s0v[0]:g} lies outside the policy's price range {pol.s_range}")

    # the market of every regime, from the coefficients the solver reads (and σ_r from the price law)
    coef = model.coefficients(_mc_grid(model.n_regimes, M))
    side = np.ascontiguousarray(coef.packed()[..., :3])              # (n_regimes, M, 2, 3): (ℓ, k, α) per side
    phi = np.ascontiguousarray(coef.running_form)                   # (n_regimes, M, M): Φ
    varpi = np.ascontiguousarray(coef.terminal_form)                # (n_regimes, M, M): Ω̃
    par = (n_steps, model.T, a, c0, sig2, chol, s0v, q0v, regime0, side, phi, varpi, rates, cump)
    base = np.random.SeedSequence(seed).generate_state(K.N_STREAMS, np.uint64)
    fout = np.empty((n_paths, K.N_FOUT))
    fasset = np.empty((n_paths, K.N_FA, M))
    iout = np.empty((n_paths, K.N_IOUT), np.int64)
    iasset = np.empty((n_paths, K.N_IA, M), np.int64)
    ctrl = np.empty((n_paths, K.N_CONTROLS))
    occ = np.zeros((n_paths, model.n_regimes))
    pen_r = np.zeros((n_paths, model.n_regimes, M, M))
    rec = [np.zeros((record, n_steps + 1, M)), np.zeros((record, n_steps + 1, M)), np.zeros((record, n_steps + 1)),
           np.zeros((record, n_steps + 1, M)), np.zeros((record, n_steps + 1, M)),
           np.zeros((record, n_steps + 1), np.int64)]
    policy_name = pol.name if pol is not None else getattr(policy, "name", type(policy).__name__)
    use_numba = pol is not None and engine != "numpy"
    if pol is not None:
        ask_min, bid_min = _fastest_quotes(pol, M)
        start = None
        if not multi:           # where the paths start (a table's extremes may lie where no path goes)
            tab = pol.tables[regime0 if pol.n_regimes > 1 else 0]     # one table: the same in every regime
            sa, sb = tab.quotes(0.0, np.array([int(q0v[0])]), float(s0v[0]))
            start = (float(np.min(sa)), float(np.min(sb)))
        max_events = _event_budget(model, side, ask_min, bid_min, n_paths, f"the policy {policy_name!r}", start=start)
    else:
        qa, qb, _ = _checked_quotes(policy, multi, (model, side, n_paths))(np.zeros(1), q0v[None, :], s0v[None, :])
        max_events = min(_event_budget(model, side, qa[0], qb[0], n_paths, ""), 1_000_000)
        _plain_policy_budget(policy, model, side, qa[0], qb[0], q0v, s0v, n_paths, n_steps, multi)
    t_start = time.perf_counter()
    if use_numba:
        if chunk_size is None:
            chunk_size = max(256, -(-n_paths // 50))
        starts = range(0, n_paths, chunk_size)
        table = _kernel_table(pol)
        q_lo, q_n = _policy_box(pol, M)
        bar = tqdm(total=n_paths, desc="hjbsolve: paths", unit="path", disable=None if progress else True, leave=False)
        try:
            for p0 in starts:
                sl = slice(p0, min(p0 + chunk_size, n_paths))
                paths = np.arange(sl.start, sl.stop, dtype=np.int64)
                keys = K.path_keys(base, paths)
                K.simulate_tabulated(keys, paths, *par, pol.t, pol.s, table, pol.order, q_lo, q_n, max_events,
                                     fout[sl], fasset[sl], iout[sl], iasset[sl], ctrl[sl], occ[sl], pen_r[sl],
                                     record, *rec)
                bar.update(paths.size)
        finally:
            bar.close()
        n_chunks = len(starts)
        engine_used = "numba"
    else:
        if pol is not None:
            def fn(t, q, s, r):
                return K.table_quotes_np(pol.tables, t, q, s, r)
        else:
            fn = _checked_quotes(policy, multi, (model, side, n_paths))
        paths = np.arange(n_paths, dtype=np.int64)
        keys = K.path_keys_np(base, paths)
        bar = tqdm(total=n_steps, desc="hjbsolve: steps (numpy engine)", disable=None if progress else True, leave=False)
        try:
            f, fa, i_, ia, c, o, pr, r = K.simulate_numpy(fn, keys, paths, *par, max_events, record,
                                                           step_callback=lambda: bar.update(1))
        finally:
            bar.close()
        fout[:], fasset[:], iout[:], iasset[:], ctrl[:], occ[:], pen_r[:] = f, fa, i_, ia, c, o, pr
        rec = list(r)
        n_chunks = 1
        engine_used = "numpy"
    wall = time.perf_counter() - t_start

    n_stopped = int(iout[:, K.I_BUDGET].sum())
    if n_stopped:
        raise ValueError(f"{n_stopped} of {n_paths} paths reached the budget of {max_events} fills and were stopped: "
                         f"the policy {policy_name!r} quotes so aggressively that its fill rates cannot be simulated")

    def _left(count, lo_r, hi_r, what):
        lo, hi = price_range(model, s0, n_paths)
        raise ValueError(
            f"{count} of {n_paths} paths left the policy's {what} [{lo_r:g}, {hi_r:g}] (mid-prices reached "
            f"[{fasset[:, K.FA_SMIN, 0].min():g}, {fasset[:, K.FA_SMAX, 0].max():g}]), where its quotes would be "
            f"extrapolated "
            f"or are not guaranteed. Solve or tabulate with a wider s_range, e.g. "
            f"hs.price_range(model, s0, n_paths) = ({lo:.6g}, {hi:.6g})")

    if pol is not None and pol.s_dependent:
        lo_i, hi_i = pol.s_range
        out = (fasset[:, K.FA_SMIN, 0] < lo_i) | (fasset[:, K.FA_SMAX, 0] > hi_i) | (iout[:, K.I_OUT] > 0)
        if out.any():
            _left(int(out.sum()), lo_i, hi_i, "price range")

    def per_asset(arr):     # one asset: the single-asset shapes (the trailing asset axis dropped)
        return arr if multi else arr[..., 0]

    paths_rec = None
    if record:
        t_grid = model.T * np.arange(n_steps + 1) / n_steps
        paths_rec = RecordedPaths(t_grid, per_asset(rec[0]), per_asset(rec[1]), rec[2], per_asset(rec[3]),
                                  per_asset(rec[4]), regime=rec[5])
    info = {"wall_time": wall, "threads": numba.get_num_threads() if use_numba else 1, "engine": engine_used,
            "chunks": n_chunks, "estimator": estimator,
            "path_steps_per_second": n_paths * n_steps / wall if wall > 0 else float("inf"),
            "fills_per_side_per_step": float((iasset[:, K.IA_NASK] + iasset[:, K.IA_NBID]).sum(axis=1).mean()
                                             / (2 * M * n_steps))}
    settings = {"n_paths": n_paths, "n_steps": n_steps, "s0": s0v.tolist() if multi else s0,
                "q0": q0v.tolist() if multi else q0, "seed": seed, "regime0": regime0,
                "policy": policy_name, "engine": engine_used, "record": record}
    pen = pen_r.sum(axis=1)                                         # ∫QQ' dt over the day, (n_paths, M, M)
    return SimulationResult(
        objective=fout[:, K.F_OBJ].copy(), pnl=fout[:, K.F_PNL].copy(), cash=fout[:, K.F_X].copy(),
        s_final=per_asset(fasset[:, K.FA_S]).copy(), q_final=per_asset(iasset[:, K.IA_QT]).copy(),
        q_min=per_asset(iasset[:, K.IA_QMIN]).copy(), q_max=per_asset(iasset[:, K.IA_QMAX]).copy(),
        n_ask=per_asset(iasset[:, K.IA_NASK]).copy(), n_bid=per_asset(iasset[:, K.IA_NBID]).copy(),
        inventory_integral=pen if multi else pen[:, 0, 0].copy(), s_min=per_asset(fasset[:, K.FA_SMIN]).copy(),
        s_max=per_asset(fasset[:, K.FA_SMAX]).copy(), controls=ctrl, model=model, settings=settings,
        paths=paths_rec, estimator=estimator, info=info, regime_final=iout[:, K.I_RT].copy(),
        n_switches=iout[:, K.I_NSW].copy(), occupancy=occ)


def _mc_grid(n_regimes: int = 1, n_assets: int = 1):
    """A small grid with a state per regime and an inventory axis per asset: the simulator needs the
    side coefficients and penalty forms, not the fields."""
    from .grid import InventoryAxis, PriceAxis, StateGrid

    return StateGrid(PriceAxis.single(), tuple(InventoryAxis(1) for _ in range(n_assets)), n_regimes)


#: Largest |initial price| simulated: beyond it cash sums X + Q·S lose every digit of a day's PnL.
MAX_ABS_S0 = 1e12


def _check_s0(name: str, value) -> float:
    return check_real(name, value, ge=-MAX_ABS_S0, le=MAX_ABS_S0)


def _asset_state(model: MultiAssetModel, s0, q0) -> tuple[np.ndarray, np.ndarray]:
    """``s0, q0`` of a multi-asset simulation as arrays of length ``M`` (``ValueError`` naming them)."""
    M = model.n_assets
    out = []
    for name, v, check in (("s0", 0.0 if s0 is None else s0, _check_s0),
                           ("q0", q0, lambda n, x: check_int(n, x, ge=-MAX_Q, le=MAX_Q))):
        arr = np.asarray(v, dtype=object)
        if arr.ndim == 0:                            # one number: every asset
            arr = np.full(M, v, dtype=object)
        if arr.ndim != 1 or arr.size != M:
            raise ValueError(f"{name} must be a sequence of M={M} numbers (one per asset), got {v!r}")
        out.append(np.array([check(f"{name}[{i}]", x) for i, x in enumerate(arr)],
                            dtype=float if name == "s0" else np.int64))
    return out[0], out[1]


def _price_arrays(model) -> tuple:
    """``(a, c₀, σ², L)`` of the kernel: mean reversion, per-asset ``c₀`` (M,), variances per regime and
    asset (n_regimes, M) and the lower Cholesky factor of the correlation (M, M) (``[[1.]]`` for one
    asset; its diagonal is exactly 1, so one asset's noise is exactly ``σ Z``)."""
    if isinstance(model, Model):
        a, c0, _ = model.price.kernel_params()
        sig = np.array([m.price.kernel_params()[2] for m in model.regime_models()])
        return a, np.array([c0]), (sig * sig)[:, None], np.ones((1, 1))
    if model.n_assets > 1 and model.depends_on_price:
        raise ValueError(f"mean_reversion={model.mean_reversion!r}: the Monte Carlo of several assets simulates "
                         "Brownian prices with constant drifts (Ornstein–Uhlenbeck assets would need policy tables "
                         "in M price dimensions); simulate one OU asset with its single-asset model (asset_model(i))")
    params = [p.kernel_params() for p in model.asset_prices()]
    a = params[0][0]
    if any(p[0] != a for p in params):
        raise ValueError(f"mean_reversion={model.mean_reversion!r}: the assets must share one mean reversion")
    corr = np.array(model.correlation)          # cov / (σ_i σ_j): no overflow or underflow of σ_i² σ_j²
    np.fill_diagonal(corr, 1.0)
    return (a, np.array([p[1] for p in params]), np.diag(model.cov)[None, :].copy(),
            np.ascontiguousarray(np.linalg.cholesky(corr)))


def _policy_box(pol, M: int) -> tuple[np.ndarray, np.ndarray]:
    """``(q_min, q_n)``: the lowest inventory and the number of inventories of each axis of a policy's
    table, int64 arrays of length ``M`` (``ValueError`` for a table of another number of assets)."""
    if isinstance(pol, BoxPolicy):
        if pol.n_assets != M:
            raise ValueError(f"the policy quotes {pol.n_assets} asset(s) but the model has M={M}")
        return np.array(pol.q_min, np.int64), np.array(pol.inventory_shape, np.int64)
    if M != 1:
        raise ValueError(f"the policy {pol.name!r} has one inventory axis but the model has M={M} assets: give a "
                         "multi-asset Solution, a BoxPolicy or a plain policy with quotes(t, q, s) per asset")
    return np.array([pol.q_min], np.int64), np.array([pol.n_q], np.int64)


def _fastest_quotes(pol, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Per asset, the smallest ask and bid quote of a policy's tables (``inf`` for a side never quoted),
    two arrays of shape (M,)."""
    out = []
    for side in ("ask", "bid"):
        tabs = [getattr(t, side).reshape(-1, M) for t in (pol.tables if isinstance(pol, RegimePolicy) else (pol,))]
        arr = np.concatenate(tabs, axis=0)
        out.append(np.array([float(np.min(c[np.isfinite(c)])) if np.isfinite(c).any() else np.inf for c in arr.T]))
    return out[0], out[1]
