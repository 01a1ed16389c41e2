"""``bankscore pipeline``: publish the retraining pipeline over REST, trigger runs and watch them.

``trigger``, ``status``, ``wait`` and ``cancel`` default to the local publisher saved in the workspace and take
``--endpoint`` for an Azure ML published pipeline or pipeline endpoint. ``wait`` exits with:

    0  Completed            3  Failed            4  Canceled            5  still running when --timeout ran out
    1  an error (bad URL, no token, HTTP error)  2  a usage error (click's own)

Each command lives in its own module: ``publish`` in ``_pipeline_publish``, the REST ones in ``_pipeline_rest``,
``run`` in ``_pipeline_run``; what they share (exit codes, options) in ``_pipeline_options``.
"""

from __future__ import annotations

import click

from bankscore.cli._pipeline_options import EXIT_CANCELED, EXIT_FAILED, EXIT_TIMEOUT
from bankscore.cli._pipeline_publish import publish_command
from bankscore.cli._pipeline_rest import cancel_command, status_command, trigger_command, wait_command
from bankscore.cli._pipeline_run import run_command

__all__ = ["EXIT_CANCELED", "EXIT_FAILED", "EXIT_TIMEOUT", "pipeline"]


@click.group()
def pipeline() -> None:
    """The retraining pipeline: publish it over REST (Azure's PublishedPipeline contract), trigger and watch runs."""


pipeline.add_command(publish_command)
pipeline.add_command(trigger_command)
pipeline.add_command(status_command)
pipeline.add_command(wait_command)
pipeline.add_command(cancel_command)
pipeline.add_command(run_command)
