"""Better queries for labels that search finds badly, from the label's training images.

- :func:`fit_query_mlp` -- a small residual MLP, trained with SGD, that maps the label's text embedding towards
  the embeddings of its training images: the loss is a softmax over the training images' cosine similarities to
  the mapped query, each of the label's images a positive (so the query also moves away from other labels).
- :func:`mean_query` -- training-free: the mean of the label's unit training-image embeddings, optionally
  blended with the text embedding.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dllab.errors import DllabError
from dllab.search.config import QueryMLPConfig
from dllab.seeding import torch_stream


class QueryMLP(nn.Module):
    """q -> q + W2 relu(W1 q); W2 starts at zero, so the untrained map is the identity."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.inner[2].weight)
        nn.init.zeros_(self.inner[2].bias)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return q + self.inner(q)


def multi_positive_loss(query: torch.Tensor, images: torch.Tensor, positive: torch.Tensor,
                        temperature: float) -> torch.Tensor:
    """Mean over the positives of -log softmax(cos / T) over all images (the supervised-contrastive form: every
    positive must rank high on its own). Against -log(sum over positives / sum over all), which a few close
    positives can satisfy, it measured 0.75 vs 0.74 top-5 accuracy on the 20 worst labels of a held-out split of
    the training images (heads trained on the other 150 per class): the same within noise."""
    s = F.normalize(query, dim=-1) @ F.normalize(images, dim=-1).T / temperature
    return -(s[..., positive] - torch.logsumexp(s, -1, keepdim=True)).mean()


def fit_query_mlp(text: np.ndarray, images: np.ndarray, positive: np.ndarray, cfg: QueryMLPConfig, *,
                  seed: int = 0, name: str = "query") -> tuple[np.ndarray, list[float]]:
    """Train a :class:`QueryMLP` on one label as ``cfg`` says; returns (the mapped query, unit length; the loss
    per step)."""
    pos = torch.from_numpy(np.asarray(positive, bool))
    if not pos.any():
        raise DllabError(f"{name}: no training images of this label to learn from")
    t = torch.from_numpy(np.asarray(text, np.float32)).reshape(1, -1)
    e = torch.from_numpy(np.asarray(images, np.float32))
    with torch_stream(seed, "query-mlp", name):
        mlp = QueryMLP(t.shape[1], cfg.hidden)
    opt = torch.optim.SGD(mlp.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    losses = []
    for _ in range(cfg.steps):
        loss = multi_positive_loss(mlp(t), e, pos, cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        return F.normalize(mlp(t), dim=-1)[0].numpy(), losses


def mean_query(images: np.ndarray, positive: np.ndarray, text: np.ndarray | None = None,
               blend: float = 0.0) -> np.ndarray:
    """normalise((1 - blend) * mean of the label's unit image embeddings + blend * unit text embedding)."""
    e = np.asarray(images, np.float32)[np.asarray(positive, bool)]
    if len(e) == 0:
        raise DllabError("no training images of this label to average")
    m = (e / np.linalg.norm(e, axis=1, keepdims=True)).mean(0)
    m /= np.linalg.norm(m)
    if blend:
        if text is None:
            raise DllabError("blend > 0 needs the text embedding")
        t = np.asarray(text, np.float32) / np.linalg.norm(text)
        m = (1 - blend) * m + blend * t
    return (m / np.linalg.norm(m)).astype(np.float32)
