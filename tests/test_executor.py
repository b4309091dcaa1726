"""dllab.executor: stages in worker processes, results as data, cores re-shared, nesting under one budget."""

import os
from pathlib import Path

import pytest

from dllab.config import ExperimentConfig
from dllab.errors import DllabError
from dllab.executor import LocalExecutor, Stage, current_budget, worker_threads
from dllab.recorder import Recorder


class Cfg(ExperimentConfig):
    x: int = 1


def square(k: int) -> dict:
    return {"k": k, "square": k * k, "pid": os.getpid()}


def test_results_come_back_as_data_in_order_from_other_processes():
    seen = []
    out = LocalExecutor(cores=2).map([Stage(f"k{k}", square, {"k": k}) for k in range(5)],
                                     on_result=lambda name, r: seen.append(name))
    assert list(out) == [f"k{k}" for k in range(5)] and [r["square"] for r in out.values()] == [0, 1, 4, 9, 16]
    assert sorted(seen) == sorted(out) and all(r["pid"] != os.getpid() for r in out.values())


def test_one_worker_runs_in_this_process():
    out = LocalExecutor(cores=2).map([Stage("a", square, {"k": 3})], workers=1)
    assert out["a"]["pid"] == os.getpid()


def broken(k: int) -> None:
    raise DllabError(f"stage {k} is broken")


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(DllabError, match="stage 1 is broken"):
        LocalExecutor(cores=2).map([Stage("a", square, {"k": 0}), Stage("b", broken, {"k": 1})])


def inner_sweep(n: int) -> dict:
    """A stage that maps stages of its own: it sees its share of the outer budget and nests a pool under it."""
    budget = current_budget()
    inner = LocalExecutor().map([Stage(f"i{k}", square, {"k": k}) for k in range(n)])
    return {"budget": budget, "inner": [r["square"] for r in inner.values()],
            "inner_in_other_processes": all(r["pid"] != os.getpid() for r in inner.values())}


def test_executors_nest_under_one_core_budget():
    out = LocalExecutor(cores=4).map([Stage("run1", inner_sweep, {"n": 3}), Stage("run2", inner_sweep, {"n": 2})])
    assert out["run1"]["inner"] == [0, 1, 4] and out["run2"]["inner"] == [0, 1]
    # two runs share 4 cores: each starts with 2 (or all 4 once the other has finished), never more than 4
    assert all(2 <= r["budget"] <= 4 for r in out.values())
    assert all(r["inner_in_other_processes"] for r in out.values())
    assert current_budget() >= 1  # the main process is not a worker


def test_worker_threads_shares_cores_among_busy_workers():

    assert worker_threads(2, 6, cores=2) == 1
    assert worker_threads(2, 1, cores=2) == 2
    assert worker_threads(4, 3, cores=16) == 5
    assert worker_threads(8, 8, cores=2) == 1


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


def test_map_stages_gives_the_last_stage_all_cores(tmp_path, monkeypatch):
    monkeypatch.setenv("DLLAB_THREADS", "4")
    rec = Recorder(tmp_path / "run", "demo", Cfg(), progress=False)
    out = rec.map_stages({"short": (threads_stage, {"role": "short"}),
                          "long": (threads_stage, {"role": "long"})}, workers=2)
    assert out["short"] == [2]
    assert out["long"] == [2, 4]


def test_each_stage_of_a_two_worker_pool_keeps_to_its_share_of_the_cores(tmp_path, shared_data):
    """Inside a 2-worker pool on a 2-core budget every stage runs on 1 thread while both are busy (the runner, the
    start-up precision timing and embedding included), never on the whole machine."""
    from dllab.executor import LocalExecutor
    from thread_probe import probe

    stages = [Stage(f"s{i}", probe, {"out": str(tmp_path / f"run{i}"), "seed": i}) for i in range(2)]
    results = LocalExecutor(cores=2).map(stages, workers=2)
    for name, seen in results.items():
        assert {s["where"] for s in seen} >= {"stage start", "embedding", "precision timing", "timed step", "log"}
        assert all(s["threads"] <= s["share"] for s in seen), (name, seen)
        assert all(s["threads"] == s["share"] for s in seen if s["where"] in ("stage start", "log")), (name, seen)
        assert seen[0]["share"] == 1 and any(s["where"] == "timed step" and s["threads"] == 1 for s in seen)


def test_no_experiment_reads_a_private_recorder_field():
    import ast

    from dllab import experiments

    folder = Path(experiments.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                assert not (isinstance(node.value, ast.Name) and node.value.id in ("rec", "recorder")), \
                    f"{path.name}:{node.lineno} reads recorder.{node.attr}"
