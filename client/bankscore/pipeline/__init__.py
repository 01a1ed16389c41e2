"""Pipelines: publish the retraining pipeline behind Azure's PublishedPipeline REST contract, trigger and watch runs.

``trigger``, ``status``, ``wait`` and ``cancel`` work against Azure ML's published pipelines and pipeline
endpoints and against bankscore's local publisher (``bankscore pipeline publish``) alike.
"""

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
from bankscore.pipeline._publish import PipelinePublisher, PublisherInfo, load_publisher
from bankscore.pipeline._queue import PipelineProgram
from bankscore.pipeline._run import (
    PipelineParameters,
    PipelineResult,
    PipelineStepError,
    StepEvent,
    run_pipeline,
)

__all__ = [
    "PipelineEndpoint",
    "PipelineError",
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
