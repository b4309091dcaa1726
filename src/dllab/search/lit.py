"""LiT heads: the projection heads that join the locked image and text towers, trained with a CLIP-style
contrastive (InfoNCE) loss on TinyImageNet training images paired with captions of their class.

Captions are each class's WordNet names (words.txt) put through prompt templates, so the text side knows only the
200 label names: a ``lit`` encoder is trained on those captions and is *not* zero-shot the way CLIP is. Training
runs on the frozen towers' cached features, so one epoch over 40,000 images takes well under a second.

The loss, per batch of images with labels ``y``: image -> text is a softmax over one caption per class (all 200
classes, a fresh caption each step), and text -> image is a softmax over the batch's images whose target spreads
evenly over the images of that caption's class (several images in a batch share a class, so the plain diagonal
target of CLIP would call true pairs negatives). Both are scaled by a learned temperature, as in CLIP.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dllab.checkpoint import EpochCheckpoint
from dllab.errors import DllabError
from dllab.search.config import LitConfig
from dllab.seeding import torch_generator, torch_stream

TEMPLATES = ("{}", "a photo of a {}.", "a {}.", "a picture of a {}.", "a close-up photo of a {}.",
             "a blurry photo of a {}.", "a photo of the {}.", "an image of a {}.", "a cropped photo of a {}.",
             "a photo of a small {}.", "a photo of a large {}.", "a low resolution photo of a {}.")
HEADS_FILE = "lit_heads.pt"


def captions(names: list[list[str]], max_names: int = 3, templates=TEMPLATES) -> tuple[list[str], np.ndarray]:
    """Every (name, template) caption of every class, and each caption's class."""
    texts, labels = [], []
    for c, class_names in enumerate(names):
        for name in class_names[:max_names]:
            for t in templates:
                texts.append(t.format(name))
                labels.append(c)
    return texts, np.array(labels, dtype=np.int64)


class LitHeads(nn.Module):
    """``image``: centre on the training features' mean, then linear (or an MLP); ``text``: linear.

    No defaults here: the settings come from a :class:`~dllab.search.config.LitConfig` (:meth:`for_config`), the
    one place that holds them, or from a saved heads file (:meth:`load`)."""

    def __init__(self, image_dim: int, text_dim: int, dim: int, hidden: int, resolution: int, flip: bool):
        super().__init__()
        self.settings = {"image_dim": image_dim, "text_dim": text_dim, "dim": dim, "hidden": hidden,
                         "resolution": resolution, "flip": flip}
        self.dim, self.resolution, self.flip = dim, resolution, flip
        self.register_buffer("image_mean", torch.zeros(image_dim))
        layers = ([nn.Linear(image_dim, hidden), nn.GELU(), nn.Linear(hidden, dim)] if hidden
                  else [nn.Linear(image_dim, dim)])
        self.image_mlp = nn.Sequential(*layers)
        self.text = nn.Linear(text_dim, dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    @classmethod
    def for_config(cls, cfg: LitConfig, image_dim: int, text_dim: int) -> LitHeads:
        return cls(image_dim, text_dim, cfg.dim, cfg.hidden, cfg.resolution, cfg.flip)

    def image(self, features: torch.Tensor) -> torch.Tensor:
        return self.image_mlp(features - self.image_mean)

    def image_mlp_centred(self) -> nn.Module:
        """The image head as a module of its own (tower features -> raw embedding), sharing these weights."""
        return _ImageHead(self)

    def fingerprint(self) -> str:
        buf = io.BytesIO()
        torch.save({k: v.cpu() for k, v in self.state_dict().items()}, buf)
        return hashlib.sha256(buf.getvalue()).hexdigest()[:12]

    def save(self, path: str | Path) -> None:
        from dllab.fileio import atomic_write

        buf = io.BytesIO()
        torch.save({"settings": self.settings, "state": self.state_dict()}, buf)
        atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> LitHeads:
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            heads = cls(**blob["settings"])
            heads.load_state_dict(blob["state"])
        except (OSError, KeyError, RuntimeError, TypeError) as exc:
            raise DllabError(f"{path} is not a LiT heads file ({type(exc).__name__}: {exc}); train one with "
                             "'dllab run search-encoder'") from None
        return heads.eval()


class _ImageHead(nn.Module):
    def __init__(self, heads: LitHeads):
        super().__init__()
        self.heads = heads

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.heads.image(features)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def contrastive_loss(img: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor,
                     scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with class-aware targets. ``img``: (B, d) image embeddings, ``class_text``: (C, d) one
    caption embedding per class, ``labels``: (B,) classes of the images."""
    img, class_text = _unit(img), _unit(class_text)
    logits = scale * img @ class_text.T                                  # (B, C)
    i2t = nn.functional.cross_entropy(logits, labels)
    present = torch.unique(labels)
    t_logits = logits[:, present].T                                      # (C', B)
    target = (labels[None, :] == present[:, None]).float()
    target = target / target.sum(1, keepdim=True)
    t2i = -(target * torch.log_softmax(t_logits, dim=1)).sum(1).mean()
    return (i2t + t2i) / 2


def retrieval_accuracy(img: torch.Tensor, labels: torch.Tensor, class_text: torch.Tensor, k: int = 5) -> float:
    """Mean over the classes present in ``labels`` of (# of the top-k images for the class's text whose label
    matches) / k."""
    present = torch.unique(labels)  # a class with no image here has nothing to find
    sims = _unit(class_text[present]) @ _unit(img).T
    top = sims.topk(min(k, sims.shape[1]), dim=1).indices
    return float((labels[top] == present[:, None]).float().mean())


def train_heads(features: np.ndarray, labels: np.ndarray, caption_features: np.ndarray,
                caption_labels: np.ndarray, cfg: LitConfig, seed: int, log=None, progress: bool | None = None,
                checkpoint: EpochCheckpoint | None = None):
    """Train :class:`LitHeads` on frozen image features (n, 1280) with labels and caption features (m, 384).
    ``log(epoch_record)`` is called after each epoch; ``checkpoint`` keeps the heads, the optimiser, the schedule's
    position, the generator and the history after each epoch, and a resumed training continues from it (the
    result equals an uninterrupted one). Returns (heads, history)."""
    from dllab.progress import progress_bar

    x = torch.from_numpy(np.asarray(features, np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    t = torch.from_numpy(np.asarray(caption_features, np.float32))
    ty = torch.from_numpy(np.asarray(caption_labels, np.int64))
    n_classes = int(ty.max()) + 1
    if set(torch.unique(y).tolist()) - set(range(n_classes)):
        raise DllabError("every image label needs at least one caption")
    gen = torch_generator(seed, "lit", "split")
    order = torch.randperm(len(x), generator=gen)
    n_hold = int(round(cfg.holdout * len(x)))
    hold, fit_idx = order[:n_hold], order[n_hold:]
    by_class = [torch.where(ty == c)[0] for c in range(n_classes)]
    with torch_stream(seed, "lit", "init"):
        heads = LitHeads.for_config(cfg, x.shape[1], t.shape[1])
    heads.image_mean.copy_(x[fit_idx].mean(0))
    opt = torch.optim.AdamW(heads.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * max(1, -(-len(fit_idx) // cfg.batch_size))
    # torch's one-cycle schedule, not dllab.training's: it moves AdamW's beta1 (0.95 -> 0.85 -> 0.95) along with
    # the learning rate, which a per-step lr factor cannot (cfg.schedule names it)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=cfg.warmup_frac)
    counts = torch.tensor([len(b) for b in by_class])
    first = torch.cumsum(counts, 0) - counts
    flat = torch.cat(by_class)
    # the mean caption embedding of each class: what the curves' retrieval measures
    mean_caption = torch.stack([t[b].mean(0) for b in by_class])
    history, start = [], 1
    checkpoint = checkpoint or EpochCheckpoint(None)
    state = checkpoint.load()
    if state is not None:
        heads.load_state_dict(state["heads"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        gen.set_state(state["generator"])
        history, start = state["history"], state["epoch"] + 1
    with progress_bar("training LiT heads", cfg.epochs, enabled=progress) as bar:
        bar.advance(start - 1)
        for epoch in range(start, cfg.epochs + 1):
            heads.train()
            perm = fit_idx[torch.randperm(len(fit_idx), generator=gen)]
            total, seen = 0.0, 0
            for i in range(0, len(perm), cfg.batch_size):
                b = perm[i:i + cfg.batch_size]
                pick = first + (torch.rand(n_classes, generator=gen) * counts).long()   # one caption per class
                cls_text = heads.text(t[flat[pick]])
                loss = contrastive_loss(heads.image(x[b]), y[b], cls_text, heads.logit_scale.exp().clamp(max=100))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(b)
                seen += len(b)
            heads.eval()
            with torch.no_grad():
                rec = {"epoch": epoch, "train_loss": total / seen,
                       "temperature": float(1 / heads.logit_scale.exp())}
                if n_hold:
                    hi, hc = heads.image(x[hold]), heads.text(mean_caption)
                    rec["holdout_loss"] = float(contrastive_loss(hi, y[hold], hc, heads.logit_scale.exp()))
                    rec["holdout_top5"] = retrieval_accuracy(hi, y[hold], hc)
            if not np.isfinite(rec["train_loss"]):
                from dllab.errors import DivergenceError

                raise DivergenceError(f"LiT head training diverged at epoch {epoch} (loss {rec['train_loss']}); "
                                      "lower lit.lr")
            history.append(rec)
            if log is not None:
                log(rec)
            checkpoint.save({"epoch": epoch, "heads": heads.state_dict(), "optimizer": opt.state_dict(),
                             "schedule": sched.state_dict(), "generator": gen.get_state(), "history": history})
            bar.advance(1, loss=rec["train_loss"], **({"top5": rec["holdout_top5"]} if n_hold else {}))
    return heads.eval(), history


def default_heads_path(cfg: LitConfig, n_per_class: int | None, seed: int) -> Path:
    from dllab.data.store import cache_dir

    key = hashlib.sha256(f"{cfg.model_dump_json()}|{n_per_class}|{seed}".encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"lit-{key}.pt"


def load_heads(path: str | Path) -> LitHeads:
    """Heads from a search-encoder run directory or a heads file (loading only; nothing is trained)."""
    p = Path(path)
    p = p / HEADS_FILE if p.is_dir() else p
    if not p.is_file():
        raise DllabError(f"no LiT heads at {p}: run 'dllab run search-encoder --out DIR' and pass DIR")
    return LitHeads.load(p)


def default_heads(cfg: LitConfig, n_per_class: int | None = None, seed: int = 0,
                  progress: bool | None = None) -> LitHeads:
    """The heads trained with ``cfg`` on ``n_per_class`` training images per class: from the model cache, or
    trained and cached there when absent (a minute or two once the tower's features are cached)."""
    p = default_heads_path(cfg, n_per_class, seed)
    if p.is_file():
        return LitHeads.load(p)
    import sys

    from dllab.search.towers import ImageTower, TextTower

    print(f"dllab: training LiT heads once (cached at {p}); 'dllab run search-encoder' shows their curves",
          file=sys.stderr)
    from dllab.search.galleries import training_set

    _, x, y, names = training_set(n_per_class)
    texts, caption_labels = captions(names, cfg.max_names)
    feats = ImageTower.for_lit(cfg).features(x, progress)
    text = TextTower().features(texts, cache=True)
    heads, _ = train_heads(feats, y, text, caption_labels, cfg, seed, progress=progress)
    heads.save(p)
    return heads
