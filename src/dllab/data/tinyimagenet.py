"""TinyImageNet-200: the canonical folder layout, the official zip, or tar.gz tiers, read without extracting.

Images are decoded once to uint8 (n, 64, 64, 3) arrays (grayscale originals replicated to RGB) and cached.
The labelled validation set serves as the test split. ``classes`` entries read ``"<wnid>\t<words.txt names>"``
(:func:`wordnet_names` splits them). Fewer than 500 training images per class, or
fewer than 50 validation images per class, make the dataset partial, with its counts.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dllab.data.store import Check, Dataset, decoded_cache, download, sha256_file
from dllab.errors import DataError

URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
ZIP_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"  # the only checksum the source publishes
FILE_SHA256 = {
    "train_boxes.tar.gz": "b9fc7a98ac238d10e988089b9ccf8433377f6814433568eca64d89697b8acc69",
    "train_images_000-099.tar.gz": "50578327ebb07f5c66197a509e97487f4eb61adeea3838e2272ec0d32a2b3d55",
    "train_images_100-199.tar.gz": "d82121a7d08ee8a20f9572c6039f65bc162688824f251f671703fccffcb44404",
    "val_images.tar.gz": "415e5f3adca1782770dd55ded9e013c5fc2674e29ad29a0fee7521ab54c12ff0",
    "wnids.txt": "a36eb4b603007f1985cdfbfc5987166a2710b3c6f0f6d3e29636fc129bba527b",
}
_TRAIN = re.compile(r"train/(n\d+)/images/\1_(\d+)\.JPEG$")
_VAL = re.compile(r"val/images/val_(\d+)\.JPEG$")


@dataclass
class Source:
    folder: Path
    kind: str  # "folders" | "tars" | "zip"
    root_label: str = ""

    @property
    def description(self) -> str:
        return f"{self.folder} ({self.kind}; via {self.root_label})"


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


class TinyImageNet:
    name = "tiny-imagenet-200"
    folders = ("tiny-imagenet-200",)

    def find(self, root: Path, root_label: str = "") -> Source | None:
        folder = root / "tiny-imagenet-200"
        if (root / "tiny-imagenet-200.zip").is_file():
            return Source(root / "tiny-imagenet-200.zip", "zip", root_label)
        if not folder.is_dir():
            return None
        if (folder / "train").is_dir() or (folder / "val" / "images").is_dir():
            return Source(folder, "folders", root_label)
        if list(folder.glob("*.tar.gz")):
            return Source(folder, "tars", root_label)
        return None

    # -- reading members: yields (path relative to tiny-imagenet-200/, bytes) ----------------------
    def _members(self, source: Source):
        if source.kind == "folders":
            for p in sorted(source.folder.rglob("*")):
                if p.is_file():
                    yield p.relative_to(source.folder).as_posix(), p
        elif source.kind == "tars":
            for p in source.folder.iterdir():
                if p.is_file():
                    yield p.name, p
            for p in (source.folder / "val").glob("*"):
                yield f"val/{p.name}", p
            for tar_path in sorted(source.folder.glob("*.tar.gz")):
                try:
                    with tarfile.open(tar_path, "r:gz") as tar:
                        for m in tar:
                            if m.isfile():
                                yield m.name.removeprefix("./"), tar.extractfile(m).read()
                except (tarfile.TarError, OSError, EOFError) as exc:
                    raise DataError(f"{tar_path} cannot be read ({exc}): the file is corrupt; replace it") from None
        else:
            try:
                with zipfile.ZipFile(source.folder) as z:
                    for name in z.namelist():
                        if not name.endswith("/"):
                            yield name.removeprefix("tiny-imagenet-200/"), z.read(name)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(f"{source.folder} cannot be read ({exc}): the file is corrupt; delete it to "
                                "re-download") from None

    @staticmethod
    def _bytes(item) -> bytes:
        return item.read_bytes() if isinstance(item, Path) else item

    def _collect(self, source: Source) -> dict:
        text: dict[str, str] = {}
        train: list[tuple[str, int, bytes]] = []
        val: dict[int, bytes] = {}
        for rel, item in self._members(source):
            if rel in ("wnids.txt", "words.txt", "val/val_annotations.txt"):
                text[rel] = self._bytes(item).decode()
            elif m := _TRAIN.search(rel):
                train.append((m.group(1), int(m.group(2)), self._bytes(item)))
            elif m := _VAL.search(rel):
                val[int(m.group(1))] = self._bytes(item)
        if "wnids.txt" not in text:
            raise DataError(f"{self.name} in {source.folder} has no wnids.txt; the copy is incomplete")
        return {"text": text, "train": train, "val": val}

    def load(self, source: Source) -> Dataset:
        wnids: list[str] = []

        def build() -> dict[str, np.ndarray]:
            c = self._collect(source)
            ids = c["text"]["wnids.txt"].split()
            index = {w: i for i, w in enumerate(ids)}
            train = sorted(c["train"], key=lambda t: (index.get(t[0], -1), t[1]))
            ann = {}
            for line in c["text"].get("val/val_annotations.txt", "").splitlines():
                parts = line.split("\t")
                if len(parts) >= 2 and (m := re.match(r"val_(\d+)\.JPEG", parts[0])):
                    ann[int(m.group(1))] = index[parts[1]]
            val_ids = sorted(i for i in c["val"] if i in ann)
            blobs = [b for _, _, b in train] + [c["val"][i] for i in val_ids]
            try:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    images = list(pool.map(_decode, blobs, chunksize=256))
            except Exception as exc:  # noqa: BLE001 - a JPEG that does not decode
                raise DataError(f"{self.name} in {source.folder}: an image cannot be decoded ({exc}); "
                                "the copy is corrupt") from None
            stack = np.stack(images) if images else np.zeros((0, 64, 64, 3), np.uint8)
            names = [f"{w}\t{self._words(c['text']).get(w, w)}" for w in ids]
            return {
                "x_train": stack[:len(train)],
                "y_train": np.array([index[w] for w, _, _ in train], dtype=np.int16),
                "x_test": stack[len(train):],
                "y_test": np.array([ann[i] for i in val_ids], dtype=np.int16),
                "classes": np.array(names),
            }

        files = [p for p in ([source.folder] if source.kind == "zip" else source.folder.rglob("*")) if p.is_file()]
        a = decoded_cache(self.name, files, build, extra_key="all-wordnet-names")
        wnids = [str(s) for s in a["classes"]]
        per_class_train = np.bincount(a["y_train"], minlength=200)
        per_class_val = np.bincount(a["y_test"], minlength=200)
        partial = bool(per_class_train.min() < 500 or per_class_val.min() < 50)
        counts = {"train": len(a["x_train"]), "test": len(a["x_test"]),
                  "train_per_class_min": int(per_class_train.min()), "train_per_class_max": int(per_class_train.max())}
        lo, hi = counts["train_per_class_min"], counts["train_per_class_max"]
        per_class = f"{lo}" if lo == hi else f"{lo} to {hi}"
        notes = "validation images serve as the test split" + (
            f"; {per_class} of 500 training images per class" if partial else "")
        return Dataset(self.name, a["x_train"], a["y_train"], a["x_test"], a["y_test"], wnids,
                       source.description, partial, counts, notes)

    @staticmethod
    def _words(text: dict[str, str]) -> dict[str, str]:
        out = {}
        for line in text.get("words.txt", "").splitlines():
            wnid, _, words = line.partition("\t")
            out[wnid] = words.strip()
        return out

    def verify(self, source: Source) -> list[Check]:
        checks = []
        if source.kind != "zip":
            for p in sorted(source.folder.glob("*")):
                if p.name in FILE_SHA256:
                    ok = sha256_file(p) == FILE_SHA256[p.name]
                    checks.append(Check(p.name, ok, "sha256 OK" if ok else "sha256 mismatch: the file is corrupt"))
        if any(not c.ok for c in checks):
            return checks
        try:
            ds = self.load(source)
        except DataError as exc:
            return checks + [Check("decode", False, str(exc))]
        state = f"partial: {ds.notes}" if ds.partial else "complete"
        checks.append(Check("images", True, f"{ds.counts['train']} train + {ds.counts['test']} val decoded ({state})"))
        return checks

    def fetch(self, cache_root: Path, progress: bool = True) -> None:
        download(URL, cache_root / "tiny-imagenet-200.zip", md5=ZIP_MD5, progress=progress)


def wordnet_names(classes: list[str]) -> list[list[str]]:
    """Each class's WordNet names (words.txt, in order; the first is the usual label) from ``Dataset.classes``,
    whose entries read ``"<wnid>\t<name>, <name>, ..."``."""
    out = []
    for entry in classes:
        wnid, _, words = str(entry).partition("\t")
        out.append([w.strip() for w in words.split(",") if w.strip()] or [wnid])
    return out


TINY_IMAGENET = TinyImageNet()
