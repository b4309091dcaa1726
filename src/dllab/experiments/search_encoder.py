"""Train the offline ``lit`` encoder: LiT projection heads over a locked EfficientNet-Lite0 image tower and a
locked all-MiniLM-L6-v2 text tower, contrastive on TinyImageNet training images and their class captions."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig
from dllab.experiments._search import SMOKE_LIT
from dllab.search.config import LitConfig

DESCRIPTION = "train the offline lit encoder (LiT heads on frozen EfficientNet-Lite0 + MiniLM) on TinyImageNet"
HOMEWORK = [(courses.CS229BR, "Q2.3 (the encoder)")]
HEADLINE = {"held-out top-5 accuracy": "holdout_top5", "resolution (px)": "resolution"}
ESTIMATE_S = {"smoke": 20, "cpu": 1500, "full": 1500}


class Config(ExperimentConfig):
    lit: LitConfig = LitConfig()
    n_per_class: int | None = Field(None, ge=2, description="training images per class (None: all found)")
    resolutions: list[int] = Field([64, 96, 128, 160, 192, 224],
                                   description="input sizes compared by the resolution study (nearest class mean on "
                                               "training images only)")
    study_per_class: int = Field(40, ge=2, description="images per class in the resolution study (3/4 fit, "
                                                       "1/4 held out)")


PRESETS = {
    "smoke": {"n_per_class": 6, "lit": SMOKE_LIT["lit"], "resolutions": [64],
              "study_per_class": 4},
    "cpu": {},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "holdout_top5": ("held-out top-5 accuracy of the class captions",
                     "per-label top-5 accuracy of the class captions among held-out training images (last epoch)"),
    "resolution": ("image input size (pixels)",
                   "image tower input size used"),
    "dim": ("embedding dimension", ""),
    "precision": ("image tower arithmetic",
                  "image tower arithmetic used (fp32 or bf16)"),
    "precision_timing": ("time per batch of 32 (s)",
                         "seconds per batch of 32 in fp32 and bf16 behind an auto choice (empty when the "
                          "features came from the cache or precision was set)"),
    "temperature": ("learned softmax temperature", ""),
    "n_train_images": ("training images",
                       "training images used (fit + held out)"),
    "n_captions": ("captions",
                   "captions (WordNet names x templates)"),
    "resolution_study": ("input size study",
                         "size -> {ncm_accuracy, images_per_s, precision}"),
    "heads_file": ("trained heads file",
                   "the trained heads (lit_heads.pt in the run directory)"),
    "dataset_partial": ("partial dataset copy",
                        "true for a partial copy"),
}


def _resolution_study(x, y, sizes: list[int], per_class: int, chosen: int, precision: str) -> list[dict]:
    """Nearest-class-mean accuracy of the frozen tower's centred, unit features at each input size, on training
    images only (3/4 of ``per_class`` per class for the means, the rest held out), and its speed in the precision
    the features were computed in. At the run's own size (``chosen``) the plain features of all of ``x`` are
    already cached (a mirror-averaging tower caches each view), so they are read, not recomputed."""
    import time

    import numpy as np

    from dllab.search.encoders import ImageTower, normalize_rows, to_nchw

    fit_n = max(1, per_class * 3 // 4)
    idx = np.concatenate([np.where(y == c)[0][:per_class] for c in np.unique(y)])
    is_fit = np.concatenate([np.arange(len(np.where(y == c)[0][:per_class])) < fit_n for c in np.unique(y)])
    rows = []
    for size in sizes:
        tower = ImageTower(size, flip=False, precision=precision)
        feats = tower.features(x)[idx] if size == chosen else tower.features(x[idx])
        mu = feats[is_fit].mean(0)
        f = normalize_rows(feats - mu)
        labels = y[idx]
        classes = np.unique(labels)
        means = normalize_rows(np.stack([f[is_fit & (labels == c)].mean(0) for c in classes]))
        pred = classes[(f[~is_fit] @ means.T).argmax(1)]
        batch = to_nchw(x[idx[:128]])
        bf16 = bool(tower.bf16)
        tower.forward(batch[:8], bf16)
        t0 = time.perf_counter()
        tower.forward(batch, bf16)
        speed = len(batch) / (time.perf_counter() - t0)
        rows.append({"resolution": size, "ncm_accuracy": float((pred == labels[~is_fit]).mean()),
                     "images_per_s": round(speed, 1), "precision": "bf16" if bf16 else "fp32"})
    return rows


def run(cfg: Config, rec) -> dict:
    from dllab import plotting
    from dllab.search.encoders import ImageTower, TextTower
    from dllab.search.galleries import training_set
    from dllab.search.lit import HEADS_FILE, TEMPLATES, captions, train_heads

    ds, x, y, names = training_set(cfg.n_per_class)
    rec.text("Data", f"{ds.describe()}; {ds.notes}. Training images only ({len(x)}); the 10,000 validation "
                     "images are never used here. ImageNet-1k pretrained weights may have seen images that "
                     "TinyImageNet also holds (TinyImageNet is drawn from ImageNet).")
    texts, caption_labels = captions(names, cfg.lit.max_names)
    image_tower = ImageTower.for_lit(cfg.lit)
    text_tower = TextTower()
    feats = image_tower.features(x, rec.show_progress)
    caption_feats = text_tower.features(texts, cache=True)

    def log(r):
        rec.log(run="lit", **r)

    heads, history = train_heads(feats, y, caption_feats, caption_labels, cfg.lit, cfg.seed, log=log,
                                 progress=rec.show_progress, checkpoint=rec.epoch_checkpoint("lit"))
    heads.save(rec.dir / HEADS_FILE)
    study = rec.stage("resolution_study", lambda: _resolution_study(
        x, y, cfg.resolutions, min(cfg.study_per_class, cfg.n_per_class or cfg.study_per_class),
        cfg.lit.resolution, cfg.lit.precision))

    # -- report
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plotting.subplots(2)
    series = {"training (fit part)": (ep, [h["train_loss"] for h in history])}
    if "holdout_loss" in history[0]:
        series["held-out training images"] = (ep, [h["holdout_loss"] for h in history])
        plotting.curves(b, {"held-out": (ep, [100 * h["holdout_top5"] for h in history])},
                        title="caption -> image top-5 accuracy", xlabel="epoch", ylabel="per-label top-5 (%)")
    plotting.curves(a, series, title="contrastive loss", xlabel="epoch", ylabel="InfoNCE (nats)")
    rec.figure(fig, "training_curves", f"LiT heads, {cfg.lit.epochs} epochs of AdamW with one-cycle learning "
                                       f"rate; {int(cfg.lit.holdout * 100)}% of the training images held out "
                                       "for the curves (the query is the mean caption embedding of the class).")
    rec.table("Resolution study", study, "Frozen EfficientNet-Lite0 features, mean-centred and unit length; "
                                         "nearest class mean over training images only; speed on this CPU.")
    best = max(study, key=lambda r: r["ncm_accuracy"])
    final = history[-1]
    used = "bf16" if image_tower.bf16 else "fp32"
    if cfg.lit.precision != "auto":
        why = "set by lit.precision"
    elif not image_tower.timing:
        why = "the precision of the cached features"
    else:
        why = ("measured faster here" if image_tower.bf16 else "bf16 measured slower" if "bf16" in image_tower.timing
               else "this CPU has no bf16 units")
    rec.text("Reading", (
        f"The heads map both towers into a {cfg.lit.dim}-d space. After {len(history)} epochs the class captions "
        f"retrieve held-out training images with per-label top-5 accuracy "
        f"{100 * final.get('holdout_top5', float('nan')):.1f}% (temperature {final['temperature']:.3f}). "
        f"In the resolution study the most accurate input size is {best['resolution']} px "
        f"({100 * best['ncm_accuracy']:.1f}% nearest class mean, {best['images_per_s']:.0f} images/s); "
        f"this run used {cfg.lit.resolution} px in {used} ({why}). "
        f"The encoder is trained on the 200 labels' captions "
        f"({len(texts)} captions from {len(TEMPLATES)} templates x up to {cfg.lit.max_names} WordNet names): it "
        "is not zero-shot the way CLIP is, and queries far from those captions are out of its training."))
    return {"holdout_top5": final.get("holdout_top5"), "resolution": cfg.lit.resolution, "dim": cfg.lit.dim,
            "precision": used, "precision_timing": image_tower.timing,
            "temperature": final["temperature"], "n_train_images": len(x), "n_captions": len(texts),
            "resolution_study": {str(r["resolution"]): r for r in study}, "heads_file": HEADS_FILE,
            "dataset_partial": ds.partial}
