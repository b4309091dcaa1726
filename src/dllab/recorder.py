"""The Recorder: what an experiment writes into its run directory while it runs.

Experiments receive one in ``run(config, recorder)``: :meth:`Recorder.log` appends metrics, :meth:`figure`,
:meth:`text` and :meth:`table` add report sections, :meth:`progress_bar` draws long loops, :meth:`stage` and
:meth:`map_stages` run resumable sub-runs (the latter through an :class:`~dllab.executor.Executor`). The runner
creates it, calls :meth:`finish` with the summary and then builds the report.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import io
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dllab import progress as _progress
from dllab.checkpoint import EpochCheckpoint
from dllab.environment import capture_environment
from dllab.errors import DamagedFileError, DllabError
from dllab.executor import Executor, LocalExecutor, Stage, apply_budget, current_budget
from dllab.executor import in_parent_process as executor_in_parent
from dllab.fileio import atomic_write, read_json, to_jsonable, write_json
from dllab.rundir import LABELS_FILE, read_metrics, read_sections
from dllab.storage import Storage


@dataclass(frozen=True)
class WorkerSpec:
    """What a stage running in another process needs to write its record (picklable): the run directory where
    every process sees it (the local executor), or else a storage URI and no path of the driver's machine."""

    run_dir: str | None
    experiment: str
    config: Any
    resumed: bool
    progress: bool = False  # draw progress bars when the stage runs in the parent process
    storage: str | None = None  # the run's storage: stage NAME keeps its files below stages/NAME/


class Recorder:
    """Writes one run's record (see :mod:`dllab.rundir` for the files)."""

    def __init__(self, run_dir: str | Path, experiment: str, config: Any, *, resume: bool = False,
                 wandb: bool = False, mlflow: str | bool | None = None, progress: bool | None = None,
                 executor: Executor | None = None, storage: Storage | None = None,
                 attach: bool = False):
        from dllab.config import to_yaml

        self.dir = Path(run_dir)
        self.experiment = experiment
        self.config = config
        self.resumed = resume
        self.executor = executor or LocalExecutor()
        # where stages keep their files when they run without the run directory (dllab.storage); None: stages
        # write into the run directory itself
        self.storage = storage
        self._on_checkpoint: Callable[[], None] | None = None  # a stage's upload after each epoch's checkpoint
        self.restarts: dict[str, int] = {}  # training loop -> the epoch it continued after (on resume)
        self.stage_core_s: dict[str, float] = {}  # stage -> seconds x threads, for estimates (dllab.timings)
        self.stages_wall = 0.0  # seconds this process spent waiting for map_stages
        self.figures_dir = self.dir / "figures"
        self.checkpoints_dir = self.dir / "checkpoints"
        self._t0 = time.perf_counter()
        # The run context that experiments read (never private fields): whether to draw progress bars, and
        # ``threads``, the cores this piece of work may use now.
        self.show_progress = _progress.default_enabled() if progress is None else progress
        self._mirrors: list = []  # experiment trackers that get a copy (dllab.tracking)
        self._sections: list[dict] = []
        self._prior_wall = 0.0
        self.env: dict[str, Any] = {}
        if attach:  # a stage in a worker process: its parent owns config.yaml, env.json and the report
            return
        config_yaml = to_yaml(config)
        if resume:
            stored = self.dir / "config.yaml"
            if not stored.is_file():
                raise DllabError(f"cannot resume: {self.dir} has no config.yaml (is it a run directory?)")
            if stored.read_text() != config_yaml:
                raise DllabError(f"cannot resume {self.dir}: its config.yaml differs from the requested config; "
                                 "resume with the same preset/--set options, or start a new run")
            # Both are rewritten as the run goes on: a damaged copy costs the earlier wall time, nothing else.
            self._sections = _readable(lambda: read_sections(self.dir), [])
            wall = _readable(lambda: read_json(self.dir / "env.json", {}, kind=dict), {}).get("wall_time_s")
            self._prior_wall = float(wall) if isinstance(wall, (int, float)) else 0.0
        else:
            if self.dir.exists() and any(p.name != ".lock" for p in self.dir.iterdir()):
                raise DllabError(f"run directory {self.dir} already exists and is not empty; "
                                 "choose another --out or add --resume to continue that run")
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.dir / "config.yaml", config_yaml)
            atomic_write(self.dir / "metrics.jsonl", "")
        if self.figures_dir.exists() and not self.figures_dir.is_dir():
            raise DllabError(f"{self.figures_dir} is a file where the run's figures folder belongs; move it away and "
                             "run again")
        self.figures_dir.mkdir(exist_ok=True)
        self.env = capture_environment(getattr(config, "seed", 0))
        self.env.update(experiment=experiment, status="running", started=_dt.datetime.now().isoformat())
        if storage is not None:  # where --resume finds the stages' files again
            self.env["storage"] = storage.uri
        write_json(self.dir / "env.json", self.env)
        if wandb:
            from dllab.tracking import WandbMirror

            self._mirrors.append(WandbMirror(self.dir, experiment, config))
        if mlflow:
            from dllab.tracking import MlflowMirror

            self._mirrors.append(MlflowMirror(self.dir, experiment, config, mlflow, self.env))

    @property
    def threads(self) -> int:
        """Cores this piece of work may use now (its share of the budget inside an executor worker); torch's
        thread count already equals it (:func:`dllab.executor.apply_budget`)."""
        return current_budget()

    # -- metrics ---------------------------------------------------------------------------------
    def log(self, **metrics: Any) -> None:
        """Append one JSON object (e.g. ``phase="train", epoch=3, loss=0.4``) to metrics.jsonl."""
        line = json.dumps(to_jsonable(metrics), sort_keys=False)
        with self._metrics_lock(), open(self.dir / "metrics.jsonl", "a") as f:
            f.write(line + "\n")
        for mirror in self._mirrors:
            mirror.log(metrics)
        if not executor_in_parent():  # in an executor worker: take over the cores of stages that have finished
            apply_budget()

    def metrics(self) -> list[dict]:
        return read_metrics(self.dir)

    def drop_metrics(self, keep: Callable[[dict], bool]) -> None:
        """Rewrite metrics.jsonl keeping only records for which ``keep(record)`` is true (used on resume)."""
        with self._metrics_lock():
            kept = [json.dumps(r) for r in self.metrics() if keep(r)]
            atomic_write(self.dir / "metrics.jsonl", "".join(line + "\n" for line in kept))

    @contextmanager
    def _metrics_lock(self):
        """Serialise metrics.jsonl writes between the worker processes of one run."""
        with open(self.dir / ".metrics.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- report sections -------------------------------------------------------------------------
    def _add_section(self, section: dict) -> None:
        # On resume, a section with the same key replaces the earlier one instead of repeating it.
        key = (section["kind"], section.get("name") or section.get("title"))
        self._sections = [s for s in self._sections if (s["kind"], s.get("name") or s.get("title")) != key]
        self._sections.append(to_jsonable(section))
        write_json(self.dir / "sections.json", self._sections)

    def figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as figures/<name>.png (atomically), close it, add it to the report."""
        import matplotlib.pyplot as plt

        path = self.figures_dir / f"{name}.png"
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        atomic_write(path, buf.getvalue())
        self._add_section({"kind": "figure", "name": name, "file": f"figures/{name}.png", "caption": caption})
        return path

    def text(self, title: str, body: str) -> None:
        """A paragraph of the report (plain text; blank lines separate paragraphs)."""
        self._add_section({"kind": "text", "title": title, "body": body})

    def table(self, title: str, rows: list[dict], caption: str = "") -> None:
        """A table of the report: a list of dicts sharing the same keys."""
        self._add_section({"kind": "table", "title": title, "rows": rows, "caption": caption})

    # -- long loops ------------------------------------------------------------------------------
    def progress_bar(self, description: str, total: int | None):
        """A progress bar (shown on a terminal) whose fields can be updated: ``bar.update(i, loss=...)``."""
        return _progress.progress_bar(description, total, self.show_progress)

    def progress(self, iterable: Iterable, description: str, total: int | None = None) -> Iterator:
        return _progress.track(iterable, description, total, self.show_progress)

    # -- stages ----------------------------------------------------------------------------------
    def _stage_path(self, name: str) -> Path:
        return self.dir / "stages" / f"{name}.json"

    def _earlier_result(self, name: str) -> Any:
        """When resuming, the result stage ``name`` stored in an earlier attempt; else ``NOT_DONE`` (also for a
        damaged result, which is computed again). Each stored result is read once."""
        if not (self.resumed and self._stage_path(name).is_file()):
            return NOT_DONE
        return _readable(lambda: read_json(self._stage_path(name)), NOT_DONE)

    def _store_stage(self, name: str, result: Any) -> None:
        write_json(self._stage_path(name), result)

    def stage(self, name: str, compute: Callable[[], Any]):
        """Run ``compute()`` once per run: its (JSON-able) result is stored in stages/<name>.json, and on
        ``--resume`` a finished stage is read back instead of recomputed. Metrics records tagged
        ``run=name`` from an unfinished attempt are dropped by the training loops when they restart.
        """
        earlier = self._earlier_result(name)
        if earlier is not NOT_DONE:
            return earlier
        result = to_jsonable(compute())
        self._store_stage(name, result)
        return result

    def map_stages(self, tasks: dict[str, tuple[Callable, dict]], workers: int | None = None) -> dict[str, Any]:
        """Run independent stages through this run's executor (in parallel where it has the cores).

        ``tasks`` maps a stage name to ``(fn, kwargs)``; ``fn(recorder, **kwargs)`` must be a module-level
        function returning a JSON-able result; the recorder it gets writes metrics and checkpoints into this
        run directory, or, with a storage (``--storage``, or any executor of another machine), into a folder of
        the stage's own that goes to storage after each epoch and that this run collects when the stage ends.
        ``workers`` caps the parallel stages (None: one per core of the budget). Results come back as data and
        are stored here as each stage ends, with where and how long each ran (``stages.jsonl``); on ``--resume``
        finished stages are read back. Returns name -> result, in ``tasks`` order.
        """
        done = {n: r for n in tasks if (r := self._earlier_result(n)) is not NOT_DONE}
        for n in [n for n in tasks if n not in done and self.resumed and self.storage]:
            finished = self.storage.get(f"stages/{n}/result.json")  # finished after the driver stopped
            if finished is not None:
                self._collect(n)
                done[n] = json.loads(finished)
                self._store_stage(n, done[n])
        spec = WorkerSpec(None if self.storage else str(self.dir), self.experiment, self.config, self.resumed,
                          self.show_progress, self.storage.uri if self.storage else None)
        stages = [Stage(n, run_stage, {"spec": spec, "name": n, "fn": fn, "kwargs": kwargs})
                  for n, (fn, kwargs) in tasks.items() if n not in done]
        if stages:
            with self.progress_bar(f"{len(stages)} stages", len(stages)) as bar:
                def store(name, landed):
                    if self.storage:
                        self._collect(name)
                    self._store_stage(name, landed["result"])
                    with open(self.dir / STAGE_RECORDS, "a") as f:
                        f.write(json.dumps({"stage": name, **landed["record"]}) + "\n")
                    done[name] = landed["result"]
                    self.stage_core_s[name] = landed["record"]["seconds"] * landed["record"]["threads"]
                    bar.advance()

                t0 = time.perf_counter()
                self.executor.map(stages, workers=workers, on_result=store)
                self.stages_wall += time.perf_counter() - t0
        return {n: done[n] for n in tasks}

    def _collect(self, name: str) -> None:
        """Bring stage ``name``'s files from storage into the run directory, as if it had written there: its
        metrics rows (replacing rows of the same training loops from an earlier collection), checkpoints and
        figures."""
        store = self.storage.child(f"stages/{name}")
        lines = [line for line in (store.get("metrics.jsonl") or b"").decode().splitlines() if line.strip()]
        tags = {json.loads(line).get("run") for line in lines}
        for key in store.keys():
            if key.startswith(("checkpoints/", "figures/")):
                atomic_write(self.dir / key, store.get(key) or b"")
        with self._metrics_lock():
            kept = [json.dumps(r) for r in self.metrics() if r.get("run") not in tags]
            atomic_write(self.dir / "metrics.jsonl", "".join(line + "\n" for line in kept + lines))

    def checkpoint_path(self, name: str = "last") -> Path:
        self.checkpoints_dir.mkdir(exist_ok=True)
        return self.checkpoints_dir / f"{name}.pt"

    def epoch_checkpoint(self, name: str, enabled: bool = True) -> EpochCheckpoint:
        """The per-epoch checkpoint of the training loop whose metrics rows are tagged ``run=name``: saved to
        checkpoints/<name>.pt; on resume the rows of epochs after it are dropped (each epoch is logged once)."""
        def restart(epoch: int) -> None:
            self.restarts[name] = epoch
            self.drop_metrics(lambda r: r.get("run") != name or r.get("epoch", 0) <= epoch)

        return EpochCheckpoint(self.checkpoint_path(name) if enabled else None, self.resumed, restart,
                               self._on_checkpoint)

    # -- end -------------------------------------------------------------------------------------
    def wall_time(self) -> float:
        return self._prior_wall + time.perf_counter() - self._t0

    def finish(self, summary: dict, report: Callable[[dict], Any] | None = None,
               labels: dict[str, str] | None = None) -> None:
        """Write summary.json (and labels.json: the report's words for its keys), then ``report(final_env)`` (the
        runner builds report.html), and only then env.json with status ``finished``: a run whose report could not
        be written never looks finished."""
        write_json(self.dir / "summary.json", summary)
        if labels:
            write_json(self.dir / LABELS_FILE, labels)
        final = {**self.env, "status": "finished", "finished": _dt.datetime.now().isoformat(),
                 "wall_time_s": round(self.wall_time(), 3)}
        if report is not None:
            report(final)
        self.env = final
        write_json(self.dir / "env.json", self.env)
        for mirror in self._mirrors:
            mirror.finish(summary)

    def fail(self, reason: str) -> None:
        """Mark the run as failed in env.json (the checkpoints stay for --resume)."""
        self.env.update(status="failed", error=reason, wall_time_s=round(self.wall_time(), 3))
        write_json(self.dir / "env.json", self.env)
        for mirror in self._mirrors:
            mirror.fail(reason)


NOT_DONE = object()  # a stage with no usable result from an earlier attempt


def _readable(read: Callable[[], Any], default: Any) -> Any:
    """``read()``, or ``default`` with a warning when the file is damaged (for files a resume rewrites)."""
    try:
        return read()
    except DamagedFileError as exc:
        print(f"dllab: warning: {exc}; it will be written again", file=sys.stderr)
        return default


STAGE_RECORDS = "stages.jsonl"  # one line per finished stage: where it ran, how long, the epochs it resumed after


def run_stage(spec: WorkerSpec, name: str, fn: Callable, kwargs: dict) -> dict:
    """A stage of :meth:`Recorder.map_stages`, wherever the executor runs it: ``fn`` gets a recorder, and its
    result comes back as JSON-able data with the stage's record (host, Ray node, seconds, attempt, the epochs its
    training loops resumed after). Stages draw every random number from streams named by :mod:`dllab.seeding`, so
    where they run (and in which order) does not change them.

    With a storage (``spec.storage``) the recorder writes into a temporary folder of this machine: an earlier
    attempt's files (a lost worker, a killed driver) are fetched first, so training continues after its last
    finished epoch; each epoch's checkpoint and metrics rows go to ``stages/<name>/`` in storage as soon as they
    are written, and everything else when the stage ends."""
    from dllab import executor

    t0 = time.perf_counter()
    record = {"host": socket.gethostname(), "node": _ray_node(), "pid": os.getpid(),
              "started": _dt.datetime.now().isoformat(timespec="seconds")}
    progress = spec.progress and executor.in_parent_process()
    if spec.storage is None:
        rec = Recorder(spec.run_dir, spec.experiment, spec.config, resume=spec.resumed, progress=progress,
                       attach=True)
        result = to_jsonable(fn(rec, **kwargs))
    else:
        store = Storage(spec.storage).child(f"stages/{name}")
        work = Path(tempfile.mkdtemp(prefix=f"dllab-stage-{name}-"))
        try:
            earlier = store.download("", work)
            record["attempt"] = 1 + len(store.keys("attempts"))
            store.put(f"attempts/{record['attempt']}.json", json.dumps(record).encode())
            if not (work / "metrics.jsonl").is_file():
                atomic_write(work / "metrics.jsonl", "")
            rec = Recorder(work, spec.experiment, spec.config, resume=spec.resumed or bool(earlier),
                           progress=progress, attach=True)
            kept = ["metrics.jsonl", "checkpoints"]  # rows first: a checkpoint never runs ahead of its rows
            rec._on_checkpoint = lambda: store.upload(work, "", [p for k in kept for p in _files(work / k)])
            result = to_jsonable(fn(rec, **kwargs))
            store.upload(work, "", [p for p in _files(work) if p.parent.name != "attempts"])
            store.put("result.json", json.dumps(result).encode())
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {"result": result, "record": {**record, "seconds": round(time.perf_counter() - t0, 3),
                                         "threads": current_budget(), "resumed_after": rec.restarts}}


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _ray_node() -> str | None:
    """The Ray node id of this process, when it is a Ray worker."""
    ray = sys.modules.get("ray")
    try:
        return ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else None
    except Exception:
        return None
