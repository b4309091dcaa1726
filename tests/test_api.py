"""The Python API (dllab.run / load / runs / compare), its Jupyter display, and `dllab compare`, on real runs."""

from __future__ import annotations

import csv
import html
import json
import math
import re

import pytest

import dllab
from test_cli import assert_one_line_error
from test_cli import dllab as dllab_cli

T_975_DF2 = 4.302652729911275  # Student t, 97.5% quantile, 2 degrees of freedom (from tables)


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory, shared_data):
    """Three seeds of one config and one run of another, through the API."""
    root = tmp_path_factory.mktemp("api") / "runs"
    runs = [dllab.run("mnist-logreg", preset="smoke", seed=s, runs_root=root, progress=False) for s in (0, 1, 2)]
    runs.append(dllab.run("mnist-logreg", preset="smoke", seed=0, set={"train.lr": 0.05}, runs_root=root,
                          progress=False))
    return root, runs


def test_run_returns_the_record_and_load_and_runs_read_it_back(four_runs):
    root, runs = four_runs
    first = runs[0]
    assert first.status == "finished" and first.experiment == "mnist-logreg" and first.seed == 0
    assert first.dir.parent == root / "mnist-logreg"
    assert runs[3].config["train"]["lr"] == 0.05 and runs[3].flat_config()["train.lr"] == 0.05
    assert first.summary == json.loads((first.dir / "summary.json").read_text())
    metrics = first.metrics  # a DataFrame (pandas is installed with the notebook extra)
    assert list(metrics["epoch"]) == [1, 2] and metrics["test_acc"].iloc[-1] == pytest.approx(
        first.summary["test_accuracy"])
    assert set(first.figures) >= {"learning_curves", "confusion_matrix"}
    assert all(p.is_file() and p.suffix == ".png" for p in first.figures.values())
    assert first.report.is_file()
    again = dllab.load(first.dir)
    assert again.summary == first.summary and again.config == first.config
    found = dllab.runs(root, experiment="mnist-logreg")
    assert sorted(r.dir for r in found) == sorted(r.dir for r in runs)
    assert dllab.runs(root, experiment="flooding") == []


def test_a_run_displays_its_headline_numbers_and_figures_inline(four_runs):
    _, runs = four_runs
    page = runs[0]._repr_html_()
    acc = f"{100 * runs[0].summary['test_accuracy']:.2f}%"
    assert acc in page and "test accuracy (10,000 images, last epoch)" in page and "finished" in page
    assert re.search(r"<img alt='figures/learning_curves.png' src='data:image/png;base64,[A-Za-z0-9+/]{100}", page)
    assert "{'" not in html.unescape(page)


def test_compare_aggregates_seeds_with_an_interval_computed_here(four_runs):
    _, runs = four_runs
    comparison = dllab.compare(runs)
    assert comparison.config_keys == ["train.lr"]  # the one key that differs; seed is what is aggregated
    by_lr = {g.config["train.lr"]: g for g in comparison.groups}
    assert sorted(by_lr) == [0.05, 0.1] and by_lr[0.1].seeds == [0, 1, 2] and len(by_lr[0.05].runs) == 1
    accs = [r.summary["test_accuracy"] for r in runs[:3]]
    mean = sum(accs) / 3
    std = math.sqrt(sum((a - mean) ** 2 for a in accs) / 2)
    half = T_975_DF2 * std / math.sqrt(3)
    agg = by_lr[0.1].values["test_accuracy"]
    assert agg["n"] == 3 and agg["mean"] == pytest.approx(mean) and agg["std"] == pytest.approx(std)
    assert (agg["ci_low"], agg["ci_high"]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    single = by_lr[0.05].values["test_accuracy"]
    assert single["n"] == 1 and single["mean"] == single["ci_low"] == runs[3].summary["test_accuracy"]
    row = next(r for r in comparison.rows() if r["train.lr"] == 0.1)
    assert row["n"] == 3 and row["test_accuracy.ci_high"] == pytest.approx(mean + half)
    assert list(comparison.to_pandas()["n"]) == [g.runs.__len__() for g in comparison.groups]
    shown = comparison._repr_html_()
    assert "test accuracy (10,000 images, last epoch)" in shown
    assert f"{100 * mean:.2f}% ± {100 * std:.2f}%" in shown
    # --by a key: the two configs aggregated by epochs (the same in all four) form one group of four
    assert [len(g.runs) for g in dllab.compare(runs, by="train.epochs").groups] == [4]


def test_dllab_compare_on_the_command_line(four_runs, tmp_path):
    root, runs = four_runs
    out = tmp_path / "table.csv"
    res = dllab_cli("compare", *(str(r.dir) for r in runs), "--csv", str(out), env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "4 runs in 2 configurations" in res.stdout and "train.lr" in res.stdout
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["n"] for r in rows) == ["1", "3"]
    three = next(r for r in rows if r["n"] == "3")
    accs = [r.summary["test_accuracy"] for r in runs[:3]]
    assert float(three["test_accuracy"]) == pytest.approx(sum(accs) / 3)
    res = dllab_cli("compare", str(root))  # a folder of runs
    assert res.returncode == 0 and "4 runs in 2 configurations" in res.stdout
    assert_one_line_error(dllab_cli("compare", str(runs[0].dir), "--by", "train.nope"),
                          r"--by train.nope: no run has that config key")
    assert_one_line_error(dllab_cli("compare", str(tmp_path)), r"holds no run directory")


def test_a_run_resumed_through_the_api_finishes_with_the_same_summary(four_runs, tmp_path):
    _, runs = four_runs
    out = tmp_path / "resumed"
    first = dllab.run("mnist-logreg", preset="smoke", seed=0, out=out, progress=False)
    assert first.summary == runs[0].summary  # one seed, one result
    # as if killed after its last checkpoint: no summary, status still running
    (out / "summary.json").unlink()
    env = json.loads((out / "env.json").read_text())
    (out / "env.json").write_text(json.dumps({**env, "status": "running"}))
    assert dllab.load(out).summary == {}
    resumed = dllab.run("mnist-logreg", out=out, resume=True, progress=False)
    assert resumed.status == "finished" and resumed.summary == runs[0].summary
    assert list(resumed.metrics["epoch"]) == [1, 2]  # each epoch logged once


def test_api_errors_are_dllab_errors_with_the_cli_messages(tmp_path):
    with pytest.raises(dllab.DllabError, match="is not a run directory"):
        dllab.load(tmp_path)
    with pytest.raises(dllab.DllabError, match="is not a folder"):
        dllab.runs(tmp_path / "nope")
    with pytest.raises(dllab.DllabError, match="unknown experiment 'mnist-logre'. Did you mean: mnist-logreg"):
        dllab.run("mnist-logre", preset="smoke")
    with pytest.raises(dllab.DllabError, match="unknown config key 'train.nope'"):
        dllab.run("mnist-logreg", preset="smoke", set={"train.nope": 1}, runs_root=tmp_path)
    with pytest.raises(dllab.DllabError, match="nothing to compare"):
        dllab.compare([])
