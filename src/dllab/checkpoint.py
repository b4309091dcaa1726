"""Per-epoch checkpoints that survive a kill at any moment, shared by every training loop.

A loop asks its recorder for an :class:`EpochCheckpoint` named after its metrics tag (``run=name``), calls
:meth:`EpochCheckpoint.load` once before training (the state saved after the last finished epoch, or None) and
:meth:`EpochCheckpoint.save` after each epoch. Saving writes atomically and keeps the checkpoint before it
(``name.prev.pt``), so a damaged file (a disk that filled, a truncated copy) falls back to the epoch before; a
loop resumed from either gives the uninterrupted result because every random stream of an epoch is named
(:mod:`dllab.seeding`) or its generator state is part of the checkpoint. On load the metrics rows of epochs after
the checkpoint are dropped, so a resumed run's ``metrics.jsonl`` holds each epoch once.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dllab.errors import DllabError
from dllab.fileio import atomic_write


def previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def save_state(path: str | Path, state: dict) -> None:
    """Write ``state`` (tensors, arrays, numbers) to ``path`` atomically; the file it replaces becomes
    ``previous(path)``."""
    import torch

    path = Path(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    if path.is_file():
        os.replace(path, previous(path))
    atomic_write(path, buf.getvalue())


def load_state(path: str | Path) -> dict | None:
    """The state in ``path``, else in ``previous(path)`` when ``path`` is missing or damaged; None when neither
    exists. Raises a DllabError naming the file when every copy is damaged."""
    import torch

    path = Path(path)
    damaged = []
    for candidate in (path, previous(path)):
        if not candidate.is_file():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=False)
        except Exception as exc:  # truncated, overwritten, not a checkpoint: any reason means "unusable"
            damaged.append((candidate.name, type(exc).__name__))
            continue
        if not isinstance(state, dict) or "epoch" not in state:
            damaged.append((candidate.name, "not a dllab checkpoint"))
            continue
        if damaged:
            print(f"dllab: warning: {damaged[0][0]} is damaged ({damaged[0][1]}); resuming from the checkpoint "
                  f"before it (epoch {state['epoch']})", file=sys.stderr)
        return state
    if damaged:
        what = ", ".join(f"{name}: {why}" for name, why in damaged)
        raise DllabError(f"checkpoint {path} is damaged and no earlier one is readable ({what}); "
                         f"delete {path} and {previous(path).name} to train that part again from the start")
    return None


@dataclass
class EpochCheckpoint:
    """Where one training loop keeps its state. ``path`` None: checkpoints off (the loop starts over on resume).
    ``on_restart(epoch)`` is told the epoch training continues after (0: from the start) when resuming."""

    path: Path | None
    resume: bool = False
    on_restart: Callable[[int], None] | None = None
    on_save: Callable[[], None] | None = None  # after each save (a stage sends its checkpoint to storage)

    def load(self) -> dict | None:
        """The saved state to continue from (only when resuming), after dropping later metrics rows."""
        if not self.resume:
            return None
        state = load_state(self.path) if self.path is not None else None
        if self.on_restart is not None:
            self.on_restart(int(state["epoch"]) if state else 0)
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Save ``state`` (it must hold ``epoch``: the number of finished epochs)."""
        if self.path is not None:
            save_state(self.path, state)
            if self.on_save is not None:
                self.on_save()

    def discard(self) -> None:
        """Remove the files once their training's result is kept elsewhere (a finished stage's JSON)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            previous(self.path).unlink(missing_ok=True)
