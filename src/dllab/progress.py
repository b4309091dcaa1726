"""Progress bars for long loops (rich), shown on a terminal and in Jupyter, silent elsewhere; and progress
listeners, which see every bar whether it is drawn or not (a page that shows what a server is building)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

# listener(bar, finished): called on every start, step and end of a bar (``bar.description``, ``completed``,
# ``total``, ``started``: a perf_counter time)
_LISTENERS: list[Callable] = []
_LOCK = threading.Lock()


@contextmanager
def listening(listener: Callable) -> Iterator[None]:
    """Call ``listener(bar, finished)`` for every progress bar of this process while the block runs (bars of any
    thread, drawn or silent)."""
    with _LOCK:
        _LISTENERS.append(listener)
    try:
        yield
    finally:
        with _LOCK:
            _LISTENERS.remove(listener)


class Progress:
    """A thin wrapper over rich's progress bar with named live fields (loss, accuracy, ...)."""

    def __init__(self, description: str, total: int | None, enabled: bool = True):
        self.enabled, self.description, self.total = enabled, description, total
        self.completed, self.started = 0, time.perf_counter()
        self._tell(False)
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._rich = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                  transient=False)
        self._rich.start()
        self._task = self._rich.add_task(description, total=total, info="")

    @staticmethod
    def _info(fields: dict) -> dict:
        if not fields:
            return {}
        return {"info": "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())}

    def _tell(self, finished: bool) -> None:
        for listener in list(_LISTENERS):
            listener(self, finished)

    def advance(self, n: int = 1, **fields: float) -> None:
        """Move the bar on by ``n`` steps, showing ``fields`` if given."""
        self.completed += n
        self._tell(False)
        if self.enabled:
            self._rich.update(self._task, advance=n, **self._info(fields))

    def update(self, completed: int, **fields: float) -> None:
        """Set the bar to ``completed`` steps and show ``fields`` (e.g. loss=0.3)."""
        self.completed = completed
        self._tell(False)
        if self.enabled:
            self._rich.update(self._task, completed=completed, **self._info(fields))

    def close(self) -> None:
        self._tell(True)
        if self.enabled:
            self._rich.stop()


def default_enabled() -> bool:
    """Bars are drawn when stderr is a terminal, and in a Jupyter notebook (rich draws them in the cell)."""
    return sys.stderr.isatty() or in_notebook()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool | None = None) -> Iterator[Progress]:
    bar = Progress(description, total, enabled=default_enabled() if enabled is None else enabled)
    try:
        yield bar
    finally:
        bar.close()


def track(iterable: Iterable, description: str, total: int | None = None, enabled: bool | None = None) -> Iterator:
    """Iterate over ``iterable`` with a progress bar."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    with progress_bar(description, total, enabled) as bar:
        for item in iterable:
            yield item
            bar.advance()
