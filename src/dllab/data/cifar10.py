"""CIFAR-10: the canonical python pickles (folder or the official tarball) and the lossless WebP mosaics.

Every format is verified by *content*: the sha256 of each 10,000-image chunk's uint8 HWC pixels followed
by its labels, in canonical order (data_batch_1..5, test_batch). File checksums are checked too where
they are published (tarball, mosaics, labels.npz). Missing chunks make the dataset partial.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dllab.data.store import Check, Dataset, decoded_cache, download, sha256_bytes, sha256_file
from dllab.errors import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CHUNKS = ("train0", "train1", "train2", "train3", "train4", "test")
PICKLES = dict(zip(CHUNKS, ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                            "test_batch")))
MOSAICS = dict(zip(CHUNKS, ("train_00000-09999", "train_10000-19999", "train_20000-29999",
                            "train_30000-39999", "train_40000-49999", "test_00000-09999")))
CONTENT_SHA256 = {
    "train0": "8350d89ba6404c270d263d84bf037e74b0158eecac79f27405efcf23445a6997",
    "train1": "28d2d506ff2e052a3c902ac74931514d4c22d54b3f23622088bee441ab096cf0",
    "train2": "e56532de152c7a77fc2a722499682f2699ce5177bbfac2ed2e415096184fa1d9",
    "train3": "bb996a8ffff861dd5cca88c397fdfb884f0c482c5588bd32cea3dc7b648709bb",
    "train4": "efb6334c7c1f88ac69032959408d9eeccb983002e83119b66de7309d3d2c7915",
    "test": "8193b3fbce55bec361cd1b8fd4880cb1649832dc4d6de6da1e7a21847a4843aa",
}
FILE_SHA256 = {
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "labels.npz": "2adcb621b226054b45ea498e5151b50747ee667e75829c059844e7b78f6b5196",
    "test_00000-09999.webp": "ff9de491fc23a41297e1e58c42a552efb04f949758a185cc7541e5a51cf1c35f",
    "train_00000-09999.webp": "0c540445580e2b4751a4fb5e79175f3eced765d47d186c46cf6aaa7a076c47d9",
    "train_10000-19999.webp": "ecd97fbddf53a95c7a487a46490001fbae20af0d14e0978cf2a8c74001ef5eb5",
    "train_20000-29999.webp": "577efcbfc9a4ea051e4f915841300a1c1943948d918318615797528bd1931ae3",
    "train_30000-39999.webp": "a362cd3478100abaef253b26a1c6c0979ac43379b30b03c5c774900ed8f3025c",
    "train_40000-49999.webp": "dca43ff04bd60b6081d36b131a960c0ab9d7a4c2f6be4dc305f4248586327eb4",
}
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
Chunk = tuple[np.ndarray, np.ndarray]  # (n,32,32,3) uint8, (n,) uint8


def _from_pickle(data: bytes, what: str) -> Chunk:
    try:
        batch = pickle.loads(data, encoding="bytes")
        x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray(batch[b"labels"], dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise DataError(f"{what} cannot be read as a CIFAR-10 batch ({type(exc).__name__}): the file is corrupt; "
                        "replace it") from None
    return np.ascontiguousarray(x), y


def decode_mosaic(path: Path) -> np.ndarray:
    """A 3200x3200 WebP of 100x100 tiles (row-major) -> (10000, 32, 32, 3) uint8."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a damaged image
        raise DataError(f"{path} cannot be decoded ({exc}): the file is corrupt; replace it") from None
    if a.shape != (3200, 3200, 3):
        raise DataError(f"{path} is {a.shape[1]}x{a.shape[0]}, expected a 3200x3200 mosaic")
    return np.ascontiguousarray(a.reshape(100, 32, 100, 32, 3).transpose(0, 2, 1, 3, 4).reshape(10000, 32, 32, 3))


@dataclass
class Source:
    folder: Path
    kind: str  # "pickles" | "tarball" | "mosaics"
    files: dict[str, Path]  # chunk -> file (tarball: every chunk -> the tarball)
    root_label: str = ""
    extra: dict[str, Path] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return f"{self.folder} ({self.kind}; via {self.root_label})"


class Cifar10:
    name = "cifar10"
    folders = ("cifar10", "cifar-10-batches-py", "cifar10/cifar-10-batches-py", "CIFAR10/cifar-10-batches-py")
    classes = CLASSES

    def find(self, root: Path, root_label: str = "") -> Source | None:
        for sub in self.folders:
            folder = root / sub
            if not folder.is_dir():
                continue
            pickles = {c: folder / f for c, f in PICKLES.items() if (folder / f).is_file()}
            if pickles:
                return Source(folder, "pickles", pickles, root_label)
            tarball = folder / "cifar-10-python.tar.gz"
            if tarball.is_file():
                return Source(folder, "tarball", dict.fromkeys(CHUNKS, tarball), root_label)
            mosaics = {c: folder / f"{m}.webp" for c, m in MOSAICS.items() if (folder / f"{m}.webp").is_file()}
            if mosaics:
                labels = folder / "labels.npz"
                if not labels.is_file():
                    raise DataError(f"cifar10 mosaics in {folder} have no labels.npz beside them; add it")
                return Source(folder, "mosaics", mosaics, root_label, {"labels": labels})
        return None

    def _readers(self, source: Source) -> dict[str, Callable[[], Chunk]]:
        """chunk -> a function returning its arrays."""
        if source.kind == "pickles":
            return {c: (lambda p=p: _from_pickle(p.read_bytes(), str(p))) for c, p in source.files.items()}
        if source.kind == "tarball":
            tarball = source.files["test"]

            def member(chunk: str) -> Chunk:
                try:
                    with tarfile.open(tarball, "r:gz") as tar:
                        f = tar.extractfile(f"cifar-10-batches-py/{PICKLES[chunk]}")
                        return _from_pickle(f.read(), f"{tarball}:{PICKLES[chunk]}")
                except (tarfile.TarError, OSError, EOFError, KeyError) as exc:
                    raise DataError(f"{tarball} cannot be read ({exc}): the file is corrupt; delete it to "
                                    "re-download") from None

            return {c: (lambda c=c: member(c)) for c in CHUNKS}
        try:
            labels = np.load(source.extra["labels"])
            y_train, y_test = labels["y_train"], labels["y_test"]
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{source.extra['labels']} cannot be read ({exc}): the file is corrupt") from None

        def mosaic(chunk: str) -> Chunk:
            x = decode_mosaic(source.files[chunk])
            y = y_test if chunk == "test" else y_train[int(chunk[-1]) * 10000:(int(chunk[-1]) + 1) * 10000]
            return x, np.asarray(y, dtype=np.uint8)

        return {c: (lambda c=c: mosaic(c)) for c in source.files}

    @staticmethod
    def _check_content(chunk: str, x: np.ndarray, y: np.ndarray) -> Check:
        actual = sha256_bytes(np.ascontiguousarray(x).tobytes(), y.astype(np.uint8).tobytes())
        ok = actual == CONTENT_SHA256[chunk]
        return Check(f"{chunk} content", ok, f"{len(x)} images, content sha256 OK" if ok else
                     f"content sha256 {actual[:12]}... != expected: the data is corrupt")

    def _file_checks(self, source: Source) -> list[Check]:
        files = set(source.files.values()) | set(source.extra.values())
        checks = []
        for path in sorted(files):
            if path.name in FILE_SHA256:
                ok = sha256_file(path) == FILE_SHA256[path.name]
                checks.append(Check(path.name, ok, "sha256 OK" if ok else "sha256 mismatch: the file is corrupt"))
        return checks

    def _decode_all(self, source: Source) -> tuple[dict[str, Chunk], list[Check]]:
        readers = self._readers(source)
        with ThreadPoolExecutor(max_workers=2) as pool:  # PIL and zlib release the GIL while decoding
            chunks = dict(zip(readers, pool.map(lambda f: f(), readers.values())))
        return chunks, [self._check_content(c, *xy) for c, xy in chunks.items()]

    def verify(self, source: Source) -> list[Check]:
        checks = self._file_checks(source)
        try:
            checks += self._decode_all(source)[1]
        except DataError as exc:
            checks.append(Check("decode", False, str(exc)))
        checks += [Check(f"{c}", False, "missing (dataset is partial)") for c in CHUNKS if c not in source.files]
        return checks

    def load(self, source: Source) -> Dataset:
        def build() -> dict[str, np.ndarray]:
            bad = [c for c in self._file_checks(source) if not c.ok]
            chunks, checks = self._decode_all(source)
            bad += [c for c in checks if not c.ok]
            if bad:
                raise DataError(f"cifar10 in {source.folder}: {bad[0].item} {bad[0].detail}; replace it "
                                "(or point DLLAB_DATA at a good copy)")
            train = [chunks[c] for c in CHUNKS[:5] if c in chunks]
            empty = (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.uint8))
            test = chunks.get("test", empty)
            return {
                "x_train": np.concatenate([x for x, _ in train]) if train else empty[0],
                "y_train": np.concatenate([y for _, y in train]) if train else empty[1],
                "x_test": test[0], "y_test": test[1],
            }

        sources = sorted(set(source.files.values()) | set(source.extra.values()))
        a = decoded_cache(self.name, sources, build, extra_key=",".join(sorted(source.files)))
        missing = [c for c in CHUNKS if c not in source.files]
        notes = f"missing chunks: {', '.join(missing)}" if missing else ""
        return Dataset(self.name, a["x_train"], a["y_train"], a["x_test"], a["y_test"], CLASSES,
                       source.description, bool(missing), {"train": len(a["x_train"]), "test": len(a["x_test"])},
                       notes)

    def fetch(self, cache_root: Path, progress: bool = True) -> None:
        download(URL, cache_root / "cifar10" / "cifar-10-python.tar.gz",
                 sha256=FILE_SHA256["cifar-10-python.tar.gz"], progress=progress)


CIFAR10 = Cifar10()


def pickle_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """Encode (n,32,32,3) uint8 images and labels as a canonical CIFAR-10 batch pickle (for writing a copy)."""
    data = np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), -1))
    buf = io.BytesIO()
    pickle.dump({b"data": data, b"labels": [int(v) for v in y]}, buf)
    return buf.getvalue()
