"""Executors run named stages (independent pieces of work) and return their results as data.

An experiment never talks to an executor directly: it hands ``Recorder.map_stages`` a mapping of stage names to
``(fn, kwargs)``; the recorder skips stages finished in an earlier attempt (``--resume``), wraps the rest as
:class:`Stage` objects and passes them to its executor, and stores each result as it comes back. So a
distributed executor plugs in by implementing :meth:`Executor.map` alone.

Cores. Every executor works under a core budget (``DLLAB_THREADS`` or all cores in the main process). The local
executor runs up to ``workers`` stages at once in spawned processes; each worker's torch threads are its share of
the budget among the workers still busy, re-computed whenever a stage reports progress, so the last stage of a
sweep runs on the whole budget. :func:`apply_budget` is the one place that sets torch's threads. Workers die with
the process that started them (a killed suite leaves nothing running). Executors nest: inside a worker,
:func:`current_budget` is that worker's share, and a stage that maps stages of its own (a suite's run, say) gets a
local executor under it.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from dllab.environment import cpu_cores


@dataclass(frozen=True)
class Stage:
    """One piece of work: ``fn(**kwargs)`` with ``fn`` importable by name (a module-level function)."""

    name: str
    fn: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StageFailure:
    """The result of a stage that raised or whose worker died, when :meth:`Executor.map` is asked to return
    failures instead of raising them (``errors="return"``)."""

    name: str
    error: str


OnResult = Callable[[str, Any], None]


class Executor(ABC):
    """Runs stages; :meth:`map` returns name -> result and calls ``on_result(name, result)`` as each one ends.

    ``errors="raise"`` (the default, for a run's own sweeps) re-raises the first failure; ``errors="return"``
    (for a suite of runs) gives a failed stage a :class:`StageFailure` result and lets the others finish.
    """

    @abstractmethod
    def map(self, stages: Sequence[Stage], *, workers: int | None = None, on_result: OnResult | None = None,
            errors: str = "raise") -> dict[str, Any]: ...

    def budget(self) -> int:
        """Cores the executor shares among its stages."""
        return current_budget()


def land(results: dict, name: str, get: Callable[[], Any], *, errors: str, on_result: OnResult | None,
         explain: Callable[[BaseException], str] | None = None) -> None:
    """Store stage ``name``'s result from ``get()``, or its failure: re-raised (``errors="raise"``; as a DllabError
    with ``explain(exc)`` when given) or kept as a :class:`StageFailure`; then tell ``on_result``."""
    try:
        results[name] = get()
    except Exception as exc:
        if errors == "raise":
            if explain is None:
                raise
            from dllab.errors import DllabError

            raise DllabError(f"stage {name} {explain(exc)}") from None
        results[name] = StageFailure(name, (explain or describe_failure)(exc))
    if on_result:
        on_result(name, results[name])


def describe_failure(exc: BaseException) -> str:
    """One line for a failed stage: a DllabError's message, else the exception's type and message."""
    from dllab.errors import DllabError

    if isinstance(exc, DllabError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500]


# In a worker process of a LocalExecutor: (shared count of unfinished stages, workers, cores of the pool).
_POOL: tuple[Any, int, int] | None = None


def in_parent_process() -> bool:
    """False inside a worker process of a :class:`LocalExecutor` pool."""
    return _POOL is None


def worker_threads(workers: int, unfinished: int, cores: int | None = None) -> int:
    """Threads for one of ``workers`` stage workers while ``unfinished`` stages remain: the cores are shared among
    the workers still busy, so the last stage of a sweep gets the whole budget."""
    busy = max(1, min(workers, unfinished))
    return max(1, (cores or cpu_cores()) // busy)


def current_budget() -> int:
    """Cores this process may use now: its share inside a worker, else ``DLLAB_THREADS`` or all cores."""
    if _POOL is None:
        return cpu_cores()
    unfinished, workers, cores = _POOL
    return worker_threads(workers, unfinished.value, cores)


def apply_budget(threads: int | None = None) -> int:
    """Set torch's thread count to ``threads`` or this process's current budget, and return it.

    The one place that sets torch's threads: the runner calls it before a run, a worker before each stage and
    whenever its stage reports progress (so it takes over the cores of finished stages), a distributed executor
    with the CPUs its task was given. Library code and experiments never set threads themselves."""
    import torch

    n = threads or current_budget()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _die_with_parent() -> None:
    """End this worker when the process that started it dies, however it dies (SIGKILL included): on Linux the
    kernel's parent-death signal; everywhere a watcher thread that sees the worker re-parented."""
    import os
    import signal
    import threading
    import time

    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="dllab-parent-watch", daemon=True).start()


def _init_worker(unfinished, workers: int, cores: int) -> None:
    global _POOL
    _die_with_parent()
    _POOL = (unfinished, workers, cores)


def _run_in_worker(stage: Stage):
    apply_budget()
    try:
        return stage.fn(**stage.kwargs)
    finally:
        unfinished = _POOL[0]
        with unfinished.get_lock():
            unfinished.value -= 1


class LocalExecutor(Executor):
    """Stages in this process (one worker) or in a pool of spawned processes on this machine."""

    def __init__(self, cores: int | None = None):
        self.cores = cores

    def budget(self) -> int:
        return self.cores or current_budget()

    def map(self, stages: Sequence[Stage], *, workers: int | None = None, on_result: OnResult | None = None,
            errors: str = "raise") -> dict[str, Any]:
        cores = self.budget()
        workers = min(workers or cores, len(stages))
        results: dict[str, Any] = {}
        if workers <= 1:
            for s in stages:
                land(results, s.name, lambda s=s: s.fn(**s.kwargs), errors=errors, on_result=on_result)
            return results
        ctx = mp.get_context("spawn")
        unfinished = ctx.Value("i", len(stages))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(unfinished, workers, cores)) as pool:
            pending = {pool.submit(_run_in_worker, s): s.name for s in stages}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        land(results, pending.pop(future), future.result, errors=errors, on_result=on_result)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return {s.name: results[s.name] for s in stages}
