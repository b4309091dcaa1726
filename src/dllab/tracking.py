"""Optional mirroring of a run's metrics to Weights & Biases (``pip install 'dllab[wandb]'``)."""

from __future__ import annotations

import os
from typing import Any

from dllab.errors import DllabError
from dllab.fileio import to_jsonable


class WandbMirror:
    """Logs each metrics record and the final summary to a wandb run (offline without ``WANDB_API_KEY``)."""

    def __init__(self, run_dir, experiment: str, config):
        try:
            import wandb
        except ImportError:
            raise DllabError("--wandb needs Weights & Biases: pip install 'dllab[wandb]'") from None
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        self._run = wandb.init(project="dllab", name=run_dir.name, group=experiment, dir=str(run_dir),
                               config=to_jsonable(config.model_dump()), mode=mode)

    def log(self, metrics: dict[str, Any]) -> None:
        self._run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))})

    def finish(self, summary: dict) -> None:
        self._run.summary.update({k: v for k, v in to_jsonable(summary).items() if isinstance(v, (int, float, str))})
        self._run.finish()
