"""The MLflow registry on its real sqlite file: log, register, list, load, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bankscore import BankscoreError
from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._registry import (
    MODEL_NAME,
    export_model_folder,
    get_model_version,
    list_model_versions,
    load_model,
    log_training,
)
from bankscore.automl._report import render_leaderboard, write_report
from bankscore.data import Dataset


@pytest.mark.slow
def test_register_list_load_predict(workspace_home: Path, small_dataset: Dataset, tmp_path: Path) -> None:
    result = run_automl(small_dataset, TrainOptions(time_budget=None, max_trials=6, cv=3, exclude=("duration",)))
    paths = write_report(result, tmp_path / "report", "sample:1")
    first = log_training(result, "sample:1", "abc123", tmp_path / "report")
    second = log_training(result, "sample:1", "abc123", tmp_path / "report")

    assert (workspace_home / "mlflow.db").is_file()  # the embedded store lives in the workspace
    assert (first.name, first.version, second.version) == (MODEL_NAME, 1, 2)
    assert [v.version for v in list_model_versions()] == [1, 2]
    assert get_model_version().version == 2
    shown = get_model_version("bank-marketing:1")
    assert shown.excluded == ["duration"] and "duration" not in shown.features and len(shown.features) == 19
    assert shown.dataset == "sample:1"
    assert shown.metrics["holdout_AUC_weighted"] == pytest.approx(result.holdout_metrics["AUC_weighted"])
    assert shown.algorithm == result.model.algorithm

    loaded = load_model("bank-marketing:1")
    records = list(small_dataset.records())[:100]
    np.testing.assert_allclose(loaded.predict_proba(records), result.model.predict_proba(records))
    assert loaded.features == result.model.features

    # The registered MLflow model is deployable no-code: its signature names the model's own 19 features.
    from mlflow.models import Model

    exported = Model.load(str(export_model_folder("bank-marketing:1", tmp_path / "exported" / "model")))
    assert [spec.name for spec in exported.signature.inputs.inputs] == shown.features
    assert exported.signature.params.to_dict() == [
        {"name": "predict_method", "type": "string", "default": "predict", "shape": None}
    ]

    leaderboard = json.loads(paths["leaderboard_json"].read_text())
    assert leaderboard == json.loads(json.dumps(result.leaderboard))
    assert paths["roc_curve_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["confusion_matrix_png"].stat().st_size > 1000
    csv_lines = paths["leaderboard_csv"].read_text().splitlines()
    assert csv_lines[0].startswith("rank,algorithm,iteration,AUC_weighted,accuracy")
    assert len(csv_lines) == len(result.leaderboard) + 1
    table = render_leaderboard(result.leaderboard)
    assert table.splitlines()[1].split()[1] == result.leaderboard[0]["algorithm"]


def test_unknown_versions_are_named(workspace_home: Path) -> None:
    with pytest.raises(BankscoreError, match="no model 'bank-marketing' is registered"):
        get_model_version()


def test_the_embedded_store_follows_the_workspace_and_leaves_the_environment_alone(
    workspace_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    assert list_model_versions() == []
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "other"))
    assert list_model_versions() == []
    from bankscore import workspace

    assert workspace.tracking_uri().endswith(str(tmp_path / "other" / "mlflow.db"))
    assert not (tmp_path / "other" / "mlflow.db").exists()  # reading an empty registry creates nothing
    assert "MLFLOW_TRACKING_URI" not in os.environ
