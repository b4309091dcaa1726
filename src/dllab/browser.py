"""Headless Chromium through Playwright: PDFs of reports, screenshots, and the browser tests' launcher.

Playwright cannot download its own browsers on machines without a network, so dllab drives the system's
Chromium (Debian: ``apt-get install chromium``) with ``executable_path``. ``DLLAB_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dllab.errors import DllabError

# Without the background-networking flags Chromium keeps trying to reach Google's hosts on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """The Chromium binary to use: ``$DLLAB_CHROMIUM``, else chromium / chromium-browser / google-chrome on PATH."""
    if os.environ.get("DLLAB_CHROMIUM"):
        return os.environ["DLLAB_CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def missing_reason() -> str | None:
    """Why a browser cannot be driven here (None when it can)."""
    if find_chromium() is None:
        return "Chromium not found: apt-get install chromium (or set DLLAB_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright not installed: pip install playwright"
    return None


@contextmanager
def browser() -> Iterator:
    """A launched headless Chromium (Playwright ``Browser``), closed on exit."""
    reason = missing_reason()
    if reason:
        raise DllabError(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def print_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print a (self-contained) HTML file to PDF, A4, backgrounds on."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    with browser() as b:
        page = b.new_page()
        page.goto(html_path.as_uri(), wait_until="load")
        tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
        page.pdf(path=str(tmp), format="A4", print_background=True,
                 margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"})
        os.replace(tmp, pdf_path)
    return pdf_path


def screenshot(url: str, path: str | Path, *, width: int = 1280, height: int = 900, full_page: bool = False) -> Path:
    """A PNG of the page at ``url``."""
    with browser() as b:
        page = b.new_page(viewport={"width": width, "height": height})
        page.goto(url, wait_until="load")
        page.screenshot(path=str(path), full_page=full_page)
    return Path(path)
