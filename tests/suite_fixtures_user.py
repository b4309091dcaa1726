"""A tiny experiment that needs suite_fixtures' run directory (NEEDS: config key -> experiment)."""

from pathlib import Path

from dllab.config import ExperimentConfig

DESCRIPTION = "test fixture: reads what maker made"
HOMEWORK: list = []
NEEDS = {"source": "maker"}
PRESETS = {"smoke": {}, "cpu": {}, "full": {}}
SUMMARY_KEYS = {"made": "what maker wrote", "from": "maker's run directory"}


class Config(ExperimentConfig):
    source: str = ""


def run(cfg: Config, rec) -> dict:
    rec.text("Used", "maker's file")
    return {"made": (Path(cfg.source) / "made.txt").read_text(), "from": cfg.source}
