"""The image sets the search experiments and the page use: TinyImageNet's training images (for training heads,
classifiers and queries) and its validation images (what is indexed and measured). Never the other way round."""

from __future__ import annotations

import numpy as np


def _first_per_class(y: np.ndarray, n_classes: int, per_class: int | None) -> np.ndarray:
    if not per_class:
        return np.arange(len(y))
    return np.concatenate([np.where(y == c)[0][:per_class] for c in range(n_classes)])


def training_set(per_class: int | None = None):
    """(dataset, images, labels, WordNet names per class): the first ``per_class`` training images of each class,
    or all of them."""
    from dllab import data
    from dllab.data.tinyimagenet import wordnet_names

    ds = data.load("tiny-imagenet-200")
    y = np.asarray(ds.y_train)
    keep = _first_per_class(y, len(ds.classes), per_class)
    return ds, np.asarray(ds.x_train[keep]), y[keep], wordnet_names(ds.classes)


def validation_set(per_class: int | None = None):
    """(dataset, images, labels, label names, WordNet names per class) of the validation images (the first
    ``per_class`` of each class, or all 10,000); a label's name is its first WordNet name."""
    from dllab import data
    from dllab.data.tinyimagenet import wordnet_names

    ds = data.load("tiny-imagenet-200")
    y = np.asarray(ds.y_test)
    keep = _first_per_class(y, len(ds.classes), per_class)
    names = wordnet_names(ds.classes)
    return ds, np.asarray(ds.x_test[keep]), y[keep], [n[0] for n in names], names
