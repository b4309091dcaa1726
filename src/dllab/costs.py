"""What runs will cost before they start (``--dry-run``): each run's stages with their core-hours, and the wall
time on a cluster of N nodes with C cores each.

A run is a serial part (its own process: data, the report, work outside stages) and its stages (independent
tasks, :meth:`dllab.recorder.Recorder.map_stages`; an experiment names them for a config in ``STAGES(cfg)``).
Figures come from :mod:`dllab.timings` (what earlier runs recorded on this CPU model) or, where none is recorded,
from the experiment's stated ``ESTIMATE_S`` (its wall time on the developers' 2 cores, so 2 x that in
core-seconds: a tenth serial but at most 5 minutes on 2 cores, the rest shared evenly by its stages).

The cluster model is the executor's: a run's stages get ``min(C, N x C / stages)`` cores each (as Ray's tasks do
under ``--executor ray``), take their core-seconds divided by those cores, and are placed longest first on the
node whose cores free up first; a run's serial part takes one node's C cores; a run starts once the runs it
needs have finished. Compute scales linearly with cores in this model, so the estimate is a lower bound where
stages use cores less well (small models); recorded figures already carry that loss for this machine's cores.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from dllab import timings

DEVELOPER_CORES = 2  # the machine ESTIMATE_S figures were measured on
SERIAL_SHARE = 0.1   # of a stated estimate, for runs with stages ...
SERIAL_MAX = DEVELOPER_CORES * 300.0  # ... at most 5 minutes of the developers' 2 cores


@dataclass
class RunCost:
    """One run's estimated core-seconds: ``serial`` outside stages, ``stages`` name -> core-seconds."""

    name: str
    serial: float
    stages: dict[str, float] = field(default_factory=dict)
    source: str = "stated"  # recorded | stated | partly recorded
    needs: tuple[str, ...] = ()

    @property
    def core_s(self) -> float:
        return self.serial + sum(self.stages.values())


def run_cost(name: str, module, cfg, preset: str, needs: tuple[str, ...] = ()) -> RunCost:
    """The cost of experiment ``name`` (``module``) at ``cfg`` from recorded figures, else its stated estimate."""
    stated_total = DEVELOPER_CORES * float(getattr(module, "ESTIMATE_S", {}).get(preset, 60))
    names = list(module.STAGES(cfg)) if hasattr(module, "STAGES") else []
    if not names:
        wall = timings.recorded(name, preset)
        serial = timings.recorded(name, preset, "serial")
        core_s = serial if serial else (wall * DEVELOPER_CORES if wall else None)
        return RunCost(name, core_s or stated_total, {}, "recorded" if core_s else "stated", needs)
    found = {s: t for s in names if (t := timings.recorded(name, preset, f"stage:{s}")) is not None}
    stated_serial = min(SERIAL_SHARE * stated_total, SERIAL_MAX)
    share = (stated_total - stated_serial) / len(names)
    fill = sum(found.values()) / len(found) if found else share  # a stage not recorded: like its recorded peers
    serial = timings.recorded(name, preset, "serial")
    source = "recorded" if len(found) == len(names) and serial is not None else \
        "partly recorded" if found or serial is not None else "stated"
    return RunCost(name, serial if serial is not None else stated_serial,
                   {s: found.get(s, fill) for s in names}, source, needs)


def cluster_wall(costs: list[RunCost], nodes: int, cores: int) -> float:
    """Wall seconds to run ``costs`` (in dependency order) on ``nodes`` nodes of ``cores`` cores each."""
    free = [[0.0] * cores for _ in range(nodes)]  # when each core of each node is next free
    finished: dict[str, float] = {}

    def place(ready: float, need: int, seconds: float) -> float:
        best = None
        for node in free:
            start = max(ready, sorted(node)[need - 1])
            if best is None or start < best[0]:
                best = (start, node)
        start, node = best
        for _ in range(need):  # the `need` cores free earliest
            i = min(range(cores), key=lambda j: node[j])
            node[i] = start + seconds
        return start + seconds

    for run in costs:
        ready = max((finished.get(d, 0.0) for d in run.needs), default=0.0)
        end = place(ready, cores, run.serial / cores)  # then its stages, longest first
        if run.stages:
            per = max(1, min(cores, nodes * cores // len(run.stages)))
            heap = [(-c, s) for s, c in run.stages.items()]
            heapq.heapify(heap)
            after_serial = end
            while heap:
                c, _ = heapq.heappop(heap)
                end = max(end, place(after_serial, per, -c / per))
        finished[run.name] = end
    return max(finished.values(), default=0.0)


def cost_text(costs: list[RunCost], nodes: list[int] | None = None, cores: int | None = None, gpus: float = 0,
              title: str = "") -> str:
    """The dry run's table: each run's stages and core-hours, then the wall time on each cluster size of
    ``nodes`` nodes with ``cores`` cores (None: this machine, one node of its core budget)."""
    from dllab.environment import cpu_cores, cpu_info
    from dllab.report import duration

    lines = [title] if title else []
    for c in costs:
        stages = f"{len(c.stages)} stages" if c.stages else "no stages"
        needs = f"  (needs {', '.join(c.needs)})" if c.needs else ""
        lines.append(f"  {c.name:<18} {stages:>11}  {c.core_s / 3600:9.2f} core-h  ({c.source}){needs}")
        if c.stages:
            shown = list(c.stages.items())
            for s, t in shown[:6]:
                lines.append(f"      {s:<28} {t / 3600:9.3f} core-h")
            if len(shown) > 6:
                lines.append(f"      ... and {len(shown) - 6} more stages, {sum(t for _, t in shown[6:]) / 3600:.2f} "
                             "core-h")
    total = sum(c.core_s for c in costs)
    lines.append(f"total: {total / 3600:.2f} core-hours (figures of {cpu_info()['model']})")
    gpu = f", {gpus:g} GPU(s) each (not used by these estimates)" if gpus else ""
    here = " (this machine)" if not nodes else ""
    cores = cores or cpu_cores()
    for n in nodes or [1]:
        lines.append(f"  on {n} node(s) x {cores} cores{gpu}: about {duration(cluster_wall(costs, n, cores))} "
                     f"of wall time{here}")
    return "\n".join(lines)
