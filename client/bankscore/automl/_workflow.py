"""Train on a registered dataset, write the report and register the model: one step for CLI, demo, pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore.automl._registry import ModelVersionInfo, log_training
from bankscore.automl._report import summary, write_report
from bankscore.automl._search import Progress, TrainingResult, TrainOptions, run_automl
from bankscore.data import DatasetVersion

__all__ = ["TrainedModel", "train_and_register"]


@dataclass(frozen=True)
class TrainedModel:
    result: TrainingResult
    registered: ModelVersionInfo
    report_dir: Path
    summary: dict[str, Any]


def train_and_register(
    dataset: DatasetVersion,
    options: TrainOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    report_dir: Path | None = None,
) -> TrainedModel:
    """Run AutoML on ``dataset``, write the report, log the run and register the model in MLflow."""
    result = run_automl(dataset.load(), options, progress=progress)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report_dir = report_dir or workspace.home() / "runs" / f"train-{stamp}"
    paths = write_report(result, report_dir, dataset.ref)
    registered = log_training(result, dataset.ref, dataset.sha256, report_dir)
    info = {**summary(result, dataset.ref), "model": registered.ref, "report": str(report_dir)}
    paths["summary_json"].write_text(json.dumps(info, indent=2))
    return TrainedModel(result, registered, report_dir, info)
