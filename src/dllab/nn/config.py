"""The PyTorch loop's config, importable without importing torch (so ``dllab list`` stays fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dllab.training import TrainConfig


class TorchTrainConfig(TrainConfig):
    """The shared knobs of :class:`~dllab.training.TrainConfig` plus what only the PyTorch loop offers:
    other optimisers, batch augmentation, precision and layout, evaluation and checkpoints."""

    optimizer: Literal["sgd", "adam", "adamw"] = Field("sgd", description="sgd (with momentum/nesterov), adam or adamw")
    flip_h: float = Field(0.0, ge=0, le=1, description="probability of a horizontal flip")
    flip_v: float = Field(0.0, ge=0, le=1, description="probability of a vertical flip")
    crop_pad: int = Field(0, ge=0, description="random crop after reflect-padding by this many pixels")
    bf16: bool = Field(False, description="bfloat16 autocast for the forward pass")
    channels_last: bool = Field(True, description="NHWC memory layout for 4-d inputs: the same numbers up to "
                                                   "rounding, 1.2-1.4x faster convolutions on the CPU")
    compile: bool = Field(False, description="torch.compile the training forward/backward (faster steps after a "
                                             "one-off compile of 10-30 s; needs a C++ compiler on the CPU)")
    eval_batch_size: int = Field(1000, ge=1, description="images per forward pass when evaluating")
    stop_at_train_acc: float | None = Field(None, gt=0, le=1, description="stop once train accuracy reaches this")
    checkpoint: bool = Field(True, description="save a checkpoint each epoch (needed for --resume)")
