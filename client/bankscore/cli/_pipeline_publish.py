"""``bankscore pipeline publish``: serve the retraining pipeline behind Azure's PublishedPipeline REST contract."""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from typing import Any

import click

from bankscore import workspace
from bankscore.cli._extras import require_extra
from bankscore.cli._signals import sigterm_as_interrupt

__all__ = ["publish_command"]


def _load_program(ref: str) -> Any:
    from bankscore.pipeline._queue import PipelineProgram

    module_name, _, attr = ref.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise click.BadParameter(f"{ref!r}: {exc}", param_hint="--program") from None
    program = found if isinstance(found, PipelineProgram) else found()
    if not isinstance(program, PipelineProgram):
        raise click.BadParameter(f"{ref!r} is not a PipelineProgram", param_hint="--program")
    return program


def _log(line: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {line}", err=True)


@click.command("publish")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=5002, show_default=True, help="0 picks a free port.")
@click.option("--token", envvar="BANKSCORE_PIPELINE_TOKEN", show_envvar=True, help="Require this bearer token.")
@click.option("--new-token", is_flag=True, help="Generate a new token instead of reusing the saved one.")
@click.option("--show-token", is_flag=True, help="Print the token (it is otherwise only saved, mode 0600).")
@click.option("--endpoint-name", default="bankmarketing-train", show_default=True, help="Pipeline endpoint name.")
@click.option("--stop-timeout", type=float, default=120, show_default=True, help="Seconds Ctrl-C waits for a run.")
# Another pipeline behind the same REST contract (a PipelineProgram, or a function returning one): the tests
# use it to control when runs start and end; hidden because bankscore's own pipeline is the product.
@click.option("--program", "program_ref", metavar="MODULE:NAME", hidden=True)
def publish_command(
    host: str,
    port: int,
    token: str | None,
    new_token: bool,
    show_token: bool,
    endpoint_name: str,
    stop_timeout: float,
    program_ref: str | None,
) -> None:
    """Serve the retraining pipeline's REST endpoint until Ctrl-C.

    POST the published pipeline URL with {"ExperimentName": ..., "ParameterAssignments": {...}} and
    "Authorization: Bearer <token>" to queue a run; runs execute one at a time. Ctrl-C cancels the queued
    runs and the running one, then exits. The URLs and the token are saved in the workspace.
    """
    require_extra("serve")  # the publisher runs on Flask
    program = _load_program(program_ref) if program_ref else None
    if program is None:
        require_extra("train")

    from bankscore.pipeline._publish import PipelinePublisher
    from bankscore.pipeline._publisher_state import forget_publisher, load_publisher, saved_token
    from bankscore.pipeline._publisher_state import new_token as make_token

    chosen = token or (None if new_token else saved_token()) or make_token()
    previous = load_publisher()
    try:
        publisher = PipelinePublisher(
            chosen,
            program=program,
            host=host,
            port=port,
            # The same ids as last time, so URLs saved in scripts keep working across restarts.
            pipeline_id=previous.pipeline_id if previous else None,
            endpoint_id=previous.endpoint_id if previous else None,
            endpoint_name=endpoint_name,
            log=_log,
        )
    except OSError as exc:
        raise click.ClickException(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    publisher.save()
    info = publisher.info
    click.echo(f"published pipeline    {info.published_pipeline_url}")
    click.echo(f"pipeline endpoint     {info.pipeline_endpoint_url}")
    click.echo(f"  (or by name)        .../PipelineEndpointSubmit/Name?name={info.endpoint_name}")
    click.echo(f"run queue             {info.queue_url}")
    click.echo(f"token                 {chosen if show_token else 'saved in ' + str(workspace.home())}")
    click.echo("trigger with          bankscore pipeline trigger   (Ctrl-C stops the publisher)", err=True)
    sys.stdout.flush()
    with sigterm_as_interrupt():
        try:
            with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C outside the server's loop, which takes its own
                publisher.serve_forever()  # returns at Ctrl-C
            _log("stopping: canceling queued and running runs")
            if not publisher.close(stop_timeout):
                _log(f"the running pipeline did not stop within {stop_timeout:g} s; exiting anyway")
        finally:
            forget_publisher(info.pid)
    _log("stopped")
