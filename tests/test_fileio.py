"""dllab.fileio: atomic writes and JSON of numpy values."""

import json
import os

import numpy as np
import pytest

from dllab.fileio import atomic_write, read_jsonl, to_jsonable


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.json"
    atomic_write(p, "one")
    atomic_write(p, "two")
    assert p.read_text() == "two"
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_write_failure_keeps_old_content(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    atomic_write(p, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(p, "new")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_to_jsonable():
    out = to_jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": (1, float("nan")), "d": {"e": np.int64(2)}})
    assert out == {"a": 1.5, "b": [0, 1, 2], "c": [1, None], "d": {"e": 2}}
    json.dumps(out)


def test_read_jsonl_of_a_missing_file_is_empty(tmp_path):
    assert read_jsonl(tmp_path / "nope.jsonl") == []
    (tmp_path / "a.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_jsonl(tmp_path / "a.jsonl") == [{"a": 1}, {"a": 2}]
