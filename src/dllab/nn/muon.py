"""Muon ("MomentUm Orthogonalized by Newton-schulz", Keller Jordan 2024): SGD-momentum whose update for each
weight matrix is replaced by an approximately orthogonal matrix with the same singular vectors, computed by a few
steps of a quintic Newton-Schulz iteration. Written for dllab from the published description and coefficients
(a, b, c) = (3.4445, -4.7750, 2.0315), as airbench94_muon uses it for convolution filters: a 4-d filter is
treated as the matrix (out channels) x (in channels * kernel), its weight is rescaled to norm sqrt(out channels)
before every step, and the iteration runs in bfloat16 (``dtype``; on a CPU without bf16 units, where bf16 products
are emulated and a step takes seconds, pass float32: :func:`dllab.nn.fast.train_fast` runs it in the precision its
training steps run in)."""

from __future__ import annotations

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 3, eps: float = 1e-7,
                  dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """An approximation of U V^T for the SVD g = U S V^T of a 2-d tensor (singular values land in about
    [0.5, 1.5] rather than exactly 1, which trains as well; more ``steps`` tighten it)."""
    if g.ndim != 2:
        raise ValueError(f"orthogonalize expects a matrix, got shape {tuple(g.shape)}")
    a, b, c = NS_COEFFICIENTS
    x = g.to(dtype)
    x = x / (x.norm() + eps)  # top singular value <= 1
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon for parameters with 2 or more dimensions (use another optimiser for biases, norms and heads)."""

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 3, normalize_weights: bool = True, dtype: torch.dtype = torch.bfloat16):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"Muon: need lr > 0 and 0 <= momentum < 1, got lr={lr}, momentum={momentum}")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                                      normalize_weights=normalize_weights, dtype=dtype))
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim < 2:
                    raise ValueError(f"Muon: parameter of shape {tuple(p.shape)} has fewer than 2 dimensions")

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            m = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.mul_(m).add_(p.grad)
                g = p.grad.add(buf, alpha=m) if group["nesterov"] else buf
                if group["normalize_weights"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                update = orthogonalize(g.reshape(len(g), -1), group["ns_steps"], dtype=group["dtype"]).view_as(p)
                p.add_(update, alpha=-group["lr"])
        return loss
