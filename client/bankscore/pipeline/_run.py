"""``run_pipeline``: the retraining pipeline, end to end on this machine.

Runs ``_steps.STEPS`` in order; ``cancel`` is checked before each step and after every AutoML trial. MLflow
gets one parent run per pipeline run (experiment ``PipelineParameters.experiment``) with one nested run per
step (see ``_tracking``). A failing step raises ``PipelineStepError`` naming the step and the reason, and saying
whether the running deployment still serves: it is only ever replaced by a healthy one, so a failure before
the switch leaves it serving. A blue-green rollout whose gates do not pass is such a failure, of the step
``shift`` (``PipelineStepError.held`` is True): the live deployment keeps its traffic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bankscore._exceptions import BankscoreError
from bankscore.pipeline._parameters import PipelineParameters
from bankscore.pipeline._result import PipelineResult, StepEvent
from bankscore.pipeline._steps import STEPS, CanceledError, PipelineContext, Step
from bankscore.pipeline._tracking import Tracker

if TYPE_CHECKING:
    from bankscore.deploy._local import LocalDeployment

__all__ = ["PipelineStepError", "run_pipeline"]

Emit = Callable[[StepEvent], None]


class PipelineStepError(BankscoreError):
    """A pipeline step failed.

    ``step`` names it, ``reason`` says why (and, when it does, that the running deployment keeps serving),
    ``still_serving`` is True when the deployment that ran before the run still serves, ``held`` is True when a
    blue-green rollout's gate failed (``result.gates`` has each gate's value and limit), ``result`` is the run
    as it ended.
    """

    def __init__(
        self,
        step: str,
        reason: str,
        result: PipelineResult | None = None,
        *,
        still_serving: bool = False,
        held: bool = False,
    ) -> None:
        self.step = step
        self.reason = reason
        self.still_serving = still_serving
        self.held = held
        self.result = result
        super().__init__(f"pipeline step {step!r} failed: {reason}")


def run_pipeline(
    params: PipelineParameters,
    *,
    on_event: Emit | None = None,
    cancel: threading.Event | None = None,
) -> PipelineResult:
    """Run every step in order, recording each in MLflow; see the module docstring.

    Returns the result (status ``Completed``, or ``Canceled`` when ``cancel`` was set); raises
    ``PipelineStepError`` (with ``.result``) when a step fails.
    """
    tracker = Tracker.start(params)
    context = PipelineContext(params=params, run_dir=tracker.run_dir, cancel=cancel)
    result = PipelineResult(
        run_id=tracker.run_id, status="Running", run_dir=str(tracker.run_dir), rollout=params.rollout
    )
    emit: Emit = on_event or (lambda event: None)
    try:
        for step in STEPS:
            if cancel is not None and cancel.is_set():
                _end(tracker, result, emit, StepEvent(step.name, "Canceled", "canceled before the step started", 0.0))
                return result
            if not _run_step(step, context, tracker, result, emit):
                return result
    except BaseException:  # Ctrl-C, or a callback's own error: the MLflow run must not stay RUNNING
        if result.status == "Running":
            result.status = "Failed"
            tracker.finish("KILLED", result)
        raise
    result.status = "Completed"
    tracker.finish("FINISHED", result)
    return result


def _run_step(step: Step, context: PipelineContext, tracker: Tracker, result: PipelineResult, emit: Emit) -> bool:
    """Run one step and record it. False when it was canceled; raises ``PipelineStepError`` when it failed."""
    started = time.monotonic()
    step_run = tracker.begin(step.name)

    def progress(message: str) -> None:
        emit(StepEvent(step.name, "Running", message, time.monotonic() - started))

    progress("started")
    try:
        output = step.run(context, progress)
        missing = [name for name in step.produces if getattr(context, name) is None]
        if missing:  # a bug in the step: fail it here rather than the next step far from the cause
            raise AssertionError(f"step {step.name!r} completed without setting {', '.join(missing)}")
    except CanceledError as exc:
        elapsed = time.monotonic() - started
        tracker.end(step_run, "KILLED", elapsed)
        _end(tracker, result, emit, StepEvent(step.name, "Canceled", str(exc), elapsed))
        return False
    except Exception as exc:  # every failure of a step, expected or a bug, ends the run naming the step
        elapsed = time.monotonic() - started
        _collect(result, context)  # what the run found before the failure: a held rollout's gates among it
        failure = _failure(step, exc, context, result)
        tracker.end(step_run, "FAILED", elapsed, error=failure.reason)
        _end(tracker, result, emit, StepEvent(step.name, "Failed", failure.reason, elapsed))
        raise failure from exc
    elapsed = time.monotonic() - started
    tracker.record(step_run, output)
    tracker.end(step_run, "FINISHED", elapsed)
    event = StepEvent(step.name, "Completed", output.message, elapsed)
    result.steps.append(event)
    emit(event)
    _collect(result, context)
    return True


def _end(tracker: Tracker, result: PipelineResult, emit: Emit, event: StepEvent) -> None:
    """End the run at ``event``'s step, canceled or failed."""
    result.steps.append(event)
    emit(event)
    if event.status == "Canceled":
        result.status, result.error = "Canceled", f"canceled at step {event.step!r}: {event.message}"
        tracker.finish("KILLED", result)
    else:
        result.status, result.error = "Failed", f"pipeline step {event.step!r} failed: {event.message}"
        tracker.finish("FAILED", result)


def _failure(step: Step, exc: Exception, context: PipelineContext, result: PipelineResult) -> PipelineStepError:
    """The step's failure as a ``PipelineStepError``, saying whether the running deployment still serves."""
    from bankscore.pipeline._rollout import RolloutHeldError

    reason = str(exc) if isinstance(exc, BankscoreError) else f"{type(exc).__name__}: {exc}"
    held = isinstance(exc, RolloutHeldError)
    serving = _still_serving(context)
    if serving is not None and not held:  # a held rollout's reason already says who keeps the traffic
        note = (
            f"(the running deployment {serving.name!r}, {serving.model_name}:{serving.model_version}, keeps serving"
            f" at {serving.scoring_uri})"
        )
        # After a multi-line reason (a CSV's list of bad rows) on a line of its own, not glued to the last row
        # as if it were part of that row's problem.
        reason += ("\n" if "\n" in reason else " ") + note
    return PipelineStepError(step.name, reason, result, still_serving=serving is not None, held=held)


def _still_serving(context: PipelineContext) -> LocalDeployment | None:
    """The deployment that ran before this run, when it still serves: the run has not replaced it yet."""
    from bankscore.deploy._local import is_running, load_state

    if context.deployment is not None and context.rolled_out:  # the new deployment takes the traffic
        return None
    # Blue-green before the shift: the new deployment has no traffic, so the one with the most is the live one.
    running = load_state(context.params.deployment)
    return running if running is not None and is_running(running) else None


def _collect(result: PipelineResult, context: PipelineContext) -> None:
    """Copy what the steps found so far into the result."""
    if context.model is not None:
        result.model_name, result.model_version = context.model.name, str(context.model.version)
    if context.training is not None:
        metrics = context.training.holdout_metrics or context.training.cv_metrics
        result.auc = metrics.get("AUC_weighted")
    if context.deployment is not None:
        result.scoring_uri = context.deployment.scoring_uri
        result.deployment = context.deployment.deployment
    result.live_deployment = context.live
    result.rolled_out = context.rolled_out
    if context.comparison is not None:
        result.gates = [
            {"name": g.name, "limit": g.limit, "value": _finite(g.value), "passed": g.passed, "detail": g.detail}
            for g in context.comparison.gates
        ]
    if context.spec_diff is not None:
        result.spec_diff = context.spec_diff
        result.spec_breaking = context.spec_breaking
        result.spec_changes = [c.to_dict() for c in context.spec_changes]
    if context.client_path is not None:
        result.client_path = str(context.client_path)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: a gate that measured nothing has no value."""
    return value if value is not None and math.isfinite(value) else None
