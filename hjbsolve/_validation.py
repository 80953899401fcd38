"""Input checks shared by every public constructor.

Each check raises ``ValueError`` naming the parameter, the offending value and what is
allowed, so that a user reading the message knows what to change.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = ["check_real", "check_int", "check_names", "fields_dict"]


def check_real(name: str, value, *, gt=None, ge=None, lt=None, le=None) -> float:
    """Return ``value`` as a finite float, or raise ``ValueError``.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Candidate value; bools, strings and non-finite numbers are rejected.
    gt, ge, lt, le : float, optional
        Strict/non-strict lower and upper bounds.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:                     # an int beyond double precision (10**400)
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if gt is not None and not v > gt:
        raise ValueError(f"{name} must be > {gt}, got {v!r}")
    if ge is not None and not v >= ge:
        raise ValueError(f"{name} must be >= {ge}, got {v!r}")
    if lt is not None and not v < lt:
        raise ValueError(f"{name} must be < {lt}, got {v!r}")
    if le is not None and not v <= le:
        raise ValueError(f"{name} must be <= {le}, got {v!r}")
    return v


def check_int(name: str, value, *, ge=None, le=None) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` (bools and floats rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    v = int(value)
    if ge is not None and v < ge:
        raise ValueError(f"{name} must be >= {ge}, got {v!r}")
    if le is not None and v > le:
        raise ValueError(f"{name} must be <= {le}, got {v!r}")
    return v


def check_names(params, cls, what: str) -> None:
    """``ValueError`` naming the keys of ``params`` that are not fields of the dataclass ``cls`` (and
    listing the fields); ``what`` names the kind of parameter in the message."""
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(map(str, set(params) - set(allowed)))
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {unknown}; allowed: {allowed}")


def fields_dict(obj, convert) -> dict:
    """The fields of the dataclass ``obj`` that are not ``None``, each passed through
    ``convert(name, value)`` (plain values for JSON/TOML)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is not None:
            out[f.name] = convert(f.name, v)
    return out
