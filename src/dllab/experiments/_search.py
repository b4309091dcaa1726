"""Shared pieces of the search experiments (not an experiment itself): the encoder choice and the galleries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dllab.config import ExperimentConfig
from dllab.search.config import DEFAULT_CLIP, LitConfig

# The smoke preset's encoder: heads trained on 6 images per class at 64 px (seconds, for tests)
SMOKE_LIT = {"lit": {"resolution": 64, "epochs": 20, "batch_size": 256}, "lit_per_class": 6, "val_per_class": 5}


class SearchConfig(ExperimentConfig):
    encoder: Literal["lit", "clip"] = Field("lit", description="lit: offline LiT encoder (trained on the label "
                                                               "captions); clip: OpenAI CLIP (needs its weights)")
    clip_model: str = Field(DEFAULT_CLIP, description="CLIP model id on the Hugging Face hub, or a local directory")
    lit_model: str | None = Field(None, description="a search-encoder run directory (or heads file); None: heads "
                                                    "trained with `lit` on lit_per_class images, cached")
    lit: LitConfig = LitConfig()
    lit_per_class: int | None = Field(None, ge=2, description="training images per class for those heads")
    val_per_class: int | None = Field(None, ge=1, description="validation images per class in the index "
                                                              "(None: all 50)")
    k: int = Field(5, ge=1, le=50, description="results per query")


def open_encoder(cfg: SearchConfig, rec):
    from dllab.search.encoders import load_encoder

    return load_encoder(cfg.encoder, clip_model=cfg.clip_model, lit_model=cfg.lit_model, lit_config=cfg.lit,
                        lit_per_class=cfg.lit_per_class, seed=cfg.seed, progress=rec.show_progress)


def validation_set(cfg: SearchConfig):
    from dllab.search.galleries import validation_set as images

    return images(cfg.val_per_class)


def encoder_note(cfg: SearchConfig) -> str:
    if cfg.encoder == "lit":
        return ("Encoder: lit (frozen EfficientNet-Lite0 + frozen all-MiniLM-L6-v2 with LiT heads trained here on "
                "TinyImageNet training images and captions of the 200 labels). It is not zero-shot the way CLIP "
                "is: every query label was a training caption; the ImageNet-pretrained image tower may have seen "
                "images TinyImageNet also holds. CLIP figures need its weights (--set encoder=clip).")
    return f"Encoder: CLIP {cfg.clip_model} (zero-shot: never trained on these labels)."
