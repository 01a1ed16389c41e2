"""The pipeline's MLflow record: one parent run per pipeline run, one nested run per step.

MLflow's client API rather than its fluent one, so the training step's own ``mlflow.start_run`` (in the model
registry code) is never taken for a nested run of the pipeline's. ``mlflow ui`` shows the steps under their
pipeline run, each with its status, time, values, metrics and artifacts.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore.pipeline._parameters import PipelineParameters
from bankscore.pipeline._result import PipelineResult
from bankscore.pipeline._steps import StepOutput, write_json

__all__ = ["Tracker"]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow prints run links and advisory warnings; the pipeline prints its own progress."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


@dataclass
class Tracker:
    """A pipeline run's MLflow parent run and its folder under ``<workspace>/runs``."""

    client: Any
    experiment_id: str
    run_id: str
    run_dir: Path

    @classmethod
    def start(cls, params: PipelineParameters) -> Tracker:
        from bankscore.automl._registry import _mlflow

        mlflow = _mlflow()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        run_dir = workspace.home() / "runs" / f"pipeline-{stamp}"
        run_dir.mkdir(parents=True)
        with _quiet():
            client = mlflow.MlflowClient()
            existing = client.get_experiment_by_name(params.experiment)
            if existing is not None:
                experiment_id = str(existing.experiment_id)
            else:
                # With the embedded store, artifacts stay inside the workspace (as for training runs).
                location = workspace.artifact_root() if workspace.tracking_uri().startswith("sqlite:") else None
                experiment_id = str(client.create_experiment(params.experiment, artifact_location=location))
            run = client.create_run(experiment_id, run_name=f"pipeline-{stamp}", tags={"bankscore.kind": "pipeline"})
            for key, value in _parameter_values(params).items():
                client.log_param(run.info.run_id, key, value)
        return cls(client, experiment_id, str(run.info.run_id), run_dir)

    def begin(self, step: str) -> str:
        with _quiet():
            run = self.client.create_run(
                self.experiment_id,
                run_name=step,
                tags={"mlflow.parentRunId": self.run_id, "bankscore.kind": "pipeline-step", "bankscore.step": step},
            )
        return str(run.info.run_id)

    def record(self, step_run: str, output: StepOutput) -> None:
        with _quiet():
            for key, value in output.values.items():
                self.client.log_param(step_run, key, value[:6000])  # MLflow's limit for a param value
            for key, number in output.metrics.items():
                self.client.log_metric(step_run, key, number)
            for path in output.artifacts:
                self.client.log_artifact(step_run, str(path))
            self.client.set_tag(step_run, "bankscore.message", output.message[:5000])

    def end(self, step_run: str, status: str, elapsed: float, *, error: str | None = None) -> None:
        with _quiet():
            self.client.log_metric(step_run, "elapsed_s", elapsed)
            if error is not None:
                self.client.set_tag(step_run, "bankscore.error", error[:5000])
            self.client.set_terminated(step_run, status)

    def finish(self, status: str, result: PipelineResult) -> None:
        tags = {
            "bankscore.status": result.status,
            "model": f"{result.model_name}:{result.model_version}" if result.model_version else "",
            "spec_breaking": str(result.spec_breaking),
            "client": result.client_path or "",
            "error": (result.error or "")[:5000],
        }
        with _quiet():
            for key, value in tags.items():
                self.client.set_tag(self.run_id, key, value)
            for event in result.steps:
                self.client.log_metric(self.run_id, f"{event.step}_seconds", event.elapsed_s)
            if result.auc is not None:
                self.client.log_metric(self.run_id, "holdout_AUC_weighted", result.auc)
            summary = write_json(self.run_dir / "result.json", result.to_dict())
            self.client.log_artifact(self.run_id, str(summary))
            self.client.set_terminated(self.run_id, status)


def _parameter_values(params: PipelineParameters) -> dict[str, str]:
    values = asdict(params)
    values["exclude"] = ",".join(params.exclude)
    return {key: "" if value is None else str(value) for key, value in values.items()}
