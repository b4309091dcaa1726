"""Numerical checks of the homework sets' pen-and-paper claims.

Each check is a function ``check(rng) -> Result`` registered with :func:`check`; it states its claim, measures
it, passes or fails on the measured figures, and may return figures. Checks that verify a derived formula take
that formula as a keyword argument (defaulting to the derivation), so a test can hand in a wrong formula and see
the check fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Result:
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)  # key figures for summary.json (JSON-able)
    detail: str = ""  # what was measured, in words
    plots: list[tuple[str, Any, str]] = field(default_factory=list)  # (name, matplotlib figure, caption)


@dataclass
class Check:
    name: str
    homework: str
    question: str
    claim: str
    fn: Callable[..., Result]


CHECKS: dict[str, Check] = {}


def check(name: str, homework: str, question: str, claim: str):
    """Register a check function under ``name``."""

    def register(fn):
        CHECKS[name] = Check(name, homework, question, claim, fn)
        return fn

    return register


def load_all() -> dict[str, Check]:
    """Import the check modules (which register their checks) and return the catalogue, in order."""
    # import order = catalogue order: by homework, as the report groups them
    from dllab.theory import cs229br, linear_models, relu_nets, cs7643  # noqa: F401, I001

    return CHECKS


def close(a, b, tol: float) -> bool:
    return bool(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))) <= tol)
