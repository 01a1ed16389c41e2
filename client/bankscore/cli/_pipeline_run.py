"""``bankscore pipeline run``: the retraining pipeline, run here, with Ctrl-C asking it to stop cleanly."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click

from bankscore.cli._deploy_options import GENERATION_OPTION
from bankscore.cli._extras import require_extra
from bankscore.cli._pipeline_options import DEFAULT_EXPERIMENT, EXIT_CANCELED, JSON_OPTION, first_line

__all__ = ["run_command"]


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
    message = first_line(event.message) if event.status == "Failed" else event.message
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


@click.command("run")
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
@click.option("--experiment", default=DEFAULT_EXPERIMENT, show_default=True, help="MLflow experiment of the run.")
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
@JSON_OPTION
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
