"""A classifier on frozen embeddings: a small MLP over an encoder whose weights never change.

The encoder part runs under ``torch.no_grad`` and its output is detached, so no gradient can reach it; its
parameters are also marked ``requires_grad=False`` (a test checks both)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FrozenEmbeddingClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, dim: int, n_classes: int, hidden: int = 256):
        super().__init__()
        self.encoder = encoder.requires_grad_(False)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.encoder.eval()
        with torch.no_grad():
            return F.normalize(self.encoder(x), dim=-1).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embed(x))

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: batch-norm statistics and dropout of the encoder never switch to training
        return self


def balanced_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Cross-entropy class weights n / (n_classes * count): every class weighs the same in total."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    return torch.tensor(len(labels) / (n_classes * np.maximum(counts, 1)), dtype=torch.float32)
