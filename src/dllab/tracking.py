"""Optional mirrors of a run to experiment trackers: Weights & Biases (``pip install 'dllab[wandb]'``) and MLflow
(``pip install 'dllab[mlflow]'``).

A mirror has the recorder's life cycle: :meth:`log` for each metrics record written in this process,
:meth:`finish` once the summary and the report exist, :meth:`fail` when the run stops on an error. The run
directory stays the record; a tracker gets a copy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from dllab.errors import DllabError
from dllab.fileio import to_jsonable


class WandbMirror:
    """Logs each metrics record and the final summary to a wandb run (offline without ``WANDB_API_KEY``)."""

    def __init__(self, run_dir, experiment: str, config):
        try:
            import wandb
        except ImportError:
            raise DllabError("--wandb needs Weights & Biases: pip install 'dllab[wandb]'") from None
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        self._run = wandb.init(project="dllab", name=run_dir.name, group=experiment, dir=str(run_dir),
                               config=to_jsonable(config.model_dump()), mode=mode)

    def log(self, metrics: dict[str, Any]) -> None:
        self._run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))})

    def finish(self, summary: dict) -> None:
        self._run.summary.update({k: v for k, v in to_jsonable(summary).items() if isinstance(v, (int, float, str))})
        self._run.finish()

    def fail(self, reason: str) -> None:
        self._run.finish(exit_code=1)


def mlflow_uri(uri: str | bool | None) -> str:
    """The tracking URI for ``--mlflow [URI]``: the one given, else ``MLFLOW_TRACKING_URI``, else a SQLite store in
    ./mlruns (MLflow 3 keeps its plain-file store in maintenance only)."""
    if isinstance(uri, str) and uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path('mlruns').resolve() / 'mlflow.db'}"


# Fields of a metrics record that say where it belongs (the training-loop tag, the phase) or when (the step).
_WHERE = ("run", "phase", "stage")
_STEP = ("epoch", "step", "iteration", "iter")
_PARAM_VALUE_LIMIT = 6000  # MLflow's limit on a parameter's value


def metric_name(record: dict, key: str) -> str:
    """The MLflow metric name of ``record[key]``: its tags, then the key (``b0.1/val/loss``), in the characters
    MLflow allows."""
    parts = [str(record[t]) for t in _WHERE if isinstance(record.get(t), (str, int, float)) and t != key]
    return re.sub(r"[^\w\-./ ]", "_", "/".join([*parts, key]))


def metric_points(records: list[dict]) -> list[tuple[str, float, int]]:
    """Every numeric value of every metrics record as (name, value, step): the step is the record's epoch (or
    step) when it is a whole number, else the point's index in its series."""
    out, seen = [], {}
    for r in records:
        step = next((r[k] for k in _STEP if isinstance(r.get(k), int) and not isinstance(r.get(k), bool)), None)
        for key, value in r.items():
            if key in _WHERE or key in _STEP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name = metric_name(r, key)
            index = seen[name] = seen.get(name, -1) + 1
            out.append((name, float(value), index if step is None else step))
    return out


class MlflowMirror:
    """One MLflow run per dllab run: the flattened config as params, every metrics record as a metric series (read
    from metrics.jsonl when the run ends, so stages that ran in worker processes are included), the summary's
    numbers as metrics, and the figures, report.html, summary.json, config.yaml and env.json as artifacts.

    A resumed run continues the MLflow run that has its run directory as tag ``dllab.run_dir``."""

    def __init__(self, run_dir: Path, experiment: str, config, uri: str | bool | None, env: dict):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise DllabError("--mlflow needs MLflow: pip install 'dllab[mlflow]'") from None
        from dllab.config import flatten

        self.uri = mlflow_uri(uri)
        self.dir = Path(run_dir)
        client = self.client = MlflowClient(tracking_uri=self.uri)
        try:
            exp = client.get_experiment_by_name(experiment)
            if exp is None:
                local = self.uri.startswith("sqlite:///") and not os.environ.get("MLFLOW_TRACKING_URI")
                where = (Path(self.uri[len("sqlite:///"):]).parent / "artifacts").as_uri() if local else None
                exp_id = client.create_experiment(experiment, artifact_location=where)
            else:
                exp_id = exp.experiment_id
            key = str(self.dir.resolve())
            earlier = client.search_runs([exp_id], filter_string=f"tags.`dllab.run_dir` = '{_quote(key)}'",
                                         max_results=1)
            if earlier:
                self.run_id = earlier[0].info.run_id
                client.update_run(self.run_id, status="RUNNING")
                return
            git = env.get("git") or {}
            tags = {"dllab.run_dir": key, "dllab.experiment": experiment, "mlflow.source.git.commit":
                    str(git.get("commit") or ""), "dllab.seed": str(env.get("seed"))}
            self.run_id = client.create_run(exp_id, run_name=self.dir.name, tags=tags).info.run_id
            from mlflow.entities import Param

            params = [Param(k, _param(v)) for k, v in flatten(to_jsonable(config.model_dump())).items()]
            for i in range(0, len(params), 100):
                client.log_batch(self.run_id, params=params[i:i + 100])
        except DllabError:
            raise
        except Exception as exc:
            raise DllabError(f"MLflow at {self.uri} could not start a run ({_first_line(exc)}); check the URI and "
                             "that the server is up, or run without --mlflow") from None

    def log(self, metrics: dict[str, Any]) -> None:
        """Nothing here: the records go over in one batch when the run ends (they are in metrics.jsonl)."""

    def _send_metrics(self, summary: dict | None) -> None:
        import time

        from mlflow.entities import Metric

        from dllab.config import flatten
        from dllab.rundir import read_metrics

        now = int(time.time() * 1000)
        points = [Metric(n, v, now, s) for n, v, s in metric_points(read_metrics(self.dir))]
        if summary:
            points += [Metric(re.sub(r"[^\w\-./ ]", "_", k), float(v), now, 0)
                       for k, v in flatten(to_jsonable(summary)).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)]
        for i in range(0, len(points), 1000):
            self.client.log_batch(self.run_id, metrics=points[i:i + 1000])
        for name in ("report.html", "summary.json", "config.yaml", "env.json", "labels.json"):
            if (self.dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.dir / name))
        if (self.dir / "figures").is_dir() and any((self.dir / "figures").iterdir()):
            self.client.log_artifacts(self.run_id, str(self.dir / "figures"), "figures")

    def finish(self, summary: dict) -> None:
        try:
            self._send_metrics(summary)
            self.client.set_terminated(self.run_id, "FINISHED")
        except Exception as exc:
            raise DllabError(f"the run finished (its directory is complete) but MLflow at {self.uri} did not take "
                             f"its results ({_first_line(exc)})") from None

    def fail(self, reason: str) -> None:
        try:
            self._send_metrics(None)
            self.client.set_tag(self.run_id, "dllab.error", reason[:5000])
            self.client.set_terminated(self.run_id, "FAILED")
        except Exception:  # the run's own error is the one to report
            pass


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _PARAM_VALUE_LIMIT else text[:_PARAM_VALUE_LIMIT - 3] + "..."


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
