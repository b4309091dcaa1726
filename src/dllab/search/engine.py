"""The search engine: an encoder, a gallery of images with labels, and a Faiss index over their embeddings.

>>> engine = SearchEngine.build(encoder, images, labels, class_names)     # embeds (cached) and indexes
>>> engine.text("a red car", k=5)                                       # [Hit(id, label, name, distance), ...]
>>> engine.similar(hit.id); engine.image(uint8_hwc_array)                 # image-to-image search

:func:`per_label_accuracy` is the homework's measure: for each label, the fraction of the top-k results of the
label's query whose label matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dllab.errors import DllabError
from dllab.search.index import SearchIndex


@dataclass
class Hit:
    id: int
    label: int
    name: str
    distance: float


def per_label_accuracy(retrieved_labels: np.ndarray, query_labels: np.ndarray) -> np.ndarray:
    """(# of the top-k results whose label equals the query's label) / k, one value per query."""
    r = np.asarray(retrieved_labels)
    return (r == np.asarray(query_labels)[:, None]).mean(axis=1)


def label_queries(names: list[list[str]], template: str = "{}") -> list[str]:
    """One query per label: the first WordNet name through ``template`` (``"{}"``: the bare name)."""
    return [template.format(n[0]) for n in names]


class SearchEngine:
    def __init__(self, encoder, index: SearchIndex, images: np.ndarray, labels: np.ndarray,
                 class_names: list[str], vectors: np.ndarray):
        self.encoder, self.index, self.images = encoder, index, images
        self.labels, self.class_names, self.vectors = np.asarray(labels), class_names, vectors

    @classmethod
    def build(cls, encoder, images: np.ndarray, labels: np.ndarray, class_names: list[str], *,
              kind: str = "exact", normalize: bool = True, progress: bool | None = None,
              vectors: np.ndarray | None = None) -> SearchEngine:
        if len(images) != len(labels):
            raise DllabError(f"{len(images)} images but {len(labels)} labels")
        vectors = encoder.embed_images(images, progress) if vectors is None else vectors
        index = SearchIndex.build(vectors, kind=kind, normalize=normalize, labels=labels)
        return cls(encoder, index, images, labels, class_names, vectors)

    def _hits(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        dist, ids = self.index.search(queries, k)
        return [[Hit(int(i), int(self.labels[i]), self.class_names[int(self.labels[i])], float(d))
                 for d, i in zip(drow, irow) if i >= 0] for drow, irow in zip(dist, ids)]

    def text(self, query: str | list[str], k: int = 5) -> list[Hit] | list[list[Hit]]:
        many = isinstance(query, list)
        hits = self._hits(self.encoder.embed_texts(query if many else [query]), k)
        return hits if many else hits[0]

    def vector(self, vectors: np.ndarray, k: int = 5) -> list[list[Hit]]:
        return self._hits(np.atleast_2d(vectors), k)

    def similar(self, item: int, k: int = 5) -> list[Hit]:
        if not 0 <= item < len(self.images):
            raise DllabError(f"no image with id {item}; ids run from 0 to {len(self.images) - 1}")
        return self._hits(self.vectors[item][None], k)[0]

    def image(self, image: np.ndarray, k: int = 5) -> list[Hit]:
        return self._hits(self.encoder.embed_images(np.asarray(image)[None], progress=False), k)[0]

    def evaluate(self, queries: list[str] | np.ndarray, query_labels: np.ndarray, k: int = 5):
        """Per-label top-k accuracy of text queries (or query vectors) and the retrieved ids."""
        q = self.encoder.embed_texts(list(queries)) if isinstance(queries, list) else np.asarray(queries)
        _, ids = self.index.search(q, k)
        return per_label_accuracy(self.labels[ids], query_labels), ids
