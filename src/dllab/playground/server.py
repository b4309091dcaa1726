"""``dllab playground``: the page, a thin view on :class:`~dllab.playground.engine.Playground` over a WebSocket.

The page sends JSON messages (``config``, ``csv``, ``play``, ``pause``, ``step``, ``reset``, ``regenerate``,
``ack``); the server answers with ``state`` (the data points and the config as validated), ``update`` (epoch,
losses, heatmaps, weights, linear regions) and ``error`` (one line, and the config key at fault when there is
one). Training runs on the server, one epoch per update; a new update goes out once the page has acknowledged
the previous one, so a slow page is never flooded. A bad message of any kind gets an ``error`` reply and the
socket stays open.

Classroom load: every session's training, heatmaps and region counts run in worker threads (at most one per
core at a time), never in the event loop, so one session's heavy step stalls neither the others nor HTTP; an
update while playing counts regions cheaply (exactly within a small work budget, else on a 200 x 200 grid), a
pause or step with more care (a larger budget, else a 400 x 400 grid). ``max_sessions`` caps the open pages
(one more is told the playground is full); an idle session waits on an event and costs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from dllab.environment import cpu_cores
from dllab.errors import DllabError
from dllab.fileio import to_jsonable
from dllab.playground.datasets import parse_csv
from dllab.playground.engine import FEATURES, Playground, PlaygroundConfig
from dllab.playground.presets import PRESETS
from dllab.playground.regions import count_regions

STATIC = Path(__file__).parent / "static"
DENSITY, NEURON_DENSITY = 100, 20
MAX_MESSAGE = 2_000_000  # bytes: a CSV of 20,000 points fits


def _b64(values: np.ndarray, lo: float, hi: float) -> str:
    """Values quantised to 0..255 over [lo, hi], base64 (the page maps them back to colours)."""
    q = np.clip((np.asarray(values, float) - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode()


class Session:
    """One page's playground: its config, data, network and the play loop's state."""

    def __init__(self):
        self.cfg = PlaygroundConfig()
        self.points: tuple | None = None
        self.pg = Playground(self.cfg)
        self.playing = False
        self.awaiting_ack = False

    def configure(self, values: dict) -> None:
        cfg = PlaygroundConfig.model_validate({**self.cfg.model_dump(), **values})
        if cfg.dataset == "csv" and self.points is None:
            raise DllabError("dataset csv: load a CSV file first")
        self.cfg = cfg
        self.pg = Playground(cfg, self.points if cfg.dataset == "csv" else None)

    def state(self) -> dict:
        pg = self.pg
        return {"type": "state", "config": self.cfg.model_dump(), "problem": pg.problem, "classes": pg.classes,
                "features": list(FEATURES), "train": _points(*pg.train), "test": _points(*pg.test)}

    def after(self, change) -> dict:
        """``change()`` (a step, a reset), then the precise update it calls for (with the record a step
        returns)."""
        return self.update(precise=True, rec=change())

    def update(self, precise: bool, rec: dict | None = None) -> dict:
        """The page's update; ``rec``: the current epoch's record when the caller has it (a step returns it)."""
        pg = self.pg
        rec = rec or pg.record()
        maps = pg.heatmaps(DENSITY, NEURON_DENSITY)
        if pg.classes > 1:
            output = {"class": base64.b64encode(maps["output"]["class"].tobytes()).decode(),
                      "confidence": _b64(maps["output"]["confidence"], 0, 1)}
        else:  # binary outputs lie in [-1, 1]; regression targets too (plane: (x1 + x2) / 10, bumps: +-1)
            output = {"value": _b64(maps["output"]["value"], -1.0, 1.0)}
        regions = count_regions(pg.net.W, pg.net.b, pg.features, pg.cfg.activations(),
                                grid=400 if precise else 200, work=None if precise else 5_000)
        return {"type": "update", **rec, "done": pg.done, "output": output,
                "neurons": [_b64(n / (np.abs(n).max() or 1), -1, 1) for n in maps["neurons"]],
                "inputs": [_b64(n / (np.abs(n).max() or 1), -1, 1) for n in maps["inputs"]],
                "weights": [np.round(w, 4).tolist() for w in pg.net.W],
                "biases": [np.round(b, 4).tolist() for b in pg.net.b],
                "alive": [a.astype(int).tolist() for a in pg.net.alive],
                "regions": regions, "density": DENSITY, "neuron_density": NEURON_DENSITY}


def _points(x: np.ndarray, y: np.ndarray) -> list:
    return np.c_[np.round(x, 4), np.round(np.asarray(y, float), 4)].tolist()


def _error(exc: Exception) -> dict:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or None
        return {"type": "error", "key": key, "message": f"{key}: {err['msg']}" if key else err["msg"]}
    return {"type": "error", "key": None, "message": str(exc)}


async def handle(session: Session, msg: dict, send, work) -> None:
    """Apply one message from the page and send what it changes; ``work(fn)`` runs ``fn`` in a worker thread."""
    kind = msg.get("type")
    if kind == "config":
        if not isinstance(msg.get("config"), dict):
            raise DllabError("a config message needs a 'config' object")
        session.playing = False
        await work(lambda: session.configure(msg["config"]))
        await send(session.state())
        await send(await work(lambda: session.update(precise=True)))
    elif kind == "csv":
        x, y, problem, classes = await work(lambda: parse_csv(str(msg.get("text", ""))))
        session.points = (x, y, problem, classes)
        session.playing = False
        await work(lambda: session.configure({"dataset": "csv"}))
        await send(session.state())
        await send(await work(lambda: session.update(precise=True)))
    elif kind == "play":  # an update the page never acknowledged (it paused meanwhile) is not waited for
        session.playing = not session.pg.done
        session.awaiting_ack = False
    elif kind == "pause":
        session.playing = False
        await send(await work(lambda: session.update(precise=True)))
    elif kind == "step":
        session.playing = False
        await send(await work(lambda: session.after(session.pg.step)))
    elif kind == "reset":
        session.playing = False
        await send(await work(lambda: session.after(session.pg.reset)))
    elif kind == "regenerate":
        session.playing = False
        await work(lambda: session.configure({"seed": session.cfg.seed + 1}))
        await send(session.state())
        await send(await work(lambda: session.update(precise=True)))
    elif kind == "ack":
        session.awaiting_ack = False
    else:
        raise DllabError(f"unknown message type {str(kind)[:40]!r}")


def _parse(text: str) -> dict:
    if len(text) > MAX_MESSAGE:
        raise DllabError(f"message too large ({len(text)} bytes; at most {MAX_MESSAGE})")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DllabError(f"the message is not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise DllabError("the message is nested too deeply to be a playground message") from None
    if not isinstance(msg, dict):
        raise DllabError("a message must be a JSON object")
    return msg


def create_app(max_sessions: int = 50) -> FastAPI:
    app = FastAPI(title="dllab playground")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pool = ThreadPoolExecutor(max_workers=max(1, cpu_cores()), thread_name_prefix="playground")
    open_sessions = {"n": 0}
    log = logging.getLogger("dllab.playground")

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/api/presets")
    def presets():
        return JSONResponse(PRESETS)

    @app.websocket("/ws")
    async def ws(socket: WebSocket):
        await socket.accept()
        if open_sessions["n"] >= max_sessions:
            await socket.send_text(json.dumps({"type": "error", "key": None, "message": (
                f"the playground is full ({max_sessions} open pages); try again in a while, or ask whoever runs "
                "it to start it with a larger --max-sessions")}))
            await socket.close(code=1013)
            return
        open_sessions["n"] += 1
        loop = asyncio.get_running_loop()
        session = Session()
        lock = asyncio.Lock()  # one computation of this session at a time (play loop and messages)
        wake = asyncio.Event()  # the play loop sleeps on it: set by play and ack messages

        async def work(fn):
            async with lock:
                return await loop.run_in_executor(pool, fn)

        async def send(obj: dict) -> None:
            await socket.send_text(json.dumps(to_jsonable(obj), allow_nan=False))

        async def receive() -> None:
            while True:
                text = await socket.receive_text()
                try:
                    await handle(session, _parse(text), send, work)
                except (DllabError, ValidationError, ValueError, TypeError, RecursionError) as exc:
                    await send(_error(exc))
                except WebSocketDisconnect:
                    raise
                except Exception as exc:  # a bug: logged with its traceback; the page gets one line
                    log.exception("playground message failed")
                    await send({"type": "error", "key": None,
                                "message": f"the server could not handle that message ({type(exc).__name__})"})
                wake.set()

        def advance() -> dict:
            rec = session.pg.step()
            if session.pg.done:
                session.playing = False
            return session.update(precise=not session.playing, rec=rec)

        async def play() -> None:
            while True:
                await wake.wait()
                wake.clear()
                while session.playing and not session.awaiting_ack:
                    update = await work(advance)
                    session.awaiting_ack = True
                    await send(update)

        try:
            await send(session.state())
            await send(await work(lambda: session.update(precise=True)))
            tasks = [asyncio.create_task(receive()), asyncio.create_task(play())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    exc = t.exception()
                    if exc is not None and not isinstance(exc, WebSocketDisconnect):
                        raise exc
            finally:
                for t in tasks:
                    t.cancel()
        except WebSocketDisconnect:
            pass
        finally:
            open_sessions["n"] -= 1

    return app


def serve(host: str = "127.0.0.1", port: int = 8765, max_sessions: int = 50) -> None:
    from dllab.web import serve as serve_app

    serve_app(create_app(max_sessions), host, port, "playground", ws_max_size=MAX_MESSAGE + 1024)
