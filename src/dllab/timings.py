"""Recorded times on this CPU model, behind every estimate of what a run will cost (``--dry-run``): a run's wall
time, the core-seconds of each of its stages, and the core-seconds it spent outside its stages. Kept in
``<cache>/timings.json`` under ``experiment/preset/cpu model[/part]``; an unreadable file counts as none."""

from __future__ import annotations

from pathlib import Path

from dllab.environment import cpu_info
from dllab.errors import DamagedFileError
from dllab.fileio import read_json, write_json


def _path() -> Path:
    from dllab.data.store import cache_dir

    return cache_dir() / "timings.json"


def _read() -> dict:
    try:
        return read_json(_path(), {}, kind=dict)
    except (DamagedFileError, OSError):
        return {}


def _key(name: str, preset: str, part: str | None) -> str:
    return f"{name}/{preset}/{cpu_info()['model']}" + (f"/{part}" if part else "")


def recorded(name: str, preset: str, part: str | None = None) -> float | None:
    """The last recorded figure of ``name`` at ``preset`` on this CPU model: its wall time (``part`` None), a
    stage's core-seconds (``stage:NAME``) or its core-seconds outside stages (``serial``)."""
    return _read().get(_key(name, preset, part))


def record(name: str, preset: str, seconds: float, part: str | None = None) -> None:
    record_many(name, preset, {part: seconds})


def record_many(name: str, preset: str, figures: dict[str | None, float]) -> None:
    """Record several figures of one run at once (part -> seconds, as :func:`recorded` reads them)."""
    timings = _read()
    for part, seconds in figures.items():
        timings[_key(name, preset, part)] = round(float(seconds), 1)
    try:
        write_json(_path(), timings)
    except OSError:
        pass  # an unwritable cache costs estimates, not results
