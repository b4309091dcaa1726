"""The classroom pages under bounded load on 127.0.0.1: the playground server, the static playground in Chromium,
and the search API.

    python benchmarks/servers.py [--seconds 4] [--json FILE] [--skip search]

1. Playground server, N sessions playing the default network at once (asyncio WebSocket clients that acknowledge
   every update, as the page does): updates per second of each session, for N = 1, 4, 8, 16.
2. Playground server, one session stepping a 10 x 32 ReLU network over and over while another plays: the playing
   session's gaps between updates (p50 / p99 / max) and ``GET /api/presets`` latency (p50 / p99).
3. The pages in headless Chromium, played for ``--seconds``: rendered updates per second of the served page and
   of the static site (``dllab playground --export``: the engine in a Web Worker), for the default network and
   the spiral with 7 features and [8, 8, 8] tanh layers.
4. Search API (the LiT encoder with smoke-sized heads over 20 validation images per label, 4,000 images; text
   queries from the label names, never repeated within a run): closed-loop clients at concurrency 1..16, queries
   per second and p50 / p99 latency; the highest rate with p99 under 100 ms.

Printed with the CPU; ``--json`` writes the figures. Needs Chromium + Playwright (3), TinyImageNet (4).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from dllab.environment import describe_cpu

SPIRAL = "#dataset=spiral&hidden=8,8,8&activation=tanh&features=x1,x2,x1%5E2,x2%5E2,x1*x2,sin(x1),sin(x2)"
DEFAULT = "#dataset=circle&hidden=4,2&activation=tanh&features=x1,x2"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


# -- 1 and 2: the playground server -------------------------------------------------------------------------------
async def _session(url: str, config: dict | None, seconds: float, stamps: list[float]) -> None:
    import websockets

    async with websockets.connect(url, max_size=None) as ws:
        if config:
            await ws.send(json.dumps({"type": "config", "config": config}))
        await ws.send(json.dumps({"type": "play"}))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if msg["type"] == "update":
                stamps.append(time.perf_counter())
                await ws.send(json.dumps({"type": "ack"}))


async def _sessions(base: str, n: int, seconds: float) -> list[float]:
    stamps = [[] for _ in range(n)]
    await asyncio.gather(*(_session(base, None, seconds, s) for s in stamps))
    return [len(s) / seconds for s in stamps]


async def _stall(base: str, http: str, seconds: float) -> dict:
    import urllib.request

    import websockets

    gaps_from: list[float] = []
    heavy = {"hidden": [32] * 10, "activation": "relu", "extended": True}
    steps: list[float] = []

    async def stepper():
        async with websockets.connect(base, max_size=None) as ws:
            await ws.send(json.dumps({"type": "config", "config": heavy}))
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t = time.perf_counter()
                await ws.send(json.dumps({"type": "step"}))
                while json.loads(await ws.recv())["type"] != "update":
                    pass
                steps.append(time.perf_counter() - t)

    latencies: list[float] = []

    async def presets():
        loop = asyncio.get_running_loop()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            await loop.run_in_executor(None, lambda: urllib.request.urlopen(http + "api/presets", timeout=30).read())
            latencies.append(time.perf_counter() - t)
            await asyncio.sleep(0.05)

    await asyncio.gather(stepper(), _session(base, None, seconds, gaps_from), presets())
    gaps = [b - a for a, b in zip(gaps_from, gaps_from[1:])]
    return {"heavy_step_s_p50": statistics.median(steps), "heavy_steps": len(steps),
            "player_updates_per_s": len(gaps_from) / seconds, "gap_ms_p50": 1e3 * pct(gaps, 50),
            "gap_ms_p99": 1e3 * pct(gaps, 99), "gap_ms_max": 1e3 * max(gaps),
            "presets_ms_p50": 1e3 * pct(latencies, 50), "presets_ms_p99": 1e3 * pct(latencies, 99)}


def playground_server(seconds: float) -> dict:
    from dllab.playground.server import create_app
    from dllab.web import background

    out = {}
    with background(create_app(max_sessions=100)) as url:
        ws = url.replace("http://", "ws://") + "ws"
        for n in (1, 4, 8, 16):
            rates = asyncio.run(_sessions(ws, n, seconds))
            out[f"sessions_{n}"] = {"min": min(rates), "mean": statistics.mean(rates)}
            print(f"  {n:2d} sessions playing the default network: {min(rates):6.1f} updates/s each (slowest), "
                  f"{statistics.mean(rates):6.1f} mean")
        stall = asyncio.run(_stall(ws, url, seconds))
        out["stall"] = stall
        print(f"  one session steps a 10 x 32 ReLU network ({stall['heavy_steps']} steps, p50 "
              f"{stall['heavy_step_s_p50']:.2f} s each) while another plays: {stall['player_updates_per_s']:.1f} "
              f"updates/s, gaps p50 {stall['gap_ms_p50']:.0f} ms / p99 {stall['gap_ms_p99']:.0f} ms / max "
              f"{stall['gap_ms_max']:.0f} ms; GET /api/presets p50 {stall['presets_ms_p50']:.1f} ms / p99 "
              f"{stall['presets_ms_p99']:.1f} ms")
    return out


# -- 3: the pages in Chromium --------------------------------------------------------------------------------------
def _rate(page, address: str, seconds: float) -> float:
    page.goto("about:blank")
    page.goto(address)
    page.wait_for_function("window.dllab.rendered > 0")
    page.wait_for_timeout(500)
    page.click("#play")
    page.wait_for_timeout(1000)  # warm up
    n0, t0 = page.evaluate("window.dllab.rendered"), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    n1, t1 = page.evaluate("window.dllab.rendered"), time.perf_counter()
    page.click("#play")
    return (n1 - n0) / (t1 - t0)


def pages(seconds: float) -> dict:
    from dllab.browser import browser
    from dllab.playground.export import export_site
    from dllab.playground.server import create_app
    from dllab.web import background

    out = {}
    with tempfile.TemporaryDirectory() as site, background(create_app()) as url, browser() as b:
        export_site(site)
        page = b.new_page(viewport={"width": 1300, "height": 850})
        for mode, base in (("served", url), ("static", (Path(site) / "index.html").as_uri())):
            for name, fragment in (("default", DEFAULT), ("spiral", SPIRAL)):
                rate = _rate(page, base + fragment, seconds)
                out[f"{mode}_{name}"] = rate
                print(f"  {mode:6s} page, {name:7s} network: {rate:6.1f} rendered updates/s")
    return out


# -- 4: the search API ---------------------------------------------------------------------------------------------
async def _get(reader, writer, host: str, path: str) -> bytes:
    """One HTTP/1.1 keep-alive GET on an open connection; the body (raises on a status other than 200)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    length = int(next(v for k, v in headers.items() if k.lower() == b"content-length"))
    body = await reader.readexactly(length)
    if status != b"200":
        raise RuntimeError(f"GET {path}: {status.decode()} {body[:200]!r}")
    return body


async def _clients(url: str, queries: list[str], concurrency: int, seconds: float) -> list[float]:
    """``concurrency`` closed-loop clients, each on its own keep-alive connection, for ``seconds``."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    latencies: list[float] = []
    # distinct texts: the list, then the list again with a counter appended (no answer can come from a cache)
    it = (q if i < len(queries) else f"{q} {i // len(queries)}" for i, q in
          ((i, queries[i % len(queries)]) for i in __import__("itertools").count()))

    async def client():
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            path = f"{parts.path}?{urllib.parse.urlencode({'q': next(it), 'k': 10})}"
            t = time.perf_counter()
            await _get(reader, writer, parts.netloc, path)
            latencies.append(time.perf_counter() - t)
        writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def search(seconds: float) -> dict:
    from dllab.experiments._search import SMOKE_LIT
    from dllab.search.config import LitConfig
    from dllab.search.encoders import load_encoder
    from dllab.search.server import create_app, open_library
    from dllab.web import background

    enc = load_encoder("lit", lit_config=LitConfig(**SMOKE_LIT["lit"]), lit_per_class=SMOKE_LIT["lit_per_class"])
    library = open_library({"lit": enc}, val_per_class=20)
    words = sorted({w for name in library.class_names for w in name.replace(",", " ").split() if len(w) > 2})
    queries = [f"a photo of {a} {b}" for a in words for b in ("outdoors", "on a table", "at night", "close up",
                                                                "in the snow", "from above", "in a city")]
    import random

    random.Random(0).shuffle(queries)
    out, best = {"n_images": len(library.images)}, None
    with background(create_app(library)) as url:
        asyncio.run(_clients(url + "api/search", [f"warm-up {i}" for i in range(10)], 2, 1.0))
        used = 0
        for c in (1, 2, 4, 8, 16):
            lat = asyncio.run(_clients(url + "api/search", queries[used:] + queries[:used], c, seconds))
            used = (used + len(lat) + c) % len(queries)
            qps, p50, p99 = len(lat) / seconds, 1e3 * pct(lat, 50), 1e3 * pct(lat, 99)
            out[f"concurrency_{c}"] = {"qps": qps, "p50_ms": p50, "p99_ms": p99}
            print(f"  {c:2d} clients: {qps:6.1f} queries/s, p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
            if p99 < 100 and (best is None or qps > best["qps"]):
                best = {"concurrency": c, "qps": qps, "p99_ms": p99}
    out["best_under_100ms_p99"] = best
    if best:
        print(f"  highest rate with p99 < 100 ms: {best['qps']:.1f} queries/s ({best['concurrency']} clients)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="how long each measurement runs")
    p.add_argument("--skip", action="append", default=[], choices=["playground", "pages", "search"])
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args()
    cpu = describe_cpu()
    print(cpu)
    figures = {"cpu": cpu, "seconds": args.seconds}
    for name, fn in (("playground", playground_server), ("pages", pages), ("search", search)):
        if name not in args.skip:
            print(f"{name}:")
            figures[name] = fn(args.seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
