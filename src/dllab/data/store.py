"""Where datasets are looked for, the decoded-array cache, checksums and downloads.

Lookup order for a dataset: ``--data-dir`` (or ``DLLAB_DATA``) -> the user cache (``DLLAB_CACHE``,
default ``~/.cache/dllab``) -> a download from the canonical source into the cache, verified by
checksum (skipped when ``DLLAB_OFFLINE=1``).

Compressed formats are decoded once into ``<cache>/decoded/<dataset>-<key>/*.npy`` and memory-mapped
afterwards; the key covers the source files' paths, sizes and modification times, so a changed file
is decoded (and verified) again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dllab.errors import DataError

DECODE_VERSION = 1  # bump when a decoder's output changes, to invalidate old caches


def cache_dir() -> Path:
    return Path(os.environ.get("DLLAB_CACHE") or Path.home() / ".cache" / "dllab")


def search_roots(data_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, each with the name of the setting it came from."""
    roots: list[tuple[str, Path]] = []
    if data_dir is not None:
        roots.append(("--data-dir", Path(data_dir)))
    elif os.environ.get("DLLAB_DATA"):
        roots.append(("DLLAB_DATA", Path(os.environ["DLLAB_DATA"])))
    roots.append(("cache", cache_dir()))
    return roots


def offline() -> bool:
    return os.environ.get("DLLAB_OFFLINE", "").lower() not in ("", "0", "false", "no")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


@dataclass
class Dataset:
    """Arrays of one dataset, uint8 images in HWC (or HW for grayscale) and integer labels.

    ``partial`` is true when only part of the official set was found; ``counts`` then says how much.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: str
    partial: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    notes: str = ""

    def describe(self) -> str:
        state = "PARTIAL" if self.partial else "complete"
        return (f"{self.name}: {len(self.x_train)} train + {len(self.x_test)} test images ({state}) "
                f"from {self.source}")


@dataclass
class Check:
    """One verified item (a file or a chunk of decoded content)."""

    item: str
    ok: bool
    detail: str = ""


def decoded_cache(name: str, sources: list[Path], build: Callable[[], dict[str, np.ndarray]],
                  extra_key: str = "") -> dict[str, np.ndarray]:
    """Return the arrays ``build()`` makes from ``sources``, decoded once and memory-mapped afterwards."""
    stats = []
    for p in sorted(sources):
        st = p.stat()
        stats.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    key = sha256_bytes(json.dumps([DECODE_VERSION, name, extra_key, stats]).encode())[:16]
    folder = cache_dir() / "decoded" / f"{name}-{key}"
    manifest = folder / "arrays.json"
    if manifest.is_file():
        try:
            names = json.loads(manifest.read_text())
            return {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
        except (OSError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)  # a damaged cache is rebuilt, never trusted
    arrays = build()
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for n, a in arrays.items():
            np.save(tmp / f"{n}.npy", np.ascontiguousarray(a))
        (tmp / "arrays.json").write_text(json.dumps(list(arrays)))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return arrays  # an unwritable cache costs speed, not correctness
    return {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in arrays}


def download(url: str, dest: str | Path, *, sha256: str | None = None, md5: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``, and verify its checksum.

    A broken transfer keeps ``dest.part`` so that the next call resumes it (HTTP Range); a checksum
    mismatch deletes it. Raises :class:`DataError` with what to do next.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "dllab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"could not download {url}: {reason}") from None
    with response:
        if have and response.status != 206:  # the server ignored Range: start again
            have = 0
        total = response.headers.get("Content-Length")
        total = int(total) + have if total is not None else None
        bar = None
        if progress:
            from dllab.progress import Progress

            bar = Progress(f"download {dest.name}", total, enabled=True)
            bar.advance(have)
        try:
            with open(part, "ab" if have else "wb") as f:
                while block := response.read(1 << 16):
                    f.write(block)
                    if bar:
                        bar.advance(len(block))
        except (OSError, urllib.error.URLError) as exc:
            raise DataError(f"download of {url} broke off after {part.stat().st_size} bytes ({exc}); "
                            "run the same command again to resume") from None
        finally:
            if bar:
                bar.close()
    got = part.stat().st_size
    if total is not None and got < total:
        raise DataError(f"download of {url} broke off after {got} of {total} bytes; "
                        "run the same command again to resume")
    if sha256 is not None and (actual := sha256_file(part)) != sha256:
        part.unlink()
        raise DataError(f"download of {url} failed its checksum (sha256 {actual[:12]}..., expected "
                        f"{sha256[:12]}...); the partial file was deleted, try again")
    if md5 is not None:
        h = hashlib.md5()
        with open(part, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        if h.hexdigest() != md5:
            part.unlink()
            raise DataError(f"download of {url} failed its checksum (md5 {h.hexdigest()}, expected {md5}); "
                            "the partial file was deleted, try again")
    os.replace(part, dest)
    return dest


def random_split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a random split of ``range(n)`` drawn from ``rng`` (e.g. ``dllab.seeding.rng(seed, "split")``):
    ``round(fraction * n)`` first-part indices, the rest second, each sorted."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    order = rng.permutation(n)
    cut = int(round(fraction * n))
    return np.sort(order[:cut]), np.sort(order[cut:])
