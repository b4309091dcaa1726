"""The ``dllab`` command line: list, run, data, report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dllab import __version__
from dllab.errors import DllabError

EPILOG = """examples:
  dllab list
  dllab run mnist-logreg --preset smoke
  dllab run mnist-logreg --set train.lr=0.05 --set train.epochs=5 --seed 1
  dllab run mnist-logreg --out runs/mine --resume     # continue an interrupted run
  dllab data verify mnist
  dllab report runs/mnist-logreg/*/

data lookup: --data-dir / DLLAB_DATA, then ~/.cache/dllab (DLLAB_CACHE), then a checksummed download
(disabled by DLLAB_OFFLINE=1)."""


def _console():
    from rich.console import Console

    return Console()


def cmd_list(args) -> int:
    from rich.table import Table

    from dllab import courses, experiments

    table = Table(title="dllab experiments", show_lines=False)
    table.add_column("experiment", style="bold")
    table.add_column("homework")
    table.add_column("presets")
    table.add_column("description")
    for name in experiments.EXPERIMENTS:
        module = experiments.get(name)
        table.add_row(name, courses.cite(module.HOMEWORK), ", ".join(module.PRESETS), module.DESCRIPTION)
    _console().print(table)
    return 0


def cmd_run(args) -> int:
    from dllab.runner import run_experiment

    if args.data_dir:
        os.environ["DLLAB_DATA"] = str(Path(args.data_dir).resolve())
    if args.dry_run:
        from dllab.costs import cost_text, run_cost
        from dllab.runner import resolve_config

        module, cfg = resolve_config(args.experiment, args.preset, args.config, args.set, args.seed)
        cost = run_cost(args.experiment, module, cfg, args.preset)
        print(cost_text([cost], args.nodes, args.cpus_per_node, args.gpus_per_node,
                        f"dllab run {args.experiment} --preset {args.preset}"))
        return 0
    from dllab.distributed import make_executor

    executor = None if args.executor == "local" else make_executor(args.executor, args.address,
                                                                    Path(args.out or ".") / ".submitit")
    run_dir = run_experiment(args.experiment, preset=args.preset, config_file=args.config, overrides=args.set,
                             seed=args.seed, out=args.out, resume=args.resume, wandb=args.wandb,
                             mlflow=args.mlflow, progress=False if args.no_progress else None,
                             executor=executor, storage=args.storage)
    from dllab.fileio import read_json

    summary = read_json(run_dir / "summary.json")
    console = _console()
    console.print(f"[green]done[/green]: {args.experiment} -> {run_dir}")
    for key, value in summary.items():
        if isinstance(value, (int, float, str, bool)):
            console.print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    console.print(f"report: {run_dir / 'report.html'}")
    return 0


def cmd_compare(args) -> int:
    from rich.table import Table

    import dllab

    runs = []
    for path in args.run_dirs:
        found = [dllab.load(path)] if (Path(path) / "config.yaml").is_file() else dllab.runs(path)
        if not found:
            raise DllabError(f"{path} holds no run directory (a folder with config.yaml)")
        runs.extend(found)
    comparison = dllab.compare(runs, by=args.by or None, keys=args.key or None, all_keys=args.all)
    if args.csv:
        from dllab.fileio import atomic_write

        atomic_write(args.csv, comparison.csv())
    head, *body = comparison.table()
    console = _console()
    table = Table(title=f"{len(runs)} runs in {len(body)} configurations: mean ± std [95% interval] over seeds")
    if len(head) * 14 <= console.width:  # one row per configuration
        for h in head:
            table.add_column(h, overflow="fold")
        for row in body:
            table.add_row(*row)
    else:  # too wide for the terminal: one column per configuration
        table.add_column("", style="bold", overflow="fold")
        for i in range(len(body)):
            table.add_column(f"configuration {i + 1}", overflow="fold")
        for j, h in enumerate(head):
            table.add_row(h, *(row[j] for row in body))
    console.print(table)
    for line in comparison.skipped:
        console.print(f"[yellow]left out[/yellow]: {line}")
    if args.csv:
        console.print(f"table: {args.csv}")
    return 0


def cmd_show(args) -> int:
    from rich.table import Table

    from dllab.config import describe_fields
    from dllab.runner import resolve_config

    module, cfg = resolve_config(args.experiment, args.preset, args.config, args.set, args.seed)
    table = Table(title=f"{args.experiment} config (preset {args.preset}): set any key with --set KEY=VALUE")
    for col in ("key", "value", "type", "description"):
        table.add_column(col, style="bold" if col == "key" else None)
    for row in describe_fields(cfg):
        table.add_row(row["key"], repr(row["value"]) if isinstance(row["value"], str) else str(row["value"]),
                      row["type"], row["description"])
    console = _console()
    console.print(table)
    keys = Table(title="summary.json keys")
    keys.add_column("key", style="bold")
    keys.add_column("meaning")
    from dllab.experiments import summary_meanings

    for key, meaning in summary_meanings(module).items():
        keys.add_row(key, meaning)
    console.print(keys)
    return 0


def cmd_data(args) -> int:
    from rich.table import Table

    from dllab import data

    if args.data_dir:
        os.environ["DLLAB_DATA"] = str(Path(args.data_dir).resolve())
    console = _console()
    if args.action == "path":
        if not args.name:
            raise DllabError("dllab data path needs a dataset name, e.g. dllab data path mnist")
        source = data.find(args.name)
        if source is None:
            raise DllabError(f"{args.name} not found in: "
                             + ", ".join(f"{r} ({label})" for label, r in data.search_roots()))
        print(source.folder)
        return 0
    names = [args.name] if args.name else list(data.DATASETS)
    if args.action == "list":
        table = Table(title="datasets (search order: " + " -> ".join(
            f"{r} ({label})" for label, r in data.search_roots()) + ")")
        for col in ("dataset", "found", "where"):
            table.add_column(col)
        for name in names:
            source = data.find(name)
            table.add_row(name, "yes" if source else "[red]no[/red]", source.description if source else "-")
        console.print(table)
        return 0
    failed = False
    for name in names:
        source, checks = data.verify(name)
        if source is None:
            console.print(f"[yellow]{name}: not found[/yellow] (looked in "
                          + ", ".join(f"{r} ({label})" for label, r in data.search_roots()) + ")")
            failed = failed or bool(args.name)
            continue
        ok = all(c.ok for c in checks)
        failed = failed or not ok
        console.print(f"[{'green' if ok else 'red'}]{name}: {'OK' if ok else 'FAILED'}[/] {source.description}")
        for c in checks:
            console.print(f"  {'ok ' if c.ok else 'BAD'} {c.item}: {c.detail}")
        if ok and name in ("mnist", "fashion-mnist", "cifar10"):
            ds = data.load(name, download=False)
            state = "partial" if ds.partial else "complete"
            console.print(f"  counts: {ds.counts['train']} train + {ds.counts['test']} test ({state})")
    return 1 if failed else 0


def cmd_report(args) -> int:
    from dllab.report import build_combined, build_report

    for run_dir in args.run_dirs:
        print(build_report(run_dir))
    if args.combined:
        print(build_combined(args.run_dirs, args.combined))
    return 0


def cmd_suite(args) -> int:
    from dllab import suite

    if args.data_dir:
        os.environ["DLLAB_DATA"] = str(Path(args.data_dir).resolve())
    if args.dry_run:
        planned = suite.plan(args.preset, args.only, args.skip, args.set,
                             Path(args.out or f"runs/suite-{args.preset}"))
        print(suite.dry_run_text(planned, args.preset, args.nodes, args.cpus_per_node, args.gpus_per_node))
        return 0
    record = suite.run_suite(preset=args.preset, only=args.only, skip=args.skip, jobs=args.jobs, out=args.out,
                             executor=args.executor, address=args.address, resume=args.resume, overrides=args.set,
                             pdf=not args.no_pdf, storage=args.storage)
    bad = [r for r in record["runs"] if r.get("status") != "finished"]
    print(f"suite {'finished' if not bad else 'done with problems'}: {len(record['runs']) - len(bad)} of "
          f"{len(record['runs'])} runs finished; report: {record['report']}")
    for r in bad:
        print(f"  {r['experiment']}: {r.get('status')}: {r.get('error')}")
    return 1 if bad else 0


def cmd_playground(args) -> int:
    if args.export:
        from dllab.playground.export import export_site

        written = export_site(args.export)
        print(f"static playground written to {written[0].parent}/ ({len(written)} files): open index.html, or host "
              "the folder on any web server; training runs in the browser")
        return 0
    from dllab.playground.server import serve

    serve(host=args.host, port=args.port, max_sessions=args.max_sessions)
    return 0


def _search_encoders(args) -> dict:
    """name -> a function that loads (or, for LiT without --lit-model, trains once) that encoder."""
    from functools import partial

    from dllab.search.encoders import load_encoder

    return {name: partial(load_encoder, name, clip_model=args.clip_model, lit_model=args.lit_model)
            for name in args.encoder or ["lit"]}


def cmd_search(args) -> int:
    from dllab.search.server import serve, start_library

    if args.data_dir:
        import os

        os.environ["DLLAB_DATA"] = args.data_dir
    if args.action == "serve":
        library = start_library(_search_encoders(args), val_per_class=args.per_class)
        print("dllab search: the page answers at once; the index is built in the background (the page shows its "
              "progress; embeddings are cached, so later starts are quick)", flush=True)
        serve(library, host=args.host, port=args.port)
        return 0
    if not args.query:
        raise DllabError("dllab search query needs the text to look for, e.g. dllab search query 'a red car'")
    from dllab.search.engine import SearchEngine
    from dllab.search.galleries import validation_set

    _, images, labels, names, _ = validation_set(args.per_class)
    for enc_name, make in _search_encoders(args).items():
        engine = SearchEngine.build(make(), images, labels, names)
        for q in args.query:
            hits = engine.text(q, args.k)
            print(f"{q!r} ({enc_name}): " + ", ".join(f"#{h.id} {h.name} ({h.distance:.3f})" for h in hits))
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with the house error format: one line, ``dllab: error: ...`` and where to read more, exit 2."""

    def error(self, message: str):
        self.exit(2, f"dllab: error: {message} (see '{self.prog} --help')\n")


def _bounded_int(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high] (argparse names the option in its error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            within = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {within}, got {value}")
        return value

    return parse


PORT = _bounded_int(1, 65535)


def _config_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that resolve an experiment's config, shared by 'run' and 'show'."""
    p.add_argument("experiment", help="experiment name (see 'dllab list')")
    p.add_argument("--preset", choices=["smoke", "cpu", "full"], default="cpu",
                   help="smoke: seconds (tests); cpu: the question answered on a 2-core laptop (default); "
                        "full: the homework's exact protocol")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of config values applied after the preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value (repeatable; dotted keys for nested values, e.g. train.lr=0.05)")
    p.add_argument("--seed", type=_bounded_int(0, 2 ** 63 - 1),
                   help="the run seed: every random stream is derived from it (overrides the "
                                            "config)")


def _cluster_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """Where the stages run and what a run will cost, shared by 'run' and 'suite'."""
    p.add_argument("--executor", choices=["local", "ray", "slurm"], default="local",
                   help=f"where {what} run: worker processes of this machine (default), tasks on a Ray cluster, "
                        "or SLURM jobs through submitit")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--storage", metavar="URI",
                   help="where stages keep their files (metrics rows, per-epoch checkpoints, results) and where "
                        "the finished run is copied: a folder or an fsspec URI such as s3://bucket/prefix (pip "
                        "install 'dllab[s3]'); needed on a cluster without a shared file system")
    p.add_argument("--dry-run", action="store_true",
                   help="print each run's stages with their core-hours and the expected wall time, run nothing")
    p.add_argument("--nodes", type=_bounded_int(1), nargs="+", metavar="N",
                   help="with --dry-run: the wall time on clusters of N nodes (one or more sizes; default: this "
                        "machine)")
    p.add_argument("--cpus-per-node", type=_bounded_int(1), metavar="C",
                   help="with --dry-run: cores of each node (default: this machine's)")
    p.add_argument("--gpus-per-node", type=float, default=0, metavar="G", help="with --dry-run: GPUs of each node")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="dllab", formatter_class=fmt, epilog=EPILOG,
                                     description="dllab: the foundations of deep learning as reproducible, "
                                                 "tested experiments.")
    parser.add_argument("--version", action="version", version=f"dllab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list experiments with their presets", formatter_class=fmt,
                       description="List every experiment with a one-line description and its presets.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one experiment and write its run record", formatter_class=fmt,
                       description="Run one experiment. Config = defaults -> --preset -> --config FILE -> --set "
                                   "overrides -> --seed. Writes runs/<experiment>/<time>-<hash>/ (or --out) with "
                                   "config.yaml, metrics.jsonl, summary.json, env.json, figures/, report.html.",
                       epilog="examples:\n  dllab run mnist-logreg --preset smoke --set train.lr=0.05\n"
                              "  dllab run flooding --preset full --dry-run --nodes 1 8 64 --cpus-per-node 2\n"
                              "  dllab run flooding --preset full --executor ray --address 10.0.0.5:6379 "
                              "--storage s3://bucket/dllab")
    _config_arguments(p)
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<experiment>/<time>-<hash>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out from its checkpoints")
    p.add_argument("--data-dir", metavar="DIR", help="dataset folder searched first (default: $DLLAB_DATA)")
    p.add_argument("--wandb", action="store_true", help="mirror metrics to Weights & Biases (offline without "
                                                        "WANDB_API_KEY; pip install 'dllab[wandb]')")
    p.add_argument("--mlflow", nargs="?", const=True, metavar="URI",
                   help="track the run in MLflow: params, per-epoch metrics, summary, figures and report (URI: a "
                        "server such as http://127.0.0.1:5000; without one $MLFLOW_TRACKING_URI or ./mlruns; "
                        "pip install 'dllab[mlflow]')")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _cluster_arguments(p, "the run's stages (sweep points, seeds, study cells)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="compare runs: the config keys that differ, summaries aggregated over seeds",
                       formatter_class=fmt,
                       description="One table of runs: one row per configuration, runs that differ only in their "
                                   "seed aggregated (mean ± standard deviation [95% Student-t interval], n). Shows "
                                   "the config keys and summary values that differ (--all: every one). A RUN_DIR may "
                                   "be a folder of runs (e.g. runs/cifar-fast); unfinished runs are left out and "
                                   "named.",
                       epilog="examples:\n  dllab compare runs/cifar-fast\n"
                              "  dllab compare runs/mnist-logreg --by train.lr --key test_accuracy --csv lr.csv")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--by", action="append", metavar="KEY",
                   help="group by this dotted config key only (repeatable; default: the whole config but the seed)")
    p.add_argument("--key", action="append", metavar="SUMMARY_KEY",
                   help="summary value to show (repeatable, dotted for nested ones; default: the numbers that differ)")
    p.add_argument("--all", action="store_true", help="every config key and summary value, not only those that differ")
    p.add_argument("--csv", metavar="FILE.csv", help="also write the table (means, std, intervals) as CSV")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("show", help="an experiment's resolved config, every key described", formatter_class=fmt,
                       description="Print every config key of an experiment (nested keys dotted, as --set takes "
                                   "them) with its resolved value, type and meaning, then the summary keys the run "
                                   "reports. Takes the options of 'dllab run' that shape the config.",
                       epilog="example: dllab show cifar-train --preset full --set train.lr=0.05")
    _config_arguments(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("suite", help="run every experiment, then one combined report (HTML + PDF)",
                       formatter_class=fmt,
                       description="Run every experiment (or --only some) at one preset: independent runs in "
                                   "parallel under one core budget, in dependency order; one progress line per "
                                   "event with the time left; a failed run is reported and the rest go on. Writes "
                                   "<out>/<experiment>/ run directories, suite.json, report.html (by course and "
                                   "question) and report.pdf (headless Chromium). Exit code 0 only if every run "
                                   "finished.",
                       epilog="examples:\n  dllab suite --preset smoke\n  dllab suite --preset cpu --dry-run\n"
                              "  dllab suite --only flooding theory --set flooding:train.epochs=5\n"
                              "  dllab suite --preset cpu --out runs/suite-cpu --resume   # after an interruption\n"
                              "  dllab suite --executor ray --address 10.0.0.5:6379")
    p.add_argument("--preset", choices=["smoke", "cpu", "full"], default="cpu", help="the preset of every run")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments (and what they need)")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these experiments out")
    p.add_argument("--jobs", type=_bounded_int(1), metavar="N",
                   help="runs at once (default: one per core of the budget)")
    p.add_argument("--out", metavar="DIR", help="suite directory (default: runs/suite-<preset>)")
    _cluster_arguments(p, "the runs (and, with --storage on Ray, their stages)")
    p.add_argument("--resume", action="store_true", help="skip finished runs (same config and code), continue "
                                                         "interrupted ones")
    p.add_argument("--set", action="append", default=[], metavar="[NAME:]KEY=VALUE",
                   help="override a config value of every run, or of run NAME only (repeatable)")
    p.add_argument("--no-pdf", action="store_true", help="write report.html only")
    p.add_argument("--data-dir", metavar="DIR", help="dataset folder searched first (default: $DLLAB_DATA)")
    p.set_defaults(func=cmd_suite)

    p = sub.add_parser("playground", help="the interactive 2-D neural-network playground in the browser",
                       formatter_class=fmt,
                       description="Serve the playground page (the TensorFlow Playground's data and model, trained by "
                                   "dllab's engine over a WebSocket). Open the printed address in a browser; the "
                                   "URL holds the configuration, so it can be shared.",
                       epilog="examples:\n  dllab playground --port 8765   # then open http://127.0.0.1:8765/\n"
                              "  dllab playground --export site/  # a static copy: open site/index.html")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=PORT, default=8765, help="port (default 8765)")
    p.add_argument("--max-sessions", type=_bounded_int(1, 10_000), default=50, metavar="N",
                   help="open pages served at once (default 50); one more is told the playground is full")
    p.add_argument("--export", metavar="DIR",
                   help="write the playground as a static site to DIR and exit: no server, the page trains in the "
                        "browser (a JavaScript port of the engine in a Web Worker); host DIR anywhere")
    p.set_defaults(func=cmd_playground)

    p = sub.add_parser("search", help="text-to-image search over TinyImageNet: the page, or queries here",
                       formatter_class=fmt,
                       description="serve: the search page (query box, k, encoder and index, results with labels and "
                                   "distances, more like this, search by an uploaded image, a random gallery) over "
                                   "the 10,000 TinyImageNet validation images; the page answers at once and shows "
                                   "what is being built (on a fresh machine: the LiT heads, then the embeddings), "
                                   "searching the images embedded so far. query TEXT...: print the top k here. "
                                   "Embeddings are cached, so only the first start embeds.",
                       epilog="examples: dllab search serve --port 8766   # then open http://127.0.0.1:8766/\n"
                              "          dllab search query 'a red car' 'a school bus' -k 5")
    p.add_argument("action", choices=["serve", "query"])
    p.add_argument("query", nargs="*", help="texts to search for (query)")
    p.add_argument("-k", type=_bounded_int(1, 1000), default=5, help="results per query (default 5)")
    p.add_argument("--encoder", action="append", choices=["lit", "clip"],
                   help="encoder(s) to offer (repeatable; default lit, which needs no download)")
    p.add_argument("--lit-model", metavar="DIR", help="a search-encoder run directory (default: the cached "
                                                     "default heads, trained once if absent)")
    p.add_argument("--clip-model", default="openai/clip-vit-base-patch32",
                   help="CLIP model id or local directory (default openai/clip-vit-base-patch32)")
    p.add_argument("--per-class", type=_bounded_int(1, 50), metavar="N",
                   help="index only N validation images per label")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=PORT, default=8766, help="port (default 8766)")
    p.add_argument("--data-dir", metavar="DIR", help="dataset folder searched first (default: $DLLAB_DATA)")
    p.set_defaults(func=cmd_search, encoder=None)

    p = sub.add_parser("data", help="find and verify datasets", formatter_class=fmt,
                       description="list: which datasets are found where. verify [NAME]: checksums and counts of "
                                   "the copy that would be used. path NAME: the folder used.")
    p.add_argument("action", choices=["list", "verify", "path"])
    p.add_argument("name", nargs="?", help="dataset: mnist, fashion-mnist, cifar10, tiny-imagenet-200")
    p.add_argument("--data-dir", metavar="DIR", help="dataset folder searched first (default: $DLLAB_DATA)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("report", help="rebuild the HTML report of one or more runs", formatter_class=fmt,
                       description="Rebuild report.html of each RUN_DIR from its files; --combined also writes "
                                   "one page holding them all.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--combined", metavar="FILE.html", help="also write one combined report")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dllab.errors import os_error

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except OSError as exc:  # a full disk, a folder where a file belongs, a missing permission
        print(f"dllab: error: {os_error(exc)}", file=sys.stderr)
        return 2
    except DllabError as exc:
        print(f"dllab: error: {exc}", file=sys.stderr)
        return exc.exit_code
