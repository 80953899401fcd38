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


def test_the_recorded_kill_rate_is_a_run_of_this_list():
    """``benchmarks/mutations-result.json`` (quoted by the validation report) is a full run of mutations
    of the current list: names known, statuses valid, the kill rate computed from them."""
    import json

    from hjbsolve.validation.suite import mutation_record

    mut = _load()
    path = SCRIPT.parent / "mutations-result.json"
    rec = mutation_record(path)
    assert rec is not None and rec == json.loads(path.read_text())
    names = {m.name for m in mut.MUTATIONS}
    assert rec["mode"] == "full" and rec["total"] == len(rec["mutations"]) >= 25
    assert {r["name"] for r in rec["mutations"]} <= names
    assert all(r["status"] in ("killed", "survived", "timeout") for r in rec["mutations"])
    assert rec["killed"] == sum(r["status"] != "survived" for r in rec["mutations"])
