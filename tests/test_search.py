"""dllab.search: encoders (a tiny CLIP built here, the real LiT towers), Faiss against brute force, per-label
accuracy, the frozen classifier, better queries, and the search server's input validation."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from dllab.errors import DllabError
from dllab.search.engine import SearchEngine, label_queries, per_label_accuracy
from dllab.search.index import SearchIndex, brute_force, recall_at_k
from dllab.seeding import torch_stream


# ------------------------------------------------------------------------------------------ a tiny CLIP
def _byte_chars() -> list[str]:
    """GPT-2 / CLIP byte-level BPE alphabet: printable bytes map to themselves, the rest to 256 + i."""
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A CLIP model with random weights and a byte-level vocabulary written here, saved with save_pretrained: the
    same files (config.json, model.safetensors, vocab.json, merges.txt) as the real openai/clip-vit-base-patch32."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": 256 + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    cfg = CLIPConfig(text_config=dict(vocab_size=514, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=77, bos_token_id=512,
                                      eos_token_id=513, pad_token_id=513),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8),
                     projection_dim=16)
    with torch_stream(0, "tiny-clip"):
        model = CLIPModel(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model


def test_tiny_clip_end_to_end(tiny_clip, tmp_path):
    """Load from a directory, embed images and texts, index, search: the embeddings are the model's own
    projected features (checked against calling the model directly), unit length, and cached."""
    from dllab.search.encoders import ClipEncoder

    folder, model = tiny_clip
    enc = ClipEncoder(str(folder))
    assert enc.dim == 16 and enc.name.startswith("clip:")
    images = np.random.default_rng(0).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    emb = enc.embed_images(images, progress=False)
    assert emb.shape == (12, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    with torch.no_grad():
        pixels = enc.preprocess(torch.from_numpy(images).permute(0, 3, 1, 2))
        assert pixels.shape == (12, 3, 32, 32)
        ref = model.eval().get_image_features(pixel_values=pixels)
        ref = ref if isinstance(ref, torch.Tensor) else ref.pooler_output
    ref = ref.numpy() / np.linalg.norm(ref.numpy(), axis=1, keepdims=True)
    np.testing.assert_allclose(emb, ref, atol=1e-5)
    np.testing.assert_array_equal(enc.embed_images(images, progress=False), emb)  # from the cache
    t = enc.embed_texts(["a red car", "a dog"])
    assert t.shape == (2, 16) and not np.allclose(t[0], t[1])
    engine = SearchEngine.build(enc, images, np.arange(12) % 3, ["a", "b", "c"], progress=False)
    hits = engine.similar(4, k=3)
    assert hits[0].id == 4 and hits[0].distance == pytest.approx(0, abs=1e-5)  # an image finds itself first
    assert len(engine.text("a red car", k=5)) == 5


def test_clip_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    from dllab.search.encoders import ClipEncoder, EncoderUnavailable

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="HF_HOME") as e:
        ClipEncoder("openai/clip-vit-base-patch32")
    assert "local directory" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(EncoderUnavailable):
        ClipEncoder(str(tmp_path))  # an empty directory is no model


# ------------------------------------------------------------------------------------------ the LiT towers
@pytest.fixture(scope="module")
def tiny_subset(shared_data):
    from dllab.search.galleries import training_set, validation_set

    ds, x, y, names = training_set(16)
    classes = np.arange(0, 200, 10)  # 20 classes
    keep = np.isin(y, classes)
    _, xv, yv, label_names, _ = validation_set(8)
    keep_v = np.isin(yv, classes)
    return x[keep], y[keep], xv[keep_v], yv[keep_v], label_names, names


def _ncm(train_f, train_y, test_f, test_y) -> float:
    from dllab.search.encoders import normalize_rows

    mu = train_f.mean(0)
    a, b = normalize_rows(train_f - mu), normalize_rows(test_f - mu)
    classes = np.unique(train_y)
    means = normalize_rows(np.stack([a[train_y == c].mean(0) for c in classes]))
    return float((classes[(b @ means.T).argmax(1)] == test_y).mean())


def test_lite0_weights_load_right(tiny_subset):
    """Pretrained features separate 20 TinyImageNet classes far better than the same network's random weights,
    and the ImageNet head names the matching ImageNet class."""
    from dllab.search.efficientnet import EfficientNetLite0, load_pretrained, normalize
    from dllab.search.encoders import ImageTower

    x, y, xv, yv, label_names, _ = tiny_subset
    tower = ImageTower(64, flip=False, precision="fp32")
    pretrained = _ncm(tower.features(x, False), y, tower.features(xv, False), yv)
    with torch_stream(0, "random-lite0"):
        tower.model = EfficientNetLite0().eval()
    random = _ncm(tower.model.features(tower.prepare(torch.from_numpy(x).permute(0, 3, 1, 2))).detach().numpy(),
                  y, tower.model.features(tower.prepare(torch.from_numpy(xv).permute(0, 3, 1, 2))).detach().numpy(),
                  yv)
    # 20 classes (chance 0.05), 16 training images each, native 64 px: measured 0.58 vs 0.17 with random weights
    assert pretrained > 0.45 and pretrained > random + 0.3, (pretrained, random)
    # ImageNet-1k indices (the standard sorted-wnid order) of TinyImageNet classes
    imagenet = {"goldfish": 1, "Egyptian cat": 285, "school bus": 779, "lemon": 951, "banana": 954, "pizza": 963,
                "king penguin": 145, "koala": 105, "ladybug": 301, "monarch": 323}
    from dllab.search.galleries import validation_set

    _, xv_all, yv_all, names, _ = validation_set(10)
    model = load_pretrained()
    hits = 0
    for name, index in imagenet.items():
        imgs = torch.from_numpy(xv_all[yv_all == names.index(name)]).permute(0, 3, 1, 2)
        with torch.no_grad():
            pred = model(torch.nn.functional.interpolate(normalize(imgs), size=128, mode="bilinear"))
        hits += int((pred.topk(5, 1).indices == index).any(1).float().mean() >= 0.5)
    assert hits >= 8, hits


def test_image_tower_precisions_and_auto_choice(tiny_subset, monkeypatch):
    """bf16 features agree with fp32 ones to rounding and are cached under their own key; ``auto`` reuses a cached
    entry of either precision without timing, else times both and takes the faster; a bad precision is an error."""
    from dllab.search.encoders import ImageTower, normalize_rows

    x = tiny_subset[0][:24]
    f32 = ImageTower(64, flip=False, precision="fp32").features(x, False)
    f16 = ImageTower(64, flip=False, precision="bf16").features(x, False)
    cos = (normalize_rows(f32) * normalize_rows(f16)).sum(1)
    assert cos.min() > 0.97 and not np.array_equal(f32, f16), cos.min()
    auto = ImageTower(64, flip=False, precision="auto")
    np.testing.assert_array_equal(auto.features(x, False), f16)  # bf16 is looked up first, found: no timing
    assert auto.bf16 and auto.timing == {}
    fresh = x[:8]
    for slower, expect in (("bf16", False), ("fp32", True)):
        tower = ImageTower(64, flip=False, precision="auto")
        monkeypatch.setattr("dllab.nn.throughput.precision_times",
                            lambda call, steps, s=slower: (call(False), call(True),
                                                           {"fp32": 2.0 if s == "fp32" else 1.0,
                                                            "bf16": 2.0 if s == "bf16" else 1.0})[2])
        tower.features(fresh[:4 + expect], False)  # a new image set each time: nothing cached
        assert tower.bf16 is expect and tower.timing[slower] == 2.0
    with pytest.raises(DllabError, match="precision"):
        ImageTower(64, flip=False, precision="fp16")


def test_lite0_padding_is_tensorflow_same():
    """On stride 2 an even input gets its extra padding at the end (right/bottom), as TensorFlow's SAME."""
    from dllab.search.efficientnet import SameConv2d

    conv = SameConv2d(1, 1, 3, 2, bias=False)
    conv.weight.data.fill_(1.0)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # top-left pixel
    out = conv(x)
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0, 0] == 1.0  # the first window starts at row 0 (no padding before)


def test_text_tower_mean_pooling():
    """all-MiniLM-L6-v2 with mean pooling: unit vectors, paraphrases closer than unrelated sentences."""
    from dllab.search.encoders import TextTower

    f = TextTower().features(["a photo of a cat", "a picture of a cat", "a school bus on the road"])
    assert f.shape == (3, 384) and np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5)
    assert f[0] @ f[1] > f[0] @ f[2] + 0.2


# ------------------------------------------------------------------------------------------ index and metrics
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
def test_frozen_classifier_no_gradient_reaches_the_encoder():
    from dllab.search.classifier import FrozenEmbeddingClassifier, balanced_weights

    encoder = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.BatchNorm1d(8))
    before = [p.detach().clone() for p in encoder.parameters()]
    stats = encoder[1].running_mean.clone()
    clf = FrozenEmbeddingClassifier(encoder, 8, 3, hidden=16).train()
    x, y = torch.randn(32, 10, requires_grad=True), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(clf.parameters(), lr=0.5)
    loss = torch.nn.functional.cross_entropy(clf(x), y)
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in encoder.parameters())
    assert x.grad is None  # nothing flows back through the encoder to its input either
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in clf.mlp.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    assert torch.equal(encoder[1].running_mean, stats)  # batch-norm statistics stay frozen too
    w = balanced_weights(np.array([0] * 90 + [1] * 10), 2)
    np.testing.assert_allclose(w.numpy(), [100 / 180, 100 / 20])


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


# ------------------------------------------------------------------------------------------ the server
@pytest.fixture(scope="module")
def small_library(tiny_clip, shared_data):
    from dllab.search.encoders import ClipEncoder
    from dllab.search.server import open_library

    return open_library({"clip": ClipEncoder(str(tiny_clip[0]))}, val_per_class=2)


@pytest.fixture(scope="module")
def client(small_library):
    from fastapi.testclient import TestClient

    from dllab.search.server import create_app

    return TestClient(create_app(small_library))


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_server_answers(client, small_library):
    info = client.get("/api/info").json()
    assert info["n_images"] == 400 and info["encoders"] == ["clip"] and "exact" in info["indexes"]
    r = client.get("/api/search", params={"q": "a red car", "k": 7, "index": "hnsw"}).json()
    assert len(r["results"]) == 7 and {"id", "label", "distance"} <= set(r["results"][0])
    r = client.get("/api/similar/12", params={"k": 3}).json()
    assert r["results"][0]["id"] == 12  # more like this: the image itself comes first
    r = client.post("/api/search-image?k=4", content=_png(), headers={"content-type": "image/png"})
    assert r.status_code == 200 and len(r.json()["results"]) == 4
    g = client.get("/api/gallery", params={"n": 10, "seed": 3}).json()["results"]
    assert len({x["id"] for x in g}) == 10
    img = client.get("/img/5.png")
    assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(img.content))), small_library.images[5])
    assert client.get("/").status_code == 200 and "search.js" in client.get("/").text


@pytest.mark.parametrize("url", ["/img/../../etc/passwd", "/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd.png",
                                 "/img//etc/passwd.png", "/img/-1.png", "/img/400.png", "/img/abc.png",
                                 "/static/..%2fserver.py", "/static/../server.py", "/static/%2Fetc%2Fpasswd"])
def test_server_never_serves_a_path_from_the_request(client, url):
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code)
    assert b"root:" not in r.content and b"def create_app" not in r.content


@pytest.mark.parametrize("request_args, status, message", [
    (("get", "/api/search", {"q": "  "}), 400, "empty"),
    (("get", "/api/search", {"q": "x" * 301}), 400, "at most 300"),
    (("get", "/api/search", {"q": "cat", "k": 0}), 400, "k must be"),
    (("get", "/api/search", {"q": "cat", "k": 51}), 400, "k must be"),
    (("get", "/api/search", {"q": "cat", "k": "five"}), 422, ""),
    (("get", "/api/search", {}), 422, ""),
    (("get", "/api/search", {"q": "cat", "encoder": "dalle"}), 400, "unknown encoder"),
    (("get", "/api/search", {"q": "cat", "index": "lsh"}), 400, "unknown index"),
    (("get", "/api/similar/99999", {}), 404, "no image"),
    (("get", "/api/gallery", {"n": 0}), 400, "between 1 and 200"),
])
def test_server_rejects_malformed_requests(client, request_args, status, message):
    method, url, params = request_args
    r = client.request(method.upper(), url, params=params)
    assert r.status_code == status
    assert message in str(r.json()["detail"])


def test_server_validates_uploads(client):
    post = lambda body: client.post("/api/search-image", content=body)  # noqa: E731
    assert post(b"").status_code == 400 and "empty" in post(b"").json()["detail"]
    r = post(b"GIF89a-not-really-an-image")
    assert r.status_code == 400 and "not an image" in r.json()["detail"]
    r = post(b"\x00" * (4 << 20 + 1))
    assert r.status_code == 413
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buf, format="PNG")  # small file, too many pixels
    r = post(buf.getvalue())
    assert r.status_code == 400 and "pixels" in r.json()["detail"]
    assert post(_png((300, 100))).status_code == 200  # any size is cropped to the centre square and resized


# ------------------------------------------------------------------------------------------ the page in Chromium
from dllab import browser  # noqa: E402


@pytest.mark.skipif(browser.missing_reason() is not None, reason=f"browser tests skipped: {browser.missing_reason()}")
def test_search_page_in_chromium(shared_data, tmp_path):
    """The real lit encoder (smoke-sized heads) over 4 validation images per label: query, results with labels and
    distances, more like this, an upload, an error shown on the page; a screenshot."""
    from dllab.experiments._search import SMOKE_LIT
    from dllab.search.config import LitConfig
    from dllab.search.encoders import load_encoder
    from dllab.search.server import create_app, open_library
    from dllab.web import background

    enc = load_encoder("lit", lit_config=LitConfig(**SMOKE_LIT["lit"]), lit_per_class=SMOKE_LIT["lit_per_class"])
    library = open_library({"lit": enc}, val_per_class=4)
    with background(create_app(library)) as url, browser.browser() as b:
        page = b.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "?q=school%20bus&k=8")
        page.wait_for_selector("#results .card")
        assert page.locator("#results .card").count() == 8
        labels = page.locator("#results .card .label").all_text_contents()
        assert "school bus" in labels, labels  # smoke-sized heads: the 4 school buses among 800 images rank high
        assert page.locator("#results .card .dist").first.text_content().startswith("distance")
        assert page.locator("#gallery .card").count() == 24
        assert page.evaluate("document.querySelector('#results img').naturalWidth") == 64  # the image loaded
        page.locator("#results .card button").first.click()
        page.wait_for_function("document.querySelector('#results-title').textContent.startsWith('More like')")
        page.fill("#q", "a cup of coffee")
        page.select_option("#index", "hnsw")
        page.click("button[type=submit]")
        page.wait_for_function("document.querySelector('#results-title').textContent.includes('coffee')")
        png_path = tmp_path / "query.png"
        png_path.write_bytes(_png((64, 64), (250, 220, 40)))
        page.set_input_files("#upload", str(png_path))
        page.wait_for_function("document.querySelector('#results-title').textContent.includes('query.png')")
        page.fill("#q", "   ")
        page.click("button[type=submit]")
        page.wait_for_selector("#error:not([hidden])")
        assert "empty" in page.text_content("#error")
        page.fill("#q", "a red car")
        page.click("button[type=submit]")
        page.wait_for_function("document.querySelector('#error').hidden")
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
        assert not errors, errors
    assert (tmp_path / "search.png").stat().st_size > 20_000
