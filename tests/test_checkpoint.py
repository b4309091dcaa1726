"""dllab.checkpoint: atomic per-epoch state, the one before kept, damaged files named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dllab.checkpoint import EpochCheckpoint, load_state, previous, save_state
from dllab.errors import DllabError


def test_save_keeps_the_one_before_and_load_returns_the_newest(tmp_path):
    path = tmp_path / "c.pt"
    assert load_state(path) is None
    save_state(path, {"epoch": 1, "w": torch.ones(3)})
    save_state(path, {"epoch": 2, "w": torch.full((3,), 2.0), "a": np.arange(4)})
    state = load_state(path)
    assert state["epoch"] == 2 and torch.equal(state["w"], torch.full((3,), 2.0))
    assert np.array_equal(state["a"], np.arange(4))
    assert torch.load(previous(path), weights_only=False)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.prev.pt", "c.pt"]  # no temp files left


def test_a_damaged_checkpoint_falls_back_then_fails_by_name(tmp_path, capsys):
    path = tmp_path / "c.pt"
    save_state(path, {"epoch": 1})
    save_state(path, {"epoch": 2})
    path.write_bytes(path.read_bytes()[:50])
    assert load_state(path)["epoch"] == 1
    assert "c.pt is damaged" in capsys.readouterr().err
    path.unlink()
    assert load_state(path)["epoch"] == 1  # killed between the rename and the write
    torch.save([1, 2], previous(path))
    with pytest.raises(DllabError, match=r"c\.pt is damaged and no earlier one is readable .*not a dllab checkpoint"):
        load_state(path)


def test_epoch_checkpoint_loads_only_when_resuming_and_reports_the_restart_epoch(tmp_path):
    told = []
    fresh = EpochCheckpoint(tmp_path / "a.pt", resume=False, on_restart=told.append)
    fresh.save({"epoch": 3})
    assert fresh.load() is None and told == []
    again = EpochCheckpoint(tmp_path / "a.pt", resume=True, on_restart=told.append)
    assert again.load()["epoch"] == 3 and told == [3]
    assert EpochCheckpoint(tmp_path / "none.pt", resume=True, on_restart=told.append).load() is None
    assert told == [3, 0]  # nothing saved: the loop starts over, its rows are all dropped
    again.discard()
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "a.prev.pt").exists()
    EpochCheckpoint(None).save({"epoch": 1})  # checkpoints off: nothing written
