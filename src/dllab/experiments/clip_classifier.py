"""A classifier on frozen image embeddings: four random TinyImageNet labels plus "other", an MLP trained with
cross-entropy, validation accuracy per label over training."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._search import SMOKE_LIT, SearchConfig
from dllab.nn.config import TorchTrainConfig

DESCRIPTION = "MLP on frozen image embeddings: 4 random labels + 'other', validation accuracy per label"
HOMEWORK = [(courses.CS229BR, "Q2.4.1")]
HEADLINE = {"balanced val accuracy": "balanced_accuracy"}
ESTIMATE_S = {"smoke": 20, "cpu": 120, "full": 120}
NEEDS = {"lit_model": "search-encoder"}


class Config(SearchConfig):
    n_labels: int = Field(4, ge=1, le=20, description="labels drawn at random (seeded); the rest are 'other'")
    hidden: int = Field(256, ge=1, description="MLP hidden width")
    balance: bool = Field(True, description="weight the cross-entropy by inverse class frequency ('other' holds "
                                            "196 of 200 labels)")
    train: TorchTrainConfig = TorchTrainConfig(epochs=20, batch_size=256, lr=1e-3, optimizer="adam",
                                               channels_last=False, checkpoint=True)


PRESETS = {"smoke": {**SMOKE_LIT, "train": {"epochs": 25}}, "cpu": {}, "full": {"train": {"epochs": 40}}}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "labels": ("drawn labels, in class order",
               "the drawn labels (names), in class order; class n_labels is 'other'"),
    "per_label_accuracy": ("validation accuracy (recall) per class",
                           "class name -> validation accuracy (recall) after the last epoch"),
    "balanced_accuracy": ("balanced validation accuracy",
                          "mean of the per-class validation accuracies"),
    "accuracy": ("validation accuracy",
                 "plain validation accuracy"),
    "class_weights": ("cross-entropy weight per class",
                      "cross-entropy weights per class"),
    "n_train": ("training images", ""),
    "n_val": ("validation images", ""),
    "epochs": ("epochs trained", ""),
    "dataset_partial": ("partial dataset copy",
                        "partial copy"),
}


def run(cfg: Config, rec) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from dllab import plotting
    from dllab.experiments._search import encoder_note, open_encoder, validation_set
    from dllab.nn.train import fit
    from dllab.search.classifier import FrozenEmbeddingClassifier, balanced_weights
    from dllab.search.galleries import training_set
    from dllab.seeding import rng, torch_stream

    ds, x_tr, y_tr, names = training_set(cfg.lit_per_class)
    _, x_va, y_va, label_names, _ = validation_set(cfg)
    picked = np.sort(rng(cfg.seed, "clip-classifier", "labels").choice(len(label_names), cfg.n_labels,
                                                                        replace=False))
    classes = [label_names[c] for c in picked] + ["other"]
    other = cfg.n_labels

    def relabel(y):
        out = np.full(len(y), other, dtype=np.int64)
        for i, c in enumerate(picked):
            out[y == c] = i
        return out

    encoder = open_encoder(cfg, rec)
    inputs_tr, frozen = encoder.image_inputs(x_tr, rec.show_progress)
    inputs_va, _ = encoder.image_inputs(x_va, rec.show_progress)
    yt, yv = relabel(y_tr), relabel(y_va)
    weights = balanced_weights(yt, len(classes)) if cfg.balance else torch.ones(len(classes))
    with torch_stream(cfg.seed, "init"):
        model = FrozenEmbeddingClassifier(frozen, encoder.dim, len(classes), cfg.hidden)

    def loss_fn(logits, y):
        return F.cross_entropy(logits, y, weight=weights)

    from dllab.nn.train import evaluate

    val = (torch.from_numpy(inputs_va), torch.from_numpy(yv))

    def per_label(m, epoch):
        ev = evaluate(m, *val, lambda z: z, num_classes=len(classes))
        return {f"val_acc_{name}": a for name, a in zip(classes, ev["per_class_acc"])} | {
            "val_balanced_acc": float(np.mean(ev["per_class_acc"]))}

    result = fit(model, (torch.from_numpy(inputs_tr), torch.from_numpy(yt)), {"val": val}, cfg.train,
                 prep=lambda z: z, num_classes=len(classes), seed=cfg.seed, recorder=rec, loss_fn=loss_fn,
                 epoch_hook=per_label)
    hist = result.history
    final = hist[-1]

    ep = [h["epoch"] for h in hist]
    fig, ax = plotting.subplots(width=6.5, height=4)
    plotting.curves(ax, {name: (ep, [100 * h[f"val_acc_{name}"] for h in hist]) for name in classes},
                    title="Validation accuracy per label", xlabel="epoch", ylabel="accuracy (recall, %)")
    rec.figure(fig, "per_label_accuracy", "Fraction of each class's validation images classified as that class "
                                          "after each epoch (the homework's plot).")
    rec.text("Data", f"{ds.describe()}; {ds.notes}. Train: {len(x_tr)} training images; validation: {len(x_va)} "
                     f"images. Labels drawn (seed {cfg.seed}): {', '.join(classes[:-1])}; every other label is "
                     f"'other'. {encoder_note(cfg)}")
    share = float((yt == other).mean())
    rec.text("Reading", (
        f"'other' is {100 * share:.1f}% of the training images, so an unweighted classifier could score "
        f"{100 * share:.1f}% by always answering 'other'. "
        + ("The cross-entropy weights each class by n / (5 x count), so every class carries the same total "
           "weight; " if cfg.balance else "The loss is unweighted; ")
        + f"after {len(hist)} epochs the per-label validation accuracies are "
        + ", ".join(f"{name} {100 * final[f'val_acc_{name}']:.1f}%" for name in classes)
        + f" (balanced {100 * final['val_balanced_acc']:.1f}%, plain {100 * final['val_acc']:.1f}%). The encoder "
          "is frozen: the MLP sees detached embeddings and no gradient reaches the encoder."))
    return {"labels": classes[:-1], "per_label_accuracy": {n: final[f"val_acc_{n}"] for n in classes},
            "balanced_accuracy": final["val_balanced_acc"], "accuracy": final["val_acc"],
            "class_weights": dict(zip(classes, weights.tolist())), "n_train": len(x_tr), "n_val": len(x_va),
            "epochs": len(hist), "dataset_partial": ds.partial}
