"""The PyTorch loop's config, importable without importing torch (so ``dllab list`` stays fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dllab.training import TrainConfig

INITS = ("default", "kaiming", "xavier")  # the initialisations of dllab.nn.models.init_weights


class TorchTrainConfig(TrainConfig):
    """The shared knobs of :class:`~dllab.training.TrainConfig` plus what only the PyTorch loop offers:
    other optimisers, batch augmentation, precision and layout, evaluation and checkpoints."""

    optimizer: Literal["sgd", "adam", "adamw"] = Field("sgd", description="sgd (with momentum/nesterov), adam or adamw")
    flip_h: float = Field(0.0, ge=0, le=1, description="probability of a horizontal flip")
    flip_v: float = Field(0.0, ge=0, le=1, description="probability of a vertical flip")
    crop_pad: int = Field(0, ge=0, description="random crop after reflect-padding by this many pixels")
    bf16: bool = Field(False, description="bfloat16 autocast for the forward pass")
    # NCHW instead: +0.44 points (noise: the same arithmetic) at 1.58x the time
    channels_last: bool = Field(True, description="NHWC memory layout for 4-d inputs: the same numbers up to "
                                                   "rounding, 1.2-1.4x faster convolutions on the CPU")
    compile: bool = Field(False, description="torch.compile the training forward/backward (faster steps after a "
                                             "one-off compile of 10-30 s; needs a C++ compiler on the CPU)")
    eval_batch_size: int = Field(1000, ge=1, description="images per forward pass when evaluating")
    bn_recalibrate: int = Field(0, ge=0, description="before each evaluation, re-estimate the batch-norm statistics "
                                                     "on this many training images with the current weights "
                                                     "(precise BN); 0: PyTorch's running averages")
    stop_at_train_acc: float | None = Field(None, gt=0, le=1, description="stop once train accuracy reaches this")
    checkpoint: bool = Field(True, description="save a checkpoint each epoch (needed for --resume)")


class FastConfig(BaseModel):
    """One recipe's numbers (defaults: airbench94 as published).

    The comments give each trick's measured effect: `dllab run cifar-fast --preset full`'s ablation, each trick
    removed from the 85% recipe (Muon, batch 500, 1.5 epochs), mean of 3 seeds on the test set, on the developers'
    2-core Xeon with AMX-BF16; the recipe's own seeds spread by about 0.8 points (std)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: float = Field(9.9, gt=0, description="training epochs (fractional: the last one stops early)")
    batch_size: int = Field(1024, ge=1, description="images per optimiser step")
    lr: float = Field(11.5, gt=0, description="learning rate per 1,024 examples (decoupled from momentum)")
    momentum: float = Field(0.85, ge=0, lt=1, description="Nesterov momentum")
    weight_decay: float = Field(0.0153, ge=0, description="weight decay per 1,024 examples (decoupled from lr)")
    bias_scaler: float = Field(64.0, gt=0, description="learning-rate multiplier of batch-norm biases")
    # without: -0.58 points
    label_smoothing: float = Field(0.2, ge=0, lt=1, description="share of the target spread over all classes")
    whiten_bias_epochs: int = Field(3, ge=0, description="epochs the whitening layer's bias trains")
    widths: tuple[int, int, int] = Field((64, 256, 256), description="channels of the three conv groups")
    bn_momentum: float = Field(0.6, gt=0, lt=1, description="running-statistics momentum (airbench convention)")
    scaling: float = Field(1 / 9, gt=0, description="logit scale (the head's output is multiplied by it)")
    flip: bool = Field(True, description="horizontal flips")
    # random flips instead: -0.35 points
    alternate_flip: bool = Field(True, description="flips alternate: a random half flipped once, then every image "
                                                   "flips every other epoch (False: a fresh random half each epoch)")
    # without (a learned 2x2 conv): -0.05 points, within noise at this budget
    whitening: bool = Field(True, description="first layer = frozen patch whitening (False: an ordinary learned "
                                              "2x2 conv with default initialisation)")
    low_res: int = Field(32, ge=8, le=32, description="progressive resizing: train the first low_res_epochs on "
                                                     "random low_res x low_res crops (fewer pixels, fewer FLOPs)")
    low_res_epochs: int = Field(0, ge=0, description="epochs at low_res before full 32x32 images")
    # trained scales: +0.01 points, within noise
    train_bn_scale: bool = Field(False, description="train the batch-norm scales (airbench freezes them at 1)")
    # without: -0.50 points
    translate: int = Field(2, ge=0, description="random translation (reflect padding) in pixels")
    lookahead: bool = Field(True, description="lookahead: every lookahead_every steps the weights move to an EMA "
                                              "of themselves, the final weights are the EMA's")
    lookahead_every: int = Field(5, ge=1, description="steps between lookahead updates (airbench94: 5)")
    lookahead_decay: float = Field(0.95, gt=0, lt=1, description="EMA decay per step, scaled by (step / total)^3 "
                                                                 "so early weights are forgotten (airbench94: 0.95)")
    # without (level 0): -0.88 points at 0.83x the time
    tta_level: int = Field(2, ge=0, le=2, description="0: none, 1: mirror, 2: mirror + translate")
    tta_uncertain: float = Field(1.0, ge=0, le=1, description="share of the evaluation images that get the TTA "
                                                             "views: those the plain view is least sure of (1: all)")
    # fp32 instead of bf16 on an AMX-BF16 CPU: -0.11 points at 2.77x the time (slower on CPUs without bf16 units)
    precision: str = Field("auto", pattern="^(auto|fp32|bf16)$", description="auto: the faster of fp32 and bf16 "
                                                                             "autocast, timed at start-up")
    # NCHW instead: +0.44 points (noise: the same arithmetic) at 1.58x the time
    channels_last: bool = Field(True, description="NHWC layout: 1.58x faster steps on the developers' CPU")
    # on the CPU slower than eager (1.30 vs 0.94 s per 1,024-image step on the developers' AMX Xeon); a GPU's choice
    compile: bool = Field(False, description="torch.compile the training forward (GPU: faster steps after a one-off "
                                             "compile counted in the run's time; CPU: slower)")
    eval_each_epoch: bool = Field(True, description="monitoring: accuracy (no TTA) after every epoch (its time is "
                                                      "left out of the run's time)")
    # Nesterov SGD (airbench94's optimiser, its lookahead and triangular schedule) instead of Muon: -2.03 points
    optimizer: Literal["nesterov", "muon"] = Field("nesterov", description="nesterov: decoupled Nesterov SGD for "
                                                   "everything; muon: Muon for the conv filters, Nesterov SGD "
                                                   "(sgd_* numbers) for biases and the head, as airbench94_muon")
    schedule: Literal["triangular", "linear"] = Field("triangular", description="triangular: from lr_start up to "
                                                      "1 over warmup_frac of the steps, then down to lr_end; "
                                                      "linear: from 1 down to 0 (factors of every lr)")
    warmup_frac: float = Field(0.23, ge=0, lt=1, description="triangular: share of the steps spent warming up")
    lr_start: float = Field(0.2, ge=0, description="triangular: lr factor at the first step")
    lr_end: float = Field(0.07, ge=0, description="triangular: lr factor at the last step")
    head_unit_std: bool = Field(False, description="initialise the head's weights to unit standard deviation")
    muon_lr: float = Field(0.24, gt=0, description="optimizer=muon: Muon's learning rate (per step, on the "
                                                   "orthogonalised update)")
    muon_momentum: float = Field(0.6, ge=0, lt=1, description="optimizer=muon: Muon's Nesterov momentum")
    muon_ns_steps: int = Field(3, ge=1, le=10, description="optimizer=muon: Newton-Schulz steps")
    sgd_bias_lr: float = Field(0.053, gt=0, description="optimizer=muon: lr of biases, per step of a summed "
                                                        "loss (whitening bias decays to 0 over whiten_bias_epochs)")
    sgd_head_lr: float = Field(0.67, gt=0, description="optimizer=muon: lr of the head, per step of a summed loss")
    sgd_weight_decay: float = Field(2e-6, ge=0, description="optimizer=muon: weight decay per example in a batch "
                                                            "(biases and head)")
