"""Muon: the Newton-Schulz orthogonalisation against the SVD, and the optimiser's step."""

from __future__ import annotations

import pytest
import torch

from dllab.nn.muon import Muon, orthogonalize


@pytest.mark.parametrize("shape,dtype", [((32, 96), torch.bfloat16), ((96, 32), torch.bfloat16),
                                         ((96, 32), torch.float32)])
def test_orthogonalize_matches_u_vt_of_the_svd(shape, dtype):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    u, s, vt = torch.linalg.svd(g, full_matrices=False)
    out = orthogonalize(g, steps=5, dtype=dtype).float()
    assert out.shape == g.shape
    sv = torch.linalg.svdvals(out)
    assert sv.min() > 0.5 and sv.max() < 1.5  # near 1, not exactly (the quintic is tuned for speed)
    polar = u @ vt
    cos = (out * polar).sum() / (out.norm() * polar.norm())
    assert cos > 0.95
    # the same singular vectors: U^T out V is (near) diagonal
    core = u.T @ out @ vt.T
    off = core - torch.diag(torch.diagonal(core))
    assert off.norm() < 0.1 * core.norm()


def test_orthogonalize_rejects_non_matrices():
    with pytest.raises(ValueError, match="matrix"):
        orthogonalize(torch.randn(3, 3, 3))


def test_muon_step_normalises_weight_and_moves_by_lr():
    g = torch.Generator().manual_seed(0)
    w = torch.nn.Parameter(torch.randn(8, 4, 3, 3, generator=g))
    opt = Muon([w], lr=0.1, momentum=0.0, nesterov=False)
    w.grad = torch.randn(w.shape, generator=g)
    expected_dir = orthogonalize(w.grad.reshape(8, -1)).view_as(w)
    before = w.detach() * (8 ** 0.5 / w.detach().norm())
    opt.step()
    torch.testing.assert_close(w.detach(), before - 0.1 * expected_dir)


def test_muon_rejects_vectors_and_bad_numbers():
    with pytest.raises(ValueError, match="fewer than 2"):
        Muon([torch.nn.Parameter(torch.randn(5))])
    with pytest.raises(ValueError, match="momentum"):
        Muon([torch.nn.Parameter(torch.randn(5, 5))], momentum=1.0)
