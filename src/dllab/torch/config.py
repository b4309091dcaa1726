"""The training loop's config, importable without importing torch (so ``dllab list`` stays fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Everything the loop needs; experiments nest it as ``train`` (override with ``--set train.lr=0.05``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(128, ge=1)
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "step", "cosine", "linear"] = "constant"
    step_epochs: int = Field(10, ge=1, description="step schedule: decay every this many epochs")
    step_gamma: float = Field(0.1, gt=0)
    warmup_epochs: float = Field(0.0, ge=0)
    flip_h: float = Field(0.0, ge=0, le=1, description="probability of a horizontal flip")
    flip_v: float = Field(0.0, ge=0, le=1, description="probability of a vertical flip")
    crop_pad: int = Field(0, ge=0, description="random crop after reflect-padding by this many pixels")
    bf16: bool = Field(False, description="bfloat16 autocast for the forward pass")
    channels_last: bool = Field(True, description="NHWC memory layout for 4-d inputs: the same numbers up to "
                                                   "rounding, 1.2-1.4x faster convolutions on the CPU")
    compile: bool = Field(False, description="torch.compile the training forward/backward (faster steps after a "
                                             "one-off compile of 10-30 s; needs a C++ compiler on the CPU)")
    eval_batch_size: int = Field(1000, ge=1)
    stop_at_train_acc: float | None = Field(None, gt=0, le=1, description="stop once train accuracy reaches this")
    checkpoint: bool = True
