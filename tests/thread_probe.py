"""A stage for the core-budget test: a real cifar-fast run (start-up precision timing, training) and an embedding
loop inside an executor worker, noting torch's threads and the worker's share at every step that could use cores.
A module of its own so that the spawned workers import it by name."""

from __future__ import annotations


def probe(out: str, seed: int) -> list[dict]:
    import torch

    from dllab import executor, recorder, runner
    from dllab.nn import fast
    from dllab.search import towers

    seen: list[dict] = []

    def note(where: str) -> None:
        seen.append({"where": where, "threads": torch.get_num_threads(), "share": executor.current_budget()})

    timing, log = fast.precision_times, recorder.Recorder.log

    def timed(fn, steps, **kw):
        note("precision timing")
        return timing(lambda bf16: (note("timed step"), fn(bf16))[1], steps, **kw)

    def logged(self, **metrics):
        log(self, **metrics)
        note("log")

    fast.precision_times, recorder.Recorder.log = timed, logged
    note("stage start")
    towers.batched(lambda a, b: (note("embedding"), torch.zeros(b - a, 1))[1], 3, 1, "probe", progress=False)
    runner.run_experiment("cifar-fast", preset="smoke", overrides=["fast.precision=auto"], seed=seed, out=out,
                          progress=False)
    return seen
