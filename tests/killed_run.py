"""Run the dllab CLI and SIGKILL it right after its first write of a given kind: a real crash at a known point.

    python tests/killed_run.py checkpoint|stage dllab-args...

``checkpoint`` kills after the first file written into ``checkpoints/``, ``stage`` after the first stage result
(``stages/*.json``; stages that ran in worker processes are stored by the parent, so the kill lands there).
The patch must be installed before any dllab module binds ``atomic_write``, hence this wrapper.
"""

import os
import signal
import sys
from pathlib import Path

from dllab import fileio

KIND = {"checkpoint": "checkpoints", "stage": "stages"}[sys.argv[1]]
_write = fileio.atomic_write


def atomic_write_then_die(path, data):
    _write(path, data)
    if Path(path).parent.name == KIND:
        os.kill(os.getpid(), signal.SIGKILL)


fileio.atomic_write = atomic_write_then_die

from dllab.cli import main  # noqa: E402  (after the patch)

sys.exit(main(sys.argv[2:]))
