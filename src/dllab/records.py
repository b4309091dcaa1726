"""Run directories: config, metrics log, summary, environment, figures, report sections.

A run directory holds::

    config.yaml      the fully resolved config
    metrics.jsonl    one JSON object per logged step or epoch
    summary.json     the final figures (keys documented per experiment)
    env.json         versions, git commit, seed, hardware, threads, wall time, status
    sections.json    the report's text, tables and figure captions, in order
    figures/*.png    the plots
    checkpoints/     resumable training state
    report.html      self-contained report (figures embedded)

Every file except metrics.jsonl (append-only, one line per record) is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from dllab.errors import DllabError

TRACKED_PACKAGES = ("dllab", "numpy", "torch", "scipy", "matplotlib", "pillow", "pydantic", "pyyaml", "rich")


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays, paths and tuples to plain JSON types; NaN -> None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if hasattr(obj, "tolist") and type(obj).__module__.startswith("torch"):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def cpu_cores() -> int:
    """Cores dllab may use: ``$DLLAB_THREADS`` if set, else all of this machine's."""
    return max(1, int(os.environ.get("DLLAB_THREADS") or os.cpu_count() or 1))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if importable) torch from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but the seeding need not insist
        return
    torch.manual_seed(seed)


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """The current git commit of ``cwd`` (default: the source tree of dllab) and whether it is dirty."""
    cwd = Path(cwd or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=5)
        return {"commit": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def capture_environment(seed: int) -> dict[str, Any]:
    """Versions, git commit, seed, hardware and threads of this process."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "git": git_commit(),
        "seed": seed,
        "argv": sys.argv,
        "data_dir": os.environ.get("DLLAB_DATA"),
    }
    if "torch" in sys.modules or versions["torch"]:
        import torch

        env["torch_threads"] = torch.get_num_threads()
        env["cuda"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return env


def new_run_dir(root: str | Path, experiment: str, config_yaml: str) -> Path:
    """``root/<experiment>/<YYYYmmdd-HHMMSS>-<hash of config>``, never an existing folder."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    short = hashlib.sha256(config_yaml.encode()).hexdigest()[:6]
    base = Path(root) / experiment / f"{stamp}-{short}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class Recorder:
    """Writes one run's record. Experiments receive one in ``run(config, recorder)``.

    Use :meth:`log` for per-step/epoch metrics, :meth:`figure` to save a matplotlib figure,
    :meth:`text` and :meth:`table` for report sections, and :meth:`progress` for long loops.
    The CLI calls :meth:`finish` with the summary.
    """

    def __init__(self, run_dir: str | Path, experiment: str, config: Any, *, resume: bool = False,
                 wandb: bool = False, progress: bool | None = None, attach: bool = False):
        from dllab.config import to_yaml

        self.dir = Path(run_dir)
        self.experiment = experiment
        self.config = config
        self.resumed = resume
        self.figures_dir = self.dir / "figures"
        self.checkpoints_dir = self.dir / "checkpoints"
        self._t0 = time.perf_counter()
        self._show_progress = sys.stderr.isatty() if progress is None else progress
        config_yaml = to_yaml(config)
        self._on_log = None  # map_stages workers re-share the cores here as other stages finish
        if attach:  # a worker process writing into its parent's run directory: no config/env of its own
            self._sections, self._prior_wall, self._wandb = [], 0.0, None
            self.env = {}
            return
        if resume:
            stored = (self.dir / "config.yaml")
            if not stored.is_file():
                raise DllabError(f"cannot resume: {self.dir} has no config.yaml (is it a run directory?)")
            if stored.read_text() != config_yaml:
                raise DllabError(f"cannot resume {self.dir}: its config.yaml differs from the requested config; "
                                 "resume with the same preset/--set options, or start a new run")
            self._sections = read_json(self.dir / "sections.json") if (self.dir / "sections.json").is_file() else []
            env = read_json(self.dir / "env.json") if (self.dir / "env.json").is_file() else {}
            self._prior_wall = float(env.get("wall_time_s") or 0.0)
        else:
            if self.dir.exists() and any(self.dir.iterdir()):
                raise DllabError(f"run directory {self.dir} already exists and is not empty; "
                                 "choose another --out or add --resume to continue that run")
            self._sections: list[dict] = []
            self._prior_wall = 0.0
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.dir / "config.yaml", config_yaml)
            atomic_write(self.dir / "metrics.jsonl", "")
        self.figures_dir.mkdir(exist_ok=True)
        self.env = capture_environment(getattr(config, "seed", 0))
        self.env.update(experiment=experiment, status="running", started=_dt.datetime.now().isoformat())
        write_json(self.dir / "env.json", self.env)
        self._wandb = self._init_wandb() if wandb else None

    # -- metrics ---------------------------------------------------------------------------------
    def log(self, **metrics: Any) -> None:
        """Append one JSON object (e.g. ``phase="train", epoch=3, loss=0.4``) to metrics.jsonl."""
        line = json.dumps(to_jsonable(metrics), sort_keys=False)
        with self._metrics_lock(), open(self.dir / "metrics.jsonl", "a") as f:
            f.write(line + "\n")
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        if self._on_log is not None:
            self._on_log()

    def metrics(self) -> list[dict]:
        return read_metrics(self.dir)

    def drop_metrics(self, keep) -> None:
        """Rewrite metrics.jsonl keeping only records for which ``keep(record)`` is true (used on resume)."""
        with self._metrics_lock():
            kept = [json.dumps(r) for r in self.metrics() if keep(r)]
            atomic_write(self.dir / "metrics.jsonl", "".join(line + "\n" for line in kept))

    @contextmanager
    def _metrics_lock(self):
        """Serialise metrics.jsonl writes between worker processes of one run."""
        import fcntl

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
        fd, tmp = tempfile.mkstemp(dir=self.figures_dir, prefix=f".{name}.", suffix=".png")
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
            plt.close(fig)
        self._add_section({"kind": "figure", "name": name, "file": f"figures/{name}.png", "caption": caption})
        return path

    def text(self, title: str, body: str) -> None:
        """A paragraph of the report (plain text; blank lines separate paragraphs)."""
        self._add_section({"kind": "text", "title": title, "body": body})

    def table(self, title: str, rows: list[dict], caption: str = "") -> None:
        """A table of the report: a list of dicts sharing the same keys."""
        self._add_section({"kind": "table", "title": title, "rows": rows, "caption": caption})

    # -- long loops ------------------------------------------------------------------------------
    @contextmanager
    def progress_bar(self, description: str, total: int | None) -> Iterator[Progress]:
        """A rich progress bar (shown on a terminal) whose fields can be updated: ``bar.advance(loss=...)``."""
        bar = Progress(description, total, enabled=self._show_progress)
        try:
            yield bar
        finally:
            bar.close()

    def progress(self, iterable: Iterable, description: str, total: int | None = None) -> Iterator:
        total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        with self.progress_bar(description, total) as bar:
            for item in iterable:
                yield item
                bar.advance()

    def stage(self, name: str, compute):
        """Run ``compute()`` once per run: its (JSON-able) result is stored in stages/<name>.json, and on
        ``--resume`` a finished stage is read back instead of recomputed. Metrics records tagged
        ``run=name`` from an unfinished attempt are dropped by the training loops when they restart.
        Sweeps use one stage per point.
        """
        path = self.dir / "stages" / f"{name}.json"
        if self._stage_done(name):
            return read_json(path)
        result = to_jsonable(compute())
        write_json(path, result)
        return result

    def _stage_done(self, name: str) -> bool:
        """True when resuming and stage ``name`` finished in an earlier attempt."""
        return self.resumed and (self.dir / "stages" / f"{name}.json").is_file()

    def map_stages(self, tasks: dict[str, tuple[Any, dict]], workers: int = 1) -> dict[str, Any]:
        """Run independent stages, in parallel worker processes when ``workers > 1``.

        ``tasks`` maps a stage name to ``(fn, kwargs)``; ``fn(recorder, **kwargs)`` must be a module-level
        function returning a JSON-able result. Each worker gets a recorder attached to this run directory
        (metrics lines are appended whole, checkpoints have their own names) and its share of the cores
        as torch threads, re-shared at each :meth:`log` as stages finish (see :func:`worker_threads`).
        Finished stages are read back on ``--resume``. Returns name -> result, in ``tasks`` order.
        """
        done = {n: read_json(self.dir / "stages" / f"{n}.json") for n in tasks if self._stage_done(n)}
        todo = [n for n in tasks if n not in done]
        if workers <= 1 or len(todo) <= 1:
            for n in todo:
                fn, kwargs = tasks[n]
                done[n] = self.stage(n, lambda fn=fn, kwargs=kwargs: fn(self, **kwargs))
            return {n: done[n] for n in tasks}
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        unfinished = ctx.Value("i", len(todo))  # workers rebalance their threads on it as stages end
        spec = (str(self.dir), self.experiment, self.config, self.resumed, workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(unfinished,)) as pool:
            futures = {n: pool.submit(_run_stage_in_worker, spec, n, *tasks[n]) for n in todo}
            with self.progress_bar(f"{len(todo)} stages on {workers} workers", len(todo)) as bar:
                for n, future in futures.items():
                    done[n] = future.result()
                    bar.advance()
        return {n: done[n] for n in tasks}

    def checkpoint_path(self, name: str = "last") -> Path:
        self.checkpoints_dir.mkdir(exist_ok=True)
        return self.checkpoints_dir / f"{name}.pt"

    # -- end -------------------------------------------------------------------------------------
    def finish(self, summary: dict) -> None:
        """Write summary.json, the final env.json (status, wall time) and report.html."""
        from dllab.report import build_report

        write_json(self.dir / "summary.json", summary)
        wall = self._prior_wall + time.perf_counter() - self._t0
        self.env.update(status="finished", finished=_dt.datetime.now().isoformat(), wall_time_s=round(wall, 3))
        write_json(self.dir / "env.json", self.env)
        build_report(self.dir)
        if self._wandb is not None:
            self._wandb.summary.update({k: v for k, v in to_jsonable(summary).items()
                                        if isinstance(v, (int, float, str))})
            self._wandb.finish()

    def fail(self, reason: str) -> None:
        """Mark the run as failed in env.json (the checkpoints stay for --resume)."""
        wall = self._prior_wall + time.perf_counter() - self._t0
        self.env.update(status="failed", error=reason, wall_time_s=round(wall, 3))
        write_json(self.dir / "env.json", self.env)

    def _init_wandb(self):
        try:
            import wandb
        except ImportError:
            raise DllabError("--wandb needs Weights & Biases: pip install 'dllab[wandb]'") from None
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        return wandb.init(project="dllab", name=self.dir.name, group=self.experiment, dir=str(self.dir),
                          config=to_jsonable(self.config.model_dump()), mode=mode)


_UNFINISHED = None  # in a map_stages worker: shared count of stages not yet finished


def _init_worker(unfinished) -> None:
    global _UNFINISHED
    _UNFINISHED = unfinished


def worker_threads(workers: int, unfinished: int, cores: int | None = None) -> int:
    """Torch threads for one of ``workers`` stage workers while ``unfinished`` stages remain: the cores are
    shared among the workers still busy, so the last stage of a sweep gets the whole machine."""
    busy = max(1, min(workers, unfinished))
    return max(1, (cores or cpu_cores()) // busy)


def _rebalance_threads(workers: int) -> None:
    if _UNFINISHED is None:
        return
    import torch

    n = worker_threads(workers, _UNFINISHED.value)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _run_stage_in_worker(spec: tuple, name: str, fn, kwargs: dict):
    """Body of a worker process of :meth:`Recorder.map_stages`."""
    run_dir, experiment, config, resumed, workers = spec
    seed_everything(getattr(config, "seed", 0))
    _rebalance_threads(workers)
    rec = Recorder(run_dir, experiment, config, resume=resumed, progress=False, attach=True)
    rec._on_log = lambda: _rebalance_threads(workers)
    try:
        return rec.stage(name, lambda: fn(rec, **kwargs))
    finally:
        with _UNFINISHED.get_lock():
            _UNFINISHED.value -= 1


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Progress:
    """A thin wrapper over rich's progress bar with named live fields (loss, accuracy, ...)."""

    def __init__(self, description: str, total: int | None, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._rich = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                  transient=False)
        self._rich.start()
        self._task = self._rich.add_task(description, total=total, info="")

    @staticmethod
    def _info(fields: dict) -> dict:
        if not fields:
            return {}
        return {"info": "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())}

    def advance(self, n: int = 1, **fields: float) -> None:
        """Move the bar on by ``n`` steps, showing ``fields`` if given."""
        if self.enabled:
            self._rich.update(self._task, advance=n, **self._info(fields))

    def update(self, completed: int, **fields: float) -> None:
        """Set the bar to ``completed`` steps and show ``fields`` (e.g. loss=0.3)."""
        if self.enabled:
            self._rich.update(self._task, completed=completed, **self._info(fields))

    def close(self) -> None:
        if self.enabled:
            self._rich.stop()
