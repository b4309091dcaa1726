"""The Python API: ``dllab.run``, ``dllab.load``, ``dllab.runs`` and ``dllab.compare``.

The same run contract as the command line (the run directory, its lock, ``resume``, seeds), as objects that a
notebook shows: a :class:`Run` and a :class:`~dllab.comparison.Comparison` display themselves in Jupyter
(``_repr_html_``) with the same rendering as ``report.html``. Errors are :class:`~dllab.errors.DllabError`\\ s
carrying the command line's one-line messages.

    >>> import dllab
    >>> run = dllab.run("cifar-fast", preset="smoke", seed=1, set={"fast.epochs": 2})
    >>> run.summary["mean_accuracy"], run.figures, run.metrics          # doctest: +SKIP
    >>> dllab.compare(dllab.runs("runs", experiment="cifar-fast"))      # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from dllab.errors import DllabError
from dllab.fileio import read_json


class Run:
    """A run directory read back: its config, summary, metrics, figures and report.

    The files are read when first asked for; :meth:`reload` forgets them (for a run still going on)."""

    def __init__(self, path: str | Path):
        self.dir = Path(path)
        if not (self.dir / "config.yaml").is_file():
            raise DllabError(f"{self.dir} is not a run directory (no config.yaml); give the folder a run wrote, "
                             "e.g. runs/<experiment>/<time>-<hash>")

    def reload(self) -> Run:
        return Run(self.dir)

    # -- the record --------------------------------------------------------------------------------------
    @cached_property
    def env(self) -> dict:
        """env.json: versions, git commit, seed, CPU, threads, wall time, status."""
        return read_json(self.dir / "env.json", {}, kind=dict)

    @cached_property
    def config(self) -> dict:
        """The fully resolved config, as plain data."""
        from dllab.config import load_yaml

        return load_yaml(self.dir / "config.yaml")

    @cached_property
    def summary(self) -> dict:
        """summary.json (empty until the run has finished)."""
        return read_json(self.dir / "summary.json", {}, kind=dict)

    @cached_property
    def labels(self) -> dict[str, str]:
        """Summary key -> its label in words with the unit (as the report shows it)."""
        from dllab.rundir import LABELS_FILE

        return read_json(self.dir / LABELS_FILE, {}, kind=dict)

    @property
    def experiment(self) -> str:
        return str(self.env.get("experiment") or self.dir.parent.name)

    @property
    def status(self) -> str:
        """finished, failed, running (or a run killed while running), or unknown."""
        return str(self.env.get("status", "unknown"))

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    @property
    def wall_time_s(self) -> float | None:
        return self.env.get("wall_time_s")

    @property
    def metrics(self):
        """metrics.jsonl: a pandas DataFrame when pandas is installed, else a list of dicts."""
        from dllab.rundir import read_metrics

        records = read_metrics(self.dir)
        try:
            import pandas as pd
        except ImportError:
            return records
        return pd.DataFrame.from_records(records)

    @property
    def figures(self) -> dict[str, Path]:
        """Figure name -> PNG path, in report order."""
        from dllab.rundir import read_sections

        named = {s["name"]: self.dir / s["file"] for s in read_sections(self.dir) if s["kind"] == "figure"}
        for png in sorted((self.dir / "figures").glob("*.png")):
            named.setdefault(png.stem, png)
        return {name: path for name, path in named.items() if path.is_file()}

    @property
    def report(self) -> Path:
        """report.html (rebuilt from the run's files if absent)."""
        path = self.dir / "report.html"
        if not path.is_file():
            from dllab.report import build_report

            build_report(self.dir)
        return path

    def flat_config(self) -> dict[str, Any]:
        """The config with nested keys dotted (``train.lr``), as ``--set`` takes them."""
        from dllab.config import flatten

        return flatten(self.config)

    # -- display -----------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Run({self.experiment!r}, status={self.status!r}, dir={str(self.dir)!r})"

    def _repr_html_(self) -> str:
        from dllab.report import render_card

        return render_card(self.dir)


def run(experiment: str, preset: str = "cpu", *, seed: int | None = None, set: Mapping[str, Any] | None = None,
        config: str | Path | None = None, out: str | Path | None = None, runs_root: str | Path = "runs",
        resume: bool = False, progress: bool | None = None, wandb: bool = False,
        mlflow: str | bool | None = None) -> Run:
    """Run ``experiment`` as ``dllab run`` does and return the :class:`Run`.

    ``set`` holds config overrides by dotted key (``{"train.lr": 0.05}``, the ``--set`` options); ``config`` a
    YAML file; ``out`` the run directory (default ``runs_root/<experiment>/<time>-<hash>``); ``resume=True``
    continues the run in ``out`` from its checkpoints. ``mlflow``: a tracking URI, or True for ./mlruns.
    Progress bars are drawn in a terminal and in Jupyter unless ``progress=False``."""
    from dllab.runner import run_experiment

    overrides = [f"{key}={json.dumps(value)}" for key, value in (set or {}).items()]
    run_dir = run_experiment(experiment, preset=preset, config_file=str(config) if config else None,
                             overrides=overrides, seed=seed, out=out, runs_root=runs_root, resume=resume,
                             wandb=wandb, mlflow=mlflow, progress=progress)
    return Run(run_dir)


def load(path: str | Path) -> Run:
    """The run in directory ``path``."""
    return Run(path)


def runs(root: str | Path = "runs", experiment: str | None = None, status: str | None = None) -> list[Run]:
    """Every run directory under ``root`` (a runs folder, a suite folder or one run), oldest first; only those of
    ``experiment`` and with ``status`` (e.g. "finished") when given."""
    root = Path(root)
    if not root.is_dir():
        raise DllabError(f"{root} is not a folder; give the folder your runs are in (default: runs)")
    found = [Run(p.parent) for p in sorted(root.rglob("config.yaml"))
             if "checkpoints" not in p.parts and "stages" not in p.parts]
    found = [r for r in found if (experiment is None or r.experiment == experiment)
             and (status is None or r.status == status)]
    return sorted(found, key=lambda r: (str(r.env.get("started", "")), str(r.dir)))


def compare(items: Iterable[Run | str | Path], by: str | Iterable[str] | None = None,
            keys: Iterable[str] | None = None, all_keys: bool = False):
    """Compare runs (:class:`Run` objects or their directories): one row per configuration, the runs differing
    only in their seed aggregated (mean, std, 95% interval, n); see :func:`dllab.comparison.compare`."""
    from dllab.comparison import compare as _compare

    return _compare([item if isinstance(item, Run) else Run(item) for item in items], by=by, keys=keys,
                    all_keys=all_keys)
