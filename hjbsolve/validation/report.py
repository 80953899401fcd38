"""Report plumbing: the run context, markdown tables, figures, JSON with finite numbers only."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Context", "md_table", "fmt", "jsonable", "check_finite"]


def fmt(x, digits: int = 3) -> str:
    """Compact number formatting for tables."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if 1e-3 <= a < 1e4:
        return f"{x:.{digits}g}" if a < 1 else f"{x:.{max(digits, int(math.log10(a)) + 2)}g}"
    return f"{x:.{digits - 1}e}"


def md_table(header, rows) -> str:
    """A markdown table; cells are formatted with :func:`fmt` unless already strings."""
    def cell(c):
        return c if isinstance(c, str) else fmt(c)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def jsonable(o):
    """Convert numpy scalars/arrays (recursively) to JSON types."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return o


def check_finite(o, path="results") -> list[str]:
    """Paths of all non-finite numbers in a JSON-like structure."""
    bad = []
    if isinstance(o, dict):
        for k, v in o.items():
            bad += check_finite(v, f"{path}.{k}")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            bad += check_finite(v, f"{path}[{i}]")
    elif isinstance(o, float) and not math.isfinite(o):
        bad.append(path)
    return bad


@dataclass
class Context:
    """Everything a section needs: settings, output folder, results, markdown, figures."""

    out: Path
    settings: object
    progress: bool = True
    results: dict = field(default_factory=dict)
    md: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def figure(self, ncols=1, nrows=1, size=(7.5, 4.5)):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(size[0] * ncols if ncols > 1 else size[0], size[1] * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        return fig, axes

    def save(self, fig, name: str) -> str:
        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=110)
        self.figures.append(path.name)
        return path.name

    def add(self, text: str) -> None:
        self.md.append(text.rstrip() + "\n")

    def image(self, name: str, caption: str) -> None:
        self.add(f"![{caption}]({name})\n\n*{caption}*")

    def write(self) -> tuple[Path, Path]:
        res = jsonable(self.results)
        bad = check_finite(res)
        if bad:
            raise ValueError(f"non-finite numbers in results.json: {bad[:10]}")
        jpath = self.out / "results.json"
        jpath.write_text(json.dumps(res, indent=1, allow_nan=False))
        rpath = self.out / "report.md"
        rpath.write_text("\n".join(self.md))
        return rpath, jpath
