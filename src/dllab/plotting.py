"""The house style for figures: one place for sizes, fonts and common plot shapes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
})


def subplots(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6, **kw):
    """A figure of ``nrows x ncols`` panels, each ``width x height`` inches."""
    kw.setdefault("layout", "constrained")  # titles and labels never overlap neighbouring panels
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
    return fig, axes.ravel() if nrows * ncols > 1 else axes[0, 0]


def curves(ax, series: dict[str, tuple[Sequence[float], Sequence[float]]], *, title: str, xlabel: str,
           ylabel: str, logy: bool = False) -> None:
    """Plot named (x, y) series on one axis with the house labels."""
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o" if len(x) <= 30 else None, ms=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if xlabel == "epoch":
        epoch_axis(ax)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend()


def epoch_axis(ax) -> None:
    """Label the x axis "epoch" and tick it at whole epochs only (never 2.5)."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves(history: list[dict], sets: dict[str, str], *, loss_label: str = "mean cross-entropy"):
    """Loss and accuracy per epoch, side by side, for each named set of a training history.

    ``sets`` maps a legend label to the prefix of the history's keys (``{"train": "train", "test": "test"}``
    plots ``train_loss``/``train_acc`` and ``test_loss``/``test_acc``). Returns (figure, (loss axis, accuracy axis)).
    """
    fig, (ax_loss, ax_acc) = subplots(2)
    ep = [h["epoch"] for h in history]
    curves(ax_loss, {label: (ep, [h[f"{k}_loss"] for h in history]) for label, k in sets.items()},
           title="Loss per epoch", xlabel="epoch", ylabel=loss_label)
    curves(ax_acc, {label: (ep, [100 * h[f"{k}_acc"] for h in history]) for label, k in sets.items()},
           title="Accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    return fig, (ax_loss, ax_acc)


def confusion_matrix(ax, matrix: np.ndarray, class_names: Sequence[str], *, title: str) -> None:
    """Row-normalised confusion matrix with counts written in the cells."""
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set(title=title, xlabel="predicted class", ylabel="true class")


def image_grid(axes, images: np.ndarray, titles: Sequence[str] | None = None, cmap: str | None = None) -> None:
    """Show images (N,H,W) or (N,H,W,3) on the given axes without ticks."""
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
