"""One configuration schema for the Python API, the TOML parameter files and the command line.

A parameter file has six optional tables; each key is the Python name of the same setting:

* ``[price]`` — the mid-price process (:class:`~hjbsolve.Brownian` / :class:`~hjbsolve.OrnsteinUhlenbeck`
  fields, plus ``kind``);
* ``[model]`` — the other :class:`~hjbsolve.Model` fields (``s0``: the initial price);
* ``[regimes]`` — a Markov chain of market regimes (:class:`~hjbsolve.Regimes`): a ``generator``
  with per-regime lists (``z``, ``sigma``, ``A_plus``, … , ``names``), or a diffusion factor
  (``factor = "ou"`` or ``"cir"``, ``field``, ``mean``, ``reversion``, ``vol``, ``n``, ``width_sd``:
  :meth:`~hjbsolve.Regimes.ou_factor`, :meth:`~hjbsolve.Regimes.cir_factor`);
* ``[assets]`` — instead of ``[price]``/``[regimes]``: several assets (:class:`~hjbsolve.MultiAssetModel`,
  paper §5): per-asset lists ``A``, ``k``, ``z``, ``alpha``, ``drift``, the covariance ``cov`` and
  optionally ``Omega`` (``[model]`` then holds only ``T``, ``eps``, ``eta``, ``nu``; ``[solve] q_max`` and
  ``[report] q`` take one entry per asset);
* ``[solve]`` — the keyword options of :func:`hjbsolve.solve`;
* ``[report]`` — what ``hjbsolve solve`` prints.

Example ``params.toml``::

    [price]              # a [price] table gives the whole price: no paper value is mixed in
    kind = "ou"          # or "brownian" (then sigma, and optionally drift)
    a = 0.1
    mu = 3009.0
    sigma = 0.5

    [model]
    A = 1000.0           # or [A_ask, A_bid]; the same for k
    k = 1.0
    z = 0.5
    T = 1.0
    eps = 0.001
    alpha = 0.05
    s0 = 3000.0          # required with an OU [price] table

    [solve]
    q_max = 200
    tol = 1e-4

    [report]
    q = [-100, -50, -10, 0, 10, 50, 100]
    t = 0.0

Every table and key is optional; missing ones take the paper's §4 values (:func:`~hjbsolve.paper_model`).
:data:`SCHEMA` lists every key with its type, unit, default and meaning (the README's table is
:func:`markdown_table`). Names and types are checked against a JSON schema (``jsonschema``);
ranges are checked by the API itself (:class:`~hjbsolve.Model`, :func:`~hjbsolve.solve`), so a
file and a Python call get the same messages.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft202012Validator, validators

from .model import Model, paper_model
from .multiasset import MultiAssetModel
from .prices import PRICE_KINDS
from .regimes import FACTOR_KINDS, REGIME_FIELDS, Regimes
from .grid import MAX_Q
from .solver.api import METHODS
from .solver.schemes import SCHEMES

__all__ = ["RunConfig", "load_config", "SCHEMA", "Key", "markdown_table", "DEFAULT_REPORT_Q", "ASSETS_MODEL_KEYS"]

#: Inventories whose quotes ``hjbsolve solve`` prints by default.
DEFAULT_REPORT_Q = (-100, -50, -10, 0, 10, 50, 100)


@dataclass(frozen=True)
class Key:
    """One setting of a parameter file.

    Attributes
    ----------
    section, name : str
        The TOML table and key (``name`` is also the Python name).
    type : str
        What is allowed, in words (used by the README table and by the error messages).
    unit, default, meaning : str
        Documentation (the README's table).
    json : dict
        The JSON-schema fragment that checks the type.
    """

    section: str
    name: str
    type: str
    unit: str
    default: str
    meaning: str
    json: dict


_NUMBER = {"type": "number"}
_INTEGER = {"type": "integer"}
_PAIR = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_SIDES = {"anyOf": [_NUMBER, _PAIR]}
_NUMBERS = {"type": "array", "items": _NUMBER, "minItems": 1}
_MATRIX = {"type": "array", "items": _NUMBERS, "minItems": 1}
_INTEGERS = {"type": "array", "items": _INTEGER, "minItems": 1}
#: The ``[model]`` keys a multi-asset file may set (the rest is per asset, in ``[assets]``).
ASSETS_MODEL_KEYS = ("T", "eps", "eta", "nu")
_STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}
#: The meaning of each per-regime list of ``[regimes]``.
_REGIME_MEANING = {"z": "half market spread `z ≥ 0`", "sigma": "volatility `σ ≥ 0` (and running penalty `ενσ²`)",
                   "A_plus": "ask intensity scale `A⁺ > 0`", "A_minus": "bid intensity scale `A⁻ > 0`",
                   "k_plus": "ask intensity decay `k⁺ > 0`", "k_minus": "bid intensity decay `k⁻ > 0`",
                   "alpha": "per-trade cost `α`"}
#: Keys of the diffusion-factor form of ``[regimes]`` (the keyword arguments of Regimes.factor).
_FACTOR_KEYS = ("factor", "field", "mean", "reversion", "vol", "n", "width_sd")

#: Every key of a parameter file, in the order of the README's table.
SCHEMA: tuple[Key, ...] = (
    Key("price", "kind", '"ou" or "brownian"', "—", '"ou"', "Ornstein–Uhlenbeck `dS = a(μ−S)dt + σdW` or "
        "Brownian `dS = b dt + σdW` mid-price", {"enum": sorted(PRICE_KINDS)}),
    Key("price", "a", "number", "1/time", "0.1", "mean-reversion rate `a > 0` (ou)", _NUMBER),
    Key("price", "mu", "number", "price", "3009", "long-run level `μ` (ou)", _NUMBER),
    Key("price", "sigma", "number", "price/√time", "0.5", "volatility `σ ≥ 0`", _NUMBER),
    Key("price", "drift", "number", "price/time", "0", "constant drift `b` (brownian)", _NUMBER),
    Key("model", "A", "number or [ask, bid] pair of numbers", "1/time", "1000",
        "fill intensity scale `A > 0`: fills per time unit at distance `−z`", _SIDES),
    Key("model", "k", "number or [ask, bid] pair of numbers", "1/price", "1", "intensity decay `k > 0`", _SIDES),
    Key("model", "z", "number", "price", "0.5", "half market spread `z ≥ 0`", _NUMBER),
    Key("model", "T", "number", "time", "1", "horizon `T > 0`", _NUMBER),
    Key("model", "eps", "number", "—", "0.001", "inventory-risk weight `ε ≥ 0`", _NUMBER),
    Key("model", "eta", "number", "—", "1", "weight `η ≥ 0` of the terminal penalty `εηz Q_T²`", _NUMBER),
    Key("model", "nu", "number", "—", "1", "weight `ν ≥ 0` of the running penalty `ενσ² ∫Q²dt`", _NUMBER),
    Key("model", "alpha", "number", "price", "0.05", "per-trade cost `α` (negative: a rebate)", _NUMBER),
    Key("model", "phi", "number", "price/time", "`ε ν σ²`", "running penalty rate `φ ≥ 0` set directly", _NUMBER),
    Key("model", "varpi", "number", "price", "`ε η z`", "terminal penalty `ϖ ≥ 0` set directly", _NUMBER),
    Key("model", "s0", "number", "price", "3000 (required with an OU `[price]` table)",
        "initial mid-price: centre of the default `s_range`, price of the printed quotes (`solve`), "
        "start of the simulated days (`simulate`)", _NUMBER),
    Key("regimes", "generator", "list of n lists of n numbers", "1/time", "none (no regimes)",
        "rates `Q[i][j] ≥ 0` of the jumps from regime i to j, rows summing to 0 (`hs.Regimes`)",
        {"type": "array", "items": _NUMBERS, "minItems": 1}),
    *(Key("regimes", name, "list of n numbers", unit, "the `[model]`/`[price]` value in every regime",
          f"per-regime {_REGIME_MEANING[name]}", _NUMBERS)
      for name, unit in zip(REGIME_FIELDS, ("price", "price/√time", "1/time", "1/time", "1/price", "1/price",
                                             "price"))),
    Key("regimes", "names", "list of n strings", "—", '"0", "1", …', "regime names (reports and `regime=` queries)",
        _STRINGS),
    Key("regimes", "factor", f"one of {', '.join(map(repr, FACTOR_KINDS))}", "—", "none",
        "instead of `generator`: a diffusion factor `dX = κ(m − X)dt + ξ dW` (`ou`) or `ξ√X dW` (`cir`) as an "
        "`n`-state chain (`hs.Regimes.ou_factor` / `cir_factor`)", {"enum": list(FACTOR_KINDS)}),
    Key("regimes", "field", f"one of {', '.join(map(repr, REGIME_FIELDS))}, or a list of them", "—", "required with "
        "`factor`", "the field(s) the factor drives", {"anyOf": [{"enum": list(REGIME_FIELDS)},
                                                                 {"type": "array", "items": {"enum": list(REGIME_FIELDS)},
                                                                  "minItems": 1}]}),
    Key("regimes", "mean", "number", "the field's", "required with `factor`", "long-run level `m` of the factor",
        _NUMBER),
    Key("regimes", "reversion", "number", "1/time", "required with `factor`", "mean-reversion rate `κ > 0`", _NUMBER),
    Key("regimes", "vol", "number", "field/√time (`cir`: field^½/√time)", "required with `factor`",
        "factor volatility `ξ > 0`", _NUMBER),
    Key("regimes", "n", "integer", "—", "required with `factor`", "regimes of the factor's chain (2 to 64)",
        _INTEGER),
    Key("regimes", "width_sd", "number", "stationary sd", "3", "half-width of the factor's grid", _NUMBER),
    Key("assets", "cov", "list of M lists of M numbers", "price²/time", "required with `[assets]`",
        "covariance `Λ` of the M mid-prices (symmetric positive definite; `M` is its size; running penalty "
        "`εν q'Λq`)", _MATRIX),
    Key("assets", "A", "number, or list of M numbers or [ask, bid] pairs", "1/time", "required with `[assets]`",
        "fill intensity scale `A_i > 0` per asset (and side)", {"anyOf": [_NUMBER, {"type": "array", "items": _SIDES,
                                                                                   "minItems": 1}]}),
    Key("assets", "k", "number, or list of M numbers or [ask, bid] pairs", "1/price", "required with `[assets]`",
        "intensity decay `k_i > 0` per asset (and side)", {"anyOf": [_NUMBER, {"type": "array", "items": _SIDES,
                                                                               "minItems": 1}]}),
    Key("assets", "z", "number or list of M numbers", "price", "required with `[assets]`",
        "half market spread `z_i ≥ 0` per asset", {"anyOf": [_NUMBER, _NUMBERS]}),
    Key("assets", "alpha", "number or list of M numbers", "price", "0", "per-trade cost `α_i` per asset",
        {"anyOf": [_NUMBER, _NUMBERS]}),
    Key("assets", "drift", "number or list of M numbers", "price/time", "0", "constant drift `b_i` of mid-price i",
        {"anyOf": [_NUMBER, _NUMBERS]}),
    Key("assets", "s0", "number or list of M numbers", "price", "0",
        "initial mid-price `S_i(0)` per asset (where `simulate` starts its days)", {"anyOf": [_NUMBER, _NUMBERS]}),
    Key("assets", "Omega", "list of M lists of M numbers", "—", "`diag(z)`",
        "terminal-penalty matrix `Ω` (`εη q'Ωq` at `T`; positive semi-definite)", _MATRIX),
    Key("assets", "running_form", "list of M lists of M numbers", "price/time", "`ε ν Λ`",
        "running-penalty matrix `Φ` (`∫ q'Φq`) set directly", _MATRIX),
    Key("assets", "terminal_form", "list of M lists of M numbers", "price", "`ε η Ω`",
        "terminal-penalty matrix `Ω̃` (`q'Ω̃q` at `T`) set directly", _MATRIX),
    Key("solve", "q_max", "integer (`[assets]`: or a list, one per asset)", "inventory", "`hs.solver.default_q_max` (`solve`: or twice the largest `[report]` \\|q\\| if larger; `simulate`: on the "
        "simulated price range)", "inventory bound (answers within the accuracy "
        "contract for \\|q\\| ≤ q_max/2)", {"anyOf": [_INTEGER, _INTEGERS]}),
    Key("solve", "s_range", "[low, high] pair of numbers", "price", "`hs.solver.default_s_range`: from `s0` to "
        "`E[S_T]` ± 2 sd(S_T); `simulate`: `hs.price_range(model, s0, paths)`",
        "prices where answers are wanted (OU)", _PAIR),
    Key("solve", "tol", "number", "1/k", "1e-5 (`simulate`: 1e-4)", "accuracy of the quotes", _NUMBER),
    Key("solve", "value_rtol", "number", "relative", "1e-6 (`simulate`: 1e-5)", "accuracy of the values",
        _NUMBER),
    Key("solve", "t_eval", "list of numbers", "time", "none", "times stored exactly",
        {"type": "array", "items": _NUMBER}),
    Key("solve", "n_steps", "integer", "—", "none (automatic steps)",
        "one fixed-step solve, *without* accuracy control", _INTEGER),
    Key("solve", "ds", "number", "price", "automatic", "price spacing (OU)", _NUMBER),
    Key("solve", "scheme", f"one of {', '.join(map(repr, SCHEMES))}", "—",
        '"strang-sx" (automatic), "strang" (n_steps)', "time-stepping scheme", {"enum": sorted(SCHEMES)}),
    Key("solve", "method", f"one of {', '.join(map(repr, METHODS))}", "—", '"fd"',
        'finite differences, or `"expm"` (matrix exponentials; Brownian price, `k⁺ = k⁻`)', {"enum": list(METHODS)}),
    Key("report", "q", "list of integers (`[assets]`: list of inventory vectors)", "inventory",
        f"{list(DEFAULT_REPORT_Q)} (`[assets]`: 0 and ±5 along each asset)",
        "inventories whose quotes `hjbsolve solve` prints", {"anyOf": [_INTEGERS, {"type": "array", "items": _INTEGERS,
                                                                                   "minItems": 1}]}),
    Key("report", "t", "number", "time", "0", "time of the printed quotes", _NUMBER),
)

SECTIONS = tuple(dict.fromkeys(k.section for k in SCHEMA))
_KEYS = {(k.section, k.name): k for k in SCHEMA}
#: Keys of earlier versions, and where they went.
_MOVED = {("report", "s0"): "[model] s0 (the initial price: the quotes are printed there)"}

# integers are ints (TOML 1.0 is a float, refused); bools are neither integers nor numbers
_Validator = validators.extend(Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda checker, x: isinstance(x, int) and not isinstance(x, bool)))
_VALIDATOR = _Validator({
    "type": "object", "additionalProperties": False,
    "properties": {sec: {"type": "object", "additionalProperties": False,
                         "properties": {k.name: k.json for k in SCHEMA if k.section == sec}}
                   for sec in SECTIONS}})


def markdown_table() -> str:
    """The README's table of every key (section, type, unit, default, meaning)."""
    rows = ["| section | key | type | unit | default | meaning |", "|---|---|---|---|---|---|"]
    rows += [f"| `[{k.section}]` | `{k.name}` | {k.type} | {k.unit} | {k.default} | {k.meaning} |" for k in SCHEMA]
    return "\n".join(rows)


def check_schema(data: dict) -> None:
    """``ValueError`` naming the first unknown table or key, or the first value of the wrong type.

    Parameters
    ----------
    data : dict
        A parsed parameter file (``{table: {key: value}}``).
    """
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    e = errors[0]
    path = list(e.absolute_path)
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema["properties"]))
        if not path:
            raise ValueError(f"unknown section(s) {extra} in the parameter file; allowed: {list(SECTIONS)}")
        moved = [f"[{path[0]}] {x} is now {_MOVED[(path[0], x)]}" for x in extra if (path[0], x) in _MOVED]
        raise ValueError(f"unknown key(s) {extra} in [{path[0]}]; allowed: {list(e.schema['properties'])}"
                         + (f" ({'; '.join(moved)})" if moved else ""))
    if len(path) == 1:
        raise ValueError(f"[{path[0]}] must be a table, got {_toml(e.instance)}")
    key = _KEYS[(path[0], path[1])]
    raise ValueError(f"[{key.section}] {key.name} = {_toml(data[path[0]][path[1]])}: must be {key.type}")


def _toml(value) -> str:
    """``value`` as it reads in a TOML file (``true``, ``"text"``, ``[1, 2]``), for messages."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@dataclass
class RunConfig:
    """A parameter file read: the model, the options of :func:`hjbsolve.solve` and what to report.

    Attributes
    ----------
    model : Model or MultiAssetModel
        ``model.s0`` is the initial price (where quotes are reported and days start); a
        :class:`~hjbsolve.MultiAssetModel` (an ``[assets]`` table) has none: its quotes do not
        depend on the prices, and its days start at :attr:`asset_s0`.
    solve : dict
        Keyword options of :func:`hjbsolve.solve` (only those the file sets).
    q : list of int, or list of lists of int (several assets)
        Inventories of the printed quotes.
    t : float
        Time of the printed quotes.
    asset_s0 : tuple of float, optional
        ``[assets] s0``: the initial mid-prices of several assets (:attr:`s0`).
    """

    model: Model
    solve: dict = field(default_factory=dict)
    q: list = field(default_factory=lambda: list(DEFAULT_REPORT_Q))
    t: float = 0.0
    asset_s0: tuple | None = None

    @property
    def multi_asset(self) -> bool:
        """Whether the file has an ``[assets]`` table."""
        return isinstance(self.model, MultiAssetModel)

    @property
    def s0(self):
        """The initial price, ``model.s0``; for several assets the ``M`` initial mid-prices (``[assets] s0``,
        default 0 each)."""
        if self.multi_asset:
            return self.asset_s0 if self.asset_s0 is not None else (0.0,) * self.model.n_assets
        return self.model.s0


def _read_toml(path) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"parameter file {str(path)!r} is a directory; pass a TOML file (e.g. params.toml)")
    if not path.is_file():
        raise ValueError(f"parameter file {str(path)!r} does not exist")
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not valid TOML (not UTF-8 text: {e})") from None


def _price(table: dict, model_table: dict) -> dict:
    """The ``[price]`` table as a price dict: complete (no paper value mixed in) and, for an OU price,
    with the initial price ``[model] s0`` given too."""
    table = dict(table)
    kind = table.setdefault("kind", "ou")
    required = {"ou": ("a", "mu", "sigma"), "brownian": ("sigma",)}[kind]
    missing = [k for k in required if k not in table]
    if missing:
        raise ValueError(f"[price] of kind {_toml(kind)} must give all of {list(required)} (missing {missing}): a "
                         f"[price] table replaces the paper's price as a whole, so that a changed a or sigma "
                         f"never runs with the paper's mu = 3009")
    if kind == "ou" and "s0" not in model_table:
        raise ValueError("[model] s0 (the initial price) is required with an OU [price] table: the default "
                         "s_range is centred on it, and the paper's 3000 belongs to the paper's mu = 3009")
    return table


def _regimes(table: dict) -> Regimes:
    """The ``[regimes]`` table as a chain: a generator with per-regime lists, or a diffusion factor;
    the chain's own checks, with the table named."""
    form = "factor" if "factor" in table else "generator"
    other = [k for k in table if (k in _FACTOR_KEYS) != (form == "factor")]
    if other:
        allowed = list(_FACTOR_KEYS) if form == "factor" else ["generator", *REGIME_FIELDS, "names"]
        raise ValueError(f"[regimes] with {form} = ... takes {allowed}, got also {other} (a chain is given either by "
                         f"a generator and per-regime lists, or by a diffusion factor)")
    try:
        if form == "factor":
            missing = [k for k in _FACTOR_KEYS if k not in table and k != "width_sd"]
            if missing:
                raise ValueError(f"factor = {_toml(table['factor'])} needs {missing}")
            params = {k: v for k, v in table.items() if k != "factor"}
            return Regimes.factor(table["factor"], **params)
        if "generator" not in table:
            raise ValueError("generator (the rates between the regimes) is required, or a diffusion factor "
                             f"(factor = {' or '.join(map(repr, FACTOR_KINDS))})")
        return Regimes(**table)
    except ValueError as e:
        raise ValueError(f"[regimes] {e}") from None


def _assets(data: dict) -> tuple[MultiAssetModel, tuple | None]:
    """The ``[assets]`` table (with ``[model]`` ``T``, ``eps``, ``eta``, ``nu``) as a multi-asset model;
    the model's own checks, with the table named."""
    other = [f"[{sec}]" for sec in ("price", "regimes") if sec in data]
    if other:
        raise ValueError(f"[assets] gives the prices of every asset (cov, drift): it cannot be combined with "
                         f"{' or '.join(other)}")
    model_table = data.get("model", {})
    bad = [k for k in model_table if k not in ASSETS_MODEL_KEYS]
    if bad:
        raise ValueError(f"[model] {bad[0]} = {_toml(model_table[bad[0]])}: with [assets] the per-asset values go in "
                         f"[assets]; [model] takes only {list(ASSETS_MODEL_KEYS)}")
    table = dict(data["assets"])
    missing = [k for k in ("cov", "A", "k", "z") if k not in table]
    if missing:
        raise ValueError(f"[assets] must give {missing} (no paper value exists for several assets)")
    table.setdefault("alpha", 0.0)
    s0 = table.pop("s0", None)
    defaults = paper_model("ou")
    params = {k: model_table.get(k, getattr(defaults, k)) for k in ASSETS_MODEL_KEYS}
    try:
        model = MultiAssetModel(**table, **params)
        if s0 is not None:
            from .multiasset import _per_asset

            s0 = _per_asset("s0", s0, model.n_assets, False)
    except ValueError as e:
        key = str(e).split(" ", 1)[0]
        raise ValueError(f"[{'model' if key in ASSETS_MODEL_KEYS else 'assets'}] {e}") from None
    return model, s0


def _report_q(q, model) -> list:
    """``[report] q`` checked against the model: integers for one asset, vectors of M integers for several."""
    multi = isinstance(model, MultiAssetModel)
    vectors = all(isinstance(x, list) for x in q)
    if multi and not (vectors and all(len(x) == model.n_assets for x in q)):
        raise ValueError(f"[report] q = {_toml(q)}: with [assets] each entry is an inventory vector of "
                         f"M = {model.n_assets} integers (one per asset), e.g. {_toml([[0] * model.n_assets])}")
    if not multi and any(isinstance(x, list) for x in q):
        raise ValueError(f"[report] q = {_toml(q)}: must be list of integers (inventory vectors only with [assets])")
    big = [x for x in q if max(map(abs, x if multi else [x])) > MAX_Q // 2]
    if big:
        raise ValueError(f"[report] q = {_toml(q)}: inventories must satisfy |q| <= {MAX_Q // 2} (the solver's "
                         f"largest bound is q_max = {MAX_Q}), got {big}")
    return list(q)


def _default_report_q(model) -> list:
    if not isinstance(model, MultiAssetModel):
        return list(DEFAULT_REPORT_Q)
    M = model.n_assets
    out = [[0] * M]
    for i in range(M):
        for sign in (5, -5):
            out.append([sign if j == i else 0 for j in range(M)])
    return out


def load_config(path=None) -> RunConfig:
    """Read a TOML parameter file (``None``: the paper's parameters).

    Parameters
    ----------
    path : str or Path, optional

    Returns
    -------
    RunConfig

    Raises
    ------
    ValueError
        A missing or unreadable file, an unknown table or key, a value of the wrong type (checked
        against :data:`SCHEMA`), an incomplete ``[price]``, ``[regimes]`` or ``[assets]`` table (or
        ``[assets]`` with ``[price]``/``[regimes]`` or a per-asset key in ``[model]``), or a value out of
        range (checked by :class:`~hjbsolve.Model`, :class:`~hjbsolve.Regimes` and
        :class:`~hjbsolve.MultiAssetModel`; the options of ``[solve]`` are checked by the solve).
    """
    data = {} if path is None else _read_toml(path)
    check_schema(data)
    model_table = data.get("model", {})
    solve = dict(data.get("solve", {}))
    if "assets" in data:
        model, asset_s0 = _assets(data)
        if isinstance(solve.get("q_max"), list) and len(solve["q_max"]) != model.n_assets:
            raise ValueError(f"[solve] q_max = {_toml(solve['q_max'])}: must be one integer, or one per asset "
                             f"(M = {model.n_assets})")
    else:
        d = paper_model("ou").to_dict()
        if "price" in data:
            d["price"] = _price(data["price"], model_table)
        d.update(model_table)
        if "regimes" in data:
            d["regimes"] = _regimes(data["regimes"])
        model = Model.from_dict(d)
        if isinstance(solve.get("q_max"), list):
            raise ValueError(f"[solve] q_max = {_toml(solve['q_max'])}: must be integer (one bound per asset only "
                             "with [assets])")
    if "s_range" in solve:
        solve["s_range"] = tuple(solve["s_range"])
    report = data.get("report", {})
    cfg = RunConfig(model=model, solve=solve, asset_s0=asset_s0 if "assets" in data else None)
    cfg.q = _report_q(report["q"], model) if "q" in report else _default_report_q(model)
    cfg.t = report.get("t", cfg.t)
    if not 0.0 <= cfg.t <= model.T:                # checked before any solve
        raise ValueError(f"[report] t = {_toml(cfg.t)}: must lie in [0, T] = [0, {model.T:g}] (the model's horizon)")
    return cfg
