"""``bankscore pipeline``: publish the retraining pipeline over REST, trigger runs and watch them.

``trigger``, ``status``, ``wait`` and ``cancel`` default to the local publisher saved in the workspace and take
``--endpoint`` for an Azure ML published pipeline or pipeline endpoint. ``wait`` exits with:

    0  Completed            3  Failed            4  Canceled            5  still running when --timeout ran out
    1  an error (bad URL, no token, HTTP error)  2  a usage error (click's own)
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from bankscore import workspace
from bankscore.cli._deploy import GENERATION_OPTION
from bankscore.cli._extras import require_extra
from bankscore.cli._signals import sigterm_as_interrupt

__all__ = ["EXIT_CANCELED", "EXIT_FAILED", "EXIT_TIMEOUT", "pipeline"]

EXIT_FAILED = 3
EXIT_CANCELED = 4
EXIT_TIMEOUT = 5
_DEFAULT_EXPERIMENT = "bank-marketing"
_MAX_REMEMBERED = 200

_ENDPOINT = click.option(
    "--endpoint",
    metavar="URL",
    help="Published pipeline or pipeline endpoint URL (default: the local publisher of this workspace).",
)
_TOKEN = click.option(
    "--token",
    envvar="BANKSCORE_PIPELINE_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="Bearer token (default: the local publisher's saved token; on Azure, azure-identity when installed).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")


@click.group()
def pipeline() -> None:
    """The retraining pipeline: publish it over REST (Azure's PublishedPipeline contract), trigger and watch runs."""


# ------------------------------------------------------------------------------------------------- publish


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


@pipeline.command("publish")
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


# ------------------------------------------------------------------------------------------------- runs


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


@pipeline.command("trigger")
@_ENDPOINT
@click.option("--experiment", default=_DEFAULT_EXPERIMENT, show_default=True, help="ExperimentName of the run.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A ParameterAssignments entry (repeat), e.g. time_budget_s=30 or exclude=duration; the local pipeline "
    "takes `pipeline run`'s options by their field names.",
)
@_TOKEN
@_JSON
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


def _first_line(message: str) -> str:
    """A step's message on one line: a failed step's full reason is already in the run's error, shown once."""
    head, newline, _ = message.partition("\n")
    return head + (" ..." if newline else "")


def _status_lines(current: Any) -> list[str]:
    lines = [f"{current.run_id}  {current.status}" + (f": {current.error}" if current.error else "")]
    for step in current.steps:
        lines.append(f"  {step.name:<18} {step.status:<15} {_first_line(step.message)}".rstrip())
    return lines


@pipeline.command("status")
@click.argument("run_id", required=False)
@_ENDPOINT
@click.option("--experiment", help="The run's experiment (remembered for runs triggered from this workspace).")
@_TOKEN
@_JSON
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


@pipeline.command("wait")
@click.argument("run_id")
@_ENDPOINT
@click.option("--experiment", help="The run's experiment (remembered for runs triggered from this workspace).")
@_TOKEN
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="Give up after this long (exit 5).")
@click.option("--poll", type=click.FloatRange(0.05), default=5.0, show_default=True, help="Seconds between reads.")
@_JSON
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
                detail = f": {_first_line(step.message)}" if step.message and step.status != "Running" else ""
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


@pipeline.command("cancel")
@click.argument("run_id")
@_ENDPOINT
@_TOKEN
def cancel_command(run_id: str, endpoint: str | None, token: str | None) -> None:
    """Cancel a queued or running run (a running one stops at the next clean point: between steps or trials)."""
    from bankscore.pipeline._consume import cancel

    url = endpoint or _remembered().get(run_id, {}).get("endpoint") or _local_endpoint()
    cancel(run_id, endpoint=url, token=token)
    click.echo(f"cancel requested for {run_id}")


# ------------------------------------------------------------------------------------------------- run


@contextlib.contextmanager
def _ctrl_c_cancels(cancel: Any) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop at the next clean point; a second one interrupts at once."""

    def request(signum: int, frame: Any) -> None:
        cancel.set()
        click.echo("\ncancel requested: stopping after the current step (Ctrl-C again to interrupt)", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, request)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _show_event(event: Any) -> None:
    mark = {"Running": "  ", "Completed": "ok", "Failed": "!!", "Canceled": "--"}.get(event.status, "  ")
    message = _first_line(event.message) if event.status == "Failed" else event.message
    line = f"{mark} {event.step:<15} {event.elapsed_s:6.1f}s  {message}"
    click.secho(line, err=True, bold=event.status != "Running")


def _summary_lines(result: Any) -> list[str]:
    model = f"{result.model_name}:{result.model_version}" if result.model_version else "none"
    auc = f"{result.auc:.4f}" if result.auc is not None else "n/a"
    breaking = {True: "yes", False: "no", None: "n/a (no previous deployment)"}[result.spec_breaking]
    client = result.client_path or "not regenerated (the request did not change)"
    if not any(step.step == "update_client" and step.status == "Completed" for step in result.steps):
        breaking = client = "n/a (the run ended before update_client)"
    lines = [
        f"pipeline run {result.run_id}: {result.status}",
        f"  model            {model} (held-out AUC_weighted {auc})",
        f"  scoring URI      {result.scoring_uri or 'n/a'}",
        f"  spec diff        breaking: {breaking}",
    ]
    if result.spec_diff and result.spec_breaking is not None:
        lines += [f"                   {line}" for line in result.spec_diff.splitlines()]
    lines.append(f"  client           {client}")
    lines.append(f"  run folder       {result.run_dir}")
    return lines


@pipeline.command("run")
@click.option("--dataset", type=click.Path(dir_okay=False), help="Training CSV (default: the shipped data).")
@click.option("--time-budget", type=float, default=60.0, show_default=True, help="AutoML seconds.")
@click.option("--exclude", multiple=True, metavar="FEATURE", help="Leave a feature out (repeat), e.g. duration.")
@click.option("--deployment", default="bank-marketing", show_default=True, help="Local endpoint to deploy to.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port (default: the running deployment's, else 5001); from 1024 up.",
)
@GENERATION_OPTION
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server workers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for splits, search, learners, sample.")
@click.option("--experiment", default=_DEFAULT_EXPERIMENT, show_default=True, help="MLflow experiment of the run.")
@click.option(
    "--rollout",
    type=click.Choice(["replace", "blue-green"]),
    default="replace",
    show_default=True,
    help="replace: swap the running deployment. blue-green: deploy to the idle one of blue/green at 0%, "
    "compare, move the traffic only if every gate passes.",
)
@click.option(
    "--compare-sample",
    type=int,
    default=2000,
    show_default=True,
    help="blue-green: labelled shipped rows replayed to both deployments (picked with --seed).",
)
@click.option(
    "--max-disagreement",
    type=float,
    default=0.05,
    show_default=True,
    help="blue-green gate: at most this share of records labelled differently (0 to 1).",
)
@click.option(
    "--max-auc-drop",
    type=float,
    default=0.01,
    show_default=True,
    help="blue-green gate: AUC of the live model minus the new one's, at most (0 to 1).",
)
@click.option(
    "--max-latency-ratio",
    type=float,
    default=2.0,
    show_default=True,
    help="blue-green gate: p90 latency of the new deployment over the live one's, at most.",
)
@_JSON
def run_command(
    dataset: str | None,
    time_budget: float,
    exclude: tuple[str, ...],
    deployment: str,
    port: int | None,
    generation: str,
    workers: int,
    seed: int,
    experiment: str,
    rollout: str,
    compare_sample: int,
    max_disagreement: float,
    max_auc_drop: float,
    max_latency_ratio: float,
    as_json: bool,
) -> None:
    """Run the retraining pipeline here: register data, AutoML, register model, deploy, update the client.

    With --rollout replace the running deployment is replaced without failed requests (new server first, then
    nginx switches). With --rollout blue-green the new model goes to the endpoint's idle deployment (blue or
    green) with no traffic, is compared with the live one on labelled shipped rows, and takes all the traffic
    only if every gate passes; the old deployment keeps running, so a rollback is one `deploy traffic`. The
    new spec is diffed against the old one and the client in <workspace>/clients/<deployment>/ is regenerated
    when the request changed. Every step is recorded in MLflow. Exit code 1 when a step fails or a gate holds
    the rollout (the previous deployment keeps serving), 4 when canceled (Ctrl-C).
    """
    require_extra("train")
    require_extra("serve")
    import threading

    from bankscore.pipeline._parameters import PipelineParameterError, PipelineParameters
    from bankscore.pipeline._run import PipelineStepError, run_pipeline

    values: dict[str, Any] = {
        "experiment": experiment,
        "dataset": dataset,
        "time_budget_s": time_budget,
        "exclude": tuple(name for item in exclude for name in item.split(",") if name),
        "deployment": deployment,
        "port": port,
        "generation": generation,
        "workers": workers,
        "seed": seed,
        "rollout": rollout,
        "compare_sample": compare_sample,
        "max_disagreement": max_disagreement,
        "max_auc_drop": max_auc_drop,
        "max_latency_ratio": max_latency_ratio,
    }
    try:
        params = PipelineParameters(**values)
    except PipelineParameterError as exc:  # named by the option the user typed, not by the REST field name
        if exc.name not in values:
            raise
        option = "--time-budget" if exc.name == "time_budget_s" else "--" + exc.name.replace("_", "-")
        shown = ",".join(values[exc.name]) if exc.name == "exclude" else values[exc.name]
        raise click.BadParameter(f"{shown!r}: {exc.why}", param_hint=f"'{option}'") from None
    cancel = threading.Event()
    try:
        with _ctrl_c_cancels(cancel):
            result = run_pipeline(params, on_event=_show_event, cancel=cancel)
    except PipelineStepError as exc:
        if as_json and exc.result is not None:
            click.echo(json.dumps(exc.result.to_dict(), indent=2))
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo("\n".join(_summary_lines(result)))
    if result.status == "Canceled":
        sys.exit(EXIT_CANCELED)
