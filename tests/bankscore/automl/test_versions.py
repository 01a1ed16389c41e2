"""The registry reader: the sqlite store read directly says what MLflow's own client says, without MLflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bankscore.automl import _versions

_READ_WITHOUT_MLFLOW = """
import json, sys
from bankscore.automl._versions import list_model_versions
versions = list_model_versions()
heavy = sorted(m for m in ("mlflow", "sqlalchemy", "sklearn", "flaml", "numpy") if m in sys.modules)
print(json.dumps({"versions": [v.to_dict() for v in versions], "heavy": heavy}))
"""


def _read_in_subprocess(home: Path) -> dict[str, Any]:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-c", _READ_WITHOUT_MLFLOW], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_an_empty_workspace_has_no_versions_and_gets_no_store(tmp_path: Path) -> None:
    found = _read_in_subprocess(tmp_path / "ws")
    assert found == {"versions": [], "heavy": []}
    assert not (tmp_path / "ws" / "mlflow.db").exists()  # reading never creates (or migrates) the store


def test_a_store_without_registry_tables_has_no_versions(tmp_path: Path) -> None:
    import sqlite3

    home = tmp_path / "ws"
    home.mkdir()
    sqlite3.connect(home / "mlflow.db").close()  # an empty database file, as a run that never registered leaves
    assert _read_in_subprocess(home) == {"versions": [], "heavy": []}


def _mlflow_view(monkeypatch: pytest.MonkeyPatch, name: str = "bank-marketing") -> list[Any]:
    """What MLflow's own client reads from the same store (the reader's fallback, forced)."""
    with monkeypatch.context() as patch:
        patch.setattr(_versions, "_sqlite_path", lambda: None)
        return _versions.list_model_versions(name)


@pytest.mark.slow
def test_the_reader_agrees_with_mlflow_and_skips_deleted_versions(
    trained: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ws"
    shutil.copytree(trained.home, home)  # a copy: the session's workspace stays as it is
    monkeypatch.setenv("BANKSCORE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    found = _read_in_subprocess(home)
    assert found["heavy"] == []  # no MLflow, SQLAlchemy or learner library was imported to read it
    assert found["versions"] == [v.to_dict() for v in _mlflow_view(monkeypatch)]
    (version,) = found["versions"]
    assert version["ref"] == trained.model_ref and version["metrics"] and len(version["features"]) >= 19

    # A second version, then the first deleted through MLflow: the reader lists what MLflow lists.
    mlflow = _versions.mlflow_client_module()
    client = mlflow.MlflowClient()
    first = client.get_model_version("bank-marketing", "1")
    second = client.create_model_version("bank-marketing", first.source, run_id=first.run_id)
    client.set_model_version_tag("bank-marketing", second.version, "algorithm", "copy")
    client.delete_model_version("bank-marketing", "1")
    listed = _read_in_subprocess(home)["versions"]
    assert [(v["version"], v["algorithm"]) for v in listed] == [(2, "copy")]
    assert listed == [v.to_dict() for v in _mlflow_view(monkeypatch)]
    assert _versions.list_model_versions("no-such-model") == _mlflow_view(monkeypatch, "no-such-model") == []


@pytest.mark.slow
def test_run_artifacts_are_read_from_the_local_artifact_store(trained: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(trained.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (info,) = _versions.list_model_versions()
    _versions.mlflow_client_module().MlflowClient().log_text(info.run_id, "read me\n", "report/probe-versions.txt")
    assert _versions._local_artifact_root(info.run_id) is not None  # the direct path is the one taken
    direct = _versions.run_artifact_text(info.run_id, "report/probe-versions.txt")
    assert _versions.run_artifact_text(info.run_id, "report/no-such-file.md") is None
    assert _versions.run_artifact_text(info.run_id, "../../../mlflow.db") is None  # never outside the run's folder
    with monkeypatch.context() as patch:
        patch.setattr(_versions, "_sqlite_path", lambda: None)
        assert _versions.run_artifact_text(info.run_id, "report/probe-versions.txt") == direct == "read me\n"
        assert _versions.run_artifact_text(info.run_id, "report/no-such-file.md") is None
