"""``dllab suite``: every experiment with one command, under one core budget, then the combined report.

The suite plans the runs (``--only`` / ``--skip``, each experiment's ``NEEDS``), orders them by dependency, and
hands each wave of independent runs to an executor as stages: local worker processes sharing the budget, Ray
tasks, or SLURM jobs. A run that fails is reported with its one-line error and the rest go on; runs that need a
failed run are skipped. ``--resume`` skips runs that finished with the same config and code version and continues
interrupted ones. At the end: ``report.html`` (by course and question) and ``report.pdf`` (headless Chromium).

The suite directory holds one run directory per experiment (``<out>/<experiment>/``), ``suite.json`` (what ran,
with status, errors and wall times) and the combined report.
"""

from __future__ import annotations

import datetime as _dt
import io
import shutil
import sys
import tarfile
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dllab import config as configlib
from dllab import experiments
from dllab.environment import cpu_info, git_commit
from dllab.errors import ConfigError, DllabError
from dllab.executor import Executor, LocalExecutor, Stage, StageFailure
from dllab.fileio import read_json, write_json
from dllab.report import build_suite_report, duration


@dataclass
class Planned:
    """One run of the suite."""

    name: str
    overrides: list[str]
    config_yaml: str
    needs: dict[str, str]             # config key -> experiment whose run directory it receives
    estimate_s: float
    estimate_from: str                # "recorded" or "stated"
    action: str = "run"               # run | resume | skip (finished earlier)
    result: dict = field(default_factory=dict)


# -- planning ------------------------------------------------------------------------------------------------

def split_overrides(items: list[str]) -> dict[str, list[str]]:
    """``NAME:key=value`` -> {NAME: ["key=value"]}; a bare ``key=value`` applies to every experiment ("*")."""
    out: dict[str, list[str]] = {}
    for item in items:
        head, sep, rest = item.partition(":")
        if sep and "=" not in head:
            experiments.get(head)  # an unknown name is a clear error
            out.setdefault(head, []).append(rest)
        else:
            out.setdefault("*", []).append(item)
    return out


def _timings_path() -> Path:
    from dllab.data.store import cache_dir

    return cache_dir() / "timings.json"


def _timings() -> tuple[Path, dict, str]:
    """The recorded wall times (an unreadable file counts as none) and this machine's key prefix."""
    path = _timings_path()
    try:
        timings = read_json(path, {})
    except (ValueError, OSError):
        timings = {}
    return path, timings, cpu_info()["model"]


def recorded_time(name: str, preset: str) -> float | None:
    """The last recorded wall time of ``name`` at ``preset`` on this CPU model, if any."""
    _, timings, cpu = _timings()
    return timings.get(f"{name}/{preset}/{cpu}")


def record_time(name: str, preset: str, seconds: float) -> None:
    path, timings, cpu = _timings()
    timings[f"{name}/{preset}/{cpu}"] = round(seconds, 1)
    write_json(path, timings)


def plan(preset: str, only: list[str] | None = None, skip: list[str] | None = None,
         overrides: list[str] | None = None, out: Path = Path("runs/suite")) -> list[Planned]:
    """The runs of a suite in dependency order; an experiment needed by a selected one is added. A run that
    needs another gets the other's run directory (``<out>/<experiment>``) as the config value its NEEDS names."""
    per = split_overrides(overrides or [])
    for name in [*(only or []), *(skip or [])]:
        experiments.get(name)
    wanted = [n for n in (only or list(experiments.EXPERIMENTS)) if n not in (skip or [])]
    if not wanted:
        raise ConfigError("nothing to run: --only/--skip left no experiment")
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ConfigError(f"experiments need each other in a circle: {' -> '.join((*path, name))}")
        if name in order:
            return
        for dep in getattr(experiments.get(name), "NEEDS", {}).values():
            if dep in (skip or []):
                raise ConfigError(f"{name} needs {dep}, which --skip leaves out")
            visit(dep, (*path, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    planned = []
    for name in order:
        module = experiments.get(name)
        needs = dict(getattr(module, "NEEDS", {}))
        ov = [*per.get("*", []), *per.get(name, [])] + [f"{k}={(out / d).resolve()}" for k, d in needs.items()]
        cfg = configlib.resolve(module.Config, module.PRESETS, preset, None, ov)
        recorded = recorded_time(name, preset)
        stated = float(getattr(module, "ESTIMATE_S", {}).get(preset, 60))
        planned.append(Planned(name, ov, configlib.to_yaml(cfg), needs, recorded or stated,
                               "recorded" if recorded else "stated"))
    return planned


def dry_run_text(planned: list[Planned], preset: str, jobs: int) -> str:
    total = sum(p.estimate_s for p in planned)
    lines = [f"dllab suite --preset {preset}: {len(planned)} runs"]
    for p in planned:
        needs = f" (needs {', '.join(p.needs.values())})" if p.needs else ""
        lines.append(f"  {p.name:<18} {duration(p.estimate_s):>12}  ({p.estimate_from}){needs}")
    lines.append(f"total: {duration(total)} of run time; with {jobs} parallel job(s) about "
                 f"{duration(total / max(1, jobs))} of wall time on this machine ({cpu_info()['model']})")
    return "\n".join(lines)


# -- one run, wherever the executor puts it ---------------------------------------------------------------

def _pack(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def _unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def run_one(name: str, preset: str, overrides: list[str], run_dir: str, resume: bool, ship: bool = False,
            snapshot: bytes | None = None) -> dict:
    """Run one experiment into ``run_dir`` and report how it went (never raises for a failed run).

    With ``ship`` (executors without a shared file system) the run happens in a local temporary folder, seeded
    from ``snapshot`` (the interrupted run's files) when resuming, and its files come back packed in the result.
    """
    from dllab.runner import run_experiment

    work = Path(tempfile.mkdtemp(prefix="dllab-suite-")) / name if ship else Path(run_dir)
    if ship and snapshot:
        _unpack(snapshot, work)
    t0 = time.perf_counter()
    status, error = "finished", None
    try:
        run_experiment(name, preset=preset, overrides=None if resume else overrides, out=work, resume=resume,
                       progress=False)
    except DllabError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # a bug: keep the traceback in the log, report one line
        traceback.print_exc()
        status, error = "failed", f"{type(exc).__name__}: {exc} (a bug; the traceback is in the suite's log)"
    result: dict[str, Any] = {"experiment": name, "status": status, "error": error,
                              "wall_time_s": round(time.perf_counter() - t0, 3)}
    if ship:
        result["files"] = _pack(work) if work.is_dir() else None
        shutil.rmtree(work.parent, ignore_errors=True)
    return result


# -- the suite ---------------------------------------------------------------------------------------------

def _decide(p: Planned, run_dir: Path, commit: str | None, resume: bool) -> None:
    """Skip a finished run with the same config and code, resume an interrupted one, or start over."""
    if not run_dir.exists():
        return
    if not resume:
        raise DllabError(f"{run_dir} exists: add --resume to continue this suite, or choose another --out")
    stored = run_dir / "config.yaml"
    same_config = stored.is_file() and stored.read_text() == p.config_yaml
    env = read_json(run_dir / "env.json", {})
    same_code = (env.get("git") or {}).get("commit") == commit
    if same_config and same_code and (run_dir / "summary.json").is_file() and env.get("status") == "finished":
        p.action = "skip"
        p.result = {"experiment": p.name, "status": "finished", "error": None, "earlier": True,
                    "wall_time_s": env.get("wall_time_s")}
    elif same_config and same_code:
        p.action = "resume"
    else:  # the config or the code changed: the old run is kept aside, not mixed in
        stale = run_dir.parent / ".stale" / f"{run_dir.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        stale.parent.mkdir(parents=True, exist_ok=True)
        run_dir.rename(stale)


class Display:
    """One overall progress line per event: runs done / running / failed, time so far, time left."""

    def __init__(self, planned: list[Planned], jobs: int, enabled: bool = True):
        self.planned, self.jobs, self.enabled = planned, jobs, enabled
        self.t0 = time.perf_counter()
        self.started: dict[str, float] = {}

    def start(self, names: list[str]) -> None:
        now = time.perf_counter()
        for n in names[: self.jobs]:
            self.started.setdefault(n, now)
        self._print(f"started {', '.join(names[: self.jobs])}"
                    + (f" ({len(names) - self.jobs} queued)" if len(names) > self.jobs else ""))

    def done(self, p: Planned, queue: list[str]) -> None:
        self.started.pop(p.name, None)
        for n in queue[: self.jobs]:
            self.started.setdefault(n, time.perf_counter())
        r = p.result
        what = f"{p.name} {r['status']}" + (f" in {duration(r.get('wall_time_s'))}" if r.get("wall_time_s") else "")
        if r.get("error"):
            what += f": {r['error']}"
        self._print(what)

    def _print(self, event: str) -> None:
        if not self.enabled:
            return
        counts = {s: sum(p.result.get("status") == s for p in self.planned) for s in ("finished", "failed", "skipped")}
        left = [p for p in self.planned if not p.result]
        now = time.perf_counter()
        remaining = sum(max(p.estimate_s - (now - self.started.get(p.name, now)), 0) for p in left)
        eta = remaining / max(1, min(self.jobs, len(left))) if left else 0
        print(f"[{len(self.planned) - len(left)}/{len(self.planned)}] {event}  | done {counts['finished']}, "
              f"running {sum(1 for p in left if p.name in self.started)}, failed {counts['failed']}, skipped "
              f"{counts['skipped']}; {duration(now - self.t0)} so far, about {duration(eta)} left", flush=True)


def make_executor(kind: str, address: str | None, out: Path) -> Executor:
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        from dllab.distributed import RayExecutor

        return RayExecutor(address)
    if kind == "slurm":
        from dllab.distributed import SubmititExecutor

        return SubmititExecutor(out / ".submitit")
    raise ConfigError(f"unknown executor {kind!r}; choose local, ray or slurm")


def run_suite(*, preset: str = "cpu", only: list[str] | None = None, skip: list[str] | None = None,
              jobs: int | None = None, out: str | Path | None = None, executor: Executor | str = "local",
              address: str | None = None, resume: bool = False, overrides: list[str] | None = None,
              pdf: bool = True, progress: bool = True) -> dict:
    """Run the suite; return its record (also written to ``<out>/suite.json``)."""
    out = Path(out or f"runs/suite-{preset}")
    planned = plan(preset, only, skip, overrides, out)
    ex = make_executor(executor, address, out) if isinstance(executor, str) else executor
    ship = not isinstance(ex, LocalExecutor)
    jobs = jobs or max(1, min(len(planned), ex.budget()))
    commit = git_commit().get("commit")
    if out.exists() and any(out.iterdir()) and not resume:
        raise DllabError(f"suite directory {out} exists and is not empty: add --resume to continue it, or choose "
                         "another --out")
    out.mkdir(parents=True, exist_ok=True)
    for p in planned:
        _decide(p, out / p.name, commit, resume)
    display = Display(planned, jobs, enabled=progress)
    started = _dt.datetime.now()
    record = {"preset": preset, "started": started.isoformat(), "commit": commit, "cpu": cpu_info(), "jobs": jobs,
              "executor": type(ex).__name__, "runs": []}

    def save() -> None:
        record["runs"] = [{"experiment": p.name, "action": p.action, "estimate_s": p.estimate_s,
                           **{k: v for k, v in p.result.items() if k != "files"}} for p in planned]
        write_json(out / "suite.json", record)

    while todo := [p for p in planned if not p.result]:
        status = {q.name: q.result.get("status") for q in planned}
        for p in todo:  # a run that needs a failed run cannot run
            bad = [d for d in p.needs.values() if status[d] in ("failed", "skipped")]
            if bad:
                p.result = {"experiment": p.name, "status": "skipped", "error": f"needs {', '.join(bad)}, which "
                            "did not finish", "wall_time_s": None}
                status[p.name] = "skipped"
        wave = [p for p in todo if not p.result and all(status[d] == "finished" for d in p.needs.values())]
        if not wave:
            continue
        stages = []
        for p in wave:
            run_dir = out / p.name
            snapshot = _pack(run_dir) if ship and p.action == "resume" and run_dir.is_dir() else None
            stages.append(Stage(p.name, run_one, {"name": p.name, "preset": preset, "overrides": p.overrides,
                                                  "run_dir": str(run_dir), "resume": p.action == "resume",
                                                  "ship": ship, "snapshot": snapshot}))
        by_name = {p.name: p for p in wave}
        queue = [p.name for p in wave]
        display.start(queue)

        def landed(name: str, result: Any, by_name=by_name, queue=queue) -> None:
            p = by_name[name]
            if isinstance(result, StageFailure):
                result = {"experiment": name, "status": "failed", "error": result.error, "wall_time_s": None}
            files = result.pop("files", None)
            if files:
                target = out / name
                if target.exists():
                    shutil.rmtree(target)
                _unpack(files, target)
            p.result = result
            if result["status"] == "finished" and result.get("wall_time_s"):
                record_time(name, preset, result["wall_time_s"])
            queue.remove(name)
            display.done(p, queue)
            save()

        ex.map(stages, workers=jobs, on_result=landed, errors="return")
    record["finished"] = _dt.datetime.now().isoformat()
    record["wall_time_s"] = round((_dt.datetime.now() - started).total_seconds(), 1)
    save()
    record["report"] = str(write_reports(out, planned, record, pdf=pdf))
    save()
    return record


def write_reports(out: Path, planned: list[Planned], record: dict, *, pdf: bool = True) -> Path:
    """report.html (and report.pdf where Chromium is available) of a suite directory."""
    runs = []
    for p in planned:
        module = experiments.get(p.name)
        summary_path = out / p.name / "summary.json"
        summary = read_json(summary_path, {})
        env = read_json(out / p.name / "env.json", {})
        runs.append({"experiment": p.name, "status": p.result.get("status", "not run"),
                     "error": p.result.get("error"), "wall_time_s": env.get("wall_time_s") or
                     p.result.get("wall_time_s"), "run_dir": p.name, "homework": module.HOMEWORK,
                     "description": module.DESCRIPTION,
                     "headline": {label: (_dotted(summary, key), key)
                                  for label, key in getattr(module, "HEADLINE", {}).items()}})
    cpu = record.get("cpu") or {}
    meta = (f"preset {record['preset']} &middot; {len(planned)} runs &middot; wall time "
            f"{duration(record.get('wall_time_s'))} &middot; commit {(record.get('commit') or 'unknown')[:10]} "
            f"&middot; {cpu.get('model')} &middot; started {record['started'][:19].replace('T', ' ')}")
    html_path = build_suite_report(out / "report.html", runs, title="dllab: the homework sets, reproduced",
                                   meta=meta)
    if pdf:
        from dllab.browser import missing_reason, print_pdf

        reason = missing_reason()
        if reason:
            print(f"dllab suite: no PDF ({reason})", file=sys.stderr)
        else:
            print_pdf(html_path, out / "report.pdf")
    return html_path


def _dotted(summary: dict, key: str) -> Any:
    value: Any = summary
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
