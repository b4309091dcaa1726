"""The command line as a user meets it: help, listing, data checks, and one-line errors with non-zero exits."""

import os
import shutil
import subprocess
import sys

import pytest

from dllab.cli import main


def dllab(*args, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dllab", *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=600)


def assert_one_line_error(res, pattern):
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("dllab: error:")
    import re

    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["show", "--help"], ["data", "--help"],
                                  ["report", "--help"], ["list", "--help"], ["suite", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert "usage: dllab" in capsys.readouterr().out


def test_list_does_not_import_torch():
    code = "import sys; from dllab.cli import main; main(['list']); print('TORCH', 'torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "mnist-logreg" in res.stdout and "TORCH False" in res.stdout


def test_data_verify_reports_ok_with_counts(shared_data):
    res = dllab("data", "verify", "mnist")
    assert res.returncode == 0, res.stderr
    assert "mnist: OK" in res.stdout and "60000 train + 10000 test (complete)" in res.stdout
    res = dllab("data", "list")
    assert res.returncode == 0 and "cifar10" in res.stdout
    res = dllab("data", "path", "cifar10")
    assert res.stdout.strip() == str(shared_data / "cifar10")


def test_unknown_experiment():
    assert_one_line_error(dllab("run", "mnist-logrg"), r"unknown experiment 'mnist-logrg'.*mnist-logreg")


def test_unknown_key(tmp_path):
    assert_one_line_error(dllab("run", "mnist-logreg", "--set", "epochz=3", "--out", str(tmp_path / "r")),
                          r"unknown config key 'epochz'")


def test_wrong_type(tmp_path):
    assert_one_line_error(dllab("run", "mnist-logreg", "--set", "train.epochs=many", "--out", str(tmp_path / "r")),
                          r"config key 'train.epochs' got 'many'")


def test_missing_dataset(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    res = dllab("run", "mnist-logreg", "--preset", "smoke", "--out", str(tmp_path / "r"),
                env={"DLLAB_DATA": str(empty), "DLLAB_CACHE": str(tmp_path / "cache"), "DLLAB_OFFLINE": "1"})
    assert_one_line_error(res, r"mnist not found: looked in .*nodata/mnist.*Set DLLAB_DATA")
    assert not (tmp_path / "r").exists()  # it failed before it started: no half-empty run directory


def test_corrupt_dataset(tmp_path, shared_data):
    shutil.copytree(shared_data / "mnist", tmp_path / "d" / "mnist")
    target = tmp_path / "d" / "mnist" / "train-labels-idx1-ubyte.gz"
    blob = bytearray(target.read_bytes())
    blob[1000] ^= 0x01
    target.chmod(0o644)
    target.write_bytes(bytes(blob))
    res = dllab("run", "mnist-logreg", "--preset", "smoke", "--out", str(tmp_path / "r"),
                env={"DLLAB_DATA": str(tmp_path / "d"), "DLLAB_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(res, r"train-labels-idx1-ubyte.gz.*corrupt")
    res = dllab("data", "verify", "mnist", env={"DLLAB_DATA": str(tmp_path / "d"),
                                                 "DLLAB_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 1 and "FAILED" in res.stdout


def test_resume_needs_out():
    assert_one_line_error(dllab("run", "mnist-logreg", "--resume"), r"--resume needs --out")


def test_report_of_a_non_run_dir(tmp_path):
    assert_one_line_error(dllab("report", str(tmp_path)), r"not a run directory")


@pytest.mark.parametrize("script", ["scratch_vs_torch.py", "myrtle_throughput.py", "stage_threads.py",
                                    "servers.py", "cluster.py", "cifar_fast.py", "cifar_fast_tta.py"])
def test_benchmark_scripts_explain_themselves(script):
    path = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", script)
    res = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "usage:" in res.stdout and f"python benchmarks/{script}" in res.stdout


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is here")
def test_cifar_fast_benchmark_refuses_cuda_without_a_gpu_in_one_line():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "cifar_fast.py")
    res = subprocess.run([sys.executable, path, "--device", "cuda", "--throughput-only"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "torch sees no CUDA GPU" in res.stderr.strip().splitlines()[-1]
    assert res.stdout == ""  # refused before measuring anything


def test_show_lists_every_key_with_its_resolved_value(capsys):
    from dllab import experiments
    from dllab.config import describe_fields
    from dllab.runner import resolve_config

    for name in experiments.EXPERIMENTS:  # every experiment's config can be described
        _, cfg = resolve_config(name, "smoke")
        rows = describe_fields(cfg)
        assert {r["key"].split(".")[0] for r in rows} == set(type(cfg).model_fields)
    assert main(["show", "cifar-train", "--preset", "full", "--set", "train.lr=0.05", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    rows = {r["key"]: r for r in describe_fields(resolve_config("cifar-train", "full", None, ["train.lr=0.05"], 7)[1])}
    assert rows["train.lr"]["value"] == 0.05 and rows["seed"]["value"] == 7 and rows["width"]["value"] == 64
    assert rows["train.optimizer"]["type"] == "sgd | adam | adamw"
    for key in ("train.lr", "train.compile", "target_accuracy", "final_test_accuracy"):
        assert key in out


def test_show_rejects_an_unknown_key():
    assert_one_line_error(dllab("show", "cifar-train", "--set", "train.lrr=0.1"), r"train\.lrr")


def test_show_cifar_fast_lists_every_number_the_recipe_trains_with():
    """Each FastConfig field as its own fast.KEY row with the recipe's value (dllab, 94%: Muon at batch 500)."""
    from dllab.experiments.cifar_fast import RECIPES
    from dllab.nn.config import FastConfig

    res = dllab("show", "cifar-fast", env={"COLUMNS": "400"})
    assert res.returncode == 0, res.stderr
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in res.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert {f"fast.{k}" for k in FastConfig.model_fields} <= set(rows)
    for key, value in {**RECIPES[94]["dllab"], "lr": 11.5}.items():
        shown = rows[f"fast.{key}"]
        assert shown == (repr(value) if isinstance(value, str) else str(value)), (key, shown)
    assert "ablation_epochs" in rows and rows["ablation_epochs"] == "1.5"
