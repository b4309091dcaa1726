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


def _command(*args, killer: str | None = None) -> list[str]:
    cmd = [sys.executable, str(HERE / "killed_run.py"), killer] if killer else [sys.executable, "-m", "dllab"]
    return [*cmd, *args, "--no-progress"] if args[0] == "run" else [*cmd, *args]


def _dllab(*args, killer: str | None = None, threads: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args, killer=killer), capture_output=True, text=True, timeout=600,
                          env={**os.environ, "DLLAB_THREADS": str(threads)})


def _side_by_side(*commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Run independent commands at once, one core each (the same thread count as each other, so the same
    arithmetic), and return how each ended."""
    env = {**os.environ, "DLLAB_THREADS": "1"}
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for c in commands]
    out = []
    for c, proc in zip(commands, procs):
        stdout, stderr = proc.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(c, proc.returncode, stdout, stderr))
    return out


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


# (experiment, extra --set options, where the kill lands). Every run of a case gets one core (two run side by
# side): with two, an executor worker takes over a finished stage's core at a moment that depends on timing, which
# changes the order of floating-point sums (README, "Seeds"), so two runs need not agree to the last bit.
# One case per way a run resumes: the NumPy trainer's stages (scratch-mnist; scratch-cifar runs the same loop), the
# torch loop's per-epoch checkpoint (cifar-train; mnist-logreg, flip-robustness run the same fit, and mnist-logreg's
# damaged-checkpoint fallback is in test_bad_input.py), stages in worker processes (flooding; random-labels maps
# the same fit the same way), the playground engine's, cifar-study's and cifar-fast's own loops, the LiT heads'.
CASES = [
    ("scratch-mnist", [], "stage"),
    ("cifar-train", [], "checkpoint"),
    ("flooding", [], "stage"),
    ("playground-study", [], "stage"),
    ("cifar-study", [], "checkpoint"),  # killed after the first cell's epoch: that cell resumes, the rest run
    # killed after seed 0's first epoch (of 3, not the preset's 2): the rest of seed 0, then seed 1, after resume
    ("cifar-fast", ["--set", "seeds=2", "--set", "fast.epochs=3"], "checkpoint"),
    # auto precision: a timing could choose either; 4 epochs of heads are enough to kill after the first
    ("search-encoder", ["--set", "lit.precision=fp32", "--set", "lit.epochs=4"], "checkpoint"),
]


@pytest.mark.parametrize("experiment,extra,kill", CASES, ids=[f"{e}-{k}" for e, x, k in CASES])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, shared_data, experiment, extra, kill):
    """An uninterrupted run beside one SIGKILLed after its first checkpoint or stage; then the killed one resumed
    beside a re-run of the first one's config.yaml (once per experiment)."""
    whole, broken, again = tmp_path / "whole", tmp_path / "broken", tmp_path / "again"
    args = ("run", experiment, "--preset", "smoke", *extra)
    done, killed = _side_by_side(_command(*args, "--out", str(whole)),
                                 _command(*args, "--out", str(broken), killer=kill))
    assert done.returncode == 0, done.stderr
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert not (broken / "summary.json").exists()
    first_case = [c for c in CASES if c[0] == experiment][0] == (experiment, extra, kill)
    resumed, *rerun = _side_by_side(_command("run", experiment, "--out", str(broken), "--resume"), *(
        [_command("run", experiment, "--config", str(whole / "config.yaml"), "--out", str(again))]
        if first_case else []))
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((whole / "summary.json").read_text())
    b = json.loads((broken / "summary.json").read_text())
    assert untimed(b) == untimed(a)
    assert rows(broken) == rows(whole)  # each epoch's row once, with the uninterrupted run's numbers
    if rerun:  # config.yaml says everything that ran, whatever the default --preset says
        assert rerun[0].returncode == 0, rerun[0].stderr
        assert (again / "config.yaml").read_text() == (whole / "config.yaml").read_text()
        assert untimed(json.loads((again / "summary.json").read_text())) == untimed(a)


@pytest.mark.parametrize("experiment", ["linreg-mnist"])
def test_rerunning_a_runs_own_config_yaml_reproduces_it(tmp_path, shared_data, experiment):
    """config.yaml says everything that ran: `dllab run X --config RUN/config.yaml` gives RUN's summary (whatever
    the default --preset says). The experiments of CASES are checked there, on their uninterrupted run, and
    clip-search, clip-classifier and clip-queries in test_search_experiments.py (on its search-encoder run)."""
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
