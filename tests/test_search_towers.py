"""dllab.search.towers and efficientnet: the frozen LiT towers (weights, precisions, TF padding, mean pooling)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dllab.errors import DllabError
from dllab.seeding import torch_stream


def _ncm(train_f, train_y, test_f, test_y) -> float:
    from dllab.search.encoders import normalize_rows

    mu = train_f.mean(0)
    a, b = normalize_rows(train_f - mu), normalize_rows(test_f - mu)
    classes = np.unique(train_y)
    means = normalize_rows(np.stack([a[train_y == c].mean(0) for c in classes]))
    return float((classes[(b @ means.T).argmax(1)] == test_y).mean())


def test_lite0_weights_load_right(tiny_subset):
    """Pretrained features separate 20 TinyImageNet classes far better than the same network's random weights,
    and the ImageNet head names the matching ImageNet class."""
    from dllab.search.efficientnet import EfficientNetLite0, load_pretrained, normalize
    from dllab.search.encoders import ImageTower

    x, y, xv, yv, label_names, _ = tiny_subset
    tower = ImageTower(64, flip=False, precision="fp32")
    pretrained = _ncm(tower.features(x, False), y, tower.features(xv, False), yv)
    with torch_stream(0, "random-lite0"):
        tower.model = EfficientNetLite0().eval()
    random = _ncm(tower.model.features(tower.prepare(torch.from_numpy(x).permute(0, 3, 1, 2))).detach().numpy(),
                  y, tower.model.features(tower.prepare(torch.from_numpy(xv).permute(0, 3, 1, 2))).detach().numpy(),
                  yv)
    # 20 classes (chance 0.05), 16 training images each, native 64 px: measured 0.58 vs 0.17 with random weights
    assert pretrained > 0.45 and pretrained > random + 0.3, (pretrained, random)
    # ImageNet-1k indices (the standard sorted-wnid order) of TinyImageNet classes
    imagenet = {"goldfish": 1, "Egyptian cat": 285, "school bus": 779, "lemon": 951, "banana": 954, "pizza": 963,
                "king penguin": 145, "koala": 105, "ladybug": 301, "monarch": 323}
    from dllab.search.galleries import validation_set

    _, xv_all, yv_all, names, _ = validation_set(10)
    model = load_pretrained()
    hits = 0
    for name, index in imagenet.items():
        imgs = torch.from_numpy(xv_all[yv_all == names.index(name)]).permute(0, 3, 1, 2)
        with torch.no_grad():
            pred = model(torch.nn.functional.interpolate(normalize(imgs), size=128, mode="bilinear"))
        hits += int((pred.topk(5, 1).indices == index).any(1).float().mean() >= 0.5)
    assert hits >= 8, hits


def test_image_tower_precisions_and_auto_choice(tiny_subset, monkeypatch):
    """bf16 features agree with fp32 ones to rounding and are cached under their own key; ``auto`` reuses a cached
    entry of either precision without timing, else times both and takes the faster; a bad precision is an error."""
    from dllab.search.encoders import ImageTower, normalize_rows

    x = tiny_subset[0][:24]
    f32 = ImageTower(64, flip=False, precision="fp32").features(x, False)
    f16 = ImageTower(64, flip=False, precision="bf16").features(x, False)
    cos = (normalize_rows(f32) * normalize_rows(f16)).sum(1)
    assert cos.min() > 0.97 and not np.array_equal(f32, f16), cos.min()
    auto = ImageTower(64, flip=False, precision="auto")
    np.testing.assert_array_equal(auto.features(x, False), f16)  # bf16 is looked up first, found: no timing
    assert auto.bf16 and auto.timing == {}
    fresh = x[:8]
    for slower, expect in (("bf16", False), ("fp32", True)):
        tower = ImageTower(64, flip=False, precision="auto")
        monkeypatch.setattr("dllab.nn.throughput.precision_times",
                            lambda call, steps, s=slower: (call(False), call(True),
                                                           {"fp32": 2.0 if s == "fp32" else 1.0,
                                                            "bf16": 2.0 if s == "bf16" else 1.0})[2])
        tower.features(fresh[:4 + expect], False)  # a new image set each time: nothing cached
        assert tower.bf16 is expect and tower.timing[slower] == 2.0
    with pytest.raises(DllabError, match="precision"):
        ImageTower(64, flip=False, precision="fp16")


def test_lite0_padding_is_tensorflow_same():
    """On stride 2 an even input gets its extra padding at the end (right/bottom), as TensorFlow's SAME."""
    from dllab.search.efficientnet import SameConv2d

    conv = SameConv2d(1, 1, 3, 2, bias=False)
    conv.weight.data.fill_(1.0)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # top-left pixel
    out = conv(x)
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0, 0] == 1.0  # the first window starts at row 0 (no padding before)


def test_text_tower_mean_pooling():
    """all-MiniLM-L6-v2 with mean pooling: unit vectors, paraphrases closer than unrelated sentences."""
    from dllab.search.encoders import TextTower

    f = TextTower().features(["a photo of a cat", "a picture of a cat", "a school bus on the road"])
    assert f.shape == (3, 384) and np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5)
    assert f[0] @ f[1] > f[0] @ f[2] + 0.2


# ------------------------------------------------------------------------------------------ index and metrics
