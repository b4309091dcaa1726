"""dllab.recorder: the run record an experiment writes, resumable stages."""

import json
import re

import numpy as np
import pytest

from dllab.config import ExperimentConfig
from dllab.errors import DllabError
from dllab.recorder import Recorder
from dllab.report import build_report


class Cfg(ExperimentConfig):
    x: int = 1


def test_recorder_writes_the_run_record(tmp_path):
    import matplotlib.pyplot as plt

    rec = Recorder(tmp_path / "run", "demo", Cfg(seed=3), progress=False)
    rec.log(epoch=1, loss=0.5)
    rec.log(epoch=2, loss=0.25)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    rec.figure(fig, "line", "a line")
    rec.text("Reading", "para one\n\npara two")
    rec.table("T", [{"a": 1, "b": 2.5}])
    rec.finish({"score": 0.9, "nested": {"k": 1}})
    build_report(rec.dir)
    d = tmp_path / "run"
    assert {p.name for p in d.iterdir()} >= {"config.yaml", "metrics.jsonl", "summary.json", "env.json",
                                              "figures", "report.html", "sections.json"}
    assert [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()] == [0.5, 0.25]
    env = json.loads((d / "env.json").read_text())
    assert env["status"] == "finished" and env["seed"] == 3 and env["wall_time_s"] >= 0
    assert env["versions"]["numpy"] == np.__version__ and "git" in env
    assert env["cpu"] and isinstance(env["cpu_extensions"], list) and env["core_budget"] >= 1
    html = (d / "report.html").read_text()
    assert "data:image/png;base64," in html and "para two" in html and "score" in html
    assert f"wall time {env['wall_time_s']:.1f} s" in html
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)=['"]https?://""", html)


def test_recorder_refuses_to_overwrite_and_checks_resume_config(tmp_path):
    d = tmp_path / "run"
    Recorder(d, "demo", Cfg(), progress=False)
    with pytest.raises(DllabError, match="already exists"):
        Recorder(d, "demo", Cfg(), progress=False)
    with pytest.raises(DllabError, match="differs"):
        Recorder(d, "demo", Cfg(x=2), resume=True, progress=False)
    assert Recorder(d, "demo", Cfg(), resume=True, progress=False).resumed


def square_stage(rec, k: int) -> dict:
    """A stage for the map_stages test (module level, so worker processes can import it)."""
    for step in range(20):
        rec.log(run=f"k{k}", epoch=step, value=k * step)
    return {"k": k, "square": k * k}


def test_map_stages_in_worker_processes_and_resume(tmp_path):
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    tasks = {f"k{k}": (square_stage, {"k": k}) for k in range(4)}
    out = rec.map_stages(tasks, workers=2)
    assert [r["square"] for r in out.values()] == [0, 1, 4, 9]
    lines = rec.metrics()
    assert len(lines) == 80 and {m["run"] for m in lines} == {"k0", "k1", "k2", "k3"}  # no line lost or torn
    assert sorted(p.name for p in (tmp_path / "run" / "stages").iterdir()) == [f"k{k}.json" for k in range(4)]

    def boom(rec, k):
        raise AssertionError("a finished stage must not run again on resume")

    resumed = Recorder(tmp_path / "run", "demo", Cfg(), resume=True, progress=False)
    again = resumed.map_stages({name: (boom, kw) for name, (_, kw) in tasks.items()}, workers=1)
    assert again == out




def failing_stage(rec, k: int) -> dict:
    if k == 1:
        from dllab.errors import DataError

        raise DataError("stage 1 cannot find its data")
    return {"k": k}


def test_a_failing_stage_raises_its_error_and_keeps_the_finished_ones(tmp_path):
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    with pytest.raises(DllabError, match="stage 1 cannot find its data"):
        rec.map_stages({"k0": (failing_stage, {"k": 0}), "k1": (failing_stage, {"k": 1})}, workers=1)
    assert (tmp_path / "run" / "stages" / "k0.json").is_file()  # resumable: k0 will not run again


def test_a_resumed_stage_is_read_back_once_whatever_its_result(tmp_path):
    """A finished stage is not computed again on resume, even when its result is null or falsy; a damaged one
    is."""
    d = tmp_path / "run"
    rec = Recorder(d, "demo", Cfg(), progress=False)
    assert [rec.stage(n, lambda v=v: v) for n, v in (("none", None), ("zero", 0), ("list", [1]))] == [None, 0, [1]]
    (d / "stages" / "list.json").write_text("[1,")
    again = Recorder(d, "demo", Cfg(), resume=True, progress=False)
    calls = []
    assert again.stage("none", lambda: calls.append("none")) is None
    assert again.stage("zero", lambda: calls.append("zero")) == 0
    assert again.stage("list", lambda: calls.append("list") or [2]) == [2]
    assert calls == ["list"]
