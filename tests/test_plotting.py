"""The house plotting helpers."""

from dllab import plotting


def test_epoch_axes_tick_whole_epochs_only():
    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": e / 20, "test_loss": 1 / e, "test_acc": e / 21}
               for e in range(1, 21)]
    fig, axes = plotting.learning_curves(history, {"train": "train", "test": "test"})
    fig.canvas.draw()
    for ax in axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ax.get_xlabel() == "epoch"
        assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks), ticks
    plotting.plt.close(fig)
