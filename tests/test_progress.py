"""dllab.progress: bars drawn only where wanted, and loops that yield every item."""

from dllab import progress


def test_a_disabled_bar_is_silent_and_counts(capsys):
    with progress.progress_bar("work", 10, enabled=False) as bar:
        bar.advance(3, loss=0.5)
        bar.update(7, loss=0.25)
    assert capsys.readouterr() == ("", "")
    assert list(progress.track(range(5), "items", enabled=False)) == [0, 1, 2, 3, 4]


def test_bars_default_to_off_when_stderr_is_not_a_terminal(capsys):
    assert progress.default_enabled() is False  # pytest captures stderr
    assert list(progress.track(iter("abc"), "letters")) == ["a", "b", "c"]
    assert capsys.readouterr().err == ""


def test_an_enabled_bar_counts_steps_and_formats_its_fields():
    bar = progress.Progress("training", 10, enabled=True)
    try:
        bar.advance(2, loss=0.123456, acc=0.5)
        bar.update(7)
        task = bar._rich.tasks[0]
        assert task.completed == 7 and task.total == 10 and task.description == "training"
        assert task.fields["info"] == "loss=0.1235  acc=0.5"
    finally:
        bar.close()
