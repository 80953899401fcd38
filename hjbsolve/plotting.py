"""Figures. Every function takes ``ax=None`` (a new figure is made) and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_quotes_vs_q", "save_figure"]


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
