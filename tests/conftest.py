"""Test set-up: real data from DLLAB_DATA (default ../shared/data), a private cache, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_default = REPO.parent / "shared" / "data"
if not os.environ.get("DLLAB_DATA") and _default.is_dir():
    os.environ["DLLAB_DATA"] = str(_default)
os.environ["DLLAB_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
SHARED = Path(os.environ.get("DLLAB_DATA", _default)).resolve()  # absolute: tests link to it from tmp dirs
if os.environ.get("DLLAB_DATA"):
    os.environ["DLLAB_DATA"] = str(SHARED)  # the CLI under test sees the same absolute path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded arrays go to a per-session cache, never into the read-only data folder or ~/.cache."""
    if not os.environ.get("DLLAB_TEST_KEEP_CACHE"):
        os.environ["DLLAB_CACHE"] = str(tmp_path_factory.mktemp("dllab-cache"))
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "mnist").is_dir():
        pytest.fail(f"the test datasets are missing: set DLLAB_DATA to the shared data folder (tried {SHARED})")
    return SHARED


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """An environment where no dataset can be found: empty data folder and empty cache."""
    empty = tmp_path / "empty-data"
    empty.mkdir()
    monkeypatch.setenv("DLLAB_DATA", str(empty))
    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "empty-cache"))
    return empty
