"""Numerical checks of the homework sets' pen-and-paper claims.

Each check is a function ``check(rng, **sizes) -> Result`` registered with :func:`check`; it states its claim,
measures it, passes or fails on the measured figures, and may return figures. Checks that verify a derived formula
take that formula as a keyword argument (defaulting to the derivation), so a test can hand in a wrong formula and
see the check fail.

A check that measures with random draws states its false-failure probability (``false_failure``): the chance
that it fails although the claim holds, kept below 1e-6 by construction (enough draws and a confidence band);
exact checks state None. ``smoke`` holds smaller sizes for quick runs (the theory experiment's smoke preset and
the tests, which run every check for seeds 0-19).
"""

from __future__ import annotations

from dllab.theory.base import CHECKS, Check, Result, check, close

__all__ = ["CHECKS", "Check", "Result", "check", "close", "load_all"]


def load_all() -> dict[str, Check]:
    """Import the check modules (which register their checks) and return the catalogue, in order."""
    # import order = catalogue order: by homework, as the report groups them
    from dllab.theory import cs229br, tsinghua_dl, mit_6s898, cs7643  # noqa: F401, I001

    return CHECKS
