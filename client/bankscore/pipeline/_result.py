"""What a pipeline run reports: an event per step change, and the run's result."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = ["PipelineResult", "StepEvent", "StepStatus"]

StepStatus = Literal["Running", "Completed", "Failed", "Canceled"]


@dataclasses.dataclass(frozen=True)
class StepEvent:
    """A step started, made progress (``Running`` again, with a message) or ended."""

    step: str
    status: StepStatus
    message: str
    elapsed_s: float


@dataclasses.dataclass
class PipelineResult:
    """How a run ended and what it made."""

    run_id: str  # the MLflow parent run
    status: StepStatus
    steps: list[StepEvent] = dataclasses.field(default_factory=list)  # each step's final event
    model_name: str | None = None
    model_version: str | None = None
    auc: float | None = None  # held-out AUC_weighted of the new model
    spec_breaking: bool | None = None  # None: no previous deployment to compare with
    spec_diff: str | None = None  # the rendered diff of the request
    spec_changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    client_path: str | None = None  # the regenerated client package, when it was regenerated
    scoring_uri: str | None = None
    run_dir: str | None = None
    error: str | None = None
    rollout: str = "replace"
    deployment: str | None = None  # the deployment the new model went to (blue, green)
    live_deployment: str | None = None  # blue-green: the deployment that took the traffic before the run
    rolled_out: bool | None = None  # the new model takes the traffic; False: a gate held it; None: not deployed
    gates: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # blue-green: name, limit, value, passed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
