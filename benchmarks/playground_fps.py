"""Rendered updates per second of the playground page, measured in headless Chromium.

    python benchmarks/playground_fps.py [--seconds 5] [--config '#dataset=spiral&hidden=8,8,8']

Starts the playground server on a free loopback port, opens the page, presses play and counts the updates the page
has drawn (each: one epoch trained on the server, the output heatmap, every neuron's heatmap, the weights and the
loss chart) over ``--seconds``. The default is the page's default network (circle, x1 and x2, hidden [4, 2], tanh).
Needs Chromium (apt-get install chromium) and Playwright.
"""

from __future__ import annotations

import argparse
import time

from dllab.browser import browser
from dllab.environment import describe_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to measure")
    ap.add_argument("--config", default="", help="a URL fragment with the configuration (default: the page's)")
    args = ap.parse_args()
    from dllab.playground.server import create_app
    from dllab.web import background

    print(describe_cpu())
    with background(create_app()) as url, browser() as b:
        page = b.new_page(viewport={"width": 1300, "height": 850})
        page.goto(f"{url}{args.config}")
        page.wait_for_function("window.dllab.rendered > 0")
        page.wait_for_timeout(500)
        page.click("#play")
        page.wait_for_timeout(1000)  # warm up
        n0, t0 = page.evaluate("window.dllab.rendered"), time.perf_counter()
        page.wait_for_timeout(args.seconds * 1000)
        n1, t1 = page.evaluate("window.dllab.rendered"), time.perf_counter()
        epoch = page.text_content("#epoch")
    print(f"configuration: {args.config or 'the default (circle, x1 x2, hidden [4, 2], tanh)'}")
    print(f"rendered updates per second: {(n1 - n0) / (t1 - t0):.1f} ({n1 - n0} in {t1 - t0:.1f} s; epoch {epoch})")


if __name__ == "__main__":
    main()
