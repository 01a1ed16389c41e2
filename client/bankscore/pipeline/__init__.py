"""Pipelines: run the retraining pipeline, publish it behind Azure's PublishedPipeline REST contract, trigger
and watch runs.

``trigger``, ``status``, ``wait`` and ``cancel`` work against Azure ML's published pipelines and pipeline
endpoints and against bankscore's local publisher (``bankscore pipeline publish``) alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bankscore.pipeline._consume import (
    PipelineEndpoint,
    PipelineError,
    PipelineRunStatus,
    PipelineTimeoutError,
    StepStatus,
    cancel,
    parse_endpoint,
    queue,
    status,
    trigger,
    wait,
)
from bankscore.pipeline._parameters import PipelineParameterError, PipelineParameters
from bankscore.pipeline._publisher_state import PublisherInfo, load_publisher
from bankscore.pipeline._queue import PipelineProgram
from bankscore.pipeline._result import PipelineResult, StepEvent
from bankscore.pipeline._run import PipelineStepError, run_pipeline

if TYPE_CHECKING:
    from bankscore.pipeline._publish import PipelinePublisher

__all__ = [
    "PipelineEndpoint",
    "PipelineError",
    "PipelineParameterError",
    "PipelineParameters",
    "PipelineProgram",
    "PipelinePublisher",
    "PipelineResult",
    "PipelineRunStatus",
    "PipelineStepError",
    "PipelineTimeoutError",
    "PublisherInfo",
    "StepEvent",
    "StepStatus",
    "cancel",
    "load_publisher",
    "parse_endpoint",
    "queue",
    "run_pipeline",
    "status",
    "trigger",
    "wait",
]


def __getattr__(name: str) -> Any:
    # The publisher runs on Flask (the 'serve' extra): triggering and watching runs needs only the base install.
    if name == "PipelinePublisher":
        from bankscore.pipeline._publish import PipelinePublisher

        return PipelinePublisher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
