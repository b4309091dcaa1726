"""Exact resume: a run SIGKILLed after its first checkpoint or stage and resumed equals an uninterrupted run, and
re-running a run's own config.yaml reproduces it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TIME = re.compile(r"(^|_)(time|times|wall|seconds|elapsed)(_|$)|_s$|^step_times$")


def _dllab(*args, killer: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(HERE / "killed_run.py"), killer] if killer else [sys.executable, "-m", "dllab"]
    env = {**os.environ, "DLLAB_THREADS": "2"}
    return subprocess.run([*cmd, *args, "--no-progress"] if args[0] == "run" else [*cmd, *args],
                          capture_output=True, text=True, env=env, timeout=600)


def untimed(obj):
    """``obj`` without the wall-clock figures, which differ between any two runs."""
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if not TIME.search(k)}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def rows(run_dir: Path) -> list[str]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return sorted(json.dumps(untimed(json.loads(line)), sort_keys=True) for line in lines if line.strip())


# (experiment, extra --set options, where the kill lands)
CASES = [
    ("mnist-logreg", [], "checkpoint"),
    ("scratch-mnist", [], "checkpoint"),
    ("scratch-mnist", [], "stage"),
    ("cifar-fast", ["--set", "seeds=2"], "checkpoint"),
    ("cifar-fast", ["--set", "seeds=2"], "stage"),
    ("cifar-fast", ["--set", "fast.epochs=3"], "checkpoint"),
]


@pytest.mark.parametrize("experiment,extra,kill", CASES, ids=[f"{e}{''.join(x[1:2])}-{k}" for e, x, k in CASES])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, shared_data, experiment, extra, kill):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = _dllab("run", experiment, "--preset", "smoke", *extra, "--out", str(whole))
    assert done.returncode == 0, done.stderr
    killed = _dllab("run", experiment, "--preset", "smoke", *extra, "--out", str(broken), killer=kill)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert not (broken / "summary.json").exists()
    resumed = _dllab("run", experiment, "--out", str(broken), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((whole / "summary.json").read_text())
    b = json.loads((broken / "summary.json").read_text())
    assert untimed(b) == untimed(a)
    assert rows(broken) == rows(whole)  # each epoch's row once, with the uninterrupted run's numbers
