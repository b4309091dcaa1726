"""dllab.search.encoders: a tiny CLIP built here (random weights, the real files), end to end; missing weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dllab.search.engine import SearchEngine


def test_tiny_clip_end_to_end(tiny_clip, tmp_path):
    """Load from a directory, embed images and texts, index, search: the embeddings are the model's own
    projected features (checked against calling the model directly), unit length, and cached."""
    from dllab.search.encoders import ClipEncoder

    folder, model = tiny_clip
    enc = ClipEncoder(str(folder))
    assert enc.dim == 16 and enc.name.startswith("clip:")
    images = np.random.default_rng(0).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    emb = enc.embed_images(images, progress=False)
    assert emb.shape == (12, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    with torch.no_grad():
        pixels = enc.preprocess(torch.from_numpy(images).permute(0, 3, 1, 2))
        assert pixels.shape == (12, 3, 32, 32)
        ref = model.eval().get_image_features(pixel_values=pixels)
        ref = ref if isinstance(ref, torch.Tensor) else ref.pooler_output
    ref = ref.numpy() / np.linalg.norm(ref.numpy(), axis=1, keepdims=True)
    np.testing.assert_allclose(emb, ref, atol=1e-5)
    np.testing.assert_array_equal(enc.embed_images(images, progress=False), emb)  # from the cache
    t = enc.embed_texts(["a red car", "a dog"])
    assert t.shape == (2, 16) and not np.allclose(t[0], t[1])
    engine = SearchEngine.build(enc, images, np.arange(12) % 3, ["a", "b", "c"], progress=False)
    hits = engine.similar(4, k=3)
    assert hits[0].id == 4 and hits[0].distance == pytest.approx(0, abs=1e-5)  # an image finds itself first
    assert len(engine.text("a red car", k=5)) == 5


def test_clip_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    from dllab.search.encoders import ClipEncoder, EncoderUnavailable

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="HF_HOME") as e:
        ClipEncoder("openai/clip-vit-base-patch32")
    assert "local directory" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(EncoderUnavailable):
        ClipEncoder(str(tmp_path))  # an empty directory is no model
