"""Figures. Every function takes ``ax=None`` (a new figure is made) and returns the Axes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_quotes_vs_q", "plot_value_vs_q", "plot_error_map", "plot_day", "plot_day_panels",
           "plot_inventory_extremes", "plot_pnl_density", "save_figure", "log_ticks", "legend_outside",
           "reference_line", "label_contours", "clip_spikes", "plot_iso_risk", "plot_final_inventories"]


def _check_mapping(name: str, items, method: str) -> dict:
    """``items`` as a non-empty dict of label → object with ``method`` (a ValueError otherwise)."""
    if not isinstance(items, dict) or not items:
        raise ValueError(f"{name} must be a non-empty dict of label -> object with .{method}(), got {items!r:.80}")
    from .policies import policy_assets

    for label, obj in items.items():
        if not callable(getattr(obj, method, None)):
            raise ValueError(f"{name}[{label!r}] must have a .{method}() method, got {type(obj).__name__}")
        if policy_assets(obj) not in (None, 1):
            raise ValueError(f"{name}[{label!r}] quotes {policy_assets(obj)} assets: this plot draws one asset's "
                             "quotes against q; for several assets use plot_iso_risk or plot_final_inventories")
    return items


def _axes(ax, figsize=(7.5, 4.5)):
    """``ax``, or the Axes of a new constrained-layout Figure (no pyplot state) when it is ``None``."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _recorded(result, path):
    """The recorded paths of ``result`` after checking that ``path`` indexes one of them."""
    rec = getattr(result, "paths", None)
    if isinstance(path, bool) or not isinstance(path, (int, np.integer)) or rec is None or not 0 <= path < len(rec):
        n = 0 if rec is None else len(rec)
        raise ValueError(f"path must index a recorded path (simulate(..., record=N)); got path={path!r} with {n} "
                         "recorded")
    if np.ndim(rec.s) == 3:
        raise ValueError("the result is a simulation of several assets: this plot draws one asset's day; use "
                         "plot_final_inventories (or plot_pnl_density) for several assets")
    return rec


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


def plot_quotes_vs_q(policies: dict, t: float, s: float, q, ax=None, regime=None):
    """Ask and bid half-spreads against inventory for several policies.

    Parameters
    ----------
    policies : dict[str, object]
        Label → anything with ``quotes(t, q, s)`` (a Solution, an Expansion, …).
    t, s : float
        Time and mid-price.
    q : array_like of int, shape (n,)
    ax : Axes, optional
    regime : int or str, optional
        The market regime of a regime solution (passed to every ``quotes``; required there).

    Returns
    -------
    Axes
    """
    _check_mapping("policies", policies, "quotes")
    ax = _axes(ax)
    q = np.asarray(q)
    kw = {} if regime is None else {"regime": regime}
    styles = ["-", "--", ":", "-."]
    for i, (label, pol) in enumerate(policies.items()):
        dp, dm = pol.quotes(t, q, s, **kw)
        ls = styles[i % len(styles)]
        ax.plot(q, np.where(np.isfinite(dp), dp, np.nan), ls, color="tab:red", label=f"{label}: δ⁺ (ask)")
        ax.plot(q, np.where(np.isfinite(dm), dm, np.nan), ls, color="tab:blue", label=f"{label}: δ⁻ (bid)")
    ax.set_xlabel("inventory q")
    ax.set_ylabel("half-spread from the mid-price (price units)")
    ax.set_title(f"Optimal quotes at t = {t:g}, s = {s:g}" + ("" if regime is None else f", regime {regime}"))
    ax.grid(alpha=0.3)
    legend_outside(ax, ncol=2)
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
    rec = _recorded(result, path)
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
    ax.set_title(f"One simulated day under the policy {pol!r} (path {path})")
    ax.grid(alpha=0.3)
    return ax


def plot_pnl_density(results: dict, what: str = "objective", bins: int = 60, ax=None, kde: bool = False):
    """Densities of the per-path objective (or PnL) of several simulations.

    Parameters
    ----------
    results : dict[str, SimulationResult or array_like]
        Label → result (its ``what`` attribute is plotted) or a 1-D array of per-path values.
    what : {"objective", "pnl"}
        Which per-path quantity of a result (also names the x axis).
    bins : int
        Histogram bins over the 0.1 %–99.9 % quantile range of all the samples.
    ax : Axes, optional
    kde : bool
        Draw a Gaussian kernel density estimate (scipy) over a faint histogram instead of
        step histograms.

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        An empty or non-dict ``results``, an entry that is neither a result nor a 1-D array of at
        least two finite values, a bad ``what`` or ``bins``.
    """
    if what not in ("objective", "pnl"):
        raise ValueError(f"what must be 'objective' or 'pnl', got {what!r}")
    if not isinstance(results, dict) or not results:
        raise ValueError(f"results must be a non-empty dict of label -> SimulationResult, got {results!r:.80}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 10_000:
        raise ValueError(f"bins must be an integer in 1..10000, got {bins!r}")
    data = {}
    for label, r in results.items():
        x = getattr(r, what) if hasattr(r, what) else r
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            x = None
        if x is None or x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"results[{label!r}] must be a SimulationResult or a 1-D array of >= 2 finite values, "
                             f"got {type(r).__name__}")
        data[label] = x
    ax = _axes(ax)
    lo = min(np.quantile(x, 0.001) for x in data.values())
    hi = max(np.quantile(x, 0.999) for x in data.values())
    edges = np.linspace(lo, hi, int(bins) + 1)
    for label, x in data.items():
        text = f"{label}: mean {x.mean():.4g} ± {x.std(ddof=1) / np.sqrt(x.size):.2g}"
        if kde and np.ptp(x) > 0:
            from scipy import stats

            grid = np.linspace(lo, hi, 400)
            line, = ax.plot(grid, stats.gaussian_kde(x)(grid), label=text)
            ax.hist(x, bins=edges, density=True, alpha=0.15, color=line.get_color())
        else:
            ax.hist(x, bins=edges, density=True, histtype="step", lw=1.2, label=text)
    ax.set_xlabel("objective X_T + Q_T S_T − penalties (price unit)" if what == "objective"
                  else "PnL X_T + Q_T S_T (price unit)")
    ax.set_ylabel("density (per price unit)")
    ax.set_title(f"Distribution of the {what} over {min(x.size for x in data.values())} simulated days")
    ax.grid(alpha=0.3)
    legend_outside(ax, ncol=1)
    return ax


def plot_day_panels(result, path: int = 0, axes=None, mu=None, t_scale: float = 1.0,
                    t_label: str = "time t (model time unit)", price_unit: str = "price unit"):
    """One simulated day in four stacked panels: the mid-price, the quotes ``δ⁺`` and ``−δ⁻``
    relative to it, the inventory, and the mark-to-market ``X_t + Q_t S_t`` (paper §4, Figs. 2–3).

    Parameters
    ----------
    result : SimulationResult
        A simulation that recorded paths (``simulate(..., record=N)``, ``N > path``).
    path : int
        Index of the recorded path drawn.
    axes : sequence of 4 Axes, optional
        Default: a new figure with four panels sharing the time axis.
    mu : float, optional
        A reference price level (the OU mean), drawn without rescaling the price panel
        (:func:`reference_line`).
    t_scale, t_label : float, str
        The time axis shows ``t · t_scale`` under ``t_label`` (e.g. events per day).
    price_unit : str
        Unit named on the price axes.

    Returns
    -------
    ndarray of 4 Axes

    Raises
    ------
    ValueError
        No recorded paths, ``path`` out of range, or ``axes`` not four Axes.
    """
    rec = _recorded(result, path)
    if axes is None:
        from matplotlib.figure import Figure

        axes = Figure(figsize=(8, 9.5), layout="constrained").subplots(4, 1, sharex=True)
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 4:
        raise ValueError(f"axes must be 4 Axes (price, quotes, inventory, wealth), got {axes.size}")
    x = rec.t * float(t_scale)
    axes[0].plot(x, rec.s[path], lw=0.8, label="mid-price $S_t$")
    if mu is not None:
        reference_line(axes[0], mu, f"μ = {mu:g}")
    axes[0].ticklabel_format(axis="y", useOffset=False)
    axes[0].set_ylabel(f"price ({price_unit})")
    legend_outside(axes[0], where="right")
    ask = np.where(np.isfinite(rec.ask[path]), rec.ask[path], np.nan)
    bid = np.where(np.isfinite(rec.bid[path]), rec.bid[path], np.nan)
    axes[1].plot(x, ask, lw=0.8, label=r"$\delta^+$ (ask − mid)")
    axes[1].plot(x, -bid, lw=0.8, label=r"$-\delta^-$ (bid − mid)")
    axes[1].axhline(0.0, color="grey", lw=0.5)
    axes[1].set_ylabel(f"quote − mid ({price_unit})")
    legend_outside(axes[1], where="right")
    axes[2].step(x, rec.q[path], where="post", lw=0.8)
    axes[2].set_ylabel("inventory $Q_t$ (units)")
    axes[3].plot(x, rec.x[path] + rec.q[path] * rec.s[path], lw=0.8)
    axes[3].set_ylabel(f"$X_t + Q_t S_t$ ({price_unit})")
    axes[3].set_xlabel(t_label)
    return axes


def plot_inventory_extremes(results: dict, axes=None):
    """Histograms of the intraday minimum and maximum inventory, one panel per simulation (paper
    §4, Fig. 4). A bar far taller than the rest (the daily minimum of a mean-reverting strategy
    sits at q ≈ 0 on most days) is cut at the top with its count written on it
    (:func:`clip_spikes`), so it does not flatten the other distribution.

    Parameters
    ----------
    results : dict[str, SimulationResult]
        Label → result (its ``q_min``, ``q_max`` per path).
    axes : sequence of Axes, optional
        One per entry; default a new figure with one panel per entry.

    Returns
    -------
    ndarray of Axes

    Raises
    ------
    ValueError
        An empty or non-dict ``results``, an entry without ``q_min``/``q_max``, or the wrong
        number of ``axes``.
    """
    if not isinstance(results, dict) or not results or not all(
            hasattr(r, "q_min") and hasattr(r, "q_max") for r in results.values()):
        raise ValueError(f"results must be a non-empty dict of label -> SimulationResult, got {results!r:.80}")
    several = [k for k, r in results.items() if np.ndim(r.q_min) != 1]
    if several:
        raise ValueError(f"results[{several[0]!r}] is a simulation of several assets: this plot draws one asset's "
                         "extremes; use plot_final_inventories for several assets")
    if axes is None:
        from matplotlib.figure import Figure

        axes = Figure(figsize=(5 * len(results), 4.2), layout="constrained").subplots(1, len(results), squeeze=False)
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != len(results):
        raise ValueError(f"axes must be {len(results)} Axes (one per result), got {axes.size}")
    for ax, (name, res) in zip(axes, results.items()):
        lo, hi = int(np.min(res.q_min)), int(np.max(res.q_max))
        bins = np.linspace(lo - 0.5, hi + 0.5, min(80, hi - lo + 2))
        hists = [ax.hist(res.q_min, bins=bins, alpha=0.6, label="daily minimum")[:2],
                 ax.hist(res.q_max, bins=bins, alpha=0.6, label="daily maximum")[:2]]
        clip_spikes(ax, hists, unit=" days")
        ax.set_title(f"{name} ({np.size(res.q_min)} days)")
        ax.set_xlabel("intraday inventory extreme (units)")
        ax.set_ylabel("days")
    legend_outside(axes[0], where="figure")
    return axes


def plot_value_vs_q(policies: dict, t: float, s: float, q, ax=None, relative_to: str | None = None, regime=None):
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
    regime : int or str, optional
        The market regime of a regime solution (passed to every ``value``; required there).

    Returns
    -------
    Axes
    """
    _check_mapping("policies", policies, "value")
    if relative_to is not None and relative_to not in policies:
        raise ValueError(f"relative_to must be one of the labels {list(policies)}, got {relative_to!r}")
    ax = _axes(ax)
    q = np.asarray(q)
    kw = {} if regime is None else {"regime": regime}
    base = None if relative_to is None else np.asarray(policies[relative_to].value(t, q, s, **kw), float)
    for i, (label, pol) in enumerate(policies.items()):
        if label == relative_to:
            continue
        v = np.asarray(pol.value(t, q, s, **kw), float)
        ax.plot(q, v if base is None else v - base, ["-", "--", ":", "-."][i % 4], label=label)
    ax.set_xlabel("inventory q")
    ax.set_ylabel("value v_q(t, s) (price units)" if base is None else
                  f"value − {relative_to} value (price units)")
    ax.set_title(f"Value function at t = {t:g}, s = {s:g}" + ("" if regime is None else f", regime {regime}"))
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


def plot_iso_risk(sol, t: float = 0.0, ax=None, extent=None, n_levels: int = 5, n_arrows: int = 13):
    """Iso-risk ellipses ``Π(q) = c`` of a two-asset model (paper §5.8) with the inventory drift of
    the optimal quotes on top.

    The ellipses are the level sets of ``Π(q) = ε[η q'Ωq + ν(T − t) q'Λq]``
    (:meth:`hjbsolve.MultiAssetModel.inventory_risk`); the arrows, at integer inventories, are the
    expected inventory change per unit time under the exact optimal quotes,
    ``E[dq_i]/dt = λ⁻_i(δ⁻_i) − λ⁺_i(δ⁺_i)`` (:meth:`hjbsolve.Solution.inventory_drift`): the direction
    in which the quotes push the inventory. The paper's claim that the market maker favours a
    well-diversified portfolio is that they point towards lower risk, across the ellipses.

    Parameters
    ----------
    sol : Solution
        An exact multi-asset solution with ``M = 2`` (``hs.solve(MultiAssetModel, ...)``).
    t : float
        Time (model time unit) of the quotes and of ``Π``.
    ax : Axes, optional
    extent : (int, int), optional
        Half-widths of the drawn inventory box; default the accuracy contract's ``q_max_i // 2``.
    n_levels : int
        Ellipses drawn (1 to 20), at ``f² Π_edge``, ``f`` evenly spaced in ``(0, 1]`` and ``Π_edge``
        the smallest risk on the edge of the drawn box (so every ellipse fits in it).
    n_arrows : int
        Arrows per axis (3 to 41), on integer inventories.

    Returns
    -------
    Axes
        With the drift arrows as its one ``Quiver`` (data: the inventories ``X, Y`` and the drifts
        ``U, V``, inventory units per time unit).

    Raises
    ------
    ValueError
        ``sol`` not a two-asset solution, or a bad ``t``, ``extent``, ``n_levels`` or ``n_arrows``.
    """
    from matplotlib.lines import Line2D

    if not getattr(sol, "multi_asset", False) or len(sol.q) != 2:
        raise ValueError(f"sol must be a two-asset Solution (hs.solve of a MultiAssetModel with M = 2), got "
                         f"{type(sol).__name__}" + (f" with {len(sol.q)} assets" if getattr(sol, "multi_asset", False)
                                                    else ""))
    for name, v, lo, hi in (("n_levels", n_levels, 1, 20), ("n_arrows", n_arrows, 3, 41)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
    bounds = sol.q_max
    if extent is None:
        extent = tuple(max(1, b // 2) for b in bounds)
    if (not isinstance(extent, (tuple, list)) or len(extent) != 2
            or not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) and 1 <= e <= b
                       for e, b in zip(extent, bounds))):
        raise ValueError(f"extent must be two integers in 1..q_max = {list(bounds)}, got {extent!r}")
    m = sol.model
    ax = _axes(ax, figsize=(6.5, 6.0))
    # the ellipses: Π on a fine grid of the box, levels that fit inside it
    x = np.linspace(-extent[0], extent[0], 201)
    y = np.linspace(-extent[1], extent[1], 201)
    X, Y = np.meshgrid(x, y)
    Pi = m.inventory_risk(np.stack([X, Y], axis=-1), t=t)
    edge = min(float(m.inventory_risk([extent[0], 0.0], t=t)), float(m.inventory_risk([0.0, extent[1]], t=t)),
               float(np.min(m.inventory_risk(np.stack([x, np.full_like(x, extent[1])], axis=-1), t=t))),
               float(np.min(m.inventory_risk(np.stack([np.full_like(y, extent[0]), y], axis=-1), t=t))))
    levels = np.unique(edge * np.linspace(0.0, 1.0, n_levels + 1)[1:] ** 2)
    cs = ax.contour(X, Y, Pi, levels=levels[levels > 0], colors="tab:grey", linewidths=1.0)
    label_contours(ax, cs, lambda v: f"{v:.3g}")
    # the drift of the optimal quotes at integer inventories
    qx = np.unique(np.round(np.linspace(-extent[0], extent[0], n_arrows)).astype(int))
    qy = np.unique(np.round(np.linspace(-extent[1], extent[1], n_arrows)).astype(int))
    QX, QY = np.meshgrid(qx, qy)
    q = np.stack([QX.ravel(), QY.ravel()], axis=-1)
    drift = sol.inventory_drift(t, q, np.zeros(q.shape, dtype=float))
    step = min(np.diff(qx).min(initial=1), np.diff(qy).min(initial=1))
    length = np.hypot(drift[:, 0], drift[:, 1])
    longest, typical = float(np.max(length)), float(np.quantile(length, 0.75))
    ax.quiver(q[:, 0], q[:, 1], drift[:, 0], drift[:, 1], angles="xy", scale_units="xy",   # 3/4 of the arrows
              scale=typical / (0.8 * step) if typical > 0 else 1.0, color="tab:blue", width=0.005,   # <= 0.8 step
              headwidth=3.0, headlength=3.5, headaxislength=3.2)         # slim heads: the shaft shows the direction
    ax.plot([0], [0], "k+", ms=8)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(-extent[0] - step, extent[0] + step)
    ax.set_ylim(-extent[1] - step, extent[1] + step)
    ax.set_xlabel("inventory q₁ of asset 1 (units)")
    ax.set_ylabel("inventory q₂ of asset 2 (units)")
    rho = float(m.correlation[0, 1])
    ax.set_title(f"Iso-risk ellipses and optimal-quote drift\nρ = {rho:.2g}, ε = {m.eps:g}, η = {m.eta:g}, "
                 f"ν = {m.nu:g}, t = {t:g}", fontsize=10)
    handles = [Line2D([], [], color="tab:grey", lw=1.0, label="iso-risk Π(q) = c (price units, labelled)"),
               Line2D([], [], color="tab:blue", marker=r"$\rightarrow$", ms=12, ls="none",
                      label=f"E[dq]/dt = λ⁻ − λ⁺ (longest {longest:.3g} units per time unit)")]
    legend_outside(ax, ncol=1, handles=handles)
    return ax


def plot_final_inventories(result, model, ax=None, max_points: int = 4000):
    """Where a multi-asset simulation ends: the final inventories ``Q_T`` of the simulated days.

    With two assets, a scatter of ``(Q₁(T), Q₂(T))`` over the iso-risk ellipses ``Π(q) = c`` of the
    model at ``t = 0`` (paper §5.8), with the major axis of the simulated distribution (its sample
    covariance) and the model's low-risk direction (the eigenvector of the smallest eigenvalue of
    ``ηΩ + νTΛ``), both through the sample mean (drifts move the centre): the paper's "favour a
    well-diversified portfolio" claim is that the two align.
    With another number of assets, one histogram of ``Q_i(T)`` per asset.

    Parameters
    ----------
    result : SimulationResult
        From :func:`hjbsolve.simulate` of a :class:`~hjbsolve.MultiAssetModel` (``q_final`` of shape
        ``(n_paths, M)``).
    model : MultiAssetModel
        The simulated model (its ``Ω``, ``Λ``, ``η``, ``ν``, ``T``).
    ax : Axes, optional
    max_points : int
        Most days drawn in the scatter (the first ones; every day enters the sample covariance).

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``result`` without a per-asset ``q_final`` of ``model``'s ``M`` assets, or a bad ``max_points``.
    """
    from .multiasset import MultiAssetModel

    if not isinstance(model, MultiAssetModel):
        raise ValueError(f"model must be an hs.MultiAssetModel, got {type(model).__name__}")
    q = np.asarray(getattr(result, "q_final", None))
    M = model.n_assets
    if q.ndim != 2 or q.shape[1] != M or q.shape[0] < 2:
        raise ValueError(f"result must be a simulation of the model's M={M} assets (q_final of shape (n_paths, {M})), "
                         f"got q_final of shape {q.shape}")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    q = q.astype(float)
    if M != 2:
        ax = _axes(ax)
        lo, hi = int(q.min()), int(q.max())
        bins = np.arange(lo - 0.5, hi + 1.5) if hi - lo <= 120 else 60
        for i in range(M):
            ax.hist(q[:, i], bins=bins, histtype="step", lw=1.4, label=f"asset {i + 1}: mean {q[:, i].mean():.3g}, "
                    f"sd {q[:, i].std(ddof=1):.3g}")
        ax.set_xlabel("final inventory Q_i(T) (units)")
        ax.set_ylabel("simulated days")
        ax.set_title(f"Final inventories of {q.shape[0]} simulated days, M = {M} assets", fontsize=10)
        legend_outside(ax, ncol=min(M, 3))
        return ax
    from matplotlib.lines import Line2D

    ax = _axes(ax, figsize=(6.5, 6.0))
    shown = q[:max_points]
    ax.scatter(shown[:, 0], shown[:, 1], s=6, alpha=0.25, color="tab:blue", lw=0)
    span = max(float(np.abs(q).max()), 1.0) * 1.1
    x = np.linspace(-span, span, 201)
    X, Y = np.meshgrid(x, x)
    Pi = model.inventory_risk(np.stack([X, Y], axis=-1))
    levels = np.unique(np.quantile(model.inventory_risk(q), [0.5, 0.9, 0.99]))
    if np.all(levels > 0):
        cs = ax.contour(X, Y, Pi, levels=levels, colors="tab:grey", linewidths=1.0)
        label_contours(ax, cs, lambda v: f"{v:.3g}")
    centre = q.mean(axis=0)
    w, v = np.linalg.eigh(np.cov(q.T))
    low = np.linalg.eigh(model.eta * model.Omega_matrix + model.nu * model.T * model.cov)[1][:, 0]
    r = 0.8 * span
    ax.plot(centre[0] + r * np.array([-1, 1]) * v[0, -1], centre[1] + r * np.array([-1, 1]) * v[1, -1], "-",
            color="tab:orange", lw=1.6)
    ax.plot(centre[0] + r * np.array([-1, 1]) * low[0], centre[1] + r * np.array([-1, 1]) * low[1], "--",
            color="k", lw=1.2)
    ax.plot([centre[0]], [centre[1]], "k+", ms=9)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_xlabel("final inventory Q₁(T) of asset 1 (units)")
    ax.set_ylabel("final inventory Q₂(T) of asset 2 (units)")
    rho = float(model.correlation[0, 1])
    ax.set_title(f"Final inventories of {q.shape[0]} simulated days\nρ = {rho:.2g}, ε = {model.eps:g}, "
                 f"η = {model.eta:g}, ν = {model.nu:g}", fontsize=10)
    handles = [Line2D([], [], color="tab:blue", marker="o", ms=4, ls="none", alpha=0.5,
                      label=f"simulated Q(T) (first {shown.shape[0]} days)"),
               Line2D([], [], color="tab:orange", lw=1.6, label="major axis of the simulated Q(T), through its mean (+)"),
               Line2D([], [], color="k", ls="--", lw=1.2, label="low-risk direction of ηΩ + νTΛ, through the mean"),
               Line2D([], [], color="tab:grey", lw=1.0, label="iso-risk Π(q) at the 50/90/99 % of the days "
                                                             "(price units, labelled)")]
    legend_outside(ax, ncol=1, handles=handles)
    return ax
