"""The house style for figures: one place for sizes, fonts and common plot shapes."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
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


def draw_series(ax, x: Sequence[float], y: Sequence[float], *, slot: int = 0, slots: int = 1, **kw) -> None:
    """One named series: a line through its points, or, with two points or fewer, bars (side by side in ``slot``
    of ``slots`` at each x), since a line through two points shows a trend that was never measured."""
    if len(x) > 2:
        ax.plot(x, y, **kw)
        return
    width = 0.8 / slots
    pos = np.arange(len(x)) + (slot - (slots - 1) / 2) * width
    style = {k: kw[k] for k in ("color", "label") if k in kw}
    ax.bar(pos, y, width=width, hatch=None if kw.get("ls", "-") == "-" else "//", alpha=0.85, **style)
    ax.set_xticks(np.arange(len(x)), [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in x])


def curves(ax, series: dict[str, tuple[Sequence[float], Sequence[float]]], *, title: str, xlabel: str,
           ylabel: str, logy: bool = False) -> None:
    """Plot named (x, y) series on one axis with the house labels. Series of two points or fewer are bars where
    they share their x values (epochs, say) and bare points where they do not (wall times differ per run, and
    bars at one run's ticks would misplace the others)."""
    shared = len({tuple(x) for x, _ in series.values()}) == 1
    for i, (label, (x, y)) in enumerate(series.items()):
        if len(x) <= 2 and not shared:
            ax.plot(x, y, ls="none", marker="o", ms=6, label=label, color=f"C{i}")
            continue
        draw_series(ax, x, y, slot=i, slots=len(series), marker="o" if len(x) <= 30 else None, ms=3, label=label,
                    color=f"C{i}")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if xlabel == "epoch" and max(len(x) for x, _ in series.values()) > 2:
        epoch_axis(ax)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend()


def epoch_axis(ax) -> None:
    """Label the x axis "epoch" and tick it at whole epochs only (never 2.5)."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves(runs: list[dict] | dict[str, list[dict]], sets: dict[str, str], *,
                    loss_label: str = "mean cross-entropy", error: bool = False, log_error: bool = False,
                    log_loss: bool = False, title: str = ""):
    """Loss and accuracy (or error) per epoch, side by side, for each named set of one or more training histories.

    ``runs`` is one history (a list of per-epoch dicts) or ``{label: history}``. ``sets`` maps a legend label to
    the prefix of the history's keys (``{"train": "train", "test": "test"}`` plots ``train_loss``/``train_acc``
    and ``test_loss``/``test_acc``; a set without ``_loss`` keys is left out of the loss panel). With several
    runs, colour tells the runs apart and line style the sets (solid, dashed, dotted). ``error`` plots
    100 - accuracy; ``log_error`` makes that axis logarithmic above 0.1%. Returns (figure, (loss axis, accuracy
    axis)).
    """
    if isinstance(runs, list):
        runs = {"": runs}
    fig, (ax_loss, ax_acc) = subplots(2)
    styles = ("-", "--", ":", "-.")
    for ci, (run_label, hist) in enumerate(runs.items()):
        ep = [h["epoch"] for h in hist]
        for si, (set_label, key) in enumerate(sets.items()):
            several = len(runs) > 1
            kw = {"color": f"C{ci if several else si}", "ls": styles[si % len(styles)] if several else "-",
                  "marker": "o" if len(ep) <= 30 else None, "ms": 3,
                  "label": f"{run_label}: {set_label}" if run_label else set_label}
            slot = {"slot": ci * len(sets) + si, "slots": len(runs) * len(sets)}
            if hist and f"{key}_loss" in hist[0]:
                draw_series(ax_loss, ep, [h[f"{key}_loss"] for h in hist], **slot, **kw)
            acc = [100 * h[f"{key}_acc"] for h in hist]
            draw_series(ax_acc, ep, [100 - a for a in acc] if error else acc, **slot, **kw)
    prefix = f"{title}: " if title else ""
    ax_loss.set(title=f"{prefix}loss per epoch", ylabel=loss_label)
    ax_acc.set(title=f"{prefix}{'error' if error else 'accuracy'} per epoch",
               ylabel=f"{'error' if error else 'accuracy'} (%{', log above 0.1' if log_error else ''})")
    if log_loss:
        ax_loss.set_yscale("log")
    if log_error:
        ax_acc.set_yscale("symlog", linthresh=0.1)
    for ax in (ax_loss, ax_acc):
        if max((len(h) for h in runs.values()), default=0) > 2:
            epoch_axis(ax)
        else:
            ax.set_xlabel("epoch")
        if len(runs) * len(sets) > 1:
            ax.legend(fontsize=7 if len(runs) * len(sets) > 4 else 9)
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


def heatmap(ax, values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, title: str, xlabel: str,
            ylabel: str, fmt: str = "{:.0f}", marks: np.ndarray | None = None, vmin: float | None = None,
            vmax: float | None = None) -> None:
    """A rows x cols grid of numbers coloured by value, each written in its cell (NaN cells left blank); where
    ``marks`` (a same-shaped array of strings) is non-empty the mark is written instead, on grey (e.g. "diverged")."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = max(vmax if vmax is not None else (finite.max() if finite.size else 1.0), lo + 1e-9)
    ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=lo, vmax=hi, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(cols)), cols, rotation=45 if max(map(len, cols), default=0) > 4 else 0)
    ax.set_yticks(range(len(rows)), rows)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            mark = "" if marks is None else str(marks[i, j])
            if mark:
                ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.85"))
                ax.text(j, i, mark, ha="center", va="center", fontsize=7, color="firebrick")
            elif np.isfinite(values[i, j]):
                light = values[i, j] > lo + 0.6 * (hi - lo)
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=7,
                        color="black" if light else "white")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)


def plain_log_ticks(ax, x: Sequence[float] | None = None) -> None:
    """Log axes labelled in plain numbers (128, 0.025), not 1.28 x 10^2; ``x``: put the x ticks at these values."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        axis.set_major_formatter(plain)
        # within one decade there may be no major tick at all: then the minor ticks carry the labels
        axis.set_minor_formatter(plain if axis.get_scale() == "log" and 0 < lo and hi / lo < 10 else NullFormatter())
    if x is not None:
        ax.set_xticks(list(x))


def error_bars(ax, series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]], *, title: str,
               xlabel: str, ylabel: str, logx: bool = False, logy: bool = False) -> None:
    """Named (x, mean, std) series as lines with error bars (one standard deviation over seeds)."""
    for label, (x, mean, std) in series.items():
        ax.errorbar(x, mean, yerr=std, fmt="o-", ms=4, capsize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize=8)


def image_grid(axes, images: np.ndarray, titles: Sequence[str] | None = None, cmap: str | None = None) -> None:
    """Show images (N,H,W) or (N,H,W,3) on the given axes without ticks."""
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)


def result_rows(rows: Sequence[tuple[str, np.ndarray, Sequence[str], Sequence[bool] | None]], *,
                title: str = "", thumb: float = 1.25):
    """Rows of retrieval results: each row is (row title, images (k, H, W, 3), captions, correct flags or None).
    A correct result gets a green frame, a wrong one red. Returns the figure."""
    k = max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), k, figsize=(thumb * k + 1.6, (thumb + 0.42) * len(rows)), squeeze=False,
                             layout="constrained")
    for (row_title, images, captions, correct), row_axes in zip(rows, axes):
        for j, ax in enumerate(row_axes):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(images):
                ax.axis("off")
                continue
            ax.imshow(images[j])
            ax.set_title(textwrap.shorten(str(captions[j]), 30, placeholder="..."), fontsize=6.5)
            if correct is not None:
                for spine in ax.spines.values():
                    spine.set(color="#1a9850" if correct[j] else "#d73027", linewidth=2.5)
        row_axes[0].set_ylabel(textwrap.fill(row_title, 18), fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig
