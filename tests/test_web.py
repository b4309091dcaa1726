"""dllab.web: serving a page on loopback, and a taken port as one clear line."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from dllab.errors import DllabError
from dllab.web import background, free_port, serve


def _app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    def root():
        return {"ok": True}

    return app


def test_background_serves_on_a_loopback_port_and_stops():
    with background(_app()) as url:
        assert url.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(url, timeout=10).read() == b'{"ok":true}'
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_serving_on_a_taken_port_is_one_clear_line():
    with socket.socket() as holder:
        port = free_port()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(DllabError, match=rf"cannot serve on 127.0.0.1:{port} .*choose another --port"):
            serve(_app(), "127.0.0.1", port, "test")
