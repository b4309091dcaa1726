"""dllab.runner: the run contract end to end (config, lock, seed, summary, report, failure handling)."""

import json

import pytest

from dllab.errors import DataError, DllabError
from dllab.runner import run_experiment


def test_a_run_that_fails_before_it_starts_leaves_no_directory(tmp_path, isolated_env):
    out = tmp_path / "runs" / "never"
    with pytest.raises(DataError, match="mnist"):
        run_experiment("mnist-logreg", preset="smoke", out=out, progress=False)
    assert not out.exists()
    with pytest.raises(DataError):
        run_experiment("mnist-logreg", preset="smoke", runs_root=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs" / "mnist-logreg").exists() or not any((tmp_path / "runs" / "mnist-logreg").iterdir())


def test_the_runner_writes_summary_env_and_report_and_the_same_seed_repeats(tmp_path, shared_data):
    a = run_experiment("mnist-logreg", preset="smoke", out=tmp_path / "a", progress=False)
    b = run_experiment("mnist-logreg", preset="smoke", out=tmp_path / "b", progress=False)
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()
    env = json.loads((a / "env.json").read_text())
    assert env["status"] == "finished" and env["preset"] == "smoke" and env["cpu_extensions"] is not None
    assert (a / "report.html").is_file() and (a / ".lock").read_text() == ""
    c = run_experiment("mnist-logreg", preset="smoke", seed=1, out=tmp_path / "c", progress=False)
    assert (c / "summary.json").read_text() != (a / "summary.json").read_text()


def test_resume_needs_the_run_directory_and_refuses_new_options(tmp_path):
    with pytest.raises(DllabError, match="--resume needs --out"):
        run_experiment("mnist-logreg", resume=True)
    with pytest.raises(DllabError, match="drop --config/--set/--seed"):
        run_experiment("mnist-logreg", resume=True, out=tmp_path, seed=3)
    with pytest.raises(DllabError, match="does not exist"):
        run_experiment("mnist-logreg", resume=True, out=tmp_path / "nothing")


def test_a_bug_after_results_records_the_failure_and_its_wall_time_for_the_resume(tmp_path, shared_data,
                                                                                    monkeypatch):
    """A report that raises (a bug, not a DllabError) after stages finished: env.json says failed with the time
    spent, and the resumed run's wall time includes it (it was lost: a resumed cifar-study claimed 15 s)."""
    from dllab.experiments import _study_report

    def broken(*args, **kwargs):
        raise ZeroDivisionError("in the report")

    monkeypatch.setattr(_study_report, "data", broken)
    out = tmp_path / "r"
    with pytest.raises(ZeroDivisionError):
        run_experiment("cifar-study", preset="smoke", out=out, progress=False, overrides=["questions=[data]"])
    env = json.loads((out / "env.json").read_text())
    assert env["status"] == "failed" and "ZeroDivisionError: in the report (a bug" in env["error"]
    spent = env["wall_time_s"]
    assert spent > 0
    monkeypatch.undo()
    run_experiment("cifar-study", out=out, resume=True, progress=False)
    assert json.loads((out / "env.json").read_text())["wall_time_s"] > spent
