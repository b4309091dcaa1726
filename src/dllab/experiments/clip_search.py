"""Text-to-image search over the 10,000 TinyImageNet validation images: per-label top-5 accuracy, the best and
worst labels, a random gallery, and example queries (adjectives, misleading queries, failures)."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._search import SMOKE_LIT, SearchConfig

DESCRIPTION = "text-to-image search (encoder + Faiss) on TinyImageNet: per-label top-5 accuracy, example queries"
HOMEWORK = [(courses.CS229BR, "Q2.3")]
HEADLINE = {"mean top-5 accuracy": "mean_accuracy"}
ESTIMATE_S = {"smoke": 20, "cpu": 360, "full": 360}
NEEDS = {"lit_model": "search-encoder"}

QUERIES = ["a car", "a red car", "a yellow car", "a police car", "a cat", "a black cat", "a dog", "a small dog",
           "a bird in the sky", "a fish in the water", "a bridge", "a bridge at night", "an apple", "a red apple",
           "a hot dog", "a bus", "a school bus", "a computer", "a cup of coffee", "a sunny beach",
           # misleading or off-vocabulary queries: where an encoder trained on label captions should struggle
           "a car made of candy", "a picture with no animals", "the Eiffel Tower", "something to sit on"]


class Config(SearchConfig):
    template: str = Field("{}", description="query of a label: its first WordNet name through this template")
    variant_template: str = Field("a photo of a {}.", description="a second template, reported as a variant")
    queries: list[str] = Field(QUERIES, description="example queries shown with their results")
    gallery: int = Field(24, ge=0, le=200, description="random training + validation images shown with labels")


PRESETS = {"smoke": {**SMOKE_LIT, "queries": ["a car", "a red car"], "gallery": 8}, "cpu": {}, "full": {}}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "mean_accuracy": ("mean top-k accuracy over the labels",
                      "mean over the 200 labels of (# of the top-k results with the query's label) / k"),
    "per_label": ("top-k accuracy per label",
                  "label name -> top-k accuracy (query: the label's first WordNet name)"),
    "variant_mean_accuracy": ("mean top-k accuracy, variant template",
                              "the same with variant_template"),
    "unnormalised_mean_accuracy": ("mean top-k accuracy, raw embeddings",
                                   "the same on raw (not unit-length) embeddings"),
    "best_labels": ("the 5 best labels", ""),
    "worst_labels": ("the 10 worst labels", ""),
    "chance": ("chance level",
               "k / gallery size per label (50 / 10,000 = 0.005)"),
    "encoder": ("encoder",
                "encoder name"),
    "n_indexed": ("validation images indexed",
                  "validation images in the index"),
    "queries": ("example queries and result labels",
                "example query -> result labels"),
    "dataset_partial": ("partial dataset copy",
                        "partial copy"),
}


def run(cfg: Config, rec) -> dict:
    import numpy as np

    from dllab import plotting
    from dllab.experiments._search import encoder_note, open_encoder, validation_set
    from dllab.search.engine import SearchEngine, label_queries, per_label_accuracy
    from dllab.search.index import SearchIndex
    from dllab.seeding import rng

    ds, x, y, label_names, names = validation_set(cfg)
    encoder = open_encoder(cfg, rec)
    engine = SearchEngine.build(encoder, x, y, label_names, kind="exact", progress=rec.show_progress)
    labels = np.arange(len(label_names))
    acc, ids = engine.evaluate(label_queries(names, cfg.template), labels, cfg.k)
    variant, _ = engine.evaluate(label_queries(names, cfg.variant_template), labels, cfg.k)
    raw = SearchIndex.build(encoder.embed_images(x, unit=False), kind="exact", normalize=False)
    _, raw_ids = raw.search(encoder.embed_texts(label_queries(names, cfg.template), unit=False), cfg.k)
    unnormalised = per_label_accuracy(y[raw_ids], labels)
    examples = {q: engine.text(q, cfg.k) for q in cfg.queries}
    engine.index.save(rec.dir / "index")
    order = np.argsort(acc, kind="stable")
    per_class = np.bincount(y, minlength=len(label_names))

    # -- report
    rec.text("Data", f"{ds.describe()}; {ds.notes}. Indexed: {len(x)} validation images "
                     f"({per_class.min()} per label). {encoder_note(cfg)} Index: Faiss IndexFlatL2 (exact) on "
                     "unit-length embeddings, so the L2 ranking is the cosine ranking.")
    fig, ax = plotting.subplots(width=6, height=3.6)
    ax.hist(acc, bins=np.arange(cfg.k + 2) / cfg.k - 0.5 / cfg.k, rwidth=0.85)
    ax.set(title=f"Per-label top-{cfg.k} accuracy over {len(acc)} labels (mean {acc.mean():.3f})",
           xlabel=f"(# of top {cfg.k} with the query's label) / {cfg.k}", ylabel="labels")
    rec.figure(fig, "per_label_accuracy", f"Query of a label: {cfg.template!r} with its first WordNet name.")

    def rows(label_ids, hit_ids):
        return [(f"{label_names[c]} ({a:.1f})", x[h], [label_names[y[i]] for i in h], y[h] == c)
                for c, a, h in ((c, acc[c], hit_ids[c]) for c in label_ids)]

    rec.figure(plotting.result_rows(rows(order[::-1][:5], ids), title="Best labels: top results"), "best_labels",
               "Green frame: the result's label matches the query's; red: it does not.")
    rec.figure(plotting.result_rows(rows(order[:5], ids), title="Worst labels: top results"), "worst_labels",
               "The labels whose query finds the fewest matching images, with what it finds instead.")
    query_rows = [(q, x[[h.id for h in hits]], [f"{h.name} {h.distance:.2f}" for h in hits], None)
                  for q, hits in examples.items()]
    for i in range(0, len(query_rows), 8):
        rec.figure(plotting.result_rows(query_rows[i:i + 8], title="Example queries (label, squared L2 distance)"),
                   f"queries_{i // 8 + 1}", "Adjectives, near-duplicates of labels and misleading queries.")
    if cfg.gallery:
        g = rng(cfg.seed, "clip-search", "gallery")
        half = cfg.gallery // 2
        tr = g.choice(len(ds.x_train), half, replace=False)
        va = g.choice(len(x), cfg.gallery - half, replace=False)
        imgs = np.concatenate([np.asarray(ds.x_train[np.sort(tr)]), x[np.sort(va)]])
        caps = ([f"train: {label_names[ds.y_train[i]]}" for i in np.sort(tr)]
                + [f"val: {label_names[y[i]]}" for i in np.sort(va)])
        n_cols = 8
        grid = [(f"images {r * n_cols + 1}-{min(len(imgs), (r + 1) * n_cols)}", imgs[r * n_cols:(r + 1) * n_cols],
                 caps[r * n_cols:(r + 1) * n_cols], None) for r in range(-(-len(imgs) // n_cols))]
        rec.figure(plotting.result_rows(grid, title="Random gallery (seeded)"), "gallery",
                   "Random training and validation images with their labels.")
    rec.table("Accuracy by query form", [
        {"query": f"{cfg.template!r}, unit embeddings", "mean top-k accuracy": float(acc.mean())},
        {"query": f"{cfg.variant_template!r}, unit embeddings", "mean top-k accuracy": float(variant.mean())},
        {"query": f"{cfg.template!r}, raw embeddings", "mean top-k accuracy": float(unnormalised.mean())}],
        f"Chance: {per_class.min() / len(x):.4f} per result.")
    rec.table("Worst 10 labels", [{"label": label_names[c], "accuracy": float(acc[c]),
                                   "results": ", ".join(label_names[y[i]] for i in ids[c])} for c in order[:10]])
    adj = [(a, b) for a, b in (("a car", "a red car"), ("a cat", "a black cat"), ("an apple", "a red apple"))
           if a in examples and b in examples]
    adj_text = "; ".join(f"'{a}' -> {', '.join(h.name for h in examples[a])} vs '{b}' -> "
                         f"{', '.join(h.name for h in examples[b])}" for a, b in adj)
    rec.text("Reading", (
        f"Mean per-label top-{cfg.k} accuracy {acc.mean():.3f} (chance {per_class.min() / len(x):.4f}); "
        f"{int((acc == 1).sum())} labels are perfect and {int((acc == 0).sum())} find no matching image. With "
        f"the template {cfg.variant_template!r}: {variant.mean():.3f}; on raw embeddings {unnormalised.mean():.3f} "
        "(the unit-length default ranks by cosine; raw L2 also rewards short vectors). "
        f"Worst labels: {', '.join(label_names[c] for c in order[:5])}: their results are visually or "
        f"semantically close labels (see the table). Adjectives: {adj_text or 'none queried'}."
        + (" The lit encoder learned only the label captions, so adjectives and off-vocabulary queries move its "
           "results less than CLIP's would." if cfg.encoder == "lit" else "")))
    return {
        "mean_accuracy": float(acc.mean()), "per_label": dict(zip(label_names, map(float, acc))),
        "variant_mean_accuracy": float(variant.mean()), "unnormalised_mean_accuracy": float(unnormalised.mean()),
        "best_labels": [label_names[c] for c in order[::-1][:5]],
        "worst_labels": [label_names[c] for c in order[:10]], "chance": float(per_class.min() / len(x)),
        "encoder": encoder.name, "n_indexed": len(x),
        "queries": {q: [h.name for h in hits] for q, hits in examples.items()},
        "dataset_partial": ds.partial,
    }
