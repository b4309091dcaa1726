"""Run the dllab CLI and SIGKILL it right after its first write of a given kind: a real crash at a known point.

    python tests/killed_run.py checkpoint|stage|full:N dllab-args...

``checkpoint`` kills after the first file written into ``checkpoints/``, ``stage`` after the first stage result
(``stages/*.json``; stages that ran in worker processes are stored by the parent, so the kill lands there).
``full:N`` is a disk that fills after N files: every later write fails with ENOSPC, as a real one would.
The patch must be installed before any dllab module binds ``atomic_write``, hence this wrapper.
"""

import atexit
import errno
import os
import signal
import sys
from pathlib import Path

from dllab import fileio

MODE = sys.argv[1]
_write = fileio.atomic_write
_written = []


def atomic_write_then_die(path, data):
    _write(path, data)
    if Path(path).parent.name == {"checkpoint": "checkpoints", "stage": "stages"}[MODE]:
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_until_full(path, data):
    if len(_written) >= int(MODE.split(":")[1]):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    _written.append(path)
    _write(path, data)


if MODE.startswith("full:"):  # the count of files written, for a test that fills the disk at the last ones
    atexit.register(lambda: print(f"files written: {len(_written)}", file=sys.stderr))
fileio.atomic_write = atomic_write_until_full if MODE.startswith("full:") else atomic_write_then_die

from dllab.cli import main  # noqa: E402  (after the patch)

sys.exit(main(sys.argv[2:]))
