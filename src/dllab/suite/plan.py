"""The suite's plan: which runs, in which order (each experiment's ``NEEDS``), with which overrides, and how long
each is expected to take (recorded wall times on this CPU model, else the experiment's stated estimate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dllab import config as configlib
from dllab import experiments, timings
from dllab.errors import ConfigError


@dataclass
class Planned:
    """One run of the suite."""

    name: str
    overrides: list[str]
    config_yaml: str
    needs: dict[str, str]             # config key -> experiment whose run directory it receives
    estimate_s: float
    estimate_from: str                # "recorded" or "stated"
    action: str = "run"               # run | resume | skip (finished earlier)
    result: dict = field(default_factory=dict)
    config: Any = None                # the resolved config (for the stages of --dry-run)


def split_overrides(items: list[str]) -> dict[str, list[str]]:
    """``NAME:key=value`` -> {NAME: ["key=value"]}; a bare ``key=value`` applies to every experiment ("*")."""
    out: dict[str, list[str]] = {}
    for item in items:
        head, sep, rest = item.partition(":")
        if sep and "=" not in head:
            experiments.get(head)  # an unknown name is a clear error
            out.setdefault(head, []).append(rest)
        else:
            out.setdefault("*", []).append(item)
    return out


def recorded_time(name: str, preset: str) -> float | None:
    """The last recorded wall time of ``name`` at ``preset`` on this CPU model, if any."""
    return timings.recorded(name, preset)


def record_time(name: str, preset: str, seconds: float) -> None:
    timings.record(name, preset, seconds)


def plan(preset: str, only: list[str] | None = None, skip: list[str] | None = None,
         overrides: list[str] | None = None, out: Path = Path("runs/suite")) -> list[Planned]:
    """The runs of a suite in dependency order; an experiment needed by a selected one is added. A run that
    needs another gets the other's run directory (``<out>/<experiment>``) as the config value its NEEDS names."""
    per = split_overrides(overrides or [])
    for name in [*(only or []), *(skip or [])]:
        experiments.get(name)
    wanted = [n for n in (only or list(experiments.EXPERIMENTS)) if n not in (skip or [])]
    if not wanted:
        raise ConfigError("nothing to run: --only/--skip left no experiment")
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ConfigError(f"experiments need each other in a circle: {' -> '.join((*path, name))}")
        if name in order:
            return
        for dep in getattr(experiments.get(name), "NEEDS", {}).values():
            if dep in (skip or []):
                raise ConfigError(f"{name} needs {dep}, which --skip leaves out")
            visit(dep, (*path, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    planned = []
    for name in order:
        module = experiments.get(name)
        needs = dict(getattr(module, "NEEDS", {}))
        ov = [*per.get("*", []), *per.get(name, [])] + [f"{k}={(out / d).resolve()}" for k, d in needs.items()]
        cfg = configlib.resolve(module.Config, module.PRESETS, preset, None, ov)
        recorded = recorded_time(name, preset)
        stated = float(getattr(module, "ESTIMATE_S", {}).get(preset, 60))
        planned.append(Planned(name, ov, configlib.to_yaml(cfg), needs, recorded or stated,
                               "recorded" if recorded else "stated", config=cfg))
    return planned


def plan_costs(planned: list[Planned], preset: str) -> list:
    """Each planned run's :class:`dllab.costs.RunCost` (its stages' core-seconds, recorded or stated)."""
    from dllab.costs import run_cost

    return [run_cost(p.name, experiments.get(p.name), p.config, preset, tuple(p.needs.values())) for p in planned]


def dry_run_text(planned: list[Planned], preset: str, nodes: list[int] | None = None, cores: int | None = None,
                 gpus: float = 0) -> str:
    """Each run with its stages and core-hours, and the wall time on this machine or on clusters of ``nodes``
    nodes of ``cores`` cores (see :mod:`dllab.costs`)."""
    from dllab.costs import cost_text

    return cost_text(plan_costs(planned, preset), nodes, cores, gpus,
                     f"dllab suite --preset {preset}: {len(planned)} runs")
