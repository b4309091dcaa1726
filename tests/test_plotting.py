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


def test_short_series_are_bars_at_shared_x_and_points_where_x_differs():
    fig, ax = plotting.subplots()
    plotting.curves(ax, {"a": ([1, 2], [80, 85]), "b": ([1, 2], [79, 86])}, title="", xlabel="epoch", ylabel="")
    assert len(ax.patches) == 4  # two bars per epoch, side by side
    plotting.plt.close(fig)
    fig, ax = plotting.subplots()
    runs = {"seed 0": ([338.5, 508.2], [82.8, 86.8]), "seed 1": ([273.6, 424.6], [84.3, 85.7])}
    plotting.curves(ax, runs, title="", xlabel="seconds", ylabel="")
    assert not ax.patches  # each run's points at its own times, not bars at one run's ticks
    for line, (x, y) in zip(ax.get_lines(), runs.values()):
        assert list(line.get_xdata()) == x and list(line.get_ydata()) == y and line.get_linestyle() == "None"
    plotting.plt.close(fig)
