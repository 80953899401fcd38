"""The mutation list of ``benchmarks/mutations.py`` stays applicable (running it is a separate job)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mutations.py"


def _load():
    spec = importlib.util.spec_from_file_location("hjbsolve_mutations", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_every_mutation_applies_and_names_existing_tests():
    """Each snippet occurs exactly once in the package and each killing test exists: a refactoring that
    moves the code makes this fail, and the list is updated with it."""
    mut = _load()
    assert len(mut.MUTATIONS) >= 25 and any(m.fast for m in mut.MUTATIONS)
    assert mut.check() == []
    assert all(m.tests for m in mut.MUTATIONS)
