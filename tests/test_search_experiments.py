"""The four search experiments end to end at their smoke presets (real TinyImageNet, real towers, small)."""

from __future__ import annotations

import json

import pytest

from dllab import experiments
from dllab.cli import main


def _run(name: str, out, *sets: str) -> dict:
    args = ["run", name, "--preset", "smoke", "--out", str(out), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(experiments.get(name).SUMMARY_KEYS) <= set(summary), name
    return summary


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("search") / "search-encoder"
    return out, _run("search-encoder", out)


def test_search_encoder_smoke(encoder_run):
    out, s = encoder_run
    assert (out / "lit_heads.pt").is_file() and (out / "figures" / "training_curves.png").is_file()
    assert s["n_train_images"] == 1200 and s["n_captions"] > 1000 and s["resolution"] == 64
    # 120 held-out images, mostly one per class: a class's top 5 can hold at most its one image (0.2); chance
    # is about 1 / 120 = 0.008 per result
    assert s["holdout_top5"] > 0.06
    assert set(s["resolution_study"]) == {"64"}


def test_clip_search_smoke(encoder_run, tmp_path):
    s = _run("clip-search", tmp_path / "cs", f"lit_model={encoder_run[0]}")
    assert s["n_indexed"] == 1000 and len(s["per_label"]) == 200 and s["chance"] == pytest.approx(0.005)
    assert 0.1 < s["mean_accuracy"] <= 1  # 5 images per label indexed, weak heads; chance 0.005
    assert {p.name for p in (tmp_path / "cs" / "figures").iterdir()} >= {
        "per_label_accuracy.png", "best_labels.png", "worst_labels.png", "queries_1.png", "gallery.png"}
    assert (tmp_path / "cs" / "index" / "index.faiss").is_file()


def test_clip_classifier_smoke(encoder_run, tmp_path):
    s = _run("clip-classifier", tmp_path / "cc", f"lit_model={encoder_run[0]}")
    assert len(s["labels"]) == 4 and set(s["per_label_accuracy"]) == {*s["labels"], "other"}
    assert s["class_weights"]["other"] < 1 < s["class_weights"][s["labels"][0]]
    assert s["balanced_accuracy"] > 0.3  # chance 0.2
    again = _run("clip-classifier", tmp_path / "cc2", f"lit_model={encoder_run[0]}")
    assert again["labels"] == s["labels"]  # the draw follows the seed


def test_clip_queries_smoke(encoder_run, tmp_path):
    s = _run("clip-queries", tmp_path / "cq", f"lit_model={encoder_run[0]}")
    assert len(s["labels"]) == 3
    # the n_worst labels are the worst: each at or below the mean over all labels
    assert s["before_mean"] <= s["all_labels_before"] and max(s["before"].values()) <= s["all_labels_before"]
    # both routes learn from the label's training images: they lift the worst labels (at smoke the before is 0.0,
    # the MLP route about 0.13)
    assert s["mlp_mean"] > s["before_mean"] and s["mean_embedding_mean"] > s["before_mean"]


def test_clip_encoder_missing_weights_is_one_line(tmp_path, capsys, monkeypatch, shared_data):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = ["run", "clip-search", "--preset", "smoke", "--set", "encoder=clip", "--out", str(tmp_path / "x"),
            "--no-progress"]
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CLIP weights" in err[0] and "encoder=lit" in err[0]
    assert not (tmp_path / "x").exists()  # nothing written, nothing left behind


@pytest.mark.parametrize("name,kill", [("clip-search", None), ("clip-classifier", "checkpoint"),
                                       ("clip-queries", "stage")])
def test_clip_experiments_resume_and_rerun_to_the_same_summary(encoder_run, tmp_path, name, kill):
    """Killed after its first checkpoint or stage (where it has them) and resumed, and re-run from its own
    config.yaml: the summary of an uninterrupted run, each metrics row once. The uninterrupted run goes first and
    alone, so that the embeddings it caches (in the precision its timing chose) are the ones the others reuse."""
    from test_resume import _command, _side_by_side, rows, untimed

    whole, broken, again = tmp_path / "whole", tmp_path / "broken", tmp_path / "again"
    args = ("run", name, "--preset", "smoke", "--set", f"lit_model={encoder_run[0]}")
    (done,) = _side_by_side(_command(*args, "--out", str(whole)))
    assert done.returncode == 0, done.stderr
    later = [_command("run", name, "--config", str(whole / "config.yaml"), "--out", str(again))]
    if kill:
        (killed,) = _side_by_side(_command(*args, "--out", str(broken), killer=kill))
        assert killed.returncode == -9, killed.stderr[-2000:]
        later.append(_command("run", name, "--out", str(broken), "--resume"))
    expected = untimed(json.loads((whole / "summary.json").read_text()))
    for res, out in zip(_side_by_side(*later), (again, broken)):
        assert res.returncode == 0, res.stderr
        assert untimed(json.loads((out / "summary.json").read_text())) == expected, out.name
        assert rows(out) == rows(whole), out.name
