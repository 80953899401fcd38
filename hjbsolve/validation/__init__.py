"""The validation suite of hjbsolve: how wrong are the paper's closed forms, where, and why.

Entry points: :func:`hjbsolve.validation.suite.run_validation` (``hjbsolve validate [--quick] [--out DIR]``)
and :func:`hjbsolve.validation.paper_section4.run_paper_section4` (``hjbsolve paper``). The solver tasks
the suite sweeps over are in :mod:`hjbsolve.validation.tasks`. The subpackage ships in the wheel, so
both commands work from a regular install; only :mod:`~hjbsolve.validation.make_golden` writes into a source checkout (``tests/golden/``). The derivations and the paper's errata are documents of the source tree:
``validation/DERIVATIONS.md`` and ``validation/ERRATA.md``.
"""
