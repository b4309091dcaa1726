"""Text-to-image search: encoders, a Faiss index, the engine, its evaluation and the search page.

- :mod:`~dllab.search.encoders` -- ``clip`` (OpenAI CLIP through transformers; needs its weights) and ``lit``
  (locked EfficientNet-Lite0 and all-MiniLM-L6-v2 towers with trained heads; works offline), one interface.
- :mod:`~dllab.search.lit` -- the LiT heads, their captions and contrastive training.
- :mod:`~dllab.search.index` -- Faiss indexes (exact, HNSW, IVF-PQ) with ids and labels, save/load.
- :mod:`~dllab.search.engine` -- encoder + gallery + index; per-label top-k accuracy.
- :mod:`~dllab.search.classifier`, :mod:`~dllab.search.queries` -- a classifier on frozen embeddings; better
  queries from a label's training images.
- :mod:`~dllab.search.server` -- ``dllab search serve``.
"""
