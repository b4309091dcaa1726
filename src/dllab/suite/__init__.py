"""``dllab suite``: every experiment with one command, under one core budget, then the combined report.

The suite plans the runs (``--only`` / ``--skip``, each experiment's ``NEEDS``), orders them by dependency, and
hands each wave of independent runs to an executor as stages: local worker processes sharing the budget, Ray
tasks, or SLURM jobs. A run that fails is reported with its one-line error and the rest go on; runs that need a
failed run are skipped. ``--resume`` skips runs that finished with the same config and code version and continues
interrupted ones. At the end: ``report.html`` (by course and question) and ``report.pdf`` (headless Chromium).

The pieces, one concern each: :mod:`dllab.suite.plan` (which runs, their order and time estimates),
:mod:`dllab.suite.resume` (skip / resume / start over), :mod:`dllab.suite.display` (the progress lines),
:mod:`dllab.suite.shipping` (one run in a worker, its files packed where there is no shared file system); this
module runs the waves and writes the reports.

The suite directory holds one run directory per experiment (``<out>/<experiment>/``), ``suite.json`` (what ran,
with status, errors and wall times) and the combined report.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import sys
from pathlib import Path
from typing import Any

from dllab import experiments
from dllab.config import get_dotted
from dllab.environment import cpu_info, git_commit
from dllab.errors import DllabError
from dllab.executor import Executor, LocalExecutor, Stage, StageFailure
from dllab.fileio import read_json, write_json
from dllab.report import build_suite_report, duration
from dllab.suite.display import Display
from dllab.suite.plan import Planned, dry_run_text, plan, record_time, recorded_time, split_overrides
from dllab.suite.resume import decide
from dllab.suite.shipping import pack, run_one, unpack

__all__ = ["Planned", "dry_run_text", "make_executor", "plan", "record_time", "recorded_time", "run_one",
           "run_suite", "split_overrides", "write_reports"]


def make_executor(kind: str, address: str | None, out: Path) -> Executor:
    from dllab.distributed import make_executor as make

    return make(kind, address, out / ".submitit")


def run_suite(*, preset: str = "cpu", only: list[str] | None = None, skip: list[str] | None = None,
              jobs: int | None = None, out: str | Path | None = None, executor: Executor | str = "local",
              address: str | None = None, resume: bool = False, overrides: list[str] | None = None,
              pdf: bool = True, progress: bool = True, storage: str | None = None) -> dict:
    """Run the suite; return its record (also written to ``<out>/suite.json``).

    With ``storage`` and Ray, each run's stages are Ray tasks of their own (nested in the run's task) that keep
    their files below ``<storage>/<suite folder>/``; without it a run's stages share its task's cores."""
    out = Path(out or f"runs/suite-{preset}")
    planned = plan(preset, only, skip, overrides, out)
    ex = make_executor(executor, address, out) if isinstance(executor, str) else executor
    ship = not isinstance(ex, LocalExecutor)
    from dllab.distributed import RayExecutor
    from dllab.storage import Storage

    nested = "ray" if isinstance(ex, RayExecutor) and storage else None
    stage_storage = Storage(storage).child(Path(out).resolve().name).uri if storage else None
    jobs = jobs or max(1, min(len(planned), ex.budget()))
    commit = git_commit().get("commit")
    if out.exists() and any(out.iterdir()) and not resume:
        raise DllabError(f"suite directory {out} exists and is not empty: add --resume to continue it, or choose "
                         "another --out")
    out.mkdir(parents=True, exist_ok=True)
    for p in planned:
        decide(p, out / p.name, commit, resume)
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
            snapshot = pack(run_dir) if ship and p.action == "resume" and run_dir.is_dir() else None
            stages.append(Stage(p.name, run_one, {"name": p.name, "preset": preset, "overrides": p.overrides,
                                                  "run_dir": str(run_dir), "resume": p.action == "resume",
                                                  "ship": ship, "snapshot": snapshot, "nested": nested,
                                                  "storage": stage_storage}))
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
                unpack(files, target)
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
                     "headline": {label: (get_dotted(summary, key, None), key)
                                  for label, key in getattr(module, "HEADLINE", {}).items()}})
    cpu = record.get("cpu") or {}
    meta = [f"preset {record['preset']}", f"{len(planned)} runs", f"wall time {duration(record.get('wall_time_s'))}",
            f"commit {(record.get('commit') or 'unknown')[:10]}", str(cpu.get("model")),
            f"started {record['started'][:19].replace('T', ' ')}"]
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
