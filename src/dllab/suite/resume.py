"""The suite's resume decision for each planned run: skip it (finished with the same config and code), resume it
(interrupted, same config and code), or set the old run aside and start over (the config or the code changed)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from dllab.errors import DamagedFileError, DllabError
from dllab.fileio import read_json
from dllab.suite.plan import Planned


def decide(p: Planned, run_dir: Path, commit: str | None, resume: bool) -> None:
    """Skip a finished run with the same config and code, resume an interrupted one, or start over."""
    if not run_dir.exists():
        return
    if not resume:
        raise DllabError(f"{run_dir} exists: add --resume to continue this suite, or choose another --out")
    stored = run_dir / "config.yaml"
    same_config = stored.is_file() and stored.read_text() == p.config_yaml
    try:
        env = read_json(run_dir / "env.json", {}, kind=dict)
    except DamagedFileError:  # the run cannot be trusted to have finished: continue it
        env = {}
    same_code = (env.get("git") or {}).get("commit") == commit
    if same_config and same_code and (run_dir / "summary.json").is_file() and env.get("status") == "finished":
        p.action = "skip"
        p.result = {"experiment": p.name, "status": "finished", "error": None, "earlier": True,
                    "wall_time_s": env.get("wall_time_s")}
    elif same_config and same_code:
        p.action = "resume"
    else:  # the config or the code changed: the old run is kept aside, not mixed in
        stale = run_dir.parent / ".stale" / f"{run_dir.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        stale.parent.mkdir(parents=True, exist_ok=True)
        run_dir.rename(stale)
