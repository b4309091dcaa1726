"""dllab.search.server: answers, input validation, no path from the request; the page in Chromium."""

from __future__ import annotations

import io

import numpy as np
import pytest


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
