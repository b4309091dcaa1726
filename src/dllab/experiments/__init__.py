"""The experiments: one module each, listed here as name -> module path and imported only when used.

An experiment module defines ``DESCRIPTION`` (one line), ``HOMEWORK`` (``[(course, question), ...]`` with the
course names of :mod:`dllab.courses`), ``Config`` (an :class:`~dllab.config.ExperimentConfig`), ``PRESETS``
(``smoke``/``cpu``/``full`` -> overrides of the defaults), ``SUMMARY_KEYS`` (the documented keys of summary.json:
key -> (the report's label with its unit, what the value holds)) and ``run(config, recorder) -> summary dict``: the
science first (data, stages, results), then the report (figures, tables, the reading computed from the numbers).
Modules import torch inside functions so that ``dllab list`` stays fast. Adding an experiment = one module + one
line below.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from dllab.errors import DllabError

EXPERIMENTS: dict[str, str] = {
    "mnist-logreg": "dllab.experiments.mnist_logreg",
    "scratch-mnist": "dllab.experiments.scratch_mnist",
    "scratch-cifar": "dllab.experiments.scratch_cifar",
    "flooding": "dllab.experiments.flooding",
    "linreg-mnist": "dllab.experiments.linreg_mnist",
    "theory": "dllab.experiments.theory",
    "cifar-train": "dllab.experiments.cifar_train",
    "cifar-study": "dllab.experiments.cifar_study",
    "flip-robustness": "dllab.experiments.flip_robustness",
    "random-labels": "dllab.experiments.random_labels",
    "playground-study": "dllab.experiments.playground_study",
    "cifar-fast": "dllab.experiments.cifar_fast",
    "search-encoder": "dllab.experiments.search_encoder",
    "clip-search": "dllab.experiments.clip_search",
    "clip-classifier": "dllab.experiments.clip_classifier",
    "clip-queries": "dllab.experiments.clip_queries",
}


def get(name: str) -> ModuleType:
    """Import the module of experiment ``name``; an unknown name raises a DllabError with suggestions."""
    if name not in EXPERIMENTS:
        close = difflib.get_close_matches(name, EXPERIMENTS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise DllabError(f"unknown experiment {name!r}.{hint} Run 'dllab list' to see all experiments")
    return importlib.import_module(EXPERIMENTS[name])


def summary_labels(module: ModuleType) -> dict[str, str]:
    """Summary key -> the label the report shows for it (words and unit: "mean time per run after loading (s)").

    A ``SUMMARY_KEYS`` value is ``(label, what the value holds)`` or just the label."""
    return {k: v[0] if isinstance(v, tuple) else v for k, v in getattr(module, "SUMMARY_KEYS", {}).items()}


def summary_meanings(module: ModuleType) -> dict[str, str]:
    """Summary key -> its label and what the value holds, for ``dllab show``."""
    return {k: (f"{v[0]}: {v[1]}" if v[1] else v[0]) if isinstance(v, tuple) else v
            for k, v in getattr(module, "SUMMARY_KEYS", {}).items()}
