"""The validation suite of hjbsolve: how wrong are the paper's closed forms, where, and why.

Entry point: :func:`validation.suite.run_validation` (``hjbsolve validate [--quick] [--out DIR]``).
"""
