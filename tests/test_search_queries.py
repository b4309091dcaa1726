"""dllab.search.queries: the mean-embedding and MLP-mapped queries."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.errors import DllabError
from dllab.search.index import SearchIndex


def test_mean_query_and_mlp_query():
    from dllab.search.config import QueryMLPConfig
    from dllab.search.queries import fit_query_mlp, mean_query

    g = np.random.default_rng(0)
    images = g.standard_normal((40, 6)).astype(np.float32)
    pos = np.arange(40) < 10
    unit = images / np.linalg.norm(images, axis=1, keepdims=True)
    expected = unit[pos].mean(0) / np.linalg.norm(unit[pos].mean(0))
    np.testing.assert_allclose(mean_query(images, pos), expected, rtol=1e-5)
    text = g.standard_normal(6).astype(np.float32)
    blended = mean_query(images, pos, text, blend=0.5)
    t = text / np.linalg.norm(text)
    np.testing.assert_allclose(blended, (expected + t) / np.linalg.norm(expected + t), rtol=1e-5)
    # planted: label images around a direction u, others around -u; a text query orthogonal to u
    u = np.eye(6, dtype=np.float32)[0]
    imgs = np.concatenate([u + 0.3 * g.standard_normal((20, 6)), -u + 0.3 * g.standard_normal((80, 6))])
    q, losses = fit_query_mlp(np.eye(6, dtype=np.float32)[1], imgs.astype(np.float32), np.arange(100) < 20,
                              QueryMLPConfig(steps=100))
    assert losses[-1] < losses[0] * 0.5 and q @ u > 0.8
    _, ids = SearchIndex.build(imgs).search(q, 5)
    assert (ids < 20).all()
    with pytest.raises(DllabError, match="no training images"):
        mean_query(images, np.zeros(40, bool))
