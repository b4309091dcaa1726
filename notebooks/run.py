"""Execute the homework notebooks (``make notebooks``): each one top to bottom in a fresh kernel at its default
preset (smoke), failing on the first error; the executed copies go to OUT, and the first notebook also as HTML.

    python notebooks/run.py [--out build/notebooks] [--preset smoke] [NOTEBOOK ...]

The runs are written under OUT (the kernel's working folder), never into the repository.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def execute(path: Path, out: Path, preset: str, timeout: int) -> Path:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # papermill's convention: the cell tagged "parameters" holds the defaults
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += f'\nPRESET = "{preset}"  # set by notebooks/run.py'
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(out)}})
    client.execute()
    target = out / path.name
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=Path("build/notebooks"), help="executed copies and runs")
    parser.add_argument("--preset", default="smoke", choices=["smoke", "cpu", "full"])
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed for one cell")
    args = parser.parse_args(argv)
    from nbclient.exceptions import CellExecutionError

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = args.notebooks or sorted(HERE.glob("*.ipynb"))
    t_all = time.perf_counter()
    for i, path in enumerate(paths):
        t0 = time.perf_counter()
        try:
            done = execute(path, out, args.preset, args.timeout)
        except CellExecutionError as exc:
            print(f"{path.name}: FAILED\n{exc}", file=sys.stderr)
            return 1
        print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s -> {done}", flush=True)
        if i == 0:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_filename(str(done))
            (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
    print(f"{len(paths)} notebooks executed in {time.perf_counter() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
