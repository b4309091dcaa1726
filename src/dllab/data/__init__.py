"""Datasets as uint8 numpy arrays: MNIST, Fashion-MNIST, CIFAR-10, TinyImageNet-200.

>>> from dllab import data
>>> ds = data.load("mnist")          # looks in --data-dir / DLLAB_DATA, then the cache, then downloads
>>> ds.x_train.shape, ds.x_train.dtype
((60000, 28, 28), dtype('uint8'))

Every loader checks content against published checksums before first use and reports a partial copy
as partial (``ds.partial``, ``ds.counts``). See :mod:`dllab.data.store` for the lookup order.
"""

from __future__ import annotations

from pathlib import Path

from dllab.data.cifar10 import CIFAR10
from dllab.data.idx import FASHION_MNIST, MNIST
from dllab.data.store import Check, Dataset, cache_dir, offline, random_split, search_roots
from dllab.data.tinyimagenet import TINY_IMAGENET
from dllab.errors import DataError

DATASETS = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST, "cifar10": CIFAR10, "tiny-imagenet-200": TINY_IMAGENET}

__all__ = ["DATASETS", "Check", "Dataset", "locate", "load", "random_split", "verify"]


def _spec(name: str):
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def find(name: str, data_dir: str | Path | None = None):
    """The first source of ``name`` in the search roots, or None (never downloads)."""
    spec = _spec(name)
    for label, root in search_roots(data_dir):
        source = spec.find(root, label)
        if source is not None:
            return source
    return None


def locate(name: str, data_dir: str | Path | None = None, download: bool | None = None, progress: bool = True):
    """Find ``name`` in the search roots, downloading it into the cache if allowed; raise a clear DataError."""
    spec = _spec(name)
    source = find(name, data_dir)
    if source is not None:
        return source
    looked = "; ".join(f"{root / spec.folders[0]} ({label})" for label, root in search_roots(data_dir))
    if download is None:
        download = not offline()
    if not download:
        raise DataError(f"{name} not found: looked in {looked}. Set DLLAB_DATA (or --data-dir) to a folder "
                        f"holding {spec.folders[0]}/, or unset DLLAB_OFFLINE to download it")
    try:
        spec.fetch(cache_dir(), progress=progress)
    except DataError as exc:
        raise DataError(f"{name} not found: looked in {looked}, and the download failed ({exc}). Set DLLAB_DATA "
                        f"(or --data-dir) to a folder holding {spec.folders[0]}/, or connect to the internet") from None
    source = spec.find(cache_dir(), "cache (downloaded)")
    if source is None:  # pragma: no cover - fetch writes where find looks
        raise DataError(f"{name}: downloaded, but not found in {cache_dir()}")
    return source


def load(name: str, data_dir: str | Path | None = None, download: bool | None = None) -> Dataset:
    """Load a dataset as uint8 arrays (memory-mapped from the decoded cache after the first time)."""
    spec = _spec(name)
    return spec.load(locate(name, data_dir, download))


def verify(name: str, data_dir: str | Path | None = None) -> tuple[object | None, list[Check]]:
    """Verify the copy of ``name`` that :func:`load` would use; never downloads."""
    source = find(name, data_dir)
    if source is None:
        return None, []
    return source, _spec(name).verify(source)
