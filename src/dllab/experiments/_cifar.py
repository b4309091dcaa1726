"""Shared pieces of the CIFAR-10 experiments (not an experiment itself): data as tensors and the Myrtle-5 recipe."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dllab.config import ExperimentConfig
from dllab.nn.config import INITS, TorchTrainConfig

# The homework's recipe: plain SGD lr 0.1, batch 128, 20 epochs, no augmentation, inputs scaled to [0, 1].
RECIPE = TorchTrainConfig(epochs=20, batch_size=128, lr=0.1, momentum=0.0, optimizer="sgd", schedule="constant")


class CifarConfig(ExperimentConfig):
    width: int = Field(64, ge=1, description="Myrtle-5 width c (channels of the first conv)")
    batch_norm: bool = Field(True, description="batch norm after each conv (off: conv biases instead)")
    init: Literal[INITS] = Field("default", description="initial weights of the convs and "
                                                          "the head: PyTorch's default, Kaiming (He) or Xavier "
                                                          "(Glorot) normal")
    init_scale: float = Field(1.0, gt=0, description="factor on the initial weights (1: the scheme as defined)")
    n_train: int | None = Field(None, ge=10, description="first n training images (None: all 50,000)")
    train: TorchTrainConfig = RECIPE


def load(n_train: int | None):
    """(dataset, train tensors, test tensors, device) for CIFAR-10; uint8 images kept on the device."""
    from dllab import data
    from dllab.nn.data import as_tensors
    from dllab.nn.train import pick_device

    ds = data.load("cifar10")
    n = min(n_train or len(ds.x_train), len(ds.x_train))
    device = pick_device()
    return ds, as_tensors(ds.x_train[:n], ds.y_train[:n], device), as_tensors(ds.x_test, ds.y_test, device), device


def prep(x):
    """uint8 (N, 32, 32, 3) -> float (N, 3, 32, 32) in [0, 1], as the homework feeds the network."""
    from dllab.nn.data import images_to_float

    return images_to_float(x)


def model(cfg: CifarConfig, width: int | None = None):
    """Myrtle-5 with its initial weights drawn from the run's stream ("init",)."""
    from dllab.nn.models import init_weights, make_cnn
    from dllab.nn.train import pick_device
    from dllab.seeding import torch_stream

    with torch_stream(cfg.seed, "init"):
        net = init_weights(make_cnn(width or cfg.width, batch_norm=cfg.batch_norm), cfg.init, cfg.init_scale)
    return net.to(pick_device())


def describe(ds, n: int, cfg: CifarConfig) -> str:
    t = cfg.train
    aug = [f"horizontal flip p={t.flip_h}"] * (t.flip_h > 0) + [f"vertical flip p={t.flip_v}"] * (t.flip_v > 0) + \
        [f"random crop (pad {t.crop_pad})"] * (t.crop_pad > 0)
    return (f"{ds.describe()}. Training on the first {n} training images"
            f"{' (a subset, for the 2-core budget)' if n < 50000 else ''}; inputs scaled to [0, 1]. Myrtle-5 width "
            f"{cfg.width}, batch norm {'on' if cfg.batch_norm else 'off'}, {cfg.init} initialisation"
            f"{f' x {cfg.init_scale:g}' if cfg.init_scale != 1 else ''}; {t.optimizer} lr {t.lr} ({t.schedule}), "
            f"momentum {t.momentum}, weight decay {t.weight_decay}, batch {t.batch_size}, {t.epochs} epochs; "
            f"augmentation: {', '.join(aug) if aug else 'none'}.")
