"""``dllab playground --export DIR``: the playground as a static site, trained in the browser.

The site is the served page (``static/``) with the JavaScript engine (``engine.js``, a port of
:mod:`dllab.playground.engine`) in a Web Worker instead of a WebSocket to Python, and the presets inlined: five
files, no server, no CDN, no build step. Host the folder anywhere (GitHub Pages, a course's web space) or open
``index.html`` from disk. What the static page lacks next to the served one: the studies' configurations run in
Python, and its data sets are drawn with its own random generator (same distributions, other points per seed).
"""

from __future__ import annotations

import json
from pathlib import Path

from dllab import __version__
from dllab.errors import DllabError
from dllab.fileio import atomic_write
from dllab.playground.presets import PRESETS
from dllab.playground.server import STATIC

FILES = ("index.html", "style.css", "playground.js", "engine.js", "presets.js")


def export_site(out: str | Path) -> list[Path]:
    """Write the static playground into folder ``out`` (created; our five files replaced, nothing else
    touched); returns the paths written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DllabError(f"--export {out}: that is a file; give a folder for the site")
    out.mkdir(parents=True, exist_ok=True)
    html = (STATIC / "index.html").read_text()
    for served, local in (('href="/static/style.css"', 'href="style.css"'),
                          ('<script src="/static/playground.js"></script>',
                           '<script src="presets.js"></script>\n<script src="engine.js"></script>\n'
                           '<script src="playground.js"></script>'),
                          ("<h1>dllab playground</h1>",
                           f'<h1>dllab playground <small class="mode">trains in your browser &middot; dllab '
                           f'{__version__}</small></h1>')):
        if served not in html:
            raise DllabError(f"the page template changed: {served!r} not found in index.html (a dllab bug)")
        html = html.replace(served, local)
    texts = {"index.html": html, "presets.js": f"window.DLLAB_PRESETS = {json.dumps(PRESETS, indent=1)};\n"}
    for name in ("style.css", "playground.js", "engine.js"):
        texts[name] = (STATIC / name).read_text()
    written = []
    for name in FILES:
        atomic_write(out / name, texts[name])
        written.append(out / name)
    return written
