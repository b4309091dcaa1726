"""Run directories: their names, the lock that keeps one writer per directory, and reading them back.

A run directory holds::

    config.yaml      the fully resolved config
    metrics.jsonl    one JSON object per logged step or epoch (append-only)
    summary.json     the final figures (keys documented per experiment)
    labels.json      summary key -> the label the report shows (words and unit; the experiment's SUMMARY_KEYS)
    env.json         versions, git commit, seed, CPU and its extensions, threads, wall time, status
    sections.json    the report's text, tables and figure captions, in order
    figures/*.png    the plots
    checkpoints/     resumable training state
    stages/*.json    results of finished sub-runs, read back on --resume
    report.html      self-contained report (figures embedded)
    .lock            held (flock) by the one process writing the directory
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
import socket
import sys
from pathlib import Path

from dllab.errors import DamagedFileError, DllabError
from dllab.fileio import DAMAGED_HINT, read_json, read_jsonl

LOCK_NAME = ".lock"
LABELS_FILE = "labels.json"


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


def read_metrics(run_dir: str | Path) -> list[dict]:
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


_SECTION_KEYS = {"figure": ("name", "file"), "text": ("title", "body"), "table": ("title", "rows")}


def read_sections(run_dir: str | Path) -> list[dict]:
    """The report sections in sections.json (none if absent), each checked to be one the report can draw; a
    damaged file raises a DamagedFileError naming it."""
    path = Path(run_dir) / "sections.json"
    sections = read_json(path, [], kind=list)
    for i, s in enumerate(sections):
        need = _SECTION_KEYS.get(s.get("kind")) if isinstance(s, dict) else None
        if need is None or any(k not in s for k in need) or (s["kind"] == "table" and not (
                isinstance(s["rows"], list) and all(isinstance(r, dict) for r in s["rows"]))):
            raise DamagedFileError(f"{path} is damaged: entry {i + 1} is not a report section. {DAMAGED_HINT}")
    return sections


def has_results(run_dir: str | Path) -> bool:
    """True once a run has written anything worth keeping: metrics, report sections, figures, stages or checkpoints."""
    d = Path(run_dir)
    if (d / "metrics.jsonl").is_file() and (d / "metrics.jsonl").stat().st_size:
        return True
    if (d / "sections.json").is_file():
        return True
    return any(any((d / sub).iterdir()) for sub in ("figures", "stages", "checkpoints") if (d / sub).is_dir())


class RunLock:
    """An exclusive ``flock`` on ``run_dir/.lock`` for the life of a run.

    The kernel drops the lock when its process exits, however it exits, so a lock left by a killed process is
    simply taken over; the file's text only names the holder for the error message of a second writer.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace")
            os.close(fd)
            try:
                h = json.loads(holder)
                who = f"process {h['pid']} on {h['host']} (started {h['started']}: {h['command']})"
            except (ValueError, KeyError, TypeError):
                who = "another process"
            raise DllabError(f"run directory {self.path.parent} is in use by {who}; wait for it to finish, "
                             "or choose another --out") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": _dt.datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
