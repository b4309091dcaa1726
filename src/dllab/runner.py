"""Run one experiment under the run contract: resolve the config, lock and record the run directory, seed,
run, write the summary, build the report."""

from __future__ import annotations

import shutil
from pathlib import Path

from dllab import config as configlib
from dllab import experiments, timings
from dllab.errors import DllabError, os_error
from dllab.executor import Executor, apply_budget
from dllab.recorder import Recorder
from dllab.report import build_report
from dllab.rundir import RunLock, has_results, new_run_dir
from dllab.seeding import seed_everything
from dllab.storage import Storage


def resolve_config(name: str, preset: str = "cpu", config_file: str | None = None,
                   overrides: list[str] | None = None, seed: int | None = None):
    module = experiments.get(name)
    return module, configlib.resolve(module.Config, module.PRESETS, preset, config_file, overrides, seed)


def run_experiment(name: str, *, preset: str = "cpu", config_file: str | None = None,
                   overrides: list[str] | None = None, seed: int | None = None, out: str | Path | None = None,
                   runs_root: str | Path = "runs", resume: bool = False, wandb: bool = False,
                   mlflow: str | bool | None = None, progress: bool | None = None,
                   executor: Executor | None = None, storage: str | None = None) -> Path:
    """Run experiment ``name`` and return its run directory. Raises DllabError on bad input or failure.

    The run holds an exclusive lock on its directory from start to end, so a second process writing the same
    directory is refused. A run that fails before it has written any result leaves no directory behind.

    ``executor`` runs the run's stages (default: worker processes of this machine). ``storage`` (a folder or an
    fsspec URI such as ``s3://bucket/prefix``) is where stages keep their files, below ``<storage>/<run dir
    name>/``, and where the finished run's record is copied (``run/``); without it, stages on another machine's
    executor (Ray, SLURM) use the run directory itself as a local storage (one machine or a shared file system).
    """
    if resume:
        if out is None:
            raise DllabError("--resume needs --out RUN_DIR: the run directory to continue")
        if config_file or overrides or seed is not None:
            raise DllabError("--resume continues a run with its recorded config.yaml; drop --config/--set/--seed")
        module = experiments.get(name)
        stored = Path(out) / "config.yaml"
        if not stored.is_file():
            raise DllabError(f"cannot resume: {stored} does not exist")
        cfg = configlib.validate(module.Config, configlib.load_yaml(stored))
    else:
        module, cfg = resolve_config(name, preset, config_file, overrides, seed)
    run_dir = Path(out) if out is not None else new_run_dir(runs_root, name, configlib.to_yaml(cfg))
    if run_dir.exists() and not run_dir.is_dir():
        raise DllabError(f"--out {run_dir} is a file, not a folder; give a new or existing run directory")
    created = not run_dir.exists()
    then = f"continue with: dllab run {name} --out {run_dir} --resume"
    try:
        lock = RunLock(run_dir).acquire()
    except OSError as exc:
        raise os_error(exc, "run again") from None

    def discard() -> None:
        """Remove a directory this run created but never wrote a result into (nothing to resume there)."""
        lock.release()
        shutil.rmtree(run_dir, ignore_errors=True)

    try:
        try:
            store = _storage(run_dir, storage, resume, executor)
            recorder = Recorder(run_dir, name, cfg, resume=resume, wandb=wandb, mlflow=mlflow,
                                progress=progress, executor=executor, storage=store)
        except (DllabError, OSError) as exc:
            if created:
                discard()
            if isinstance(exc, OSError):
                raise os_error(exc, "run again") from None
            raise
        recorder.env["preset"] = None if resume else preset
        seed_everything(cfg.seed)
        try:
            threads = apply_budget()
            summary = module.run(cfg, recorder)
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, OSError):
                exc = os_error(exc, then)
            known = isinstance(exc, (DllabError, KeyboardInterrupt))  # else a bug: recorded, then its traceback
            reason = ("interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc) if known
                      else f"{type(exc).__name__}: {exc} (a bug: the traceback follows)")
            if created and not has_results(run_dir):
                discard()
            else:  # the wall time spent is recorded too: a resume adds to it
                _try(lambda: recorder.fail(reason))
            if isinstance(exc, KeyboardInterrupt):
                raise DllabError(f"interrupted; {then}") from None
            if not known:
                raise
            raise exc from None
        if not (resume or overrides or config_file or seed is not None):  # a preset's cost, for --dry-run
            wall = recorder.wall_time()
            timings.record_many(name, preset, {None: wall, "serial": (wall - recorder.stages_wall) * threads,
                                               **{f"stage:{k}": v for k, v in recorder.stage_core_s.items()}})
        missing = [k for k in getattr(module, "SUMMARY_KEYS", {}) if k not in summary]
        if missing:
            raise DllabError(f"experiment {name} did not report the documented summary keys {missing} (a bug)")
        try:
            recorder.finish(summary, report=lambda env: build_report(run_dir, env=env),
                            labels=experiments.summary_labels(module))
        except OSError as exc:
            error = os_error(exc, then)
            _try(lambda: recorder.fail(f"the summary or report could not be written: {error}"))
            raise error from None
        if store is not None and store.uri != str(run_dir.resolve()):
            store.upload(run_dir, "run")  # the finished record, where the stages' files are
    finally:
        lock.release()
    return run_dir


def _storage(run_dir: Path, uri: str | None, resume: bool, executor: Executor | None) -> Storage | None:
    """The run's storage: below ``uri`` (or, on resume, the one its env.json records), else the run directory
    itself for executors of other machines, else none (stages write into the run directory)."""
    from dllab.executor import LocalExecutor
    from dllab.fileio import read_json

    if uri is None and resume:
        try:
            uri = read_json(run_dir / "env.json", {}, kind=dict).get("storage")
        except DllabError:
            uri = None
        if uri:
            return Storage(uri)
    if uri is not None:
        store = Storage(str(uri)).child(run_dir.resolve().name)
        if not resume and store.exists():
            raise DllabError(f"storage {store.uri} already holds a run's files; continue that run with --resume, "
                             "or choose another --out (its folder name names the run in storage)")
        return store
    if executor is not None and not isinstance(executor, LocalExecutor):
        return Storage(str(run_dir.resolve()))
    return None


def _try(write) -> None:
    """A best-effort write while reporting another error (on a full disk it may fail too)."""
    try:
        write()
    except OSError:
        pass
