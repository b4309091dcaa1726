"""A tiny experiment for the suite's dependency tests: it makes a file that another experiment needs."""

import os
import signal
from pathlib import Path

from dllab.config import ExperimentConfig
from dllab.errors import DllabError

DESCRIPTION = "test fixture: writes made.txt"
HOMEWORK: list = []
PRESETS = {"smoke": {}, "cpu": {}, "full": {}}
SUMMARY_KEYS = {"made": "what it wrote"}


class Config(ExperimentConfig):
    fail: bool = False


def run(cfg: Config, rec) -> dict:
    if cfg.fail:
        raise DllabError("maker was told to fail")
    (rec.dir / "made.txt").write_text("by maker")
    rec.text("Made", "a file")
    return {"made": "by maker"}


# Stage functions for the executor tests (importable by Ray workers and submitit jobs through PYTHONPATH).

def die_once(marker: str) -> str:
    """Kills its own worker process the first time (Ray must retry it), survives the second."""
    with open(marker, "a") as f:
        f.write("x")
    if Path(marker).read_text() == "x":
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


def die_always(marker: str) -> str:
    with open(marker, "a") as f:
        f.write("x")
    os.kill(os.getpid(), signal.SIGKILL)


def square(k: int) -> int:
    return k * k


def fail_on(k: int) -> int:
    raise ValueError(f"bad k {k}")
