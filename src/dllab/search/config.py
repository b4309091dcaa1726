"""Settings of the search pieces that experiment configs embed (kept free of torch so ``dllab list`` stays fast)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CLIP = "openai/clip-vit-base-patch32"


class LitConfig(BaseModel):
    """The LiT heads and their training (:func:`dllab.search.lit.train_heads`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # the resolution study (search-encoder, training images only): nearest-class-mean accuracy 0.32 / 0.44 / 0.49
    # / 0.56 at 64 / 96 / 128 / 160 px, at 842 / 307 / 147 / 83 images/s; held-out caption -> image top-5 of the
    # trained heads 0.857 at 128 px, 0.910 at 160 px. 160 px embeds 50,000 images in about 10 min on 2 cores.
    resolution: int = Field(160, ge=32, le=512, description="image tower input size (64 px images upsampled)")
    flip: bool = Field(False, description="image features = mean over the image and its mirror image")
    dim: int = Field(256, ge=8, le=2048, description="embedding dimension of the joint space")
    hidden: int = Field(0, ge=0, description="hidden width of the image head (0: one linear layer)")
    # 15 epochs with strong decoupled weight decay: on the held-out training images, 30 epochs at 1e-4 peaked at
    # epoch 5 (0.844) and fell to 0.774 (overfitting); 15 at 0.5 ends at 0.857, 8 at 1e-4 at 0.850
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(1024, ge=16)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.5, ge=0)
    holdout: float = Field(0.1, ge=0, lt=0.5, description="fraction of training images held out for the curves")
    max_names: int = Field(3, ge=1, description="WordNet names per class used in captions")
