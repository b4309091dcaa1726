"""The playground: data sets against the original's formulas, the engine's gradients, L1/L2, linear regions, the
server's handling of bad input, and the page driven in headless Chromium."""

import json
import os
import socket
import time

import numpy as np
import pytest

from dllab import browser
from dllab.errors import DataError
from dllab.playground import datasets as D
from dllab.playground.engine import Playground, PlaygroundConfig
from dllab.playground.regions import count_regions
from dllab.seeding import rng

# -- data sets -----------------------------------------------------------------------------------------------

def test_circle_labels_and_radii():
    x, y = D.circle(500, 0.0, rng(0, "t"))
    r = np.hypot(x[:, 0], x[:, 1])
    assert len(x) == 500 and (y == 1).sum() == 250
    assert np.all(r[:250] <= 2.5) and np.all((r[250:] >= 3.5) & (r[250:] <= 5))
    assert np.array_equal(y, np.where(r < 2.5, 1.0, -1.0))  # noise 0: the label is the radius rule
    _, y_noisy = D.circle(500, 0.5, rng(0, "t"))
    assert 0 < np.mean(y_noisy[:250] == -1)  # noise moves labels across


def test_xor_padding_and_rule():
    x, y = D.xor(500, 0.0, rng(1, "t"))
    assert np.all(np.abs(x) >= 0.3) and np.all(np.abs(x) <= 5.3)
    assert np.array_equal(y, np.where(x[:, 0] * x[:, 1] >= 0, 1.0, -1.0))


@pytest.mark.parametrize("noise,variance", [(0.0, 0.5), (0.5, 4.0), (0.25, 2.25)])
def test_gauss_centres_and_variance(noise, variance):
    x, y = D.gauss(20_000, noise, rng(2, "t"))
    pos, neg = x[y == 1], x[y == -1]
    # 10,000 points per class: the means' standard error is sqrt(var / 1e4) <= 0.02, the variances' ~1.4%
    assert np.allclose(pos.mean(0), [2, 2], atol=0.12) and np.allclose(neg.mean(0), [-2, -2], atol=0.12)
    assert np.allclose(pos.var(0), variance, rtol=0.1)


def test_spiral_points_lie_on_the_spiral_without_noise():
    x, y = D.spiral(500, 0.0, rng(3, "t"))
    i = np.arange(250)
    r, t = i / 250 * 5, 1.75 * i / 250 * 2 * np.pi
    assert np.allclose(x[:250], np.c_[r * np.sin(t), r * np.cos(t)])
    assert np.allclose(x[250:], np.c_[r * np.sin(t + np.pi), r * np.cos(t + np.pi)])
    assert list(y[:250]) == [1] * 250 and list(y[250:]) == [-1] * 250


def test_regression_sets_follow_their_formulas():
    x, y = D.plane(1200, 0.0, rng(4, "t"))
    assert len(x) == 1200 and np.all(np.abs(x) <= 6) and np.allclose(y, (x[:, 0] + x[:, 1]) / 10)
    x, y = D.multi_gaussian(1200, 0.0, rng(5, "t"))
    for (px, py), label in zip(x[:50], y[:50]):  # the original's loop, point by point
        best = 0.0
        for cx, cy, sign in D.GAUSSIANS:
            v = sign * min(max(1 - np.hypot(px - cx, py - cy) / 2, 0), 1)
            best = v if abs(v) > abs(best) else best
        assert label == pytest.approx(best)


def test_point_counts_and_multiclass_sets():
    for name, (gen, _, classes, n) in D.DATASETS.items():
        x, y = gen(n, 0.1, rng(6, name))
        assert x.shape == (n - n % 3 if name == "spiral3" else n, 2), name
        if classes > 1:
            assert set(np.unique(y)) == set(range(classes))
    assert D.DATASETS["circle"][3] == 500 and D.DATASETS["plane"][3] == 1200


def test_csv_points():
    x, y, problem, k = D.parse_csv("x1,x2,label\n0,0,1\n1,1,-1\n")
    assert problem == "classification" and k == 1 and list(y) == [1, -1]
    assert D.parse_csv("0,0,0\n1,1,2\n2,2,1")[2:] == ("classification", 3)
    assert D.parse_csv("0,0,0\n1,1,1")[1].tolist() == [-1, 1]  # class ids 0/1: binary
    assert D.parse_csv("0,0,0.5\n1,1,-0.25")[2] == "regression"
    for bad, match in [("", "no points"), ("1,2\n", "row 1"), ("a,b,c\n1,x,3", "row 1"), ("1,2,inf", "not finite")]:
        with pytest.raises(DataError, match=match):
            D.parse_csv(bad)


# -- the engine ----------------------------------------------------------------------------------------------

def _numeric_grads(pg, x, y, eps=1e-6):
    out = []
    for W in pg.net.W:
        g = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + eps
            up = pg.training_loss(x, y)
            W[idx] = old - eps
            down = pg.training_loss(x, y)
            W[idx] = old
            g[idx] = (up - down) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("dataset,loss,acts", [("circle", "squared", ["tanh", "relu"]),
                                               ("xor", "cross_entropy", ["sigmoid", "linear"]),
                                               ("plane", "squared", ["relu", "tanh"]),
                                               ("blobs", "cross_entropy", ["tanh", "sigmoid"])])
def test_engine_gradients_match_finite_differences(dataset, loss, acts):
    cfg = PlaygroundConfig(dataset=dataset, loss=loss, hidden=[3, 2], layer_activations=acts,
                           features=["x1", "x2", "x1*x2", "sin(x1)"])
    pg = Playground(cfg)
    x, y = pg.train[0][:12], pg.train[1][:12]
    dW, _ = pg.gradients(x, y)
    for analytic, numeric in zip(dW, _numeric_grads(pg, x, y), strict=True):
        assert np.allclose(analytic, numeric, atol=1e-6, rtol=1e-4)


def test_training_lowers_the_loss_and_is_reproducible():
    cfg = PlaygroundConfig(dataset="circle", hidden=[4], seed=3)
    a, b = Playground(cfg), Playground(cfg)
    first = a.record()["test_loss"]
    ra, rb = a.step(30), b.step(30)
    assert ra == rb and ra["test_loss"] < first / 2
    assert Playground(cfg.model_copy(update={"seed": 4})).step(30) != ra


def test_l2_shrinks_and_l1_zeroes_and_freezes_weights():
    pg = Playground(PlaygroundConfig(hidden=[3], regularization="L2", regularization_rate=0.5, learning_rate=0.1))
    W0 = [w.copy() for w in pg.net.W]
    zeros = [np.zeros_like(w) for w in pg.net.W], [np.zeros_like(b) for b in pg.net.b]
    pg._update(*zeros)
    assert all(np.allclose(w, w0 * (1 - 0.1 * 0.5)) for w, w0 in zip(pg.net.W, W0))
    pg = Playground(PlaygroundConfig(hidden=[3], regularization="L1", regularization_rate=1.0, learning_rate=0.1))
    W0 = [w.copy() for w in pg.net.W]
    pg._update(*zeros)
    for w, w0 in zip(pg.net.W, W0):
        small = np.abs(w0) < 0.1  # the L1 step of 0.1 crosses zero: set to 0, frozen
        assert np.all(w[small] == 0) and np.allclose(w[~small], w0[~small] - 0.1 * np.sign(w0[~small]))
    dead = [~a for a in pg.net.alive]
    pg._update([np.ones_like(w) for w in pg.net.W], zeros[1])
    assert all(np.all(w[d] == 0) for w, d in zip(pg.net.W, dead))  # frozen weights stay 0


def test_config_validation():
    for bad in ({"noise": 51}, {"batch_size": 0}, {"hidden": [9]}, {"hidden": [1] * 7}, {"features": ["x3"]},
                {"learning_rate": 20}, {"dataset": "moons"}, {"layer_activations": ["relu"]}):
        with pytest.raises(ValueError):
            PlaygroundConfig(**bad)
    assert PlaygroundConfig(extended=True, hidden=[32] * 10).hidden == [32] * 10


def test_max_epochs_stops_training():
    pg = Playground(PlaygroundConfig(max_epochs=3))
    assert pg.step(10)["epoch"] == 3 and pg.done


# -- linear regions --------------------------------------------------------------------------------------------

def _one_layer(lines):
    W = [np.array([[w[0] for w, _ in lines], [w[1] for w, _ in lines]]), np.ones((len(lines), 1))]
    b = [np.array([c for _, c in lines], float), np.zeros(1)]
    return W, b


@pytest.mark.parametrize("lines,regions", [
    ([((1, 0), 0)], 2),                                  # one line through the square
    ([((1, 0), 0), ((0, 1), 0)], 4),                     # two crossing lines
    ([((1, 0), 0), ((0, 1), 0), ((1, 1), 0)], 6),        # three lines through one point
    ([((1, 0), 0), ((0, 1), 0), ((1, 1), -1)], 7),       # three lines in general position
    ([((1, 0), -2), ((1, 0), 2)], 3),                    # parallel lines
    ([((1, 0), -10)], 1),                                # a line outside [-6, 6]^2
    ([((1, 0), 0), ((2, 0), 0)], 2),                     # the same line twice
])
def test_linear_regions_of_one_hidden_layer_are_exact(lines, regions):
    W, b = _one_layer(lines)
    assert count_regions(W, b, ["x1", "x2"], ["relu"]) == {"regions": regions, "method": "exact"}
    # the grid count of a deeper network with an identity second layer agrees
    W2 = [W[0], np.eye(len(lines)), np.ones((len(lines), 1))]
    b2 = [b[0], np.full(len(lines), 1e-9), np.zeros(1)]
    assert count_regions(W2, b2, ["x1", "x2"], ["relu", "linear"], grid=400)["regions"] == regions


def test_linear_regions_are_not_defined_for_smooth_networks_or_features():
    W, b = _one_layer([((1, 0), 0)])
    assert count_regions(W, b, ["x1", "x2"], ["tanh"]) is None
    assert count_regions(W, b, ["x1^2", "x2"], ["relu"]) is None
    assert count_regions([np.ones((2, 1))], [np.zeros(1)], ["x1", "x2"], []) == {"regions": 1, "method": "exact"}


# -- the server ------------------------------------------------------------------------------------------------

@pytest.fixture
def client():
    from fastapi.testclient import TestClient

    from dllab.playground.server import create_app

    return TestClient(create_app())


def test_the_server_answers_bad_messages_and_keeps_working(client):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "state" and ws.receive_json()["type"] == "update"
        for bad, expect in [("not json", "not valid JSON"), ("[1, 2]", "JSON object"),
                            (json.dumps({"type": "fly"}), "unknown message type"),
                            (json.dumps({"type": "config", "config": {"noise": 99}}), "noise"),
                            (json.dumps({"type": "config", "config": "x"}), "config"),
                            (json.dumps({"type": "csv", "text": "1,2\n"}), "CSV row 1"),
                            (json.dumps({"type": "config", "config": {"dataset": "csv"}}), "CSV file first"),
                            ("[" * 5000 + "]" * 5000, "nested too deeply"),
                            ('{"a":' * 5000 + "1" + "}" * 5000, "nested too deeply"),
                            (json.dumps({"type": "csv", "text": "1,2," + "9" * 200_000}), "cannot be read")]:
            ws.send_text(bad)
            msg = ws.receive_json()
            assert msg["type"] == "error" and expect in msg["message"], (bad, msg)
        ws.send_json({"type": "step"})
        assert ws.receive_json()["epoch"] == 1  # still working


def test_the_page_interface_and_a_study_give_the_same_losses(client):
    from dllab.experiments.playground_study import train_config

    cfg = {"dataset": "spiral", "hidden": [6, 4], "activation": "relu", "seed": 7, "noise": 10}
    with client.websocket_connect("/ws") as ws:
        ws.receive_json(), ws.receive_json()
        ws.send_json({"type": "config", "config": cfg})
        assert ws.receive_json()["type"] == "state"
        ws.receive_json()
        page = []
        for _ in range(5):
            ws.send_json({"type": "step"})
            msg = ws.receive_json()
            page.append((msg["epoch"], msg["train_loss"], msg["test_loss"]))
    study = train_config(cfg, epochs=5)["history"]
    assert page == [(h["epoch"], h["train_loss"], h["test_loss"]) for h in study]


def test_the_page_is_served_with_presets(client):
    assert "dllab playground" in client.get("/").text
    presets = client.get("/api/presets").json()
    assert "spiral, features + depth" in presets and all(p["why"] for p in presets.values())
    for p in presets.values():
        PlaygroundConfig(**p["config"])  # every preset is a valid configuration
    assert client.get("/static/playground.js").status_code == 200


# -- a classroom on one server -----------------------------------------------------------------------------------

@pytest.fixture
def live():
    """The playground served by uvicorn from a thread on 127.0.0.1, at most 3 sessions."""
    from dllab.playground.server import create_app
    from dllab.web import background

    with background(create_app(max_sessions=3)) as url:
        yield url.replace("http://", "ws://") + "ws", url


@pytest.mark.serial
def test_one_sessions_heavy_steps_stall_no_other_session_and_no_request(live):
    import asyncio
    import urllib.request

    import websockets

    ws_url, http_url = live

    async def heavy(stop: asyncio.Event) -> int:
        async with websockets.connect(ws_url, max_size=None) as ws:
            await ws.recv(), await ws.recv()
            await ws.send(json.dumps({"type": "config", "config": {"hidden": [32] * 10, "activation": "relu",
                                                                   "extended": True}}))
            assert json.loads(await ws.recv())["type"] == "state"
            await ws.recv()
            steps = 0
            while not stop.is_set() or steps < 1:
                await ws.send(json.dumps({"type": "step"}))
                await ws.recv()
                steps += 1
            return steps

    async def player(stop: asyncio.Event) -> list[float]:
        times = []
        async with websockets.connect(ws_url, max_size=None) as ws:
            await ws.recv(), await ws.recv()
            await ws.send(json.dumps({"type": "play"}))
            t_end = None
            while t_end is None or time.monotonic() < t_end:
                msg = json.loads(await ws.recv())
                if msg["type"] == "update":
                    times.append(time.monotonic())
                    await ws.send(json.dumps({"type": "ack"}))
                if len(times) == 5:
                    t_end = time.monotonic() + 4.0  # then four seconds beside the heavy session
        stop.set()
        return times

    def presets() -> float:
        t0 = time.monotonic()
        with urllib.request.urlopen(http_url + "api/presets", timeout=10) as r:
            r.read()
        return time.monotonic() - t0

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(heavy(stop)), asyncio.create_task(player(stop))]
        await asyncio.sleep(2.0)  # the heavy session is stepping by now
        waits = [await loop.run_in_executor(None, presets) for _ in range(5)]
        steps, times = await asyncio.gather(*tasks)
        return steps, times, waits

    steps, times, waits = asyncio.run(main())
    gaps = np.diff(times)
    assert steps >= 1 and len(times) > 20
    assert gaps.max() < 0.5, f"the playing session waited {gaps.max():.2f} s for an update"
    assert max(waits) < 0.1, f"GET /api/presets took {max(waits):.3f} s"


def test_a_full_playground_says_so(live):
    import asyncio

    import websockets

    ws_url, _ = live

    async def main():
        held = [await websockets.connect(ws_url, max_size=None) for _ in range(3)]
        try:
            async with websockets.connect(ws_url) as extra:
                msg = json.loads(await extra.recv())
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await extra.recv()
                return msg, closed.value.rcvd.code
        finally:
            for ws in held:
                await ws.close()

    msg, code = asyncio.run(main())
    assert msg["type"] == "error" and "the playground is full (3 open pages)" in msg["message"] and code == 1013


def test_idle_sessions_cost_nothing(tmp_path):
    """200 open, idle pages: the server process uses under 2% of a core."""
    import asyncio
    import subprocess
    import sys

    import websockets

    from dllab.web import free_port

    port = free_port("127.0.0.1")
    server = subprocess.Popen([sys.executable, "-m", "dllab", "playground", "--port", str(port), "--max-sessions",
                               "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cpu_seconds() -> float:
        fields = open(f"/proc/{server.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def main():
        for _ in range(200):
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}/ws"):
                    break
            except OSError:
                await asyncio.sleep(0.1)
        pages = []
        for _ in range(200):
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None)
            await ws.recv(), await ws.recv()
            pages.append(ws)
        await asyncio.sleep(1.0)
        t0, c0 = time.monotonic(), cpu_seconds()
        await asyncio.sleep(5.0)
        used = (cpu_seconds() - c0) / (time.monotonic() - t0)
        for ws in pages:
            await ws.close()
        return used

    try:
        used = asyncio.run(main())
    finally:
        server.terminate()
        server.wait(10)
    assert used < 0.02, f"200 idle sessions used {100 * used:.1f}% of a core"


# -- the page in a real browser ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server_url():
    from dllab.playground.server import create_app
    from dllab.web import background

    with background(create_app()) as url:
        yield url


@pytest.mark.skipif(browser.missing_reason() is not None, reason=f"browser tests skipped: {browser.missing_reason()}")
def test_the_page_in_chromium(server_url, tmp_path):
    with browser.browser() as b:
        page = b.new_page(viewport={"width": 1300, "height": 850})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server_url + "#dataset=xor&hidden=4&activation=relu")
        page.wait_for_function("window.dllab.rendered > 0")
        page.wait_for_function("location.hash.includes('dataset=xor')")
        start = float(page.text_content("#test_loss"))
        page.click("#play")
        page.wait_for_function("window.dllab.rendered > 40", timeout=30_000)
        page.click("#play")
        page.wait_for_timeout(300)
        assert float(page.text_content("#test_loss")) < start  # the loss fell
        assert int(page.text_content("#epoch")) > 10
        assert page.text_content("#regions").split()[0].isdigit()  # ReLU on x1, x2: regions counted
        # change a control: the learning rate, written into the URL
        page.select_option("#learning_rate", "0.1")
        page.wait_for_function("location.hash.includes('learning_rate=0.1')")
        _csv_then_a_bad_url_value(page, tmp_path, lambda fragment: page.goto(f"{server_url}#{fragment}"))
        before = page.evaluate("window.dllab.rendered")
        page.click("#step")
        page.wait_for_function(f"window.dllab.rendered > {before}")
        page.screenshot(path=str(tmp_path / "playground.png"))
        assert errors == []


def _csv_then_a_bad_url_value(page, tmp_path, open_fragment) -> None:
    """Both pages: a CSV of our own points loads; a bad value in the URL (opened by ``open_fragment``) shows a
    message, and the page drops that key and applies the rest."""
    csv = tmp_path / "points.csv"
    csv.write_text("x1,x2,label\n" + "\n".join(f"{x},{x * 0.5},{1 if x > 0 else -1}" for x in range(-5, 6)))
    page.set_input_files("#csv", str(csv))
    page.wait_for_function("location.hash.includes('dataset=csv')")
    open_fragment("noise=99&dataset=gauss")
    page.wait_for_function("!document.getElementById('message').hidden")
    assert "noise" in page.text_content("#message")
    page.wait_for_function("location.hash.includes('dataset=gauss')")


def test_the_playground_study_smoke_preset(tmp_path, shared_data):
    from dllab.runner import run_experiment

    out = run_experiment("playground-study", preset="smoke", out=tmp_path / "s", progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert set(s["best"]) == {"circle", "spiral"} and s["n_datasets"] == 2
    assert set(s["knobs"]) == {"learning rate", "activation", "hidden layers", "L2 rate"}
    assert s["weights"]["L1"]["share_below_0.01"] >= s["weights"]["none"]["share_below_0.01"]
    assert {p.name for p in (out / "figures").iterdir()} == {"spiral.png", "knobs.png", "small_weights.png"}


def test_convergence_epoch():
    from dllab.experiments.playground_study import convergence_epoch

    assert convergence_epoch([1.0, 0.5, 0.2, 0.105, 0.1]) == 4 and convergence_epoch([0.3]) == 1


def test_serving_on_a_taken_port_is_one_clear_error():
    from dllab.errors import DllabError
    from dllab.playground.server import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(DllabError, match=r"cannot serve on 127\.0\.0\.1:\d+ .*choose another --port"):
            serve("127.0.0.1", taken.getsockname()[1])


def _forward_pattern(hidden, x: np.ndarray) -> tuple:
    h, bits = x, []
    for W, b, act in hidden:
        z = h @ W + b
        if act == "relu":
            bits += [bool(v) for v in z > 0]
            h = np.maximum(z, 0)
        else:
            h = z
    return tuple(bits)


def test_exact_regions_of_deep_networks_by_hand():
    from dllab.playground.regions import exact_cells

    eye = np.eye(2)
    # the quadrants, then relu(h1 + h2 - 1): cut in the quadrants where h1 + h2 = 1 is reachable (3 of 4): 7
    W = [eye, np.array([[1.0], [1.0]]), np.ones((1, 1))]
    b = [np.zeros(2), np.array([-1.0]), np.zeros(1)]
    assert count_regions(W, b, ["x1", "x2"], ["relu", "relu"]) == {"regions": 7, "method": "exact"}
    # a second layer that repeats the first (identity, no bias) cuts nothing new: 4
    W = [eye, eye, np.ones((2, 1))]
    b = [np.zeros(2), np.zeros(2), np.zeros(1)]
    assert count_regions(W, b, ["x1", "x2"], ["relu", "relu"]) == {"regions": 4, "method": "exact"}
    # relu(x1), then relu(h - 3) and relu(-h + 1) with x2 ignored: x1 < 0 | 0..1 | 1..3 | > 3: 4 vertical strips
    W = [np.array([[1.0], [0.0]]), np.array([[1.0, -1.0]]), np.ones((2, 1))]
    b = [np.zeros(1), np.array([-3.0, 1.0]), np.zeros(1)]
    cells = exact_cells(list(zip(W[:-1], b[:-1], ["relu", "relu"])), np.eye(2), np.zeros(2))
    assert sorted(round(float(p[:, 0].min()), 6) for p, _ in cells) == [-6.0, 0.0, 1.0, 3.0]


@pytest.mark.parametrize("sizes", [[2, 5, 5, 4], [2, 4, 4, 4, 4], [2, 8, 3, 6]])
def test_exact_regions_agree_with_an_800_grid_on_random_deep_networks(sizes):
    from dllab.playground.regions import _area, exact_cells, grid_patterns

    for seed in range(2):
        rng = np.random.default_rng(seed)
        hidden = [(rng.normal(size=(a, b)), rng.normal(size=b), "relu") for a, b in zip(sizes[:-1], sizes[1:])]
        cells = exact_cells(hidden, np.eye(2), np.zeros(2))
        patterns = [p for _, p in cells]
        assert len(set(patterns)) == len(cells)  # one piece per pattern
        assert sum(_area(p) for p, _ in cells) == pytest.approx(144.0, abs=1e-9)  # they tile the square
        for poly, pattern in cells:  # each piece's centre has that piece's pattern
            assert _forward_pattern(hidden, poly.mean(axis=0)) == pattern
        bits = grid_patterns(hidden, np.eye(2), np.zeros(2), 800)  # (640,000, neurons): one integer per row
        codes = np.unique(bits.astype(np.int64) @ (1 << np.arange(bits.shape[1], dtype=np.int64)))
        seen = {tuple(bool(c >> j & 1) for j in range(bits.shape[1])) for c in codes.tolist()}
        assert seen <= set(patterns)  # the grid finds no region the exact count lacks
        for poly, p in cells:  # a region the grid lacks holds none of its points: it fell between them
            if p not in seen:
                assert not _lattice_points_inside(poly, 800), (seed, p)


def _lattice_points_inside(poly: np.ndarray, grid: int) -> bool:
    """Whether a point of the grid x grid lattice over [-6, 6]^2 lies strictly inside a convex polygon."""
    xs = np.linspace(-6, 6, grid)
    gx = xs[(xs > poly[:, 0].min()) & (xs < poly[:, 0].max())]
    gy = xs[(xs > poly[:, 1].min()) & (xs < poly[:, 1].max())]
    pts = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    edges = np.roll(poly, -1, axis=0) - poly
    cross = edges[:, 0] * (pts[:, None, 1] - poly[:, 1]) - edges[:, 1] * (pts[:, None, 0] - poly[:, 0])
    return bool(np.any(np.all(cross > 0, axis=1) | np.all(cross < 0, axis=1)))


# -- the static playground: the JavaScript engine in a Web Worker -------------------------------------------------

PARITY = [  # each config exercises a path of the engine: output, loss, activation, regulariser, partial batches
    {},  # the default: circle, tanh layers [4, 2], squared error on a tanh output
    {"dataset": "spiral", "hidden": [8, 8, 8], "batch_size": 7,  # 250 % 7: a partial batch carried over
     "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]},
    {"dataset": "xor", "hidden": [6, 3], "activation": "relu", "loss": "cross_entropy", "regularization": "L2",
     "regularization_rate": 0.01},
    {"dataset": "gauss", "hidden": [5], "layer_activations": ["sigmoid"], "regularization": "L1",
     "regularization_rate": 0.03, "learning_rate": 0.1, "noise": 30},
    {"dataset": "blobs", "hidden": [6], "activation": "relu", "loss": "cross_entropy"},  # softmax, 4 classes
    {"dataset": "plane", "hidden": [3], "activation": "linear", "batch_size": 13, "noise": 20},  # regression
]


@pytest.fixture(scope="module")
def static_page(tmp_path_factory):
    if browser.missing_reason() is not None:
        pytest.skip(f"browser tests skipped: {browser.missing_reason()}")
    from dllab.cli import main

    site = tmp_path_factory.mktemp("site")
    assert main(["playground", "--export", str(site)]) == 0
    assert sorted(p.name for p in site.iterdir()) == ["engine.js", "index.html", "playground.js", "presets.js",
                                                      "style.css"]
    assert "/static/" not in (site / "index.html").read_text()  # relative links: it works from any folder
    with browser.browser() as b:
        page = b.new_page(viewport={"width": 1300, "height": 850})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / "index.html").as_uri())  # from disk: no server at all
        page.wait_for_function("window.dllab.rendered > 0")
        assert page.evaluate("window.dllab.mode") == "static"
        yield page, errors


def _worker_history(page, load: dict, epochs: int) -> list[dict]:
    return page.evaluate("""([load, epochs]) => new Promise((resolve) => {
        const w = window.dllab.worker;
        const listen = (e) => {
          if (e.data.type === "history" || e.data.type === "error") { w.removeEventListener("message", listen);
                                                                      resolve(e.data); }
        };
        w.addEventListener("message", listen);
        w.postMessage(load);
        w.postMessage({type: "step", epochs});
        w.postMessage({type: "history"});
    })""", [load, epochs])


@pytest.mark.parametrize("overrides", PARITY, ids=lambda c: c.get("dataset", "default"))
def test_the_browser_engine_trains_as_the_python_engine(static_page, overrides):
    """The same data and initial weights trained in the page's Web Worker and in Python: every epoch's losses and
    accuracies agree to a relative 1e-9 (float64 in both)."""
    page, errors = static_page
    cfg = PlaygroundConfig(**overrides)
    pg = Playground(cfg)
    points = lambda x, y: np.c_[x, y].tolist()  # noqa: E731
    load = {"type": "load", "config": cfg.model_dump(), "problem": pg.problem, "classes": pg.classes,
            "train": points(*pg.train), "test": points(*pg.test),
            "weights": [w.tolist() for w in pg.net.W], "biases": [b.tolist() for b in pg.net.b]}
    epochs = 25
    got = _worker_history(page, load, epochs)
    assert got["type"] == "history", got
    pg.step(epochs)
    assert len(got["history"]) == len(pg.history) == epochs
    for js, py in zip(got["history"], pg.history, strict=True):
        assert js["epoch"] == py["epoch"]
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            if py[key] is None:
                assert js[key] is None
            else:
                assert js[key] == pytest.approx(py[key], rel=1e-9, abs=1e-300), (key, js["epoch"])
    if cfg.regularization == "L1":
        assert any((~a).any() for a in pg.net.alive)  # the L1 path froze weights, in both engines alike
    assert pg.history[-1]["train_loss"] < pg.record()["train_loss"] * 10  # sanity: training ran
    assert errors == []


def test_the_static_page_plays_loads_csv_and_reports_bad_values(static_page, tmp_path):
    page, errors = static_page
    before = page.evaluate("window.dllab.updates")
    page.evaluate("location.hash = 'dataset=xor&hidden=4&activation=relu&features=x1,x2'")
    # the new config's first update has arrived (hashchange fires later than the hash is set: a step clicked
    # before it would train the previous network, which the config then replaces)
    page.wait_for_function(f"window.dllab.updates > {before} && document.getElementById('epoch').textContent === "
                           "'000000' && document.getElementById('n_layers').textContent === '1'")
    page.click("#step")
    page.wait_for_function("document.getElementById('epoch').textContent === '000001'")
    start = float(page.text_content("#test_loss"))
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) > 40", timeout=20_000)
    page.click("#play")
    assert float(page.text_content("#test_loss")) < start
    assert page.text_content("#regions").split()[0].isdigit()  # ReLU on x1, x2: regions counted in JavaScript
    page.select_option("#presets", "spiral, features + depth")  # presets come with the site
    page.wait_for_function("location.hash.includes('dataset=spiral')")
    _csv_then_a_bad_url_value(page, tmp_path, lambda fragment: page.evaluate(f"location.hash = '{fragment}'"))
    assert errors == []
