"""MNIST and Fashion-MNIST from IDX files (gzip-compressed or raw).

Verification is by content: the sha256 of each *decompressed* IDX file, so a ``.gz`` from any mirror
and a raw file are checked against the same reference. Where only the official ``.gz`` checksum is
published (Fashion-MNIST), the ``.gz`` file itself is checked and a raw file is reported unverified.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dllab.data.store import Check, Dataset, decoded_cache, download, sha256_bytes, sha256_file
from dllab.errors import DataError

PARTS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass
class Source:
    folder: Path
    files: dict[str, Path]  # part -> file (.gz or raw)
    root_label: str

    @property
    def description(self) -> str:
        kinds = {"gz" if p.suffix == ".gz" else "raw" for p in self.files.values()}
        return f"{self.folder} (IDX, {'/'.join(sorted(kinds))}; via {self.root_label})"


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """Parse an IDX byte string of unsigned bytes into an array of the shape its header gives."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{what} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    if len(data) - header != int(np.prod(shape)):
        raise DataError(f"{what} is truncated: header says {shape}, file holds {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


class IdxDataset:
    """A dataset shipped as the four standard IDX files."""

    def __init__(self, name: str, folders: tuple[str, ...], url: str, classes: list[str],
                 content_sha256: dict[str, str] | None = None, gz_sha256: dict[str, str] | None = None):
        self.name = name
        self.folders = folders
        self.url = url
        self.classes = classes
        self.content_sha256 = content_sha256 or {}
        self.gz_sha256 = gz_sha256 or {}

    def find(self, root: Path, root_label: str = "") -> Source | None:
        for sub in self.folders:
            folder = root / sub
            files = {}
            for part in PARTS:
                for candidate in (folder / f"{part}.gz", folder / part):
                    if candidate.is_file():
                        files[part] = candidate
                        break
            if files:
                return Source(folder, files, root_label)
        return None

    def _read(self, source: Source, part: str) -> tuple[bytes, Check]:
        if part not in source.files:
            raise DataError(f"{self.name} in {source.folder} is incomplete: {part}[.gz] is missing; "
                            "add it or point DLLAB_DATA at a complete copy")
        path = source.files[part]
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            return b"", Check(path.name, False, f"cannot be decompressed ({exc}): the file is corrupt")
        if part in self.content_sha256:
            actual = sha256_bytes(raw)
            ok = actual == self.content_sha256[part]
            detail = "sha256 of content OK" if ok else (f"content sha256 {actual[:12]}... != expected "
                                                        f"{self.content_sha256[part][:12]}...: the file is corrupt")
        elif path.suffix == ".gz" and part in self.gz_sha256:
            actual = sha256_file(path)
            ok = actual == self.gz_sha256[part]
            detail = "sha256 OK" if ok else f"sha256 {actual[:12]}... != expected: the file is corrupt"
        else:
            ok, detail = True, "no reference checksum for this form (unverified)"
        return raw, Check(path.name, ok, detail)

    def verify(self, source: Source) -> list[Check]:
        checks = []
        for part in PARTS:
            if part not in source.files:
                checks.append(Check(f"{part}[.gz]", False, "missing"))
                continue
            raw, check = self._read(source, part)
            if check.ok:
                try:
                    n = len(parse_idx(raw, part))
                    check.detail += f", {n} items"
                except DataError as exc:
                    check = Check(check.item, False, str(exc))
            checks.append(check)
        return checks

    def load(self, source: Source) -> Dataset:
        def build() -> dict[str, np.ndarray]:
            arrays = {}
            for part, key in zip(PARTS, ("x_train", "y_train", "x_test", "y_test")):
                raw, check = self._read(source, part)
                if not check.ok:
                    raise DataError(f"{self.name}: {source.files[part]} {check.detail}; replace it "
                                    "(delete it to re-download, or point DLLAB_DATA at a good copy)")
                arrays[key] = parse_idx(raw, str(source.files[part]))
            return arrays

        a = decoded_cache(self.name, list(source.files.values()), build)
        if len(a["x_train"]) != len(a["y_train"]) or len(a["x_test"]) != len(a["y_test"]):
            raise DataError(f"{self.name} in {source.folder}: image and label counts differ")
        n_train, n_test = len(a["x_train"]), len(a["x_test"])
        partial = (n_train, n_test) != (60000, 10000)
        return Dataset(self.name, a["x_train"], a["y_train"], a["x_test"], a["y_test"], self.classes,
                       source.description, partial, {"train": n_train, "test": n_test})

    def fetch(self, cache_root: Path, progress: bool = True) -> None:
        folder = cache_root / self.folders[0]
        for part in PARTS:
            dest = folder / f"{part}.gz"
            if not dest.is_file():
                download(f"{self.url}{part}.gz", dest, sha256=self.gz_sha256.get(part), progress=progress)
            raw, check = self._read(Source(folder, {part: dest}, "download"), part)
            if not check.ok:
                dest.unlink()
                raise DataError(f"downloaded {dest.name} for {self.name} {check.detail}; try again")


MNIST = IdxDataset(
    "mnist", ("mnist", "MNIST/raw"), "https://ossci-datasets.s3.amazonaws.com/mnist/",
    [str(i) for i in range(10)],
    content_sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
)

FASHION_MNIST = IdxDataset(
    "fashion-mnist", ("fashion-mnist", "FashionMNIST/raw"),
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    gz_sha256={
        "train-images-idx3-ubyte": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "train-labels-idx1-ubyte": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "t10k-images-idx3-ubyte": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "t10k-labels-idx1-ubyte": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    },
)
