"""dllab.tracking: the optional Weights & Biases mirror."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from dllab.config import ExperimentConfig
from dllab.errors import DllabError
from dllab.tracking import WandbMirror


class _Cfg(ExperimentConfig):
    lr: float = 0.1


def _fake_wandb(calls: dict):
    run = types.SimpleNamespace(summary={}, log=lambda m: calls.setdefault("logs", []).append(m),
                                finish=lambda: calls.setdefault("finished", True))
    module = types.ModuleType("wandb")
    module.init = lambda **kw: calls.update(init=kw) or run
    return module, run


def test_the_mirror_logs_numbers_and_the_summary_offline_without_a_key(monkeypatch, tmp_path):
    calls: dict = {}
    module, run = _fake_wandb(calls)
    monkeypatch.setitem(sys.modules, "wandb", module)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    mirror = WandbMirror(Path(tmp_path / "run1"), "mnist-logreg", _Cfg(seed=3))
    assert calls["init"]["mode"] == "offline" and calls["init"]["group"] == "mnist-logreg"
    assert calls["init"]["config"] == {"seed": 3, "lr": 0.1} and calls["init"]["name"] == "run1"
    mirror.log({"epoch": 1, "loss": 0.5, "run": "train"})
    mirror.finish({"test_accuracy": 0.9, "per_class": [1, 2], "dataset": "mnist"})
    assert calls["logs"] == [{"epoch": 1, "loss": 0.5}]  # numbers only
    assert run.summary == {"test_accuracy": 0.9, "dataset": "mnist"} and calls["finished"]
    monkeypatch.setenv("WANDB_API_KEY", "k")
    WandbMirror(Path(tmp_path / "run2"), "x", _Cfg())
    assert calls["init"]["mode"] == "online"


def test_without_the_extra_it_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails as when it is not installed
    with pytest.raises(DllabError, match=r"pip install 'dllab\[wandb\]'"):
        WandbMirror(tmp_path, "x", _Cfg())
