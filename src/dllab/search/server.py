"""``dllab search serve``: the search page over a gallery of images, one engine per (encoder, index kind).

JSON endpoints (all GET unless noted; every input validated, a bad one gets a 4xx with a one-line ``detail``):
``/api/info`` (with ``status``: what is being built), ``/api/search?q=&k=&encoder=&index=``,
``/api/similar/{id}?k=&encoder=&index=`` (more like this), ``POST /api/search-image?k=&encoder=&index=`` (body:
the image file's bytes, at most 4 MB, counted while it is read, chunked or not; decoded and checked before use),
``/api/gallery?n=&seed=``. Images are served by id only, ``/img/{id}.png``, from the indexed set; nothing is ever
read from a path in the request.

A fresh server answers at once: :meth:`Library.start` loads the gallery, prepares the encoders (the LiT heads are
trained on a machine that has none cached) and embeds the images in chunks in a background thread, while the page
shows what is being built (any progress bar of that work: the tower's features, the heads' epochs, the images
embedded, with time left). Queries are answered over the images embedded so far (exactly) until every index is
built; before the first chunk they get 503 with the progress in ``detail``.

Encoding and search run in a bounded pool of worker threads (one per core), never in the event loop; text queries
that arrive together are embedded in one batch.
"""


import asyncio
import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel

from dllab.environment import cpu_cores
from dllab.errors import DllabError
from dllab.search.engine import SearchEngine
from dllab.seeding import rng

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 4 << 20          # bytes
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # a decompression bomb is refused before decoding
MAX_QUERY = 300               # characters
MAX_K = 50
CHUNK = 1000                  # images embedded at a time; queries search what is embedded so far
MAX_BATCH = 32                # text queries embedded together
NOT_BLANK = r"[^\s\x1c-\x1f]"  # a query needs a character that str.strip() keeps


def decode_upload(data: bytes, size: int) -> np.ndarray:
    """The uploaded bytes as a (size, size, 3) uint8 image (centre square, resized); a DllabError otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise DllabError("the upload is empty: send the image file's bytes as the request body")
    if len(data) > MAX_UPLOAD:
        raise DllabError(f"the image is {len(data)} bytes; at most {MAX_UPLOAD} are accepted")
    too_big = f"at most {MAX_PIXELS} pixels ({MAX_SIDE}x{MAX_SIDE}) are accepted"
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise DllabError(f"the image is {im.width}x{im.height}; {too_big}")
            im.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale when the file allows
            im.load()
            rgb = im.convert("RGB")
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met while reading the header
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise DllabError(f"the image has {pixels.group(1) if pixels else 'too many'} pixels; {too_big}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DllabError("the upload is not an image Pillow can decode (PNG, JPEG, WebP, GIF, BMP)") from None
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    rgb = rgb.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC,
                                                                reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    return buf.getvalue()


class Library:
    """The gallery (images, labels, class names) and its engines, keyed by (encoder name, index kind).

    Given the gallery and encoders it builds everything at once; :meth:`start` builds in a background thread
    instead, and ``status()`` says how far it got."""

    def __init__(self, images: np.ndarray | None = None, labels: np.ndarray | None = None,
                 class_names: list[str] | None = None, encoders: dict | None = None,
                 kinds: tuple[str, ...] = ("exact", "hnsw", "ivfpq"), source: str = "", chunk: int = CHUNK):
        self.kinds, self.chunk = kinds, chunk
        self.images, self.labels, self.class_names, self.source = None, None, [], source
        self.engines: dict[tuple[str, str], SearchEngine] = {}
        self.partial: dict[str, SearchEngine] = {}  # encoder -> exact engine over the images embedded so far
        self.encoders: list[str] = list(encoders or {})
        self._bars: list = []  # the progress bars of the build now running, outermost first
        self._state, self._error, self._started = "ready", None, time.perf_counter()
        if images is not None:
            self.set_gallery(images, labels, class_names, source)
        for name, enc in (encoders or {}).items():
            self.add(name, enc)

    def set_gallery(self, images: np.ndarray, labels: np.ndarray, class_names: list[str], source: str = "") -> None:
        self.images, self.labels, self.class_names = images, np.asarray(labels), class_names
        self.source = source or self.source

    def add(self, name: str, encoder) -> None:
        """Embed the gallery under ``encoder`` chunk by chunk (each chunk cached on its own), answering over the
        embedded part as it grows, then build every index kind."""
        from dllab.progress import progress_bar

        if name not in self.encoders:
            self.encoders.append(name)
        n, parts = len(self.images), []
        with progress_bar(f"embedding the gallery ({name})", n) as bar:
            for a in range(0, n, self.chunk):
                parts.append(encoder.embed_images(self.images[a:a + self.chunk], progress=False))
                done = a + len(parts[-1])
                self.partial[name] = SearchEngine.build(encoder, self.images[:done], self.labels[:done],
                                                        self.class_names, kind="exact", vectors=np.concatenate(parts))
                bar.advance(len(parts[-1]))
        vectors = np.concatenate(parts)
        for kind in self.kinds:
            self.engines[name, kind] = SearchEngine.build(encoder, self.images, self.labels, self.class_names,
                                                          kind=kind, vectors=vectors)
        self.partial.pop(name, None)

    # -- building in the background ----------------------------------------------------------------------------
    def start(self, gallery, encoders: dict) -> threading.Thread:
        """Build in a daemon thread: ``gallery()`` -> (images, labels, class names, source), then each encoder
        ``encoders[name]()`` and its embeddings. Errors end up in ``status()``."""
        from dllab.progress import listening

        self.encoders, self._state, self._started = list(encoders), "building", time.perf_counter()

        def build():
            try:
                with listening(self._progress):
                    self._phase = "loading the gallery"
                    self.set_gallery(*gallery())
                    for name, make in encoders.items():
                        self._phase = f"preparing the {name} encoder"
                        self.add(name, make())
                self._state = "ready"
            except Exception as exc:  # shown on the page and in /api/info; the server keeps serving
                self._state, self._error = "failed", f"{type(exc).__name__}: {exc}"

        self._phase = "starting"
        thread = threading.Thread(target=build, name="search-build", daemon=True)
        thread.start()
        return thread

    def _progress(self, bar, finished: bool) -> None:
        if finished:
            self._bars = [b for b in self._bars if b is not bar]
        elif bar not in self._bars:
            self._bars = [*self._bars, bar]

    def status(self) -> dict:
        """{"state": building | ready | failed, "phase", "done", "total", "eta_s", "indexed", "message"}."""
        out = {"state": self._state, "phase": None, "done": None, "total": None, "eta_s": None,
               "elapsed_s": round(time.perf_counter() - self._started, 1), "error": self._error,
               "n_images": None if self.images is None else len(self.images),
               "indexed": {name: self.indexed(name) for name in self.encoders}}
        if self._state == "building":
            bars = list(self._bars)
            bar = bars[0] if bars else None
            out["phase"] = bar.description if bar is not None else self._phase
            if bar is not None and bar.total:
                elapsed = time.perf_counter() - bar.started
                out["done"], out["total"] = bar.completed, bar.total
                if bar.completed:
                    out["eta_s"] = round(elapsed / bar.completed * (bar.total - bar.completed), 1)
        out["message"] = self._message(out)
        return out

    @staticmethod
    def _message(st: dict) -> str:
        if st["state"] == "ready":
            return "ready"
        if st["state"] == "failed":
            return f"building the search index failed: {st['error']}"
        text = f"building the search index: {st['phase']}"
        if st["total"]:
            text += f", {st['done']:,} of {st['total']:,}"
        if st["eta_s"] is not None:
            text += f" (about {_duration(st['eta_s'])} left)"
        return text

    def indexed(self, name: str) -> int:
        if (name, self.kinds[0]) in self.engines:
            return len(self.images)
        engine = self.partial.get(name)
        return 0 if engine is None else len(engine.images)

    def engine(self, encoder: str | None, kind: str | None) -> SearchEngine:
        """The engine to answer with: the requested index once built; while the gallery is being embedded, the
        exact search over the images embedded so far; else 503 with what is being built."""
        encoder, kind = encoder or (self.encoders[0] if self.encoders else None), kind or self.kinds[0]
        if encoder not in self.encoders:
            raise HTTPException(400, f"unknown encoder {encoder!r}; this server has: {', '.join(self.encoders)}")
        if kind not in self.kinds:
            raise HTTPException(400, f"unknown index {kind!r}; this server has: {', '.join(self.kinds)}")
        engine = self.engines.get((encoder, kind)) or self.partial.get(encoder)
        if engine is None:
            raise self.not_ready()
        return engine

    def gallery_ready(self) -> int:
        if self.images is None:
            raise self.not_ready()
        return len(self.images)

    def not_ready(self, what: str = "") -> HTTPException:
        """503 with what is being built, and when to ask again."""
        return HTTPException(503, f"{what}{self.status()['message']}", headers={"Retry-After": "5"})


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class TextBatcher:
    """Text queries that arrive together are embedded in one batch (per encoder) in the worker pool: under load
    a forward pass serves many queries instead of one."""

    def __init__(self, pool: ThreadPoolExecutor):
        self.pool, self.waiting = pool, {}

    async def embed(self, engine: SearchEngine, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        queue = self.waiting.setdefault(id(engine.encoder), [])
        queue.append((text, future))
        if len(queue) == 1:  # the first waiter drains the queue: itself and whoever joins before the pool runs
            loop.create_task(self._drain(engine, queue))
        return await future

    async def _drain(self, engine: SearchEngine, queue: list) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # let the queries already in flight join
        while queue:
            batch = queue[:MAX_BATCH]
            del queue[:MAX_BATCH]
            try:
                vectors = await loop.run_in_executor(self.pool, engine.encoder.embed_texts, [t for t, _ in batch])
                for (_, future), v in zip(batch, vectors):
                    future.set_result(v)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
        self.waiting.pop(id(engine.encoder), None)


# -- the API's documented answers: what schemathesis checks every response against ------------------------------
class Error(BaseModel):
    detail: str


class HitOut(BaseModel):
    id: int
    label: str
    distance: float


class Results(BaseModel):
    results: list[HitOut]
    query: str | None = None
    id: int | None = None
    label: str | None = None
    searched: int | None = None  # while the gallery is being embedded: the images searched, of all
    of: int | None = None


class GalleryItem(BaseModel):
    id: int
    label: str


class Gallery(BaseModel):
    results: list[GalleryItem]


class Info(BaseModel):
    encoders: list[str]
    indexes: list[str]
    n_images: int | None
    max_k: int
    n_labels: int
    source: str
    status: dict


def _errors(*codes: int) -> dict:
    why = {400: "a bad value", 404: "no such image", 413: "the upload is too large",
           503: "the index is being built (detail: how far; Retry-After)"}
    return {code: {"model": Error, "description": why[code]} for code in codes}


def _hits(hits) -> list[dict]:
    return [{"id": h.id, "label": h.name, "distance": round(h.distance, 4)} for h in hits]


async def read_body(request: Request, limit: int = MAX_UPLOAD) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes: a declared length is checked first,
    and a chunked body is counted while it arrives, so nothing larger is ever held."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the image is {declared} bytes; at most {limit} are accepted")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the image is more than {limit} bytes; at most {limit} are accepted")
        parts.append(chunk)
    return b"".join(parts)


def create_app(library: Library, workers: int | None = None) -> FastAPI:
    """The API and page over ``library``: every parameter's range and choices are in the OpenAPI schema (a value
    outside them gets FastAPI's 422), the rest of the checks give 400/404/413/503 with a one-line detail."""
    from typing import Literal

    app = FastAPI(title="dllab search", docs_url=None, redoc_url=None)
    Encoder = Literal[tuple(library.encoders)] if library.encoders else str  # noqa: N806
    Kind = Literal[tuple(library.kinds)]  # noqa: N806
    k_query = Query(5, ge=1, le=MAX_K, description="results to return")
    pool = ThreadPoolExecutor(max_workers=workers or max(1, cpu_cores()), thread_name_prefix="search")
    batcher = TextBatcher(pool)

    async def work(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    @app.exception_handler(DllabError)
    async def _dllab_error(request, exc: DllabError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):  # FastAPI's 422, with a plainer word for a blank q
        detail = [{"loc": list(e["loc"]), "type": e["type"],
                   "msg": "the query is blank: type what to look for"
                   if e["type"] == "string_pattern_mismatch" and e["loc"][-1] == "q" else e["msg"]}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "search.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        files = {p.name: p for p in STATIC.iterdir() if p.is_file()}  # a fixed list: no path from the request
        if name not in files:
            raise HTTPException(404, "no such file")
        return FileResponse(files[name])

    @app.get("/api/info", response_model=Info)
    def info():
        n = None if library.images is None else len(library.images)
        return {"encoders": library.encoders, "indexes": list(library.kinds), "n_images": n, "max_k": MAX_K,
                "n_labels": len(library.class_names), "source": library.source, "status": library.status()}

    def check_k(k: int, n: int) -> int:
        if not 1 <= k <= min(MAX_K, n):
            raise HTTPException(400, f"k must be between 1 and {min(MAX_K, n)}, got {k}")
        return k

    def answer(engine: SearchEngine, hits, **extra) -> dict:
        total = len(library.images)
        partial = {} if len(engine.images) == total else {"searched": len(engine.images), "of": total}
        return {**extra, "results": _hits(hits), **partial}

    @app.get("/api/search", response_model=Results, response_model_exclude_none=True, responses=_errors(400, 503))
    async def search(q: str = Query(..., description="the text query", min_length=1, max_length=MAX_QUERY,
                                    pattern=NOT_BLANK),
                     k: int = k_query, encoder: Encoder | None = None, index: Kind | None = None):
        q = q.strip()
        engine = library.engine(encoder, index)
        k = check_k(k, len(engine.images))
        vector = await batcher.embed(engine, q)
        return answer(engine, (await work(engine.vector, vector, k))[0], query=q)

    @app.get("/api/similar/{item}", response_model=Results, response_model_exclude_none=True,
             responses=_errors(400, 404, 503))
    async def similar(item: int, k: int = k_query, encoder: Encoder | None = None, index: Kind | None = None):
        n = library.gallery_ready()
        if not 0 <= item < n:
            raise HTTPException(404, f"no image with id {item}; ids run from 0 to {n - 1}")
        engine = library.engine(encoder, index)
        if item >= len(engine.images):
            raise library.not_ready(f"image {item} is not embedded yet; ")
        k = check_k(k, len(engine.images))
        return answer(engine, await work(engine.similar, item, k), id=item,
                      label=library.class_names[int(library.labels[item])])

    image_body = {"schema": {"type": "string", "format": "binary", "minLength": 1, "maxLength": MAX_UPLOAD}}

    @app.post("/api/search-image", response_model=Results, response_model_exclude_none=True,
              responses=_errors(400, 413, 503),
              openapi_extra={"requestBody": {"required": True, "description": "the image file's bytes", "content": {
                  t: image_body for t in ("image/png", "image/jpeg", "image/webp", "application/octet-stream")}}})
    async def search_image(request: Request, k: int = k_query, encoder: Encoder | None = None,
                           index: Kind | None = None):
        body = await read_body(request)
        engine = library.engine(encoder, index)
        k = check_k(k, len(engine.images))
        image = await work(decode_upload, body, library.images.shape[1])
        return answer(engine, await work(engine.image, image, k))

    @app.get("/api/gallery", response_model=Gallery, responses=_errors(400, 503))
    def gallery(n_images: int = Query(24, alias="n", ge=1, le=200), seed: int = Query(0, ge=0, le=2**32 - 1)):
        n = library.gallery_ready()
        ids = rng(seed, "gallery").choice(n, min(n_images, n), replace=False)
        return {"results": [{"id": int(i), "label": library.class_names[int(library.labels[i])]} for i in ids]}

    @app.get("/img/{item}.png", response_class=Response, responses={200: {"content": {"image/png": {}}},
                                                                   **_errors(404, 503)})
    def image(item: int):
        n = library.gallery_ready()
        if not 0 <= item < n:
            raise HTTPException(404, f"no image with id {item}")
        return Response(png(library.images[item]), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    return app


def _validation_gallery(val_per_class: int | None):
    from dllab.search.galleries import validation_set

    ds, images, labels, label_names, _ = validation_set(val_per_class)
    return images, labels, label_names, f"{ds.describe()}; {ds.notes}"


def open_library(encoders: dict, *, val_per_class: int | None = None,
                 kinds: tuple[str, ...] = ("exact", "hnsw", "ivfpq")) -> Library:
    """The TinyImageNet validation images under the given encoders (name -> encoder; embeddings cached), built
    before this returns."""
    images, labels, names, source = _validation_gallery(val_per_class)
    return Library(images, labels, names, encoders, kinds, source=source)


def start_library(encoders: dict, *, val_per_class: int | None = None,
                  kinds: tuple[str, ...] = ("exact", "hnsw", "ivfpq")) -> Library:
    """The same library built in the background (``encoders``: name -> a function that makes the encoder): it
    can be served at once, and says what it is building."""
    library = Library(kinds=kinds)
    library.start(lambda: _validation_gallery(val_per_class), encoders)
    return library


def serve(library: Library, host: str = "127.0.0.1", port: int = 8766) -> None:
    from dllab.web import serve as serve_app

    serve_app(create_app(library), host, port, "search")
