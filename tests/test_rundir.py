"""dllab.rundir: one writer per run directory (the lock), and run directory names."""

import json
import signal
import subprocess
import sys
import time

import pytest

from dllab.errors import DllabError
from dllab.rundir import RunLock, has_results, new_run_dir
from test_cli import assert_one_line_error, dllab

HOLD = """
import sys, time
from dllab.rundir import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def _holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    run_dir = tmp_path / "run"
    proc = _holder(run_dir)
    try:
        with pytest.raises(DllabError, match=rf"in use by process {proc.pid} .*choose another --out"):
            RunLock(run_dir).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    proc = _holder(run_dir)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock = RunLock(run_dir).acquire()  # the kernel dropped the dead holder's lock
    holder = json.loads((run_dir / ".lock").read_text())
    assert holder["pid"] != proc.pid
    lock.release()
    assert (run_dir / ".lock").read_text() == ""  # released: no holder named


@pytest.mark.serial
def test_two_concurrent_runs_on_one_directory_the_second_is_refused(tmp_path, shared_data):
    run_dir = tmp_path / "run"
    res = dllab("run", "mnist-logreg", "--preset", "smoke", "--out", str(run_dir), "--no-progress")
    assert res.returncode == 0, res.stderr
    proc = _holder(run_dir)  # stands in for a first `dllab run ... --resume` still at work
    try:
        t = time.time()
        res = dllab("run", "mnist-logreg", "--out", str(run_dir), "--resume", "--no-progress")
        assert_one_line_error(res, rf"run directory .* is in use by process {proc.pid} .*")
        assert time.time() - t < 60
    finally:
        proc.kill()
        proc.wait()
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the refused run wrote nothing: 2 epochs, each logged once


def test_new_run_dir_is_never_an_existing_folder(tmp_path):
    a = new_run_dir(tmp_path, "exp", "x: 1\n")
    a.mkdir(parents=True)
    b = new_run_dir(tmp_path, "exp", "x: 1\n")
    assert a != b and a.parent == b.parent == tmp_path / "exp"


def test_has_results(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "metrics.jsonl").write_text("")
    (d / "figures").mkdir()
    assert not has_results(d)
    (d / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert has_results(d)
