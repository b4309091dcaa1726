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
TIME = re.compile(r"(^|_)(time|times|timing|wall|seconds|elapsed)(_|$)|_s$")


def _dllab(*args, killer: str | None = None, threads: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(HERE / "killed_run.py"), killer] if killer else [sys.executable, "-m", "dllab"]
    env = {**os.environ, "DLLAB_THREADS": str(threads)}
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


# (experiment, extra --set options, where the kill lands). Experiments whose stages run in parallel workers run on
# one core here: with two, a worker takes over a finished stage's core at a moment that depends on timing, which
# changes the order of floating-point sums (README, "Seeds"), so two runs need not agree to the last bit.
CASES = [
    ("mnist-logreg", [], "checkpoint"),
    ("scratch-mnist", [], "stage"),
    ("scratch-cifar", [], "stage"),
    ("cifar-train", [], "checkpoint"),
    ("flip-robustness", [], "checkpoint"),
    ("flooding", [], "stage"),
    ("random-labels", [], "stage"),
    ("playground-study", [], "stage"),
    ("cifar-fast", ["--set", "seeds=2"], "checkpoint"),
    ("cifar-fast", ["--set", "fast.epochs=3"], "checkpoint"),
]
PARALLEL = {"flooding", "random-labels", "playground-study"}


@pytest.mark.parametrize("experiment,extra,kill", CASES, ids=[f"{e}{''.join(x[1:2])}-{k}" for e, x, k in CASES])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, shared_data, experiment, extra, kill):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    threads = 1 if experiment in PARALLEL else 2
    done = _dllab("run", experiment, "--preset", "smoke", *extra, "--out", str(whole), threads=threads)
    assert done.returncode == 0, done.stderr
    killed = _dllab("run", experiment, "--preset", "smoke", *extra, "--out", str(broken), killer=kill,
                    threads=threads)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert not (broken / "summary.json").exists()
    resumed = _dllab("run", experiment, "--out", str(broken), "--resume", threads=threads)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((whole / "summary.json").read_text())
    b = json.loads((broken / "summary.json").read_text())
    assert untimed(b) == untimed(a)
    assert rows(broken) == rows(whole)  # each epoch's row once, with the uninterrupted run's numbers
    if [c for c in CASES if c[0] == experiment][0] == (experiment, extra, kill):  # once per experiment
        _assert_config_reproduces(whole, experiment, tmp_path / "again", threads)



@pytest.mark.parametrize("experiment", ["linreg-mnist", "theory"])
def test_rerunning_a_runs_own_config_yaml_reproduces_it(tmp_path, shared_data, experiment):
    """config.yaml says everything that ran: `dllab run X --config RUN/config.yaml` gives RUN's summary (whatever
    the default --preset says). The experiments of CASES are checked there, on their uninterrupted run. Left out
    for the suite's time: the four search experiments (search-encoder's smoke run alone takes about 25 s)."""
    first = tmp_path / "first"
    res = _dllab("run", experiment, "--preset", "smoke", "--out", str(first))
    assert res.returncode == 0, res.stderr
    _assert_config_reproduces(first, experiment, tmp_path / "again", 2)


def _assert_config_reproduces(run: Path, experiment: str, again: Path, threads: int) -> None:
    res = _dllab("run", experiment, "--config", str(run / "config.yaml"), "--out", str(again), threads=threads)
    assert res.returncode == 0, res.stderr
    assert (again / "config.yaml").read_text() == (run / "config.yaml").read_text()
    assert untimed(json.loads((again / "summary.json").read_text())) == \
        untimed(json.loads((run / "summary.json").read_text()))
