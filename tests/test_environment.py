"""dllab.environment: the core budget, the CPU, the git commit and the record of a run's environment."""

from __future__ import annotations

import subprocess

import pytest

from dllab.environment import capture_environment, cpu_cores, cpu_info, describe_cpu, git_commit
from dllab.errors import DllabError


def test_the_core_budget_is_dllab_threads_or_every_core(monkeypatch):
    import os

    monkeypatch.delenv("DLLAB_THREADS", raising=False)
    assert cpu_cores() == os.cpu_count()
    monkeypatch.setenv("DLLAB_THREADS", "3")
    assert cpu_cores() == 3


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_core_budget_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("DLLAB_THREADS", value)
    with pytest.raises(DllabError, match="DLLAB_THREADS=.*whole number of cores of at least 1"):
        cpu_cores()


def test_cpu_model_and_extensions_agree_with_proc_cpuinfo():
    import sys

    info = cpu_info()
    if sys.platform.startswith("linux"):
        text = open("/proc/cpuinfo").read()
        flags = next(line for line in text.splitlines() if line.startswith("flags")).split(":")[1].split()
        assert set(info["extensions"]) <= set(flags)  # each one named as the kernel names it
        assert ("avx2" in info["extensions"]) == ("avx2" in flags)
        assert info["model"] in text
    assert info["model"] in describe_cpu()


def test_git_commit_names_head_and_says_dirty(tmp_path):
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}  # not a repository
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f").write_text("a")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f").write_text("b")
    assert git_commit(tmp_path)["dirty"] is True


def test_the_environment_record_holds_what_reproduces_a_run(monkeypatch):
    import torch

    monkeypatch.setenv("DLLAB_THREADS", "1")
    env = capture_environment(seed=7)
    assert env["seed"] == 7 and env["core_budget"] == 1
    assert env["versions"]["torch"] == torch.__version__.split("+")[0] or env["versions"]["torch"] == torch.__version__
    assert env["versions"]["numpy"] and env["torch_threads"] == torch.get_num_threads()
    assert set(env) >= {"python", "platform", "cpu", "cpu_extensions", "git", "argv", "data_dir"}
