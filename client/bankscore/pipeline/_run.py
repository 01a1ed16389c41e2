"""``bankscore pipeline run``: the seed's retraining pipeline, end to end on this machine.

register data -> AutoML -> register model -> deploy (replacing the running deployment without downtime) ->
update client (pull the new spec, diff it against the previous deployment's, regenerate the client when the
request changed). Steps run in order; ``cancel`` is checked before each step and after every AutoML trial.

MLflow gets one parent run per pipeline run (experiment ``PipelineParameters.experiment``) with one nested run
per step: its status, time, outputs (the metrics data and the model data, as the seed's pipeline outputs) and
artifacts. ``mlflow ui`` shows the steps under their pipeline run. A failing step raises ``PipelineStepError``
naming the step and the reason; the running deployment is only ever replaced by a healthy one, so a failure
before the switch leaves it serving.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from bankscore._exceptions import BankscoreError

__all__ = [
    "STEPS",
    "PipelineParameterError",
    "PipelineParameters",
    "PipelineResult",
    "PipelineStepError",
    "StepEvent",
    "run_pipeline",
]

StepStatus = Literal["Running", "Completed", "Failed", "Canceled"]
GENERATIONS = ("A", "B", "C")


class PipelineParameterError(BankscoreError, ValueError):
    """A pipeline parameter with an unknown name or a value it cannot take; the message names both."""

    def __init__(self, message: str, *, name: str | None = None, why: str = "") -> None:
        self.name = name
        self.why = why
        super().__init__(message)


class PipelineStepError(BankscoreError):
    """A pipeline step failed. ``step`` names it, ``reason`` says why, ``result`` is the run as it ended."""

    def __init__(self, step: str, reason: str, result: PipelineResult | None = None) -> None:
        self.step = step
        self.reason = reason
        self.result = result
        super().__init__(f"pipeline step {step!r} failed: {reason}")


def _bad(name: str, value: object, why: str) -> PipelineParameterError:
    return PipelineParameterError(f"pipeline parameter {name}={value!r}: {why}", name=name, why=why)


@dataclasses.dataclass(frozen=True)
class PipelineParameters:
    """Everything a run can be told; REST ParameterAssignments use these names."""

    experiment: str = "bank-marketing"
    dataset: str | None = None  # CSV path; None = the shipped training data
    time_budget_s: float = 60.0
    exclude: tuple[str, ...] = ()  # features to leave out, e.g. ("duration",)
    deployment: str = "bank-marketing"  # the local deployment to replace (`bankscore deploy local`'s default)
    port: int | None = None  # None: the running deployment's port, else 5001
    generation: str = "C"
    workers: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        from bankscore.features import FEATURE_NAMES

        if not self.experiment.strip():
            raise _bad("experiment", self.experiment, "must not be empty")
        if not self.deployment.strip() or "/" in self.deployment or self.deployment.startswith("."):
            raise _bad("deployment", self.deployment, "must be a plain name (no '/', not starting with '.')")
        if not math.isfinite(self.time_budget_s) or self.time_budget_s <= 0:
            raise _bad("time_budget_s", self.time_budget_s, "must be a positive number of seconds")
        unknown = [name for name in self.exclude if name not in FEATURE_NAMES]
        if unknown:
            raise _bad("exclude", ",".join(self.exclude), f"{', '.join(unknown)} is not a Bank Marketing feature")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise _bad("port", self.port, "must be between 1 and 65535")
        if self.generation not in GENERATIONS:
            raise _bad("generation", self.generation, f"must be one of {', '.join(GENERATIONS)}")
        if self.workers < 1:
            raise _bad("workers", self.workers, "must be at least 1")

    @classmethod
    def from_assignments(cls, assignments: Mapping[str, object]) -> PipelineParameters:
        """Parameters from Azure-style ParameterAssignments: names as the fields, values usually strings.

        ``exclude`` takes ``"duration,age"`` or a list; ``dataset`` and ``port`` take ``""`` for none.
        Raises ``PipelineParameterError`` naming the unknown parameter or the bad value.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in assignments.items():
            if name not in fields:
                raise PipelineParameterError(
                    f"unknown pipeline parameter {name!r}; the parameters are {', '.join(sorted(fields))}"
                )
            values[name] = _parse(name, value)
        try:
            return cls(**values)
        except PipelineParameterError as exc:  # name the value as it was sent ("-5"), not as parsed (-5.0)
            if exc.name is None or exc.name not in assignments:
                raise
            raise _bad(exc.name, assignments[exc.name], exc.why) from None


def _parse(name: str, value: object) -> object:
    """One assignment as its field's type."""
    if name in ("experiment", "deployment", "generation"):
        if not isinstance(value, str):
            raise _bad(name, value, "must be a string")
        return value.strip()
    if name == "dataset":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _bad(name, value, "must be a CSV path")
        return value
    if name == "exclude":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _bad(name, value, "must be feature names, comma-separated or as a list")
        return tuple(i.strip() for i in items if i.strip())
    if name == "port" and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    number = _number(name, value)
    if name == "time_budget_s":
        return number
    if not number.is_integer():
        raise _bad(name, value, "must be a whole number")
    return int(number)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(name, value, "must be a number")
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, value, "must be a number") from None
    if not math.isfinite(number):
        raise _bad(name, value, "must be a finite number")
    return number


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Step names, in order; the functions live in _steps.
STEPS = ("register_data", "automl", "register_model", "deploy", "update_client")


def run_pipeline(
    params: PipelineParameters,
    *,
    on_event: Callable[[StepEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> PipelineResult:
    """Run every step in order, recording each in MLflow; see the module docstring.

    Returns the result (status ``Completed``, or ``Canceled`` when ``cancel`` was set); raises
    ``PipelineStepError`` (with ``.result``) when a step fails.
    """
    import bankscore.pipeline._steps as steps

    tracker = steps.Tracker.start(params)
    context = steps.Context(params=params, run_dir=tracker.run_dir, cancel=cancel)
    result = PipelineResult(run_id=tracker.run_id, status="Running", run_dir=str(tracker.run_dir))
    emit = on_event or (lambda event: None)
    functions = {
        "register_data": steps.register_data,
        "automl": steps.automl,
        "register_model": steps.register_model,
        "deploy": steps.deploy,
        "update_client": steps.update_client,
    }
    try:
        for name in STEPS:
            if cancel is not None and cancel.is_set():
                return _end_canceled(tracker, result, emit, name, 0.0, "canceled before the step started")
            started = time.monotonic()
            step_run = tracker.begin(name)

            def progress(message: str, name: str = name, started: float = started) -> None:
                emit(StepEvent(name, "Running", message, time.monotonic() - started))

            progress("started")
            try:
                output = functions[name](context, progress)
            except steps.CanceledError as exc:
                tracker.end(step_run, "KILLED", time.monotonic() - started)
                return _end_canceled(tracker, result, emit, name, time.monotonic() - started, str(exc))
            except Exception as exc:  # every failure of a step, expected or a bug, ends the run naming the step
                elapsed = time.monotonic() - started
                reason = str(exc) if isinstance(exc, BankscoreError) else f"{type(exc).__name__}: {exc}"
                if "keeps serving" not in reason:  # the deploy step's own errors already say so
                    serving = _still_serving(context, name)
                    # After a multi-line reason (a CSV's list of bad rows) on a line of its own, not glued to
                    # the last row as if it were part of that row's problem.
                    if serving:
                        reason += ("\n" if "\n" in reason else " ") + serving
                tracker.end(step_run, "FAILED", elapsed, error=reason)
                event = StepEvent(name, "Failed", reason, elapsed)
                result.steps.append(event)
                emit(event)
                result.status, result.error = "Failed", f"pipeline step {name!r} failed: {reason}"
                tracker.finish("FAILED", result)
                raise PipelineStepError(name, reason, result) from exc
            elapsed = time.monotonic() - started
            tracker.record(step_run, output)
            tracker.end(step_run, "FINISHED", elapsed)
            event = StepEvent(name, "Completed", output.message, elapsed)
            result.steps.append(event)
            emit(event)
            _collect(result, context)
    except BaseException:  # Ctrl-C, or a callback's own error: the MLflow run must not stay RUNNING
        if result.status == "Running":
            result.status = "Failed"
            tracker.finish("KILLED", result)
        raise
    result.status = "Completed"
    tracker.finish("FINISHED", result)
    return result


def _end_canceled(
    tracker: Any, result: PipelineResult, emit: Callable[[StepEvent], None], step: str, elapsed: float, why: str
) -> PipelineResult:
    event = StepEvent(step, "Canceled", why, elapsed)
    result.steps.append(event)
    emit(event)
    result.status, result.error = "Canceled", f"canceled at step {step!r}: {why}"
    tracker.finish("KILLED", result)
    return result


def _still_serving(context: Any, step: str) -> str:
    """Say so when the failure left the previous deployment serving (every step up to and including deploy)."""
    from bankscore.deploy._local import is_running, load_state

    if STEPS.index(step) > STEPS.index("deploy"):
        return ""
    running = load_state(context.params.deployment)
    if running is None or not is_running(running):
        return ""
    return (
        f"(the running deployment {running.name!r}, {running.model_name}:{running.model_version}, keeps serving"
        f" at {running.scoring_uri})"
    )


def _collect(result: PipelineResult, context: Any) -> None:
    """Copy what the steps found so far into the result."""
    if context.model is not None:
        result.model_name, result.model_version = context.model.name, str(context.model.version)
    if context.training is not None:
        metrics = context.training.holdout_metrics or context.training.cv_metrics
        result.auc = metrics.get("AUC_weighted")
    if context.deployment is not None:
        result.scoring_uri = context.deployment.scoring_uri
    if context.spec_diff is not None:
        result.spec_diff = context.spec_diff
        result.spec_breaking = context.spec_breaking
        result.spec_changes = [c.to_dict() for c in context.spec_changes]
    if context.client_path is not None:
        result.client_path = str(context.client_path)
