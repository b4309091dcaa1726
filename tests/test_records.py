import json
import math
import os
import re

import numpy as np
import pytest

from dllab.config import ExperimentConfig
from dllab.errors import DllabError
from dllab.records import Recorder, atomic_write, to_jsonable


class Cfg(ExperimentConfig):
    x: int = 1


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.json"
    atomic_write(p, "one")
    atomic_write(p, "two")
    assert p.read_text() == "two"
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_write_failure_keeps_old_content(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    atomic_write(p, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(p, "new")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_to_jsonable():
    out = to_jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": (1, float("nan")), "d": {"e": np.int64(2)}})
    assert out == {"a": 1.5, "b": [0, 1, 2], "c": [1, None], "d": {"e": 2}}
    json.dumps(out)


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
    d = tmp_path / "run"
    assert {p.name for p in d.iterdir()} >= {"config.yaml", "metrics.jsonl", "summary.json", "env.json",
                                              "figures", "report.html", "sections.json"}
    assert [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()] == [0.5, 0.25]
    env = json.loads((d / "env.json").read_text())
    assert env["status"] == "finished" and env["seed"] == 3 and env["wall_time_s"] >= 0
    assert env["versions"]["numpy"] == np.__version__ and "git" in env
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


def test_report_escapes_text(tmp_path):
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    rec.text("x", "<script>alert(1)</script>")
    rec.finish({"v": math.pi})
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


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


def _wait_for(path, timeout: float = 60.0) -> None:
    import time

    deadline = time.time() + timeout
    while not path.is_file() and time.time() < deadline:
        time.sleep(0.05)


def threads_stage(rec, role: str) -> list[int]:
    """Two stages that overlap: "long" logs torch's thread count before and after "short" has finished."""
    import time

    import torch

    seen = [torch.get_num_threads()]
    if role == "short":
        _wait_for(rec.dir / "long.started")
        return seen
    (rec.dir / "long.started").touch()
    _wait_for(rec.dir / "stages" / "short.json")
    time.sleep(0.3)  # the other worker decrements the count just after writing its result
    rec.log(run="long", epoch=1)
    return [*seen, torch.get_num_threads()]


def test_worker_threads_shares_cores_among_busy_workers():
    from dllab.records import worker_threads

    assert worker_threads(2, 6, cores=2) == 1
    assert worker_threads(2, 1, cores=2) == 2
    assert worker_threads(4, 3, cores=16) == 5
    assert worker_threads(8, 8, cores=2) == 1


def test_map_stages_gives_the_last_stage_all_cores(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_THREADS", "4")
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    out = rec.map_stages({"short": (threads_stage, {"role": "short"}),
                          "long": (threads_stage, {"role": "long"})}, workers=2)
    assert out["short"] == [2]
    assert out["long"] == [2, 4]


def test_report_reads_durations_like_a_person_and_refuses_a_non_run(tmp_path):
    from dllab.report import build_report, duration

    assert [duration(x) for x in (None, 4.3, 59.96, 324, 3599.4, 8173.6)] == \
        ["?", "4.3 s", "1 min 0 s", "5 min 24 s", "59 min 59 s", "2 h 16 min"]
    with pytest.raises(DllabError, match="not a run directory"):
        build_report(tmp_path)
