"""Better queries for the labels search finds worst: a per-label MLP on the text embedding (trained with SGD on
the label's training images) and the training-free mean of the label's training-image embeddings."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._search import SMOKE_LIT, SearchConfig
from dllab.search.config import QueryMLPConfig

DESCRIPTION = "improve the 10 worst labels' queries: per-label MLP (SGD) vs mean training-image embedding"
HOMEWORK = [(courses.CS229BR, "Q2.4.2")]
HEADLINE = {"worst-10 accuracy before": "before_mean", "accuracy after MLP": "mlp_mean",
            "accuracy after mean embedding": "mean_embedding_mean"}
ESTIMATE_S = {"smoke": 20, "cpu": 150, "full": 150}
NEEDS = {"lit_model": "search-encoder"}


class Config(SearchConfig):
    n_worst: int = Field(10, ge=1, le=200, description="labels improved: the lowest-accuracy ones")
    template: str = Field("{}", description="query of a label (as in clip-search)")
    mlp: QueryMLPConfig = Field(QueryMLPConfig(), description="each label's query MLP and its SGD training")
    blend: float = Field(0.5, ge=0, le=1, description="weight of the text embedding in the blended mean query")


PRESETS = {"smoke": {**SMOKE_LIT, "n_worst": 3, "mlp": {"steps": 20}}, "cpu": {}, "full": {}}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "labels": ("worst labels, worst first",
               "the n_worst labels, worst first"),
    "before": ("top-k accuracy per label, text query",
               "label -> top-k accuracy of the text query"),
    "mlp": ("top-k accuracy per label, MLP-mapped query",
            "label -> accuracy with the MLP-mapped query"),
    "mean_embedding": ("top-k accuracy per label, mean embedding",
                       "label -> accuracy with the mean training-image embedding"),
    "blend": ("top-k accuracy per label, blend",
              "label -> accuracy with the blend of mean and text"),
    "before_mean": ("mean top-k accuracy, text query",
                    "mean over the labels, before"),
    "mlp_mean": ("mean top-k accuracy, MLP route",
                 "mean, MLP route"),
    "mean_embedding_mean": ("mean top-k accuracy, mean embedding",
                            "mean, training-free route"),
    "blend_mean": ("mean top-k accuracy, blend",
                   "mean, blended route"),
    "all_labels_before": ("mean top-k accuracy over all labels, text query",
                          "mean accuracy over all labels before"),
    "dataset_partial": ("partial dataset copy",
                        "partial copy"),
}


def run(cfg: Config, rec) -> dict:
    import numpy as np

    from dllab import plotting
    from dllab.experiments._search import encoder_note, open_encoder, validation_set
    from dllab.search.engine import SearchEngine, label_queries, per_label_accuracy
    from dllab.search.galleries import training_set
    from dllab.search.queries import fit_query_mlp, mean_query

    ds, x_va, y_va, label_names, names = validation_set(cfg)
    _, x_tr, y_tr, _ = training_set(cfg.lit_per_class)
    encoder = open_encoder(cfg, rec)
    engine = SearchEngine.build(encoder, x_va, y_va, label_names, kind="exact", progress=rec.show_progress)
    all_labels = np.arange(len(label_names))
    texts = label_queries(names, cfg.template)
    before_all, _ = engine.evaluate(texts, all_labels, cfg.k)
    worst = np.argsort(before_all, kind="stable")[:cfg.n_worst]
    train_emb = encoder.embed_images(x_tr, rec.show_progress)
    text_emb = encoder.embed_texts([texts[c] for c in worst])

    def fit_one(i: int, c: int) -> dict:
        q, losses = fit_query_mlp(text_emb[i], train_emb, y_tr == c, cfg.mlp, seed=cfg.seed, name=label_names[c])
        return {"query": q.tolist(), "losses": losses}

    fitted = {label_names[c]: rec.stage(f"mlp_{c}", lambda i=i, c=c: fit_one(i, c)) for i, c in enumerate(worst)}
    routes = {
        "before": text_emb,
        "mlp": np.array([fitted[label_names[c]]["query"] for c in worst], np.float32),
        "mean_embedding": np.stack([mean_query(train_emb, y_tr == c) for c in worst]),
        "blend": np.stack([mean_query(train_emb, y_tr == c, text_emb[i], cfg.blend) for i, c in enumerate(worst)]),
    }
    acc, ids = {}, {}
    for route, q in routes.items():
        _, ids[route] = engine.index.search(q, cfg.k)
        acc[route] = per_label_accuracy(y_va[ids[route]], worst)

    # -- report
    rec.text("Data", f"{ds.describe()}; {ds.notes}. Index: {len(x_va)} validation images; the new queries learn "
                     f"from the {len(x_tr)} training images only. {encoder_note(cfg)}")
    rec.table("Per-label accuracy before and after", [
        {"label": label_names[c], "before": float(acc["before"][i]), "MLP (SGD)": float(acc["mlp"][i]),
         "mean embedding": float(acc["mean_embedding"][i]), f"blend {cfg.blend}": float(acc["blend"][i])}
        for i, c in enumerate(worst)], f"Top-{cfg.k} accuracy on the validation index; the query of a label is "
                                        f"{cfg.template!r} with its first WordNet name.")
    fig, ax = plotting.subplots(width=6.5, height=3.8)
    for j, (name, f) in enumerate(fitted.items()):
        ax.plot(f["losses"], color=f"C{j % 10}", lw=1, label=name if j < 10 else None)
    ax.set(title="Query MLP training loss per label", xlabel="SGD step", ylabel="mean -log softmax of positives")
    ax.legend(fontsize=6, ncol=2)
    rec.figure(fig, "mlp_loss", "Each label's MLP, trained on that label's training images against all others.")
    show = worst[:min(5, len(worst))]
    rows = []
    for j, c in enumerate(show):
        for route, title in (("before", "before"), ("mlp", "MLP"), ("mean_embedding", "mean")):
            h = ids[route][j]
            rows.append((f"{label_names[c]}: {title} ({acc[route][j]:.1f})", x_va[h],
                         [label_names[y_va[i]] for i in h], y_va[h] == c))
    rec.figure(plotting.result_rows(rows, title="Results before and after"), "before_after",
               "Green frame: the result has the label; red: it does not.")
    means = {r: float(a.mean()) for r, a in acc.items()}
    rec.text("Reading", (
        f"The {len(worst)} worst labels start at a mean top-{cfg.k} accuracy of {means['before']:.3f} "
        f"(all labels: {before_all.mean():.3f}). The per-label MLP lifts them to {means['mlp']:.3f}; the "
        f"training-free mean of the label's training-image embeddings reaches {means['mean_embedding']:.3f}, and "
        f"its blend with the text ({cfg.blend}) {means['blend']:.3f}. The MLP route also pushes its query away "
        "from other labels' images (its loss has them as negatives); the mean only pulls towards the label's own "
        "images. Both use training images of the label, so they answer exactly these queries, not new ones."))
    return {"labels": [label_names[c] for c in worst],
            **{r: dict(zip([label_names[c] for c in worst], map(float, a))) for r, a in acc.items()},
            "before_mean": means["before"], "mlp_mean": means["mlp"], "mean_embedding_mean": means["mean_embedding"],
            "blend_mean": means["blend"], "all_labels_before": float(before_all.mean()), "dataset_partial": ds.partial}
