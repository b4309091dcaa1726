"""Test set-up: real data from DLLAB_DATA (default ../shared/data), a private cache, no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from dllab.seeding import torch_stream

REPO = Path(__file__).resolve().parents[1]
_default = REPO.parent / "shared" / "data"
if not os.environ.get("DLLAB_DATA") and _default.is_dir():
    os.environ["DLLAB_DATA"] = str(_default)
os.environ["DLLAB_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
SHARED = Path(os.environ.get("DLLAB_DATA", _default)).resolve()  # absolute: tests link to it from tmp dirs
if os.environ.get("DLLAB_DATA"):
    os.environ["DLLAB_DATA"] = str(SHARED)  # the CLI under test sees the same absolute path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded arrays go to a per-session cache, never into the read-only data folder or ~/.cache."""
    if not os.environ.get("DLLAB_TEST_KEEP_CACHE"):
        os.environ["DLLAB_CACHE"] = str(tmp_path_factory.mktemp("dllab-cache"))
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "mnist").is_dir():
        pytest.fail(f"the test datasets are missing: set DLLAB_DATA to the shared data folder (tried {SHARED})")
    return SHARED


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """An environment where no dataset can be found: empty data folder and empty cache."""
    empty = tmp_path / "empty-data"
    empty.mkdir()
    monkeypatch.setenv("DLLAB_DATA", str(empty))
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "empty-cache"))
    return empty


# -- the search tests' shared fixtures: a tiny CLIP built here, a 20-class TinyImageNet subset
def _byte_chars() -> list[str]:
    """GPT-2 / CLIP byte-level BPE alphabet: printable bytes map to themselves, the rest to 256 + i."""
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A CLIP model with random weights and a byte-level vocabulary written here, saved with save_pretrained: the
    same files (config.json, model.safetensors, vocab.json, merges.txt) as the real openai/clip-vit-base-patch32."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": 256 + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    cfg = CLIPConfig(text_config=dict(vocab_size=514, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=77, bos_token_id=512,
                                      eos_token_id=513, pad_token_id=513),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8),
                     projection_dim=16)
    with torch_stream(0, "tiny-clip"):
        model = CLIPModel(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="session")
def tiny_subset(shared_data):
    from dllab.search.galleries import training_set, validation_set

    ds, x, y, names = training_set(16)
    classes = np.arange(0, 200, 10)  # 20 classes
    keep = np.isin(y, classes)
    _, xv, yv, label_names, _ = validation_set(8)
    keep_v = np.isin(yv, classes)
    return x[keep], y[keep], xv[keep_v], yv[keep_v], label_names, names
