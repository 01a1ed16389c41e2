"""Train on a registered dataset, write the report and register the model: one step for CLI, demo, pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore.automl._artifacts import REPORT_ARTIFACT_DIR
from bankscore.automl._card import build_card, write_card
from bankscore.automl._guard import DegenerateModelError, GuardVerdict, check_registrable
from bankscore.automl._registry import ModelVersionInfo, attach_to_run, log_training
from bankscore.automl._report import summary, write_report
from bankscore.automl._search import Progress, TrainingResult, TrainOptions, run_automl
from bankscore.data import DatasetVersion

__all__ = ["TrainedModel", "register", "train_and_register"]


@dataclass(frozen=True)
class TrainedModel:
    result: TrainingResult
    registered: ModelVersionInfo
    report_dir: Path
    summary: dict[str, Any]
    guard: GuardVerdict


def register(
    result: TrainingResult, dataset_ref: str, dataset_sha256: str, report_dir: Path, *, force: bool = False
) -> tuple[ModelVersionInfo, GuardVerdict]:
    """Register ``result``'s model with its model card, if the registration guard (``_guard``) lets it through.

    A refused model is not registered unless ``force``: its model card is still written into ``report_dir``,
    and ``DegenerateModelError`` says why and where.
    """
    guard = check_registrable(result)
    if not guard.passed and not force:
        card = build_card(
            result,
            model_ref="not registered",
            dataset_ref=dataset_ref,
            dataset_sha256=dataset_sha256,
            guard=guard.to_dict(),
        )
        write_card(card, report_dir)
        raise DegenerateModelError(
            f"not registered: {guard.verdict}. The report and model card are in {report_dir}. Give the search "
            "more time (--time-budget), or register it anyway with --force"
        )
    if not guard.passed:
        guard = replace(guard, forced=True)
    registered = log_training(result, dataset_ref, dataset_sha256, report_dir)
    card = build_card(
        result,
        model_ref=registered.ref,
        dataset_ref=dataset_ref,
        dataset_sha256=dataset_sha256,
        guard=guard.to_dict(),
    )
    attach_to_run(registered, write_card(card, report_dir), artifact_path=REPORT_ARTIFACT_DIR)
    return registered, guard


def train_and_register(
    dataset: DatasetVersion,
    options: TrainOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    report_dir: Path | None = None,
    force: bool = False,
) -> TrainedModel:
    """Run AutoML on ``dataset``, write the report, log the run and register the model in MLflow (see
    ``register`` for the guard and ``force``)."""
    result = run_automl(dataset.load(), options, progress=progress)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report_dir = report_dir or workspace.home() / "runs" / f"train-{stamp}"
    paths = write_report(result, report_dir, dataset.ref)
    registered, guard = register(result, dataset.ref, dataset.sha256, report_dir, force=force)
    info = {**summary(result, dataset.ref), "model": registered.ref, "report": str(report_dir)}
    info["guard"] = guard.to_dict()
    paths["summary_json"].write_text(json.dumps(info, indent=2))
    return TrainedModel(result, registered, report_dir, info, guard)
