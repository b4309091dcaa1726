"""The training loop's config, importable without importing torch (so ``dllab list`` stays fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Everything the loop needs; experiments nest it as ``train`` (override with ``--set train.lr=0.05``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(10, ge=1, description="passes over the training set")
    batch_size: int = Field(128, ge=1, description="images per optimiser step")
    optimizer: Literal["sgd", "adam", "adamw"] = Field("sgd", description="sgd (with momentum/nesterov), adam or adamw")
    lr: float = Field(0.1, gt=0, description="base learning rate (the schedule multiplies it)")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (0: plain SGD)")
    nesterov: bool = Field(False, description="Nesterov momentum (SGD)")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (decoupled for adamw)")
    schedule: Literal["constant", "step", "cosine", "linear"] = Field(
        "constant", description="learning-rate schedule over the steps after the warm-up")
    step_epochs: int = Field(10, ge=1, description="step schedule: decay every this many epochs")
    step_gamma: float = Field(0.1, gt=0, description="step schedule: multiply the lr by this at each decay")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up from 0 over this many epochs")
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
