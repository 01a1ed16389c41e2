"""``bankscore pipeline trigger``, ``status``, ``wait`` and ``cancel``: runs of a published pipeline, over REST.

Each defaults to the local publisher saved in the workspace and takes ``--endpoint`` for an Azure ML published
pipeline or pipeline endpoint. Runs triggered from this workspace are remembered (endpoint and experiment, never
a token), so ``status RUN_ID`` and ``wait RUN_ID`` need no more flags.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from bankscore import workspace
from bankscore.cli._pipeline_options import (
    DEFAULT_EXPERIMENT,
    ENDPOINT_OPTION,
    EXIT_CANCELED,
    EXIT_FAILED,
    EXIT_TIMEOUT,
    JSON_OPTION,
    TOKEN_OPTION,
    first_line,
)

__all__ = ["cancel_command", "status_command", "trigger_command", "wait_command"]

_MAX_REMEMBERED = 200


def _remembered_path() -> Path:
    return workspace.home() / "pipelines" / "triggered.json"


def _remembered() -> dict[str, dict[str, str]]:
    path = _remembered_path()
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _remember(run_id: str, endpoint: str, experiment: str) -> None:
    """Keep run id -> (endpoint, experiment), so `status RUN_ID` and `wait RUN_ID` need no more flags. No tokens."""
    runs = _remembered()
    runs[run_id] = {"endpoint": endpoint, "experiment": experiment}
    path = _remembered_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(list(runs.items())[-_MAX_REMEMBERED:]), indent=2) + "\n")


def _local_endpoint() -> str:
    from bankscore.pipeline._publisher_state import load_publisher

    info = load_publisher()
    if info is None:
        raise click.ClickException(
            "no local publisher in this workspace: start one with `bankscore pipeline publish`, or pass --endpoint"
        )
    return info.published_pipeline_url


def _locate(run_id: str, endpoint: str | None, experiment: str | None) -> tuple[str, str]:
    known = _remembered().get(run_id, {})
    endpoint = endpoint or known.get("endpoint") or _local_endpoint()
    experiment = experiment or known.get("experiment")
    if not experiment:
        raise click.ClickException(f"run {run_id} was not triggered from this workspace: pass --experiment NAME")
    return endpoint, experiment


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--param")
        params[name.strip()] = value
    return params


@click.command("trigger")
@ENDPOINT_OPTION
@click.option("--experiment", default=DEFAULT_EXPERIMENT, show_default=True, help="ExperimentName of the run.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A ParameterAssignments entry (repeat), e.g. time_budget_s=30 or exclude=duration; the local pipeline "
    "takes `pipeline run`'s options by their field names.",
)
@TOKEN_OPTION
@JSON_OPTION
def trigger_command(
    endpoint: str | None, experiment: str, params: tuple[str, ...], token: str | None, as_json: bool
) -> None:
    """Submit a pipeline run over REST and print its run id (a POST with {"ExperimentName": ...})."""
    from bankscore.pipeline._consume import trigger

    url = endpoint or _local_endpoint()
    run_id = trigger(url, experiment, parameters=_parse_params(params), token=token)
    _remember(run_id, url, experiment)
    if as_json:
        click.echo(json.dumps({"Id": run_id, "experiment": experiment, "endpoint": url}))
    else:
        click.echo(f"Submitted pipeline run: {run_id}", err=True)
        click.echo(run_id)


def _status_lines(current: Any) -> list[str]:
    lines = [f"{current.run_id}  {current.status}" + (f": {current.error}" if current.error else "")]
    for step in current.steps:
        lines.append(f"  {step.name:<18} {step.status:<15} {first_line(step.message)}".rstrip())
    return lines


@click.command("status")
@click.argument("run_id", required=False)
@ENDPOINT_OPTION
@click.option("--experiment", help="The run's experiment (remembered for runs triggered from this workspace).")
@TOKEN_OPTION
@JSON_OPTION
def status_command(
    run_id: str | None, endpoint: str | None, experiment: str | None, token: str | None, as_json: bool
) -> None:
    """A run's status and its steps; without RUN_ID, the local publisher's queue (running run first)."""
    from bankscore.pipeline._consume import queue, status

    if run_id is None:
        runs = queue(endpoint or _local_endpoint(), token=token)
        if as_json:
            click.echo(json.dumps([asdict(r) for r in runs], indent=2))
            return
        if not runs:
            click.echo("no runs queued or running")
        for position, run in enumerate(runs):
            click.echo(f"{position:>3}  {run.run_id}  {run.status:<15} {run.experiment}")
        return
    url, experiment = _locate(run_id, endpoint, experiment)
    current = status(run_id, endpoint=url, experiment=experiment, token=token)
    if as_json:
        click.echo(json.dumps(asdict(current), indent=2))
        return
    for line in _status_lines(current):
        click.echo(line)


@click.command("wait")
@click.argument("run_id")
@ENDPOINT_OPTION
@click.option("--experiment", help="The run's experiment (remembered for runs triggered from this workspace).")
@TOKEN_OPTION
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="Give up after this long (exit 5).")
@click.option("--poll", type=click.FloatRange(0.05), default=5.0, show_default=True, help="Seconds between reads.")
@JSON_OPTION
def wait_command(
    run_id: str,
    endpoint: str | None,
    experiment: str | None,
    token: str | None,
    timeout: float | None,
    poll: float,
    as_json: bool,
) -> None:
    """Watch a run until it ends; exit 0 Completed, 3 Failed, 4 Canceled, 5 on --timeout."""
    from bankscore.pipeline._consume import PipelineTimeoutError, wait

    url, experiment = _locate(run_id, endpoint, experiment)
    started = time.monotonic()
    seen: dict[str, str] = {}

    def show(current: Any) -> None:
        # One line per change: the run's status, or a step that started or ended.
        elapsed = f"[{time.monotonic() - started:7.1f}s]"
        if seen.get("") != current.status:
            seen[""] = current.status
            click.echo(f"{elapsed} run {current.status}", err=True)
        for step in current.steps:
            if seen.get(step.name) != step.status:
                seen[step.name] = step.status
                detail = f": {first_line(step.message)}" if step.message and step.status != "Running" else ""
                click.echo(f"{elapsed}   {step.name} {step.status}{detail}", err=True)

    try:
        final = wait(
            run_id, endpoint=url, experiment=experiment, token=token, timeout=timeout, poll=poll, on_status=show
        )
    except PipelineTimeoutError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_TIMEOUT)
    except KeyboardInterrupt:
        click.echo(f"stopped watching; run {run_id} goes on", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(asdict(final), indent=2))
    else:
        click.echo(f"{run_id} {final.status}" + (f": {final.error}" if final.error else ""))
    if final.status == "Failed":
        sys.exit(EXIT_FAILED)
    if final.status == "Canceled":
        sys.exit(EXIT_CANCELED)


@click.command("cancel")
@click.argument("run_id")
@ENDPOINT_OPTION
@TOKEN_OPTION
def cancel_command(run_id: str, endpoint: str | None, token: str | None) -> None:
    """Cancel a queued or running run (a running one stops at the next clean point: between steps or trials)."""
    from bankscore.pipeline._consume import cancel

    url = endpoint or _remembered().get(run_id, {}).get("endpoint") or _local_endpoint()
    cancel(run_id, endpoint=url, token=token)
    click.echo(f"cancel requested for {run_id}")
