"""The download path against a local HTTP server on 127.0.0.1 (no internet): progress, checksum, resume."""

import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from dllab import data
from dllab.data import idx
from dllab.data.store import download, sha256_file
from dllab.errors import DataError


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    break_after: dict  # file name -> bytes to send before dropping the connection (once)

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        blob = path.read_bytes()
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(blob) - start))
        self.end_headers()
        cut = self.break_after.pop(path.name, None)
        body = blob[start:] if cut is None else blob[start:start + cut]
        self.wfile.write(body)
        if cut is not None:
            self.close_connection = True


@pytest.fixture
def server(shared_data):
    handler = type("H", (_Handler,), {"root": shared_data / "mnist", "break_after": {}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    httpd.shutdown()


def test_download_verifies_checksum(server, tmp_path, shared_data):
    url, _ = server
    good = sha256_file(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    out = download(url + "t10k-labels-idx1-ubyte.gz", tmp_path / "a.gz", sha256=good, progress=True)
    assert sha256_file(out) == good
    with pytest.raises(DataError, match="failed its checksum"):
        download(url + "t10k-labels-idx1-ubyte.gz", tmp_path / "b.gz", sha256="0" * 64, progress=False)
    assert not (tmp_path / "b.gz").exists() and not (tmp_path / "b.gz.part").exists()


def test_broken_transfer_resumes(server, tmp_path, shared_data):
    url, handler = server
    name = "t10k-images-idx3-ubyte.gz"
    handler.break_after[name] = 100_000
    good = sha256_file(shared_data / "mnist" / name)
    with pytest.raises(DataError, match="resume"):
        download(url + name, tmp_path / name, sha256=good, progress=False)
    assert (tmp_path / f"{name}.part").stat().st_size == 100_000
    download(url + name, tmp_path / name, sha256=good, progress=False)  # continues with a Range request
    assert sha256_file(tmp_path / name) == good and not (tmp_path / f"{name}.part").exists()


def test_unreachable_host_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        download("http://127.0.0.1:9/nothing.gz", tmp_path / "x.gz", progress=False, timeout=2)


def test_dataset_downloads_into_cache_when_missing(server, isolated_env, monkeypatch, shared_data):
    url, _ = server
    monkeypatch.setattr(idx.MNIST, "url", url)
    monkeypatch.delenv("DLLAB_OFFLINE")
    ds = data.load("mnist")
    assert "downloaded" in ds.source and ds.counts == {"train": 60000, "test": 10000}
    assert np.array_equal(ds.y_test, data.load("mnist", data_dir=shared_data).y_test)


def test_failed_download_says_how_to_fix(isolated_env, monkeypatch):
    monkeypatch.setattr(idx.MNIST, "url", "http://127.0.0.1:9/")
    monkeypatch.delenv("DLLAB_OFFLINE")
    with pytest.raises(DataError, match="download failed.*Set DLLAB_DATA"):
        data.load("mnist")
