"""dllab.search.server: answers, input validation, no path from the request; the page in Chromium."""

from __future__ import annotations

import io
import json
import os
import time

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
    (("get", "/api/search", {"q": "  "}), 422, "the query is blank"),
    (("get", "/api/search", {"q": "x" * 301}), 422, "at most 300 characters"),
    (("get", "/api/search", {"q": "cat", "k": 0}), 422, "greater than or equal to 1"),
    (("get", "/api/search", {"q": "cat", "k": 51}), 422, "less than or equal to 50"),
    (("get", "/api/search", {"q": "cat", "k": "five"}), 422, "valid integer"),
    (("get", "/api/search", {}), 422, "Field required"),
    (("get", "/api/search", {"q": "cat", "encoder": "dalle"}), 422, "Input should be 'clip'"),
    (("get", "/api/search", {"q": "cat", "index": "lsh"}), 422, "'exact', 'hnsw' or 'ivfpq'"),
    (("get", "/api/similar/99999", {}), 404, "no image"),
    (("get", "/api/gallery", {"n": 0}), 422, "greater than or equal to 1"),
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
        assert "the query is blank" in page.text_content("#error")
        page.fill("#q", "a red car")
        page.click("button[type=submit]")
        page.wait_for_function("document.querySelector('#error').hidden")
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
        assert not errors, errors
    assert (tmp_path / "search.png").stat().st_size > 20_000


# ------------------------------------------------------------------------------- hostile input and a fresh start
def test_a_decompression_bomb_gets_the_pixel_limit_message(client):
    """A 30000 x 30000 PNG header (900 megapixels; Pillow itself refuses it while reading the header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 30001 * 4)) + chunk(b"IEND", b""))
    r = client.post("/api/search-image", content=bomb)
    assert r.status_code == 400
    assert "900000000 pixels" in r.json()["detail"] and "at most 16777216" in r.json()["detail"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_chunked_50_mb_upload_is_refused_while_it_arrives(small_library):
    """No Content-Length: the limit is counted as the body arrives, and the server (in this process) never holds
    the 50 MB: the process grows by under 10 MB."""
    import socket
    import urllib.parse

    from dllab.search.server import create_app
    from dllab.web import background

    with background(create_app(small_library)) as url:
        host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
        before = _rss_mb()
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"POST /api/search-image HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/octet-stream\r\n\r\n")
        block = b"\x00" * (1 << 20)
        frame = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        sent = 0
        sock.settimeout(2)
        try:
            for _ in range(50):  # 50 MB, if the server kept reading
                sock.sendall(frame)
                sent += 1
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed, or stopped reading: we cannot send more
            pass
        sock.settimeout(10)
        reply = b""
        try:
            while b"\r\n\r\n" not in reply:
                part = sock.recv(65536)
                if not part:
                    break
                reply += part
        finally:
            sock.close()
        grown = _rss_mb() - before
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert grown < 10, f"the server grew by {grown:.1f} MB while refusing the upload"
    assert sent < 50 or b"at most" in reply


class _Gate:
    """An encoder that embeds its first chunk at once, then waits for ``open`` (a build caught mid-way)."""

    def __init__(self, encoder):
        import threading

        self.encoder, self.open, self.calls = encoder, threading.Event(), 0

    def embed_images(self, images, progress=None):
        self.calls += 1
        if self.calls > 1:
            assert self.open.wait(60)
        return self.encoder.embed_images(images, progress)

    def embed_texts(self, texts):
        return self.encoder.embed_texts(texts)


def test_a_fresh_server_answers_over_what_is_built_and_shows_progress(tiny_clip, small_library):
    """Library.start: before the gallery is embedded a query gets 503 with the build's progress; after the first
    chunk it is answered over the embedded images (exact search, 'searched' of 'of'); then every index is built."""
    from fastapi.testclient import TestClient

    from dllab.search.encoders import ClipEncoder
    from dllab.search.server import Library, create_app

    lib = small_library
    gate, loaded = _Gate(ClipEncoder(str(tiny_clip[0]))), __import__("threading").Event()

    def gallery():
        assert loaded.wait(60)
        return lib.images, lib.labels, lib.class_names, "test gallery"

    fresh = Library(chunk=100)
    fresh.start(gallery, {"clip": lambda: gate})
    client = TestClient(create_app(fresh))
    info = client.get("/api/info").json()
    assert info["status"]["state"] == "building" and info["n_images"] is None and info["encoders"] == ["clip"]
    r = client.get("/api/search", params={"q": "a red car"})
    assert r.status_code == 503 and "building the search index" in r.json()["detail"] and "Retry-After" in r.headers
    assert client.get("/").status_code == 200  # the page itself is served from the first moment
    loaded.set()
    deadline = time.time() + 60
    while fresh.indexed("clip") < 100 and time.time() < deadline:
        time.sleep(0.05)
    status = client.get("/api/info").json()["status"]
    assert status["phase"] == "embedding the gallery (clip)" and status["done"] == 100 and status["total"] == 400
    assert "100 of 400" in status["message"]
    r = client.get("/api/search", params={"q": "a red car", "k": 5, "index": "hnsw"}).json()
    assert r["searched"] == 100 and r["of"] == 400 and all(h["id"] < 100 for h in r["results"])
    assert client.get("/api/similar/250").status_code == 503  # not embedded yet
    gate.open.set()
    while fresh.status()["state"] == "building" and time.time() < deadline:
        time.sleep(0.05)
    assert fresh.status()["state"] == "ready"
    r = client.get("/api/search", params={"q": "a red car", "k": 5}).json()
    assert "searched" not in r
    expected = small_library.engine("clip", "exact").text("a red car", 5)  # the same answer as a library built at once
    assert [h["id"] for h in r["results"]] == [h.id for h in expected]


def test_a_failed_build_is_reported_and_the_server_stays_up():
    from fastapi.testclient import TestClient

    from dllab.errors import DataError
    from dllab.search.server import Library, create_app

    def missing():
        raise DataError("tiny-imagenet-200 not found: run 'dllab data verify tiny-imagenet-200'")

    lib = Library()
    lib.start(missing, {"lit": lambda: None}).join(10)
    client = TestClient(create_app(lib))
    r = client.get("/api/search", params={"q": "cat"})
    assert r.status_code == 503 and "failed" in r.json()["detail"] and "tiny-imagenet-200" in r.json()["detail"]
    assert client.get("/api/info").json()["status"]["state"] == "failed"


@pytest.mark.serial
def test_dllab_search_serve_answers_within_30_s_with_an_empty_cache(tmp_path, shared_data):
    """The command as a user types it, on a machine with nothing cached: the page and /api/info (saying what is
    being built) within 30 s."""
    import subprocess
    import sys
    import urllib.request

    from dllab.web import free_port

    port = free_port("127.0.0.1")
    env = {**os.environ, "DLLAB_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "dllab", "search", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page = info = None
        while time.time() - start < 30 and info is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                info = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=5).read())
            except OSError:
                time.sleep(0.2)
        seconds = time.time() - start
        assert info is not None, f"no page within 30 s: {proc.poll()=}"
        assert "search.js" in page and info["status"]["state"] == "building", info
        assert info["status"]["message"].startswith("building the search index")
        print(f"page served {seconds:.1f} s after 'dllab search serve' (empty cache): {info['status']['message']}")
    finally:
        proc.terminate()
        proc.wait(20)


# ---------------------------------------------------------------------- fuzzed from the API's own OpenAPI schema
schemathesis = pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def api_schema(small_library):
    from dllab.search.server import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(small_library))


def test_the_search_api_under_schemathesis(api_schema):
    """Generated requests for every operation (valid and invalid values): no 5xx, every status documented,
    every body as the schema says."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} == {"/api/search", "/api/similar/{item}", "/api/gallery", "/api/info",
                                              "/api/search-image", "/img/{item}.png"}
    for op in operations:
        # an upload's schema says "bytes"; that they must decode as an image it cannot say, so random bytes are
        # refused (400) as they should be, and only there the "valid data is accepted" check is off
        skip = [positive_data_acceptance] if op.path == "/api/search-image" else []

        @given(case=op.as_strategy())
        @settings(max_examples=50, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case, skip):
            case.call_and_validate(excluded_checks=skip)

        check(skip=skip)
