"""``dllab search serve``: the search page over a gallery of images, one engine per (encoder, index kind).

JSON endpoints (all GET unless noted; every input validated, a bad one gets a 4xx with a one-line ``detail``):
``/api/info``, ``/api/search?q=&k=&encoder=&index=``, ``/api/similar/{id}?k=&encoder=&index=`` (more like this),
``POST /api/search-image?k=&encoder=&index=`` (body: the image file's bytes, at most 4 MB, decoded and checked
before use), ``/api/gallery?n=&seed=``. Images are served by id only, ``/img/{id}.png``, from the indexed set;
nothing is ever read from a path in the request.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from dllab.errors import DllabError
from dllab.search.engine import SearchEngine
from dllab.seeding import rng

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 4 << 20          # bytes
MAX_PIXELS = 4096 * 4096      # a decompression bomb is refused before decoding
MAX_QUERY = 300               # characters
MAX_K = 50


def decode_upload(data: bytes, size: int) -> np.ndarray:
    """The uploaded bytes as a (size, size, 3) uint8 image (centre square, resized); a DllabError otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise DllabError("the upload is empty: send the image file's bytes as the request body")
    if len(data) > MAX_UPLOAD:
        raise DllabError(f"the image is {len(data)} bytes; at most {MAX_UPLOAD} are accepted")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise DllabError(f"the image is {im.width}x{im.height}; at most {MAX_PIXELS} pixels are accepted")
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DllabError("the upload is not an image Pillow can decode (PNG, JPEG, WebP, GIF, BMP)") from None
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    rgb = rgb.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(rgb, dtype=np.uint8)


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return buf.getvalue()


class Library:
    """The gallery (images, labels, class names) and its engines, keyed by (encoder name, index kind)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, class_names: list[str], encoders: dict,
                 kinds: tuple[str, ...] = ("exact", "hnsw", "ivfpq"), source: str = ""):
        self.images, self.labels, self.class_names = images, np.asarray(labels), class_names
        self.kinds, self.source = kinds, source
        self.engines: dict[tuple[str, str], SearchEngine] = {}
        for name, enc in encoders.items():
            vectors = enc.embed_images(images)
            for kind in kinds:
                self.engines[name, kind] = SearchEngine.build(enc, images, labels, class_names, kind=kind,
                                                              vectors=vectors)
        self.encoders = list(encoders)

    def engine(self, encoder: str | None, kind: str | None) -> SearchEngine:
        encoder, kind = encoder or self.encoders[0], kind or self.kinds[0]
        if encoder not in self.encoders:
            raise HTTPException(400, f"unknown encoder {encoder!r}; this server has: {', '.join(self.encoders)}")
        if kind not in self.kinds:
            raise HTTPException(400, f"unknown index {kind!r}; this server has: {', '.join(self.kinds)}")
        return self.engines[encoder, kind]


def _hits(hits) -> list[dict]:
    return [{"id": h.id, "label": h.name, "distance": round(h.distance, 4)} for h in hits]


def create_app(library: Library) -> FastAPI:
    app = FastAPI(title="dllab search", docs_url=None, redoc_url=None)
    n = len(library.images)

    @app.exception_handler(DllabError)
    async def _dllab_error(request, exc: DllabError):
        from fastapi.responses import JSONResponse

        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/")
    def page():
        return FileResponse(STATIC / "search.html")

    @app.get("/static/{name}")
    def static(name: str):
        files = {p.name: p for p in STATIC.iterdir() if p.is_file()}  # a fixed list: no path from the request
        if name not in files:
            raise HTTPException(404, "no such file")
        return FileResponse(files[name])

    @app.get("/api/info")
    def info():
        return {"encoders": library.encoders, "indexes": list(library.kinds), "n_images": n, "max_k": MAX_K,
                "n_labels": len(library.class_names), "source": library.source}

    def check_k(k: int) -> int:
        if not 1 <= k <= min(MAX_K, n):
            raise HTTPException(400, f"k must be between 1 and {min(MAX_K, n)}, got {k}")
        return k

    @app.get("/api/search")
    def search(q: str = Query(..., description="the text query"), k: int = 5, encoder: str | None = None,
               index: str | None = None):
        q = q.strip()
        if not q:
            raise HTTPException(400, "the query is empty: type what to look for")
        if len(q) > MAX_QUERY:
            raise HTTPException(400, f"the query has {len(q)} characters; at most {MAX_QUERY}")
        return {"query": q, "results": _hits(library.engine(encoder, index).text(q, check_k(k)))}

    @app.get("/api/similar/{item}")
    def similar(item: int, k: int = 5, encoder: str | None = None, index: str | None = None):
        if not 0 <= item < n:
            raise HTTPException(404, f"no image with id {item}; ids run from 0 to {n - 1}")
        return {"id": item, "label": library.class_names[int(library.labels[item])],
                "results": _hits(library.engine(encoder, index).similar(item, check_k(k)))}

    @app.post("/api/search-image")
    async def search_image(request: Request, k: int = 5, encoder: str | None = None, index: str | None = None):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPLOAD:
            raise HTTPException(413, f"the image is {declared} bytes; at most {MAX_UPLOAD} are accepted")
        body = await request.body()
        if len(body) > MAX_UPLOAD:
            raise HTTPException(413, f"the image is {len(body)} bytes; at most {MAX_UPLOAD} are accepted")
        engine = library.engine(encoder, index)
        image = decode_upload(body, library.images.shape[1])
        return {"results": _hits(engine.image(image, check_k(k)))}

    @app.get("/api/gallery")
    def gallery(n_images: int = Query(24, alias="n"), seed: int = 0):
        if not 1 <= n_images <= 200:
            raise HTTPException(400, f"n must be between 1 and 200, got {n_images}")
        ids = rng(seed, "gallery").choice(n, min(n_images, n), replace=False)
        return {"results": [{"id": int(i), "label": library.class_names[int(library.labels[i])]} for i in ids]}

    @app.get("/img/{item}.png")
    def image(item: int):
        if not 0 <= item < n:
            raise HTTPException(404, f"no image with id {item}")
        return Response(png(library.images[item]), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    return app


def open_library(encoders: dict, *, val_per_class: int | None = None,
                 kinds: tuple[str, ...] = ("exact", "hnsw", "ivfpq")) -> Library:
    """The TinyImageNet validation images under the given encoders (name -> encoder; embeddings cached)."""
    from dllab.search.galleries import validation_set

    ds, images, labels, label_names, _ = validation_set(val_per_class)
    return Library(images, labels, label_names, encoders, kinds, source=f"{ds.describe()}; {ds.notes}")


def serve(library: Library, host: str = "127.0.0.1", port: int = 8766) -> None:
    from dllab.web import serve as serve_app

    serve_app(create_app(library), host, port, "search")
