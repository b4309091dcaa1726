"""Serving a page: one place for binding checks and uvicorn settings (pages bind 127.0.0.1 by default)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from dllab.errors import DllabError


def serve(app, host: str, port: int, title: str, **uvicorn_options) -> None:
    """Run ``app`` with uvicorn on host:port; a taken port is one clear line instead of uvicorn's exit."""
    import uvicorn

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DllabError(f"cannot serve on {host}:{port} ({exc.strerror}); choose another --port") from None
    print(f"dllab {title} on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", **uvicorn_options)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def background(app, host: str = "127.0.0.1", timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` from a thread on a free loopback port (tests, benchmarks); yields the base URL."""
    import threading
    import time

    import uvicorn

    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise DllabError(f"the page server did not start within {timeout:.0f} s")
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
