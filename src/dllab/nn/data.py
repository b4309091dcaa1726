"""Datasets as tensors, seeded mini-batches, and augmentation on whole batches (no per-image Python loops)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def as_tensors(x: np.ndarray, y: np.ndarray, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (kept uint8 to save memory; scaled per batch) and int64 labels on ``device``.

    The arrays are copied: cached datasets are read-only memory maps, which torch cannot wrap.
    """
    return torch.from_numpy(np.array(x, dtype=np.uint8)).to(device), torch.from_numpy(np.array(y, np.int64)).to(device)


def batch_indices(n: int, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                  drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Index tensors of successive mini-batches over ``range(n)``, in a seeded random order if ``shuffle``."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def images_to_float(x: torch.Tensor, mean: tuple[float, ...] | None = None,
                    std: tuple[float, ...] | None = None) -> torch.Tensor:
    """uint8 (N,H,W,C) -> float32 (N,C,H,W) in [0,1], optionally normalised per channel."""
    out = x.permute(0, 3, 1, 2).float().div_(255.0)
    if mean is not None:
        m = torch.tensor(mean, device=out.device).view(1, -1, 1, 1)
        s = torch.tensor(std, device=out.device).view(1, -1, 1, 1)
        out = out.sub_(m).div_(s)
    return out


def flip(x: torch.Tensor, p: float, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image of an (N,C,H,W) batch along ``dim`` (-1: horizontal, -2: vertical) with probability p."""
    if p <= 0:
        return x
    mask = torch.rand(x.shape[0], generator=generator) < p
    mask = mask.to(x.device).view(-1, *([1] * (x.dim() - 1)))
    return torch.where(mask, x.flip(dim), x)


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator | None = None,
                mode: str = "reflect") -> torch.Tensor:
    """Pad an (N,C,H,W) batch by ``pad`` on each side and cut a random HxW window per image (one gather)."""
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode=mode)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return out.gather(3, cols)


def noisy_labels(y: np.ndarray, p: float, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zhang et al. (2017) label noise: a uniformly chosen p fraction of the examples (round(p * n) of them) get a
    label drawn uniformly from all classes (so about 1/num_classes of those keep their true label).
    Returns (new labels, indices that were redrawn)."""
    if not 0 <= p <= 1:
        raise ValueError(f"label-noise rate must be in [0, 1], got {p}")
    g = np.random.default_rng(seed)
    y = np.array(y, dtype=np.int64)
    idx = np.sort(g.choice(len(y), int(round(p * len(y))), replace=False))
    y[idx] = g.integers(0, num_classes, len(idx))
    return y, idx
