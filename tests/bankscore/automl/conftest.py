"""Shared fixtures: a small stratified sample of the shipped data and an isolated workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankscore.data import Dataset, load_training_data


@pytest.fixture(scope="session")
def small_dataset() -> Dataset:
    """Every sixth shipped row (5,492 rows, the same class balance): fast enough for real searches."""
    full = load_training_data()
    columns = {name: values[::6] for name, values in full.columns.items()}
    return Dataset(columns=columns, source="sample-of-6", sha256="sample")


@pytest.fixture
def workspace_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ws"
    monkeypatch.setenv("BANKSCORE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
