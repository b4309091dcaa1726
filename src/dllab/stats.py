"""Statistics over repeated runs (seeds): the one place that computes a mean, its spread and its interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def describe(values: Sequence[float], confidence: float = 0.95) -> dict:
    """``{"mean", "std", "n", "ci_low", "ci_high"}`` of ``values``: the sample standard deviation (n - 1 in the
    denominator; 0 for one value) and the Student-t interval of the mean at ``confidence`` (the mean itself for
    one value, since one run says nothing about the spread)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("describe() needs at least one value")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * std / np.sqrt(x.size)) if x.size > 1 else 0.0
    return {"mean": mean, "std": std, "n": int(x.size), "ci_low": mean - half, "ci_high": mean + half}
