"""The run contract on bad files, full disks and out-of-range options: one ``dllab: error:`` line that names the
file or option and what to do, exit 2, no traceback; nothing that looks finished unless its report exists; resume
and report still work where the data allows."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest

from test_cli import assert_one_line_error, dllab

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("bad") / "theory"
    res = dllab("run", "theory", "--preset", "smoke", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    return out


def _damage(run: Path, where: Path, case: str) -> Path:
    copy = where / case
    shutil.copytree(run, copy)
    name, how = case.split("-", 1)
    target = copy / {"summary": "summary.json", "config": "config.yaml", "env": "env.json",
                     "sections": "sections.json", "figures": "figures"}[name]
    if how == "truncated":
        target.write_bytes(target.read_bytes()[:40])
    elif how == "binary":
        target.write_bytes(bytes(range(256)) * 4)
    elif how == "list":
        target.write_text("[1, 2, 3]\n")
    elif how == "junk-entries":
        target.write_text(json.dumps([{"kind": "table", "title": "t", "rows": 7}, "x"]))
    elif how == "file":
        shutil.rmtree(target)
        target.write_text("not a folder")
    return copy


REPORT_ERRORS = {"summary-truncated": r"summary\.json is damaged: not valid JSON",
                 "summary-binary": r"summary\.json is damaged: not UTF-8",
                 "summary-list": r"summary\.json is damaged: it holds a list where an object belongs",
                 "config-binary": r"config\.yaml is damaged: not UTF-8",
                 "env-truncated": r"env\.json is damaged",
                 "env-list": r"env\.json is damaged: it holds a list",
                 "sections-truncated": r"sections\.json is damaged",
                 "sections-junk-entries": r"sections\.json is damaged: entry 1 is not a report section"}


@pytest.mark.parametrize("case", sorted(REPORT_ERRORS))
def test_report_of_a_damaged_file_is_one_line_naming_it(finished_run, tmp_path, case):
    assert_one_line_error(dllab("report", str(_damage(finished_run, tmp_path, case))), REPORT_ERRORS[case])


def test_report_without_its_figures_folder_still_renders(finished_run, tmp_path):
    run = _damage(finished_run, tmp_path, "figures-file")
    res = dllab("report", str(run))
    assert res.returncode == 0, res.stderr
    assert "missing figure" in (run / "report.html").read_text()


@pytest.mark.parametrize("case,outcome", [
    ("summary-truncated", 0), ("summary-list", 0), ("env-truncated", 0), ("sections-truncated", 0),
    ("sections-junk-entries", 0),  # rewritten by the resumed run
    ("config-binary", r"config\.yaml is not UTF-8"), ("figures-file", r"figures is a file where")])
def test_resume_over_a_damaged_file_rewrites_it_or_says_why_not(finished_run, tmp_path, case, outcome):
    run = _damage(finished_run, tmp_path, case)
    res = dllab("run", "theory", "--out", str(run), "--resume", "--no-progress")
    if outcome == 0:
        assert res.returncode == 0, res.stderr
        assert json.loads((run / "summary.json").read_text()) == \
            json.loads((finished_run / "summary.json").read_text())
    else:
        assert_one_line_error(res, outcome)


def test_a_damaged_stage_result_is_computed_again(tmp_path, shared_data):
    out = tmp_path / "s"
    assert dllab("run", "scratch-mnist", "--preset", "smoke", "--out", str(out), "--no-progress").returncode == 0
    before = json.loads((out / "summary.json").read_text())
    stage = sorted((out / "stages").glob("*.json"))[0]
    stage.write_text(stage.read_text()[:20])
    res = dllab("run", "scratch-mnist", "--out", str(out), "--resume", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "damaged" in res.stderr and json.loads(stage.read_text())
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] == before["test_accuracy"]


def _full_disk(after: int, *args) -> tuple:
    import subprocess

    res = subprocess.run([sys.executable, str(HERE / "killed_run.py"), f"full:{after}", *args],
                         capture_output=True, text=True, timeout=600)
    lines = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("files written")]
    written = int(re.search(r"files written: (\d+)", res.stderr).group(1))
    return res.returncode, lines, written


def test_a_disk_that_fills_at_any_write_is_one_line_and_never_a_finished_run(tmp_path, shared_data):
    args = ["run", "linreg-mnist", "--preset", "smoke", "--no-progress"]  # writes what any run writes, in 5 s
    rc, lines, total = _full_disk(10_000, *args, "--out", str(tmp_path / "whole"))
    assert rc == 0 and total > 10
    for after in (0, total // 2, total - 1):
        out = tmp_path / f"full{after}"
        rc, lines, _ = _full_disk(after, *args, "--out", str(out))
        assert rc == 2 and len(lines) == 1, (after, lines)
        assert re.match(r"dllab: error: no space left on the device \(.+\): free some space, then", lines[0])
        if out.exists() and (out / "env.json").is_file():
            status = json.loads((out / "env.json").read_text())["status"]
            assert status != "finished" or (out / "report.html").is_file(), after
        if (out / "config.yaml").is_file():  # there is a run to continue: space is back, --resume finishes it
            res = dllab("run", "linreg-mnist", "--out", str(out), "--resume", "--no-progress")
            assert res.returncode == 0, (after, res.stderr)
            assert (out / "summary.json").read_text() == (tmp_path / "whole" / "summary.json").read_text()


def test_a_truncated_checkpoint_falls_back_to_the_one_before(tmp_path, shared_data):
    out = tmp_path / "m"
    args = ["--preset", "smoke", "--set", "train.epochs=3"]
    assert dllab("run", "mnist-logreg", *args, "--out", str(tmp_path / "whole"), "--no-progress").returncode == 0
    assert dllab("run", "mnist-logreg", *args, "--out", str(out), "--no-progress").returncode == 0
    (out / "summary.json").unlink()
    ckpt = out / "checkpoints" / "train.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    res = dllab("run", "mnist-logreg", "--out", str(out), "--resume", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "train.pt is damaged" in res.stderr and "epoch 2" in res.stderr
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] == \
        json.loads((tmp_path / "whole" / "summary.json").read_text())["test_accuracy"]
    for both in (ckpt, ckpt.with_name("train.prev.pt")):
        both.write_bytes(b"junk")
    assert_one_line_error(dllab("run", "mnist-logreg", "--out", str(out), "--resume", "--no-progress"),
                          r"checkpoint .*train\.pt is damaged and no earlier one is readable.*delete")


@pytest.mark.parametrize("argv,pattern", [
    (["run", "theory", "--seed", "-1"], r"argument --seed: must be between 0 and"),
    (["run", "theory", "--set", "seed=99999999999999999999999"], r"config key 'seed'.*less than"),
    (["run", "theory", "--set", "seed=-5"], r"config key 'seed'.*greater than or equal to 0"),
    (["playground", "--port", "99999"], r"argument --port: must be between 1 and 65535"),
    (["search", "serve", "--port", "0"], r"argument --port: must be between 1 and 65535"),
    (["suite", "--jobs", "0"], r"argument --jobs: must be at least 1"),
    (["suite", "--jobs", "-3"], r"argument --jobs: must be at least 1"),
    (["search", "serve", "--per-class", "0"], r"argument --per-class: must be between 1 and 50"),
    (["search", "query", "x", "-k", "0"], r"argument -k: must be between 1 and 1000"),
    (["run"], r"the following arguments are required: experiment"),
    (["run", "theory", "--preset", "huge"], r"argument --preset: invalid choice"),
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
])
def test_out_of_range_options_are_one_line(argv, pattern):
    assert_one_line_error(dllab(*argv), pattern)


def test_bad_config_file_and_out_paths_are_one_line(tmp_path, shared_data):
    binary = tmp_path / "c.yaml"
    binary.write_bytes(bytes(range(256)))
    assert_one_line_error(dllab("run", "theory", "--config", str(binary)), r"c\.yaml is not UTF-8 text")
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_one_line_error(dllab("run", "theory", "--preset", "smoke", "--out", str(afile)), r"is a file, not a folder")
    res = dllab("run", "theory", "--preset", "smoke", "--set", "seed=99999999999999999999999",
                "--out", str(tmp_path / "never"))
    assert res.returncode == 2 and not (tmp_path / "never").exists()  # refused before any directory is made


def test_run_files_are_readable_by_others_as_any_result(finished_run):
    for path in [*finished_run.glob("*.json"), *finished_run.glob("figures/*.png"), finished_run / "report.html"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask(), path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
