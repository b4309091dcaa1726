"""The suite's plan: which runs, in which order (each experiment's ``NEEDS``), with which overrides, and how long
each is expected to take (recorded wall times on this CPU model, else the experiment's stated estimate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dllab import config as configlib
from dllab import experiments
from dllab.environment import cpu_info
from dllab.errors import ConfigError, DamagedFileError
from dllab.fileio import read_json, write_json
from dllab.report import duration


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


def _timings_path() -> Path:
    from dllab.data.store import cache_dir

    return cache_dir() / "timings.json"


def _timings() -> tuple[Path, dict, str]:
    """The recorded wall times (an unreadable file counts as none) and this machine's key prefix."""
    path = _timings_path()
    try:
        timings = read_json(path, {}, kind=dict)
    except (DamagedFileError, OSError):
        timings = {}
    return path, timings, cpu_info()["model"]


def recorded_time(name: str, preset: str) -> float | None:
    """The last recorded wall time of ``name`` at ``preset`` on this CPU model, if any."""
    _, timings, cpu = _timings()
    return timings.get(f"{name}/{preset}/{cpu}")


def record_time(name: str, preset: str, seconds: float) -> None:
    path, timings, cpu = _timings()
    timings[f"{name}/{preset}/{cpu}"] = round(seconds, 1)
    write_json(path, timings)


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
                               "recorded" if recorded else "stated"))
    return planned


def dry_run_text(planned: list[Planned], preset: str, jobs: int) -> str:
    total = sum(p.estimate_s for p in planned)
    lines = [f"dllab suite --preset {preset}: {len(planned)} runs"]
    for p in planned:
        needs = f" (needs {', '.join(p.needs.values())})" if p.needs else ""
        lines.append(f"  {p.name:<18} {duration(p.estimate_s):>12}  ({p.estimate_from}){needs}")
    lines.append(f"total: {duration(total)} of run time; with {jobs} parallel job(s) about "
                 f"{duration(total / max(1, jobs))} of wall time on this machine ({cpu_info()['model']})")
    return "\n".join(lines)
