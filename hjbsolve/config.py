"""Parameter files (TOML) for the command line. Unknown sections or keys are errors.

Example ``params.toml``::

    [price]
    kind = "ou"          # or "brownian" (then only sigma)
    a = 0.1
    mu = 3009.0
    sigma = 0.5

    [model]
    A = 1000.0
    k = 1.0
    z = 0.5
    T = 1.0
    eps = 0.001
    eta = 1.0
    nu = 1.0
    alpha = 0.05

    [solve]
    q_max = 200                  # default: twice the largest reported |q| (at least 20)
    s_range = [2999.0, 3001.0]   # default: s0 ± 1 (OU only)
    # n_steps, ds, scheme optional

    [report]
    s0 = 3000.0
    q = [-100, -50, -10, 0, 10, 50, 100]
    t = 0.0

Every section and key is optional; missing ones take the paper's §4 values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .model import PAPER_S0, Model, paper_model, price_from_dict

__all__ = ["RunConfig", "load_config"]

_SECTIONS = {
    "price": {"kind", "sigma", "a", "mu"},
    "model": {"A", "k", "z", "T", "eps", "eta", "nu", "alpha"},
    "solve": {"q_max", "s_range", "n_steps", "ds", "scheme"},
    "report": {"s0", "q", "t"},
}


@dataclass
class RunConfig:
    model: Model
    solve: dict = field(default_factory=dict)
    s0: float = PAPER_S0
    q: list = field(default_factory=lambda: [-100, -50, -10, 0, 10, 50, 100])
    t: float = 0.0


def load_config(path=None) -> RunConfig:
    """Read a TOML parameter file (``None``: the paper's parameters)."""
    data = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"parameter file {str(path)!r} does not exist")
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"{path}: not valid TOML: {e}") from None
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)} in the parameter file; allowed: {sorted(_SECTIONS)}")
    for sec, keys in _SECTIONS.items():
        if sec in data:
            if not isinstance(data[sec], dict):
                raise ValueError(f"[{sec}] must be a table")
            bad = set(data[sec]) - keys
            if bad:
                raise ValueError(f"unknown key(s) {sorted(bad)} in [{sec}]; allowed: {sorted(keys)}")
    base = paper_model("ou")
    if "price" in data:
        pd = dict(data["price"])
        pd.setdefault("kind", "ou")
        defaults = base.price.to_dict()
        if pd["kind"] == "ou":
            for key in ("a", "mu", "sigma"):
                pd.setdefault(key, defaults[key])
        elif pd["kind"] == "brownian":
            pd.setdefault("sigma", defaults["sigma"])
        price = price_from_dict(pd)
    else:
        price = base.price
    model = base.replace(price=price, **data.get("model", {}))
    rep = data.get("report", {})
    cfg = RunConfig(model=model, solve=dict(data.get("solve", {})))
    if "s0" in rep:
        cfg.s0 = rep["s0"]
    if "q" in rep:
        cfg.q = list(rep["q"])
    if "t" in rep:
        cfg.t = rep["t"]
    if "s_range" in cfg.solve:
        cfg.solve["s_range"] = tuple(cfg.solve["s_range"])
    return cfg
