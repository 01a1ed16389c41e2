"""The local publisher's run queue: submitted pipeline runs execute in the background, one at a time, in order.

A run moves through Azure's statuses: NotStarted (accepted) → Queued (waiting its turn) → Running →
Completed | Failed | Canceled. Canceling a queued run ends it at once; canceling the running one moves it to
CancelRequested and sets the ``cancel`` event the pipeline checks between steps, so it stops at a clean point.

The pipeline itself is a ``PipelineProgram``: a parameters dataclass (its fields are the ParameterAssignments a
caller may send) and a run function with ``run_pipeline``'s signature. The default program imports bankscore's
real pipeline lazily; tests hand in their own to control when each run starts and ends.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import types
import typing
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bankscore._exceptions import BankscoreError

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "ParameterError",
    "PipelineProgram",
    "RunQueue",
    "RunRecord",
    "StepRecord",
    "default_program",
    "parse_assignments",
]

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
ACTIVE_STATUSES = ("NotStarted", "Queued", "Running", "CancelRequested")


class ParameterError(BankscoreError):
    """A submitted body or ParameterAssignments entry the pipeline cannot take. ``target`` names the field."""

    def __init__(self, target: str, message: str) -> None:
        self.target = target
        self.message = message
        super().__init__(f"{target}: {message}")


@dataclasses.dataclass(frozen=True)
class PipelineProgram:
    """What the publisher runs: ``run(params, on_event=..., cancel=...)`` with ``params`` a ``parameters``."""

    parameters: type[Any]
    run: Callable[..., Any]
    # Parameters the request body sets itself rather than through ParameterAssignments.
    experiment_field: str = "experiment"


def default_program() -> PipelineProgram:
    """bankscore's retraining pipeline (needs the 'train' and 'serve' extras when a run starts)."""
    from bankscore.pipeline._parameters import PipelineParameters
    from bankscore.pipeline._run import run_pipeline

    return PipelineProgram(parameters=PipelineParameters, run=run_pipeline)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------- parameters


def _convert(name: str, value: object, hint: Any) -> object:
    """``value`` as the field's type. Azure's clients send most assignments as strings, so strings are parsed."""
    target = f"ParameterAssignments.{name}"
    shown = repr(value)
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or value == "":
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is str:
        if isinstance(value, str) and value:
            return value
        raise ParameterError(target, f"{shown} is not a non-empty string")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ParameterError(target, f"{shown} is not true or false")
    if hint in (int, float):
        number: float
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ParameterError(target, f"{shown} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(target, f"{shown} is not a number") from None
        if not math.isfinite(number):
            raise ParameterError(target, f"{shown} is not a finite number")
        if hint is int:
            if not number.is_integer():
                raise ParameterError(target, f"{shown} is not a whole number")
            return int(number)
        return number
    if typing.get_origin(hint) is tuple:
        # A JSON list, or the one-string form Azure's ParameterAssignments usually carry: "duration,age".
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ParameterError(target, f"{shown} is not a list of names or one comma-separated string")
        return tuple(i.strip() for i in items if i.strip())
    raise ParameterError(target, "this parameter cannot be set over REST")  # pragma: no cover


def parse_assignments(program: PipelineProgram, experiment: str, assignments: Mapping[str, object]) -> Any:
    """The program's parameters from a request: ``ExperimentName`` plus each ParameterAssignments entry.

    Raises ``ParameterError`` naming the first unknown name or bad value (and listing the accepted names).
    """
    hints = typing.get_type_hints(program.parameters)
    accepted = [f.name for f in dataclasses.fields(program.parameters) if f.name != program.experiment_field]
    values: dict[str, object] = {}
    for name, value in assignments.items():
        if name == program.experiment_field:
            raise ParameterError(
                f"ParameterAssignments.{name}", "the experiment is set by the body's ExperimentName, not here"
            )
        if name not in accepted:
            raise ParameterError(
                f"ParameterAssignments.{name}",
                f"unknown pipeline parameter; the pipeline accepts: {', '.join(accepted)}",
            )
        values[name] = _convert(name, value, hints[name])
    if program.experiment_field in hints:
        values[program.experiment_field] = experiment
    try:
        return program.parameters(**values)
    except (ValueError, TypeError, BankscoreError) as exc:  # the parameters' own checks, if it has any
        # Checks that say which parameter (PipelineParameterError's name and why) get the same shape as ours.
        named, why = getattr(exc, "name", None), getattr(exc, "why", None)
        if isinstance(named, str) and named in assignments and why:
            raise ParameterError(f"ParameterAssignments.{named}", f"{assignments[named]!r}: {why}") from None
        raise ParameterError("ParameterAssignments", str(exc)) from None


# --------------------------------------------------------------------------------------------- runs


@dataclasses.dataclass
class StepRecord:
    """One step of a run, as a child run in Azure's Run History."""

    run_id: str
    name: str
    status: str = "Running"
    message: str = ""
    started: str = dataclasses.field(default_factory=_now)
    ended: str | None = None
    elapsed_s: float | None = None


@dataclasses.dataclass
class RunRecord:
    """One submitted pipeline run. Mutated only by ``RunQueue`` under its lock; read through snapshots."""

    run_id: str
    experiment: str
    parameters: Any
    assignments: dict[str, object]
    run_source: str
    status: str = "NotStarted"
    created: str = dataclasses.field(default_factory=_now)
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    steps: list[StepRecord] = dataclasses.field(default_factory=list)
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event, repr=False)

    def snapshot(self) -> RunRecord:
        return dataclasses.replace(self, steps=[dataclasses.replace(s) for s in self.steps], outputs=dict(self.outputs))


def _outputs(result: object) -> dict[str, str]:
    """What the pipeline reports about a finished run, as Run History properties (all strings)."""
    found = {
        "mlflowRunId": getattr(result, "run_id", None),
        "modelName": getattr(result, "model_name", None),
        "modelVersion": getattr(result, "model_version", None),
        "AUC_weighted": getattr(result, "auc", None),
        "scoringUri": getattr(result, "scoring_uri", None),
        "specBreaking": getattr(result, "spec_breaking", None),
        "specDiff": getattr(result, "spec_diff", None),
        "clientPath": getattr(result, "client_path", None),
    }
    return {key: str(value) for key, value in found.items() if value is not None}


class RunQueue:
    """Submitted runs, and the one worker thread that executes them in submission order."""

    def __init__(self, program: PipelineProgram, *, log: Callable[[str], None] | None = None) -> None:
        self._program = program
        self._log = log or (lambda line: None)
        self._lock = threading.Condition()
        self._runs: dict[str, RunRecord] = {}
        self._waiting: deque[str] = deque()
        self._current: RunRecord | None = None
        self._closing = False
        self._worker = threading.Thread(target=self._work, name="bankscore-pipeline-queue", daemon=True)

    @property
    def program(self) -> PipelineProgram:
        return self._program

    def start(self) -> None:
        self._worker.start()

    def submit(self, experiment: str, parameters: Any, assignments: dict[str, object], run_source: str) -> RunRecord:
        """Accept a run; returns its NotStarted snapshot (it is Queued right after)."""
        record = RunRecord(
            run_id=str(uuid.uuid4()),
            experiment=experiment,
            parameters=parameters,
            assignments=assignments,
            run_source=run_source,
        )
        accepted = record.snapshot()
        with self._lock:
            if self._closing:
                raise BankscoreError("the publisher is shutting down; no new runs are accepted")
            record.status = "Queued"
            self._runs[record.run_id] = record
            self._waiting.append(record.run_id)
            # Logged before the worker can see the run, so the log never shows it Running before submitted.
            self._log(f"run {record.run_id} submitted to experiment {experiment!r} with {assignments}")
            self._lock.notify_all()
        return accepted

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            record = self._runs.get(run_id)
            return record.snapshot() if record else None

    def active(self) -> list[RunRecord]:
        """The running run (if any) first, then the queued ones in the order they will run."""
        with self._lock:
            records = ([self._current] if self._current else []) + [self._runs[i] for i in self._waiting]
            return [r.snapshot() for r in records]

    def cancel(self, run_id: str) -> RunRecord | None:
        """Cancel a queued run at once, or ask the running one to stop. None if there is no such run."""
        with self._lock:
            record = self._runs.get(run_id)
            if record is None:
                return None
            if record.status == "Queued":
                self._waiting.remove(run_id)
                record.status = "Canceled"
                record.ended = _now()
                record.error = "canceled before it started"
                self._log(f"run {run_id} Canceled (it was queued)")
            elif record.status == "Running":
                record.status = "CancelRequested"
                record.cancel.set()
            return record.snapshot()

    def close(self, timeout: float | None = None) -> bool:
        """Cancel every queued run and the running one; wait up to ``timeout`` s for it to stop. True if it did."""
        with self._lock:
            self._closing = True
            for run_id in list(self._waiting):
                self.cancel(run_id)
            if self._current is not None:
                self.cancel(self._current.run_id)
            self._lock.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout)
        return not self._worker.is_alive()

    # ----------------------------------------------------------------------------------------- worker

    def _next(self) -> RunRecord | None:
        with self._lock:
            while not self._waiting and not self._closing:
                self._lock.wait()
            if self._closing:
                return None
            record = self._runs[self._waiting.popleft()]
            record.status = "Running"
            record.started = _now()
            self._current = record
        self._log(f"run {record.run_id} Running")
        return record

    def _work(self) -> None:
        while (record := self._next()) is not None:
            self._execute(record)

    def _on_event(self, record: RunRecord, event: Any) -> None:
        name, status = str(event.step), str(event.status)
        with self._lock:
            step = next((s for s in record.steps if s.name == name), None)
            if step is None:
                step = StepRecord(run_id=str(uuid.uuid4()), name=name)
                record.steps.append(step)
            step.status = status
            step.message = str(getattr(event, "message", "") or "")
            step.elapsed_s = getattr(event, "elapsed_s", None)
            if status in TERMINAL_STATUSES:
                step.ended = _now()
        self._log(f"run {record.run_id} step {name} {status}" + (f": {step.message}" if step.message else ""))

    def _execute(self, record: RunRecord) -> None:
        status, error, outputs = "Completed", None, {}
        try:
            result = self._program.run(
                record.parameters, on_event=lambda event: self._on_event(record, event), cancel=record.cancel
            )
            outputs = _outputs(result)
            reported = str(getattr(result, "status", "Completed"))
            if reported != "Completed":
                status = "Canceled" if reported == "Canceled" or record.cancel.is_set() else "Failed"
                error = str(getattr(result, "error", None) or f"the pipeline ended {reported}")
        except BankscoreError as exc:  # PipelineStepError names the step and the reason
            status = "Canceled" if record.cancel.is_set() else "Failed"
            error = str(exc)
            # A failed run keeps what it made so far, above all its MLflow run id, to look the failure up there.
            outputs = _outputs(getattr(exc, "result", None))
        except Exception as exc:  # a bug in a step must not kill the queue: the run fails, the next one runs
            status = "Canceled" if record.cancel.is_set() else "Failed"
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            record.status = status
            record.error = error
            record.outputs = outputs
            record.ended = _now()
            for step in record.steps:  # a step still marked Running ends with its run
                if step.status not in TERMINAL_STATUSES:
                    step.status = "Canceled" if status == "Canceled" else "Failed"
                    step.ended = record.ended
            self._current = None
            self._lock.notify_all()
        self._log(f"run {record.run_id} {status}" + (f": {error}" if error else ""))
