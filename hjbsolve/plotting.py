"""Figures. Every function takes ``ax=None`` (a new figure is made) and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_quotes_vs_q", "plot_value_vs_q", "plot_error_map", "plot_day", "plot_pnl_density", "save_figure", "log_ticks", "legend_outside",
           "reference_line", "label_contours", "clip_spikes"]


def _check_mapping(name: str, items, method: str) -> dict:
    """``items`` as a non-empty dict of label → object with ``method`` (a ValueError otherwise)."""
    if not isinstance(items, dict) or not items:
        raise ValueError(f"{name} must be a non-empty dict of label -> object with .{method}(), got {items!r:.80}")
    for label, obj in items.items():
        if not callable(getattr(obj, method, None)):
            raise ValueError(f"{name}[{label!r}] must have a .{method}() method, got {type(obj).__name__}")
    return items


def _axes(ax, figsize=(7.5, 4.5)):
    """``ax``, or the Axes of a new constrained-layout Figure (no pyplot state) when it is ``None``."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def save_figure(ax, path, dpi: int = 120):
    """Save the figure holding ``ax`` as PNG (works without pyplot or a display)."""
    ax.figure.savefig(path, dpi=dpi)
    return path


# ----------------------------------------------------------------------------- shared style helpers
def log_ticks(ax, axis: str = "x", values=None):
    """Readable ticks on a log axis: no labelled minor ticks, plain numbers at ``values``.

    Matplotlib labels some minor ticks of a log axis spanning about one decade (``3×10¹``,
    ``4×10¹`` …), and they overlap. This keeps only major labels: at ``values`` when given
    (e.g. the grid sizes that were computed), else at the decades.

    Parameters
    ----------
    ax : Axes
    axis : {"x", "y"}
    values : array_like of float, optional
        Tick positions (positive), labelled with ``:g``.

    Returns
    -------
    Axes
    """
    from matplotlib import ticker

    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_minor_formatter(ticker.NullFormatter())
    if values is not None:
        a.set_major_locator(ticker.FixedLocator(np.asarray(values, float)))
        a.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        a.set_major_locator(ticker.LogLocator(base=10.0, numticks=12))
        a.set_major_formatter(ticker.LogFormatterSciNotation())
    return ax


def legend_outside(ax, where: str = "below", ncol: int | None = None, fontsize=8, **kw):
    """A legend outside the axes, so it never covers data.

    Call it after setting the x label: "below" places the legend under the tick labels and
    the (possibly multi-line) x label. Works with ``layout="constrained"`` figures, which make
    room for it.

    Parameters
    ----------
    ax : Axes
    where : {"below", "right", "figure"}
        Under this Axes, to its right, or one legend under the whole figure (for panels that
        share their entries; the entries are taken from ``ax``).
    ncol : int, optional
        Columns (default: 2 below, 1 on the right).
    **kw
        Passed to ``legend`` (e.g. ``handles``, ``labels``).

    Returns
    -------
    Legend
    """
    from matplotlib.transforms import ScaledTranslation

    if where == "below":
        size = ax.xaxis.label.get_fontsize()
        lines = ax.get_xlabel().count("\n") + 1 if ax.get_xlabel() else 0
        tick = max((t.get_fontsize() for t in ax.get_xticklabels()), default=size)
        drop = (6 + 1.9 * tick + 1.3 * size * lines) / 72.0        # inches below the axes
        shift = ax.transAxes + ScaledTranslation(0.0, -drop, ax.figure.dpi_scale_trans)
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=shift, ncol=ncol or 2,
                         fontsize=fontsize, frameon=False, **kw)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=ncol or 1, fontsize=fontsize,
                         frameon=False, **kw)
    if where == "figure":
        if "handles" not in kw:
            kw["handles"], kw["labels"] = ax.get_legend_handles_labels()
        return ax.figure.legend(loc="outside lower center", ncol=ncol or 2, fontsize=fontsize, frameon=False, **kw)
    raise ValueError(f"where must be 'below', 'right' or 'figure', got {where!r}")


def reference_line(ax, y: float, label: str, color="tab:red", **kw):
    """A horizontal reference level that does not rescale the axes.

    Drawn as a dotted line when ``y`` lies within the current y-limits (set by the data);
    otherwise an arrow at the top or bottom edge says where it is (``"μ = 3009 ↑ 8.2 above
    the top"``), so a far-away level cannot flatten the data.

    Parameters
    ----------
    ax : Axes
        With its data already plotted.
    y : float
    label : str
        Text naming the level.
    color : str
    **kw
        Passed to ``ax.axhline``.

    Returns
    -------
    Artist
        The line or the annotation.
    """
    lo, hi = ax.get_ylim()
    if lo <= y <= hi:
        return ax.axhline(y, color=color, ls=":", lw=1.2, label=label, **kw)
    above = y > hi
    gap = y - hi if above else lo - y
    return ax.annotate(f"{label} {'↑' if above else '↓'} ({gap:.3g} {'above' if above else 'below'} the axis)",
                       xy=(0.99, 0.97 if above else 0.03), xycoords="axes fraction", ha="right",
                       va="top" if above else "bottom", color=color, fontsize=8,
                       bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, alpha=0.85))


def label_contours(ax, cs, fmt, fontsize=8):
    """Contour labels readable on any colour map: horizontal bold text with a dark outline.

    Parameters
    ----------
    ax : Axes
    cs : ContourSet
    fmt : dict or callable
        Level → text, as for ``Axes.clabel``.

    Returns
    -------
    list of Text
    """
    from matplotlib import patheffects

    texts = ax.clabel(cs, fmt=fmt, fontsize=fontsize, inline=False)
    for t in texts:
        t.set_rotation(0.0)                     # horizontal: readable on steep contours
        t.set_fontweight("bold")
        t.set_path_effects([patheffects.withStroke(linewidth=2.2, foreground="black")])
    return texts


def clip_spikes(ax, heights, ratio: float = 3.0, unit: str = ""):
    """Keep one tall histogram bar from flattening the others: cap the y-axis and label the bar.

    When the tallest bar is more than ``ratio`` times the tallest bar of the *other* series,
    the y-limit is set to 1.3 × that smaller peak and the cut bars of each series get one note
    with their counts at the top edge (``"75 + 222 days ↑"``).

    Parameters
    ----------
    ax : Axes
    heights : list of (counts, edges)
        One per histogram series, as returned by ``Axes.hist``.
    ratio : float
    unit : str
        Appended to the written counts (e.g. ``" days"``).

    Returns
    -------
    bool
        Whether the axis was capped.
    """
    peaks = sorted(float(np.max(c)) for c, _ in heights if len(c))
    if len(peaks) < 2 or peaks[-1] <= ratio * peaks[-2]:
        return False
    top = 1.3 * peaks[-2]
    ax.set_ylim(0.0, top)
    for counts, edges in heights:
        cut = np.nonzero(np.asarray(counts) > top)[0]
        if cut.size:
            text = " + ".join(f"{counts[i]:.0f}" for i in cut) + f"{unit} (bars cut) ↑"
            ax.annotate(text, xy=(edges[cut[-1] + 1], top), xytext=(4, -4), textcoords="offset points",
                        ha="left", va="top", fontsize=8, bbox=dict(boxstyle="round,pad=0.2", fc="white", alpha=0.85))
    return True


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
    _check_mapping("policies", policies, "quotes")
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
    rec = getattr(result, "paths", None)
    if isinstance(path, bool) or not isinstance(path, (int, np.integer)) or rec is None or not 0 <= path < len(rec):
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
    legend_outside(ax, ncol=4, handles=lines[0] + more[0], labels=lines[1] + more[1])
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
    if not isinstance(results, dict) or not results or not all(hasattr(r, what) for r in results.values()):
        raise ValueError(f"results must be a non-empty dict of label -> SimulationResult, got {results!r:.80}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 10_000:
        raise ValueError(f"bins must be an integer in 1..10000, got {bins!r}")
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
    legend_outside(ax, ncol=1)
    return ax


def plot_value_vs_q(policies: dict, t: float, s: float, q, ax=None, relative_to: str | None = None):
    """The value function ``v_q(t, s)`` against inventory for several solutions or closed forms.

    Parameters
    ----------
    policies : dict[str, object]
        Label → anything with ``value(t, q, s)`` (a Solution, an Expansion, …).
    t, s : float
        Time and mid-price.
    q : array_like of int, shape (n,)
    relative_to : str, optional
        A label of ``policies``: plot the others' differences from it (their value error).

    Returns
    -------
    Axes
    """
    _check_mapping("policies", policies, "value")
    if relative_to is not None and relative_to not in policies:
        raise ValueError(f"relative_to must be one of the labels {list(policies)}, got {relative_to!r}")
    ax = _axes(ax)
    q = np.asarray(q)
    base = None if relative_to is None else np.asarray(policies[relative_to].value(t, q, s), float)
    for i, (label, pol) in enumerate(policies.items()):
        if label == relative_to:
            continue
        v = np.asarray(pol.value(t, q, s), float)
        ax.plot(q, v if base is None else v - base, ["-", "--", ":", "-."][i % 4], label=label)
    ax.set_xlabel("inventory q")
    ax.set_ylabel("value v_q(t, s) (price units)" if base is None else
                  f"value − {relative_to} value (price units)")
    ax.set_title(f"Value function at t = {t:g}, s = {s:g}")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return ax


def plot_error_map(x, y, err, ax=None, levels=(0.01, 0.05, 0.1), xlabel="ε", ylabel="inventory q",
                   title="relative error", log_x: bool = True, marker=None):
    """A map of an error field ``err[y, x]`` (log10 colours) with labelled contour levels.

    Parameters
    ----------
    x : array_like, shape (nx,)
    y : array_like, shape (ny,)
    err : array_like, shape (ny, nx)
        Non-negative errors.
    levels : sequence of float
        Contour levels, labelled as percentages.
    marker : (float, float, str), optional
        A point ``(x, y, label)`` to mark (e.g. the paper's parameters).

    Returns
    -------
    Axes
    """
    x, y, err = np.asarray(x, float), np.asarray(y, float), np.asarray(err, float)
    if x.ndim != 1 or y.ndim != 1 or err.shape != (y.size, x.size) or x.size < 2 or y.size < 2:
        raise ValueError(f"err must have shape (len(y), len(x)) with at least 2 points each, got {err.shape} for "
                         f"x {x.shape} and y {y.shape}")
    if not np.any(np.isfinite(err) & (err > 0)):
        raise ValueError("err must hold some finite positive errors (all are NaN, inf or <= 0)")
    if marker is not None and (not isinstance(marker, (tuple, list)) or len(marker) != 3):
        raise ValueError(f"marker must be (x, y, label), got {marker!r}")
    ax = _axes(ax)
    pc = ax.pcolormesh(x, y, np.log10(np.maximum(err, 1e-16)), shading="nearest", cmap="viridis")
    ax.figure.colorbar(pc, ax=ax, label="log10 error")
    cs = ax.contour(x, y, err, levels=list(levels), colors="white", linewidths=1.0)
    label_contours(ax, cs, {lv: f"{100 * lv:g}%" for lv in levels})
    if marker is not None:
        ax.plot([marker[0]], [marker[1]], "*", ms=14, color="magenta", mec="black", label=marker[2], clip_on=False)
        legend_outside(ax)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax
