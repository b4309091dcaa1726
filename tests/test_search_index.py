"""dllab.search.index: Faiss exact and approximate indexes against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.errors import DllabError
from dllab.search.index import SearchIndex, brute_force, recall_at_k


def _clusters(n: int, d: int = 32, seed: int = 0, sub: int = 8):
    """20 Gaussian clusters in a fixed random ``sub``-dimensional subspace plus a little noise in all ``d``:
    embeddings have such low intrinsic dimension; isotropic noise in all d makes every neighbour equidistant."""
    basis = np.linalg.qr(np.random.default_rng(99).standard_normal((d, sub)))[0]
    centres = np.random.default_rng(98).standard_normal((20, sub))
    g = np.random.default_rng(seed)
    labels = g.integers(20, size=n)
    z = centres[labels] + 0.3 * g.standard_normal((n, sub))
    return (z @ basis.T + 0.01 * g.standard_normal((n, d))).astype(np.float32), labels


@pytest.mark.parametrize("normalize", [True, False])
def test_exact_index_matches_numpy_brute_force(normalize):
    x, _ = _clusters(3000)
    q, _ = _clusters(50, seed=1)
    index = SearchIndex.build(x, kind="exact", normalize=normalize)
    dist, ids = index.search(q, 7)
    xr, qr = (x, q) if not normalize else (x / np.linalg.norm(x, axis=1, keepdims=True),
                                           q / np.linalg.norm(q, axis=1, keepdims=True))
    d_ref, i_ref = brute_force(xr, qr, 7)
    np.testing.assert_allclose(dist, d_ref, rtol=1e-4, atol=1e-4)
    assert recall_at_k(ids, i_ref) == 1.0


def test_unit_index_ranks_by_cosine():
    x, _ = _clusters(500)
    q, _ = _clusters(5, seed=2)
    _, ids = SearchIndex.build(x, kind="exact").search(q, 10)
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T
    np.testing.assert_array_equal(ids, np.argsort(-cos, axis=1)[:, :10])


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_indexes_recall(kind, tmp_path):
    x, labels = _clusters(20_000, d=64)
    q, _ = _clusters(100, d=64, seed=3)
    _, truth = SearchIndex.build(x, kind="exact").search(q, 5)
    index = SearchIndex.build(x, kind=kind, labels=labels, ids=np.arange(len(x)) + 1000)
    _, ids = index.search(q, 5)
    assert recall_at_k(ids - 1000, truth) >= 0.95
    index.save(tmp_path / "ix")
    back = SearchIndex.load(tmp_path / "ix")
    _, ids2 = back.search(q, 5)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(back.labels_of(ids2), labels[ids2 - 1000])
    assert back.kind == kind


def test_index_kind_by_size_and_errors(tmp_path):
    from dllab.search.index import choose_kind

    assert (choose_kind(10_000), choose_kind(100_000), choose_kind(50_000_000)) == ("exact", "hnsw", "ivfpq")
    x, _ = _clusters(100)
    with pytest.raises(DllabError, match="unknown index kind"):
        SearchIndex.build(x, kind="lsh")
    with pytest.raises(DllabError, match="NaN"):
        SearchIndex.build(np.full((3, 4), np.nan))
    index = SearchIndex.build(x)
    with pytest.raises(DllabError, match="dimension"):
        index.search(np.zeros((1, 5)), 3)
    with pytest.raises(DllabError, match="k must be"):
        index.search(x[:1], 0)
    with pytest.raises(DllabError, match="no readable index"):
        SearchIndex.load(tmp_path)
