"""cifar-study: the smoke run end to end, divergence as a result, and findings that follow their numbers."""

from __future__ import annotations

import json
import math

import pytest

from dllab.experiments import _study_findings as F
from dllab.experiments import cifar_study
from dllab.runner import run_experiment
from dllab.stats import describe


def pt(val: float, *, test: float | None = None, std: float = 0.0, first: float | None = None, params: int = 1000,
       time_s: float = 1.0, diverged: int = 0, failed: int = 0, seeds: int = 2) -> dict:
    """A synthetic point, as :func:`F.point` makes from real runs."""
    return {"val": val, "val_std": std, "test": val if test is None else test, "test_std": std,
            "first": val / 2 if first is None else first, "time_s": time_s, "parameters": params,
            "diverged": diverged, "failed": failed, "seeds": seeds, "curve": [val]}


# -- the run ---------------------------------------------------------------------------------------------------

def test_smoke_run_answers_every_question_with_figures(tmp_path, shared_data):
    out = run_experiment("cifar-study", preset="smoke", out=tmp_path / "s", progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert set(cifar_study.QUESTIONS) <= set(summary["findings"])
    cfg = cifar_study.Config.model_validate(cifar_study.PRESETS["smoke"])
    grid = cifar_study.plan(cfg)
    distinct = {cifar_study.cell_name(c, s) for cells in grid.values() for c in cells.values() for s in [0]}
    assert summary["cells"] == len(distinct) < sum(map(len, grid.values()))  # shared cells trained once
    assert summary["runs"] == len(list((out / "stages").glob("w*.json")))
    for fig in ("model", "batch_lr", "schedules", "data_scaling", "optimizers", "batch_norm_grid", "batch_norm_lr"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 10_000
    html = (out / "report.html").read_text()
    for title in ("Finding: the model definition", "Finding: training without batch norm", "Summary of the findings"):
        assert title in html
    assert [p["claim"] for p in summary["batch_norm"]["predictions"]][0].startswith("Without batch norm")


def test_a_diverging_cell_is_recorded_and_the_run_goes_on(tmp_path, shared_data):
    out = run_experiment("cifar-study", preset="smoke", out=tmp_path / "d", progress=False,
                         overrides=["questions=[batch_lr]", "lrs=[0.05, 100000.0]", "batch_sizes=[64]",
                                    "batch_norm=false", "init=kaiming", "width=8", "n_train=2000",
                                    "train.epochs=2"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_lr"]["breaks_at"] == {"64": 100000.0}
    stage = json.loads(next((out / "stages").glob("*lr100000*.json")).read_text())
    assert stage["diverged"]["epoch"] == 1 and stage["val_acc"] == F.CHANCE
    assert "Training breaks (diverges" in summary["findings"]["batch_lr"]
    fig = out / "figures" / "batch_lr.png"
    assert fig.exists()


def test_bad_init_names_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"init 'he\*2'.*scheme one of default, kaiming, xavier"):
        cifar_study.Config.model_validate({"inits": ["default", "he*2"]})
    with pytest.raises(ValueError, match="positive scale"):
        cifar_study.Config.model_validate({"inits": ["default", "kaiming*-1"]})
    assert cifar_study.parse_init("kaiming*0.5") == ("kaiming", 0.5)


# -- the readings: the words follow the numbers -----------------------------------------------------------------

def test_best_lr_interpolates_the_parabola_vertex():
    # accuracy -(log lr - log 0.2)^2 on a grid that misses 0.2: the vertex is recovered exactly
    curve = {lr: -(math.log(lr) - math.log(0.2)) ** 2 for lr in (0.05, 0.1, 0.4, 1.6)}
    lr, edge = F.best_lr(curve)
    assert lr == pytest.approx(0.2) and not edge
    assert F.best_lr({0.1: 0.5, 0.2: 0.6}) == (0.2, True)


def _batch_lr(scale: bool, break_small: bool) -> dict:
    pts = {}
    for b in (32, 128, 512):
        opt = 0.1 * (b / 128 if scale else 1)
        for lr in (0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
            broke = break_small and b == 32 and lr >= 0.8
            pts[(b, lr)] = pt(0.1 if broke else 0.6 - 0.05 * math.log2(lr / opt) ** 2, diverged=2 * broke)
    return pts


def test_batch_lr_finding_follows_the_scaling_and_the_breaks():
    linear, linear_text = F.batch_lr(_batch_lr(True, True), 0.2)
    flat, flat_text = F.batch_lr(_batch_lr(False, False), 0.2)
    assert linear["scaling_exponent"] == pytest.approx(1.0, abs=0.05)
    assert flat["scaling_exponent"] == pytest.approx(0.0, abs=0.05)
    assert "closest to the linear scaling rule" in linear_text and "grows with the batch" in linear_text
    assert "closest to no scaling" in flat_text and "barely changes" in flat_text
    assert linear["breaks_at"][32] == 0.8 and "lr 0.8 at batch 32" in linear_text
    assert "No rate of the grid" in flat_text


def test_data_finding_fits_the_power_law():
    # test error 0.5 (n / 1000)^-0.3: slope -0.3, R^2 1, each doubling x 2^-0.3
    pts = {(n,): pt(0.0, test=1 - 0.5 * (n / 1000) ** -0.3) for n in (1000, 2000, 4000, 8000)}
    numbers, text = F.data(pts)
    assert numbers["slope"] == pytest.approx(-0.3) and numbers["r2"] == pytest.approx(1.0)
    assert f"{2 ** -0.3:.2f}" in text and "follows the line" in text
    flattening = dict(pts)
    flattening[(16000,)] = pt(0.0, test=pts[(8000,)]["test"] + 0.001)
    _, text2 = F.data(flattening)
    assert "flattens" in text2 and text2 != text


def test_schedule_and_optimizer_findings_rank_what_they_are_given():
    a = {("constant", 0.0): pt(0.50), ("cosine", 0.0): pt(0.60), ("cosine", 1.0): pt(0.62)}
    b = {("constant", 0.0): pt(0.65), ("cosine", 0.0): pt(0.60), ("cosine", 1.0): pt(0.58)}
    (na, ta), (nb, tb) = F.schedules(a, 6), F.schedules(b, 6)
    assert na["best"] == "cosine + warm-up" and "decaying the rate pays" in ta
    assert nb["best"] == "constant" and "no decaying schedule beats it" in tb
    opts = {("sgd", 0.1): pt(0.5), ("sgd", 0.4): pt(0.55), ("sgd", 1.6): pt(0.52),
            ("momentum", 0.01): pt(0.5), ("momentum", 0.04): pt(0.58), ("momentum", 0.16): pt(0.4)}
    tuned, text = F.optimizers(opts)
    assert tuned["momentum"] == {"lr": 0.04, "val_accuracy": 0.58, "test_accuracy": 0.58}
    assert "10x momentum's" in text and "agrees with that" in text and text.index("momentum 58.0%") < text.index("sgd")


def _bn_points(bn_helps: bool) -> dict:
    """Without BN, rates above 0.1 diverge and the init matters (bn_helps), or everything behaves as with BN."""
    lrs, pts = (0.025, 0.1, 0.4, 1.6), {}
    for on in (True, False):
        for init, gain in (("default", 0.0), ("kaiming*2", -0.2)):
            for lr in lrs:
                bad = bn_helps and not on and (lr > 0.1 or gain)
                pts[("init", on, init, lr)] = pt(0.1 if bad else 0.6 - 0.01 * abs(math.log2(lr / 0.4)),
                                                 diverged=2 * bad, first=0.4 if on or not bn_helps else 0.2)
    for w, ok in ((8, (0.025,) if bn_helps else lrs), (16, (0.025, 0.1) if bn_helps else lrs)):
        pts.update({("width", w, lr): pt(0.55 if lr in ok else 0.1, diverged=0 if lr in ok else 2) for lr in lrs})
    pts.update({("warmup", lr): pt(0.6 if (lr <= 0.4 or not bn_helps) else 0.1, diverged=0 if lr <= 0.4 else 2)
                for lr in lrs})
    return pts


def test_batch_norm_predictions_follow_the_numbers():
    helps, helps_text = F.batch_norm(_bn_points(True), "default", 0.9)
    same, same_text = F.batch_norm(_bn_points(False), "default", 0.9)
    verdicts = {p["claim"]: p["verdict"] for p in helps["predictions"]}
    assert set(verdicts.values()) == {"supported"}, verdicts
    others = {p["claim"]: p["verdict"] for p in same["predictions"]}
    assert others["Without batch norm the usable learning-rate range narrows"] == "inconclusive"
    assert others["Batch norm makes training faster"] == "inconclusive"
    assert "supported" not in others.values()
    assert helps_text != same_text and "5 supported" in helps_text and "0 supported" in same_text
    assert helps["diverged"] > 0 and same["diverged"] < helps["diverged"]


def test_point_counts_diverged_and_failed_runs():
    runs = [{"val_acc": 0.5, "test_acc": 0.5, "first_epoch_val_acc": 0.3, "curve": [0.3, 0.5], "diverged": None,
             "time_s": 2.0, "parameters": 10},
            {"val_acc": 0.1, "test_acc": 0.1, "first_epoch_val_acc": 0.1, "curve": [], "diverged": {"epoch": 1},
             "time_s": 0.0, "parameters": 10},
            {"val_acc": 0.15, "test_acc": 0.12, "first_epoch_val_acc": 0.1, "curve": [0.1, 0.15], "diverged": None,
             "time_s": 2.0, "parameters": 10}]
    p = F.point(runs, trained_above=0.2)
    assert (p["diverged"], p["failed"], p["seeds"]) == (1, 1, 3) and F.broken(p) and F.status(p) == "diverged"
    assert p["val"] == pytest.approx(0.25) and p["val_std"] == pytest.approx(describe([0.5, 0.1, 0.15])["std"])
    assert p["curve"] == pytest.approx([0.2, 0.325])  # the runs that did not diverge
