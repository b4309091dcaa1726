"""Files that are never half-written: atomic writes (temp file + rename) and JSON with numpy/torch values."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dllab.errors import DamagedFileError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; a result file is as readable as any
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a failed write (a full disk) names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays, paths and tuples to plain JSON types; NaN -> None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if hasattr(obj, "tolist") and type(obj).__module__.startswith("torch"):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


_REQUIRED = object()


def read_json(path: str | Path, default: Any = _REQUIRED, kind: type | tuple[type, ...] | None = None) -> Any:
    """The JSON value in ``path``; ``default`` instead when the file does not exist (if one is given).

    A file that is not JSON text (truncated, binary) or, with ``kind``, holds another type of value raises a
    :class:`DamagedFileError` naming it; a missing file without a default raises one too."""
    path = Path(path)
    if not path.is_file():
        if default is not _REQUIRED:
            return default
        raise DamagedFileError(f"{path} does not exist (the run did not get that far, or the file was removed)")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DamagedFileError(f"{path} is damaged: not UTF-8 text. {DAMAGED_HINT}") from None
    except json.JSONDecodeError as exc:
        raise DamagedFileError(f"{path} is damaged: not valid JSON ({exc.msg} at line {exc.lineno}). "
                               f"{DAMAGED_HINT}") from None
    if kind is not None and not isinstance(value, kind):
        want = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DamagedFileError(f"{path} is damaged: it holds {_JSON_NAMES.get(type(value), type(value).__name__)} "
                               f"where {want} belongs. {DAMAGED_HINT}")
    return value


# what to do about a damaged run file, said once for every reader
DAMAGED_HINT = "Restore it from a copy, or delete it and continue the run with --resume (which rewrites it)"
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file (an absent file has none). A last line cut short (a process killed while
    appending) is left out; any other line that is not a JSON object raises a :class:`DamagedFileError`."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise DamagedFileError(f"{path} is damaged: not UTF-8 text. {DAMAGED_HINT}") from None
    records = []
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise DamagedFileError(f"{path} is damaged: line {i + 1} is not JSON. {DAMAGED_HINT}") from None
        if not isinstance(record, dict):
            raise DamagedFileError(f"{path} is damaged: line {i + 1} is not a JSON object. {DAMAGED_HINT}")
        records.append(record)
    return records
