"""The one seed rule: every random stream of a run is derived from (run seed, name).

A name is a tuple of strings and numbers, e.g. ``("epoch", 3)`` or ``("labels", "p", 0.5)``; the same seed and
name always give the same stream, different names give independent streams (numpy's ``SeedSequence`` hashes the
whole key). Nothing else in dllab seeds a global generator: :func:`seed_everything` (called once per process by
the runner) and :func:`torch_stream` (a scope in which torch's global generator, which weight initialisation and
dropout draw from, follows a named stream) live here.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

Name = str | int | float


def _words(name: tuple[Name, ...]) -> list[int]:
    """Map a name to 32-bit words: strings by CRC-32 of their UTF-8 (tagged so "1" and 1 differ), numbers exactly."""
    words: list[int] = []
    for part in name:
        if isinstance(part, bool) or not isinstance(part, (str, int, float)):
            raise TypeError(f"seed names are strings and numbers, got {part!r}")
        if isinstance(part, str):
            words += [1, zlib.crc32(part.encode())]
        elif isinstance(part, int):
            words += [2, part & 0xFFFFFFFF, (part >> 32) & 0xFFFFFFFF]
        else:
            words += [3, zlib.crc32(repr(float(part)).encode())]
    return words


def sequence(seed: int, *name: Name) -> np.random.SeedSequence:
    """The ``SeedSequence`` of stream ``name`` of run ``seed``."""
    return np.random.SeedSequence([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, *_words(name)])


def rng(seed: int, *name: Name) -> np.random.Generator:
    """A numpy generator for stream ``name`` of run ``seed``."""
    return np.random.default_rng(sequence(seed, *name))


def int_seed(seed: int, *name: Name) -> int:
    """A 63-bit integer for stream ``name`` (for APIs that take an int, e.g. ``torch.Generator.manual_seed``)."""
    return int(sequence(seed, *name).generate_state(1, np.uint64)[0]) >> 1


def torch_generator(seed: int, *name: Name, device: str = "cpu"):
    """A ``torch.Generator`` for stream ``name`` of run ``seed``."""
    import torch

    return torch.Generator(device=device).manual_seed(int_seed(seed, *name))


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators from the run seed (once per process)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but the seeding need not insist
        return
    torch.manual_seed(seed)


@contextmanager
def torch_stream(seed: int, *name: Name) -> Iterator[None]:
    """Inside, torch's global generator (which weight initialisation and dropout draw from) follows stream ``name``;
    on exit the caller's generator state is restored, so nothing outside the scope sees a reseeded generator.
    ``with torch_stream(seed, "init"): net = make_cnn(64)`` builds the same initial weights every time."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int_seed(seed, *name))
        yield
