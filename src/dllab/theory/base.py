"""The check registry of :mod:`dllab.theory`: results, checks and the decorator that registers them."""

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
    false_failure: float | None = None  # bound on P(fail | claim true); None: the check is exact
    smoke: dict[str, Any] = field(default_factory=dict)  # keyword sizes for quick runs


CHECKS: dict[str, Check] = {}


def check(name: str, homework: str, question: str, claim: str, *, false_failure: float | None = None,
          smoke: dict[str, Any] | None = None):
    """Register a check function under ``name``."""

    def register(fn):
        CHECKS[name] = Check(name, homework, question, claim, fn, false_failure, smoke or {})
        return fn

    return register


def close(a, b, tol: float) -> bool:
    return bool(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))) <= tol)
