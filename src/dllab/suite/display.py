"""The suite's progress display: one line per event with runs done / running / failed and the time left."""

from __future__ import annotations

import time

from dllab.report import duration
from dllab.suite.plan import Planned


class Display:
    """One overall progress line per event: runs done / running / failed, time so far, time left."""

    def __init__(self, planned: list[Planned], jobs: int, enabled: bool = True):
        self.planned, self.jobs, self.enabled = planned, jobs, enabled
        self.t0 = time.perf_counter()
        self.started: dict[str, float] = {}

    def start(self, names: list[str]) -> None:
        now = time.perf_counter()
        for n in names[: self.jobs]:
            self.started.setdefault(n, now)
        self._print(f"started {', '.join(names[: self.jobs])}"
                    + (f" ({len(names) - self.jobs} queued)" if len(names) > self.jobs else ""))

    def done(self, p: Planned, queue: list[str]) -> None:
        self.started.pop(p.name, None)
        for n in queue[: self.jobs]:
            self.started.setdefault(n, time.perf_counter())
        r = p.result
        what = f"{p.name} {r['status']}" + (f" in {duration(r.get('wall_time_s'))}" if r.get("wall_time_s") else "")
        if r.get("error"):
            what += f": {r['error']}"
        self._print(what)

    def _print(self, event: str) -> None:
        if not self.enabled:
            return
        counts = {s: sum(p.result.get("status") == s for p in self.planned) for s in ("finished", "failed", "skipped")}
        left = [p for p in self.planned if not p.result]
        now = time.perf_counter()
        remaining = sum(max(p.estimate_s - (now - self.started.get(p.name, now)), 0) for p in left)
        eta = remaining / max(1, min(self.jobs, len(left))) if left else 0
        print(f"[{len(self.planned) - len(left)}/{len(self.planned)}] {event}  | done {counts['finished']}, "
              f"running {sum(1 for p in left if p.name in self.started)}, failed {counts['failed']}, skipped "
              f"{counts['skipped']}; {duration(now - self.t0)} so far, about {duration(eta)} left", flush=True)
