"""dllab.search.engine: per-label accuracy on planted embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from dllab.search.engine import label_queries, per_label_accuracy
from dllab.search.index import SearchIndex


def test_per_label_accuracy_on_planted_embeddings():
    """Label c's images lie at e_c; each query is planted to find exactly a known number of its own images."""
    n_labels, per, k = 6, 8, 5
    labels = np.repeat(np.arange(n_labels), per)
    images = np.eye(n_labels, dtype=np.float32)[labels] + 0.01 * np.arange(len(labels))[:, None] % 1
    good = np.arange(n_labels) < 3
    # queries 0-2 point at their own label; 3-5 at label (c + 1)
    target = np.where(good, np.arange(n_labels), (np.arange(n_labels) + 1) % n_labels)
    queries = np.eye(n_labels, dtype=np.float32)[target]
    index = SearchIndex.build(images, kind="exact", labels=labels)
    _, ids = index.search(queries, k)
    acc = per_label_accuracy(labels[ids], np.arange(n_labels))
    np.testing.assert_array_equal(acc, np.where(good, 1.0, 0.0))
    assert per_label_accuracy(np.array([[1, 1, 2, 1, 0]]), np.array([1]))[0] == pytest.approx(0.6)
    assert label_queries([["cat", "puss"], ["bus"]], "a photo of a {}.") == ["a photo of a cat.", "a photo of a bus."]


# ------------------------------------------------------------------------------------------ classifier, queries
