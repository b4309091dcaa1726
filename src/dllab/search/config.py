"""Settings of the search pieces that experiment configs embed (kept free of torch so ``dllab list`` stays fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CLIP = "openai/clip-vit-base-patch32"


class LitConfig(BaseModel):
    """The LiT heads and their training (:func:`dllab.search.lit.train_heads`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Chosen on training images only. The resolution study (search-encoder; nearest class mean of the frozen
    # features): see the README's table; 224 px, the tower's native size, is the most accurate. At 224 px the
    # heads' held-out caption -> image top-5 is 0.910 linear / 0.926 with a 1024-wide hidden layer (plain
    # features), 0.916 / 0.927 mirror-averaged. A 5-split study (per class 150 images fit the heads and queries,
    # 50 held out form the index: the clip-search / clip-queries protocol without validation images) gave
    # all-label top-5 0.951 / 0.959 (linear, plain / mirror-averaged) and 0.964 / 0.962 (hidden 1024), and the
    # query MLP on the 10 worst labels 0.71 / 0.75 and 0.73 / 0.74: mirror averaging helps a little on average
    # at twice the embedding time; hidden 1024 wins on the heads' own held-out criterion.
    resolution: int = Field(224, ge=32, le=512, description="image tower input size (64 px images upsampled)")
    flip: bool = Field(True, description="image features = mean over the image and its mirror image")
    # bf16 features measured against fp32 at 160 px: mean cosine 0.9987, and the same heads retrieve at 0.969 vs
    # 0.962 all-label top-5 (no loss); on an AVX512-BF16 Xeon the tower runs 1.8x faster in bf16 + channels-last
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="image tower arithmetic; auto: bf16 "
                                                       "only where a short timing finds it faster here")
    dim: int = Field(256, ge=8, le=2048, description="embedding dimension of the joint space")
    hidden: int = Field(1024, ge=0, description="hidden width of the image head (0: one linear layer)")
    # 15 epochs with strong decoupled weight decay (measured at 128 px, linear): on the held-out training images,
    # 30 epochs at 1e-4 peaked at epoch 5 (0.844) and fell to 0.774 (overfitting); 15 at 0.5 ends at 0.857, 8 at
    # 1e-4 at 0.850
    epochs: int = Field(15, ge=1, description="passes over the (fit part of the) training images")
    batch_size: int = Field(1024, ge=16, description="images per AdamW step (each with one caption per class)")
    lr: float = Field(2e-3, gt=0, description="AdamW's peak learning rate (per step, of a mean loss)")
    weight_decay: float = Field(0.5, ge=0, description="AdamW's decoupled weight decay (times lr, per step)")
    schedule: Literal["one-cycle"] = Field("one-cycle", description="torch's OneCycleLR: cosine warm-up over "
                                           "warmup_frac of the steps from lr / 25, cosine decay to lr / 2.5e5, "
                                           "AdamW's beta1 moving 0.95 -> 0.85 -> 0.95 with it")
    warmup_frac: float = Field(0.1, gt=0, lt=1, description="share of the steps spent warming up")
    holdout: float = Field(0.1, ge=0, lt=0.5, description="fraction of training images held out for the curves")
    max_names: int = Field(3, ge=1, description="WordNet names per class used in captions")


class QueryMLPConfig(BaseModel):
    """A label's query MLP and its training (:func:`dllab.search.queries.fit_query_mlp`); defaults here only."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    steps: int = Field(200, ge=1, description="SGD steps (each over all of the label's training images)")
    lr: float = Field(0.5, gt=0, description="SGD learning rate (per step, of the mean loss), constant")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    hidden: int = Field(128, ge=1, description="hidden width of the residual MLP (it starts as the identity)")
    temperature: float = Field(0.05, gt=0, description="softmax temperature over the cosine similarities")
