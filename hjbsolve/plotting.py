"""Figures. Every function takes ``ax=None`` (a new figure is made) and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_quotes_vs_q", "plot_day", "plot_pnl_density", "save_figure"]


def _axes(ax):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    return fig.add_subplot()


def save_figure(ax, path, dpi: int = 120):
    """Save the figure holding ``ax`` as PNG (works without pyplot or a display)."""
    ax.figure.savefig(path, dpi=dpi)
    return path


def plot_quotes_vs_q(policies: dict, t: float, s: float, q, ax=None):
    """Ask and bid half-spreads against inventory for several policies.

    Parameters
    ----------
    policies : dict[str, object]
        Label → anything with ``quotes(t, q, s)`` (a Solution, an Expansion, …).
    t, s : float
        Time and mid-price.
    q : array_like of int, shape (n,)
    """
    ax = _axes(ax)
    q = np.asarray(q)
    styles = ["-", "--", ":", "-."]
    for i, (label, pol) in enumerate(policies.items()):
        dp, dm = pol.quotes(t, q, s)
        ls = styles[i % len(styles)]
        ax.plot(q, np.where(np.isfinite(dp), dp, np.nan), ls, color="tab:red", label=f"{label}: δ⁺ (ask)")
        ax.plot(q, np.where(np.isfinite(dm), dm, np.nan), ls, color="tab:blue", label=f"{label}: δ⁻ (bid)")
    ax.set_xlabel("inventory q")
    ax.set_ylabel("half-spread from the mid-price")
    ax.set_title(f"Optimal quotes at t = {t:g}, s = {s:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_day(result, path: int = 0, ax=None):
    """One simulated day: the mid-price with the ask and bid quotes (left axis) and the inventory
    (right axis).

    Parameters
    ----------
    result : SimulationResult
        From :func:`hjbsolve.simulate` with ``record >= path + 1``.
    path : int
        Which recorded path.

    Returns
    -------
    Axes
        The price axes (the inventory is on its twin, ``ax.right``).

    Raises
    ------
    ValueError
        No recorded paths, or ``path`` out of range.
    """
    rec = result.paths
    if rec is None or not 0 <= int(path) < len(rec):
        n = 0 if rec is None else len(rec)
        raise ValueError(f"path must index a recorded path (simulate(..., record=N)); got path={path!r} with {n} "
                         "recorded")
    ax = _axes(ax)
    t, s = rec.t, rec.s[path]
    ask = np.where(np.isfinite(rec.ask[path]), s + rec.ask[path], np.nan)
    bid = np.where(np.isfinite(rec.bid[path]), s - rec.bid[path], np.nan)
    ax.plot(t, ask, color="tab:red", lw=0.8, label="ask s + δ⁺")
    ax.plot(t, s, color="black", lw=1.0, label="mid-price s")
    ax.plot(t, bid, color="tab:blue", lw=0.8, label="bid s − δ⁻")
    ax.set_xlabel("time t (model time unit)")
    ax.set_ylabel("price (model price unit)")
    right = ax.twinx()
    right.step(t, rec.q[path], where="post", color="tab:green", lw=1.0, label="inventory q")
    right.set_ylabel("inventory q", color="tab:green")
    ax.right = right
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best", framealpha=0.8)
    pol = result.settings.get("policy", "policy")
    ax.set_title(f"One simulated day under {pol} (path {path})")
    ax.grid(alpha=0.3)
    return ax


def plot_pnl_density(results: dict, what: str = "objective", bins: int = 60, ax=None):
    """Histogram densities of the per-path objective (or PnL) of several simulations.

    Parameters
    ----------
    results : dict[str, SimulationResult]
        Label → result.
    what : {"objective", "pnl"}
    bins : int

    Returns
    -------
    Axes
    """
    if what not in ("objective", "pnl"):
        raise ValueError(f"what must be 'objective' or 'pnl', got {what!r}")
    ax = _axes(ax)
    data = {k: np.asarray(getattr(r, what)) for k, r in results.items()}
    lo = min(np.quantile(x, 0.001) for x in data.values())
    hi = max(np.quantile(x, 0.999) for x in data.values())
    edges = np.linspace(lo, hi, int(bins) + 1)
    for label, x in data.items():
        ax.hist(x, bins=edges, density=True, histtype="step", lw=1.2,
                label=f"{label}: mean {x.mean():.4g} ± {x.std(ddof=1) / np.sqrt(x.size):.2g}")
    ax.set_xlabel("objective X_T + Q_T S_T − penalties (price unit)" if what == "objective"
                  else "PnL X_T + Q_T S_T (price unit)")
    ax.set_ylabel("density (per price unit)")
    ax.set_title(f"Distribution of the {what} over {min(x.size for x in data.values())} simulated days")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.8)
    return ax
