"""One run of the suite wherever its executor puts it, and the shipping of its files where there is no shared file
system (Ray, SLURM): the run directory travels packed in the stage's result, and an interrupted run's files travel
to the worker that resumes it."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from dllab.errors import DllabError


def pack(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def run_one(name: str, preset: str, overrides: list[str], run_dir: str, resume: bool, ship: bool = False,
            snapshot: bytes | None = None, nested: str | None = None, storage: str | None = None) -> dict:
    """Run one experiment into ``run_dir`` and report how it went (never raises for a failed run).

    With ``ship`` (executors without a shared file system) the run happens in a local temporary folder, seeded
    from ``snapshot`` (the interrupted run's files) when resuming, and its files come back packed in the result.
    ``nested`` (``"ray"``) sends the run's own stages to the cluster this runs on, keeping their files in
    ``storage``.
    """
    from dllab.distributed import make_executor
    from dllab.runner import run_experiment

    work = Path(tempfile.mkdtemp(prefix="dllab-suite-")) / name if ship else Path(run_dir)
    if ship and snapshot:
        unpack(snapshot, work)
    t0 = time.perf_counter()
    status, error = "finished", None
    try:
        run_experiment(name, preset=preset, overrides=None if resume else overrides, out=work, resume=resume,
                       progress=False, executor=make_executor(nested) if nested else None, storage=storage)
    except DllabError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # a bug: keep the traceback in the log, report one line
        traceback.print_exc()
        status, error = "failed", f"{type(exc).__name__}: {exc} (a bug; the traceback is in the suite's log)"
    result: dict[str, Any] = {"experiment": name, "status": status, "error": error,
                              "wall_time_s": round(time.perf_counter() - t0, 3)}
    if ship:
        result["files"] = pack(work) if work.is_dir() else None
        shutil.rmtree(work.parent, ignore_errors=True)
    return result
