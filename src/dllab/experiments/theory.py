"""The theory lab: every pen-and-paper claim of the homework sets checked numerically, with figures."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig

DESCRIPTION = "numerical checks of the homework sets' pen-and-paper claims (20 checks, with figures)"
HOMEWORK = [(courses.CS229BR, "Q1.1-Q1.3"), (courses.TSINGHUA, "Q2-Q4"), (courses.MIT_6S898, "Q1-Q8"),
            (courses.CS7643, "theory Q1-Q3")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"checks passed": "n_passed", "checks": "n_checks"}
ESTIMATE_S = {"smoke": 15, "cpu": 15, "full": 15}


class Config(ExperimentConfig):
    checks: list[str] | None = Field(None, description="names of the checks to run (None: all); see docs")
    sizes: Literal["smoke", "full"] = Field("full", description="smoke: the checks' smaller sample sizes (same "
                                                                "false-failure bounds, wider confidence bands)")


PRESETS = {"smoke": {"sizes": "smoke"}, "cpu": {}, "full": {}}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "checks": ("checks: claim, verdict and key figures",
               "check name -> {name, homework, question, claim, passed, ...its key figures}"),
    "n_checks": ("checks run", ""),
    "n_passed": ("checks passed", ""),
    "all_passed": ("every check passed",
                   "true if every check passed"),
}


def run(cfg: Config, rec) -> dict:
    from dllab.errors import ConfigError
    from dllab.seeding import rng
    from dllab.theory import load_all

    catalogue = load_all()
    names = cfg.checks if cfg.checks is not None else list(catalogue)
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise ConfigError(f"unknown check(s) {unknown}; known: {', '.join(catalogue)}")
    results = {}
    rows = []
    for name in rec.progress(names, "theory checks"):
        c = catalogue[name]
        # each check's randomness depends only on (seed, name), so a subset reproduces the full run's numbers
        r = c.fn(rng(cfg.seed, "theory", name), **(c.smoke if cfg.sizes == "smoke" else {}))
        results[name] = {"name": name, "homework": c.homework, "question": c.question, "claim": c.claim,
                         "passed": bool(r.passed), "false_failure": c.false_failure, **r.figures}
        rows.append({"homework": c.homework, "question": c.question, "check": name,
                     "result": "PASS" if r.passed else "FAIL"})
        rec.text(f"{c.homework} {c.question} - {name}: {'PASS' if r.passed else 'FAIL'}",
                 f"Claim: {c.claim}\n\nMeasured: {r.detail}")
        for fig_name, fig, caption in r.plots:
            rec.figure(fig, fig_name, f"{name}: {caption}")
    rec.table("All checks", rows)
    n_passed = sum(r["passed"] for r in results.values())
    return {"checks": results, "n_checks": len(results), "n_passed": n_passed, "all_passed": n_passed == len(results)}
