"""``bankscore deploy``: serve a registered model locally on the Azure ML inference server, or package it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bankscore.cli._extras import require_extra

__all__ = ["deploy"]

# The wire generation a deployment serves (deploy local, deploy azure, pipeline run).
GENERATION_OPTION = click.option(
    "--generation",
    type=click.Choice(["A", "B", "C", "D"]),
    default="C",
    show_default=True,
    help="Wire format: C {Inputs, GlobalParameters} -> {Results}; A/B {data} -> double-encoded {result}; "
    "D {input_data: split frame, params} -> bare array (an MLflow model on a managed online endpoint).",
)
_NAME = click.option("--name", default="bank-marketing", show_default=True, help="Deployment (service) name.")


@click.group()
def deploy() -> None:
    """Deploy a registered model: locally on azmlinfsrv (127.0.0.1), or as a folder for Azure ML."""


@deploy.command("local")
@click.option("--model", "model_ref", default="bank-marketing", show_default=True, metavar="NAME[:VERSION]")
@_NAME
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True)
@click.option("--allow-privileged-port", is_flag=True, help="Allow a --port below 1024 (where system services listen).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server worker processes.")
@GENERATION_OPTION
@click.option(
    "--key", help="Require this primary scoring key (the secondary is kept or generated); implies the nginx gateway."
)
@click.option("--auth", is_flag=True, help="Require a key: the deployment's own, generated the first time.")
@click.option("--app-insights", metavar="CONNECTION_STRING", help="Send telemetry to Application Insights.")
@click.option("--timeout", type=float, default=90, show_default=True, help="Seconds to wait for the server.")
@click.option("--json", "as_json", is_flag=True, help="Print the deployment as JSON.")
def local_command(
    model_ref: str,
    name: str,
    port: int,
    allow_privileged_port: bool,
    workers: int,
    generation: str,
    key: str | None,
    auth: bool,
    app_insights: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Serve a registered model with the Azure ML inference server on 127.0.0.1:PORT.

    Replaces a running deployment of the same name. With --key or --auth, nginx checks keys in front of
    the server as Azure's front end does (401 for a missing or wrong key, 400 without "Bearer "). Keys
    belong to the deployment: a redeploy keeps them; `bankscore deploy keys --regenerate` changes one.
    A port below 1024 needs --allow-privileged-port.
    """
    require_extra("train")
    require_extra("serve")
    from bankscore._generations import WireGeneration
    from bankscore._progress import StderrSteps
    from bankscore.deploy._local import (
        app_insights_environment,
        check_name,
        check_port,
        deployment_keys,
        load_state,
        start_local,
    )
    from bankscore.deploy._release import build_release

    check_name(name)
    check_port(name, port, allow_privileged=allow_privileged_port)  # at once, not after building a release
    extra_env = app_insights_environment(app_insights) if app_insights else {}
    keys = deployment_keys(name, primary=key) if key or auth else None
    running = load_state(name)
    if running is not None and running.port != port:
        click.echo(f"moving the running deployment {name!r} from port {running.port} to port {port}", err=True)
    elif running is not None:
        # start_local replaces it: new server first, then nginx switches to it, then the old one stops.
        click.echo(f"replacing the running deployment {name!r} on port {port}", err=True)
    click.echo(f"deploying {model_ref} (generation {generation}) on 127.0.0.1:{port}", err=True)
    with StderrSteps() as steps:
        folder = build_release(model_ref, generation=WireGeneration(generation), name=name, progress=steps)
        state = start_local(
            folder,
            name=name,
            port=port,
            workers=workers,
            keys=keys,
            extra_env=extra_env,
            timeout=timeout,
            progress=steps,
        )
    if as_json:
        click.echo(json.dumps(state.to_dict(), indent=2))
        return
    click.echo(f"serving {state.model_name}:{state.model_version} as {name!r}, generation {state.generation}")
    click.echo(f"  scoring URI  {state.scoring_uri}")
    click.echo(f"  swagger URI  {state.swagger_uri}  (?version=3 for OpenAPI 3)")
    if state.auth:
        click.echo("  keys         required (bankscore deploy status --show-keys)")
    click.echo(f"  folder       {state.folder}")
    click.echo("  stop with    bankscore deploy stop" + ("" if name == "bank-marketing" else f" --name {name}"))


@deploy.command("status")
@_NAME
@click.option("--show-keys", is_flag=True, help="Print the scoring keys too.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_command(name: str, show_keys: bool, as_json: bool) -> None:
    """Scoring URI, swagger URI, model version, generation, pids, restarts and health of a local deployment.

    Exits 1 when the deployment is not serving or cannot heal itself: a process gone (the server, the
    gateway, or a supervisor that restarts them), or GET / not answering Healthy.
    """
    from bankscore.deploy._health import health
    from bankscore.deploy._local import deployment_problems, load_state, read_keys
    from bankscore.deploy._processes import alive

    state = load_state(name)
    if state is None:
        raise click.ClickException(f"no local deployment named {name!r}: start one with `bankscore deploy local`")
    problems = deployment_problems(state)
    # The server and the gateway run (a supervisor may be gone): what GET / answers through the gateway.
    processes_run = alive(state.server_pid) and (state.gateway_pid is None or alive(state.gateway_pid))
    answer = health(state.port) if processes_run else None
    if processes_run and answer is None:
        # Its processes run, yet GET / fails: a hung server (its supervisor restarts it after a minute).
        problems.append(_not_answering(state.failed_probes))
    health_text = answer or ("not answering" if processes_run else "unreachable")
    info = {**state.to_dict(), "running": not problems, "health": health_text, "problems": problems}
    if show_keys:
        info["keys"] = read_keys(name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        _exit_unless_serving(info)
        return
    # DEGRADED: the processes run, but it does not answer or a supervisor is gone (it cannot heal).
    summary = "running" if not problems else "DEGRADED" if processes_run else "NOT running"
    click.echo(f"{name}: {summary}, health {info['health']}")
    for problem in problems:
        click.echo(f"  problem      {problem}")
    click.echo(f"  model        {state.model_name}:{state.model_version} ({len(state.features)} features)")
    click.echo(f"  generation   {state.generation}")
    click.echo(f"  scoring URI  {state.scoring_uri}")
    click.echo(f"  swagger URI  {state.swagger_uri}")
    click.echo(f"  server pid   {state.server_pid} ({state.workers} worker(s))")
    if state.gateway_pid:
        click.echo(f"  gateway pid  {state.gateway_pid} (nginx, {'keys required' if state.auth else 'no keys'})")
    if state.supervisor_pid:
        click.echo(f"  supervisor   pid {state.supervisor_pid}, {_restarts(state.restarts)}")
    if state.gateway_supervisor_pid:
        restarts = _restarts(state.gateway_restarts, "gateway")
        click.echo(f"  gateway      supervised by pid {state.gateway_supervisor_pid}, {restarts}")
    if show_keys:
        for which, value in read_keys(name).items():
            click.echo(f"  {which + ' key':<13}{value}")
    _exit_unless_serving(info)


def _restarts(count: int, what: str = "server") -> str:
    return "no restarts" if count == 0 else f"restarted the {what} {count} time{'s' * (count != 1)}"


def _not_answering(failed_probes: int) -> str:
    probes = f"; its supervisor's last {failed_probes} probes failed" if failed_probes else ""
    return f"the server runs but does not answer GET /{probes} (a hung server is restarted after about a minute)"


def _exit_unless_serving(info: dict[str, Any]) -> None:
    """Like a failed liveness probe: a deployment that does not serve, or cannot heal, is an error for scripts."""
    if not info["running"] or info["health"] != "Healthy" or info["problems"]:
        raise SystemExit(1)


@deploy.command("keys")
@_NAME
@click.option(
    "--regenerate",
    type=click.Choice(["primary", "secondary"]),
    help="Replace this key; the running gateway switches to the new one with a graceful reload.",
)
@click.option("--show-keys", is_flag=True, help="Print the keys themselves.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def keys_command(name: str, regenerate: str | None, show_keys: bool, as_json: bool) -> None:
    """A deployment's scoring keys: kept across redeploys, changed only with --regenerate."""
    from bankscore.deploy._keys import regenerate_key
    from bankscore.deploy._local import DeployError, load_state, read_keys

    try:
        keys = regenerate_key(name, regenerate) if regenerate else read_keys(name)
        deployed = load_state(name) is not None
    except DeployError as error:
        raise click.ClickException(str(error)) from error
    if not keys:
        raise click.ClickException(f"the deployment {name!r} has no keys: deploy it with --auth or --key")
    shown = keys if show_keys else dict.fromkeys(keys, "(hidden: --show-keys)")
    if as_json:
        click.echo(json.dumps({"name": name, "regenerated": regenerate, "keys": shown}, indent=2))
        return
    if regenerate and deployed:
        click.echo(f"{name}: new {regenerate} key in force (the gateway checked it); the other key is unchanged")
    elif regenerate:
        click.echo(f"{name}: new {regenerate} key saved; it is required once the deployment is started again")
    for which, value in shown.items():
        click.echo(f"  {which + ' key':<13}{value}")


@deploy.command("stop")
@_NAME
def stop_command(name: str) -> None:
    """Stop a local deployment (server and gateway)."""
    from bankscore.deploy._local import stop_local

    state = stop_local(name)
    if state is None:
        raise click.ClickException(f"no local deployment named {name!r}")
    click.echo(f"stopped {name} ({state.model_name}:{state.model_version})")


@deploy.command("logs")
@_NAME
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--gateway", is_flag=True, help="The gateway's log (auth decisions) instead of the server's.")
@click.option("--lines", "-n", type=int, default=50, show_default=True)
def logs_command(name: str, follow: bool, gateway: bool, lines: int) -> None:
    """The server's log: one JSON line per request, plus the server's own messages."""
    from bankscore.deploy._local import deployment_dir
    from bankscore.deploy._local import follow as follow_lines

    path = deployment_dir(name) / ("gateway.log" if gateway else "server.log")
    if not path.is_file():
        raise click.ClickException(f"no log at {path}")
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        click.echo(line)
    if follow:
        try:
            for line in follow_lines(path):
                click.echo(line)
        except KeyboardInterrupt:
            return


@deploy.command("azure")
@click.option("--model", "model_ref", default="bank-marketing", show_default=True, metavar="NAME[:VERSION]")
@_NAME
@GENERATION_OPTION
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Folder to write.")
@click.option("--instance-type", default="Standard_DS2_v2", show_default=True, help="Azure VM size per instance.")
@click.option("--instance-count", type=click.IntRange(1, 100), default=1, show_default=True)
def azure_command(
    model_ref: str, name: str, generation: str, output: Path, instance_type: str, instance_count: int
) -> None:
    """Write an Azure ML managed online endpoint: endpoint.yml, deployment.yml and what they deploy.

    A, B, C: the deployment folder (bankscore's score.py, the lean model, its conda environment). D: the
    registered MLflow model folder only, deployed without code or environment (Azure's no-code MLflow
    deployment, served by Microsoft's own scoring script). See the README for `az ml`.
    """
    require_extra("train")
    from bankscore._generations import WireGeneration
    from bankscore.deploy._azure import write_azure_assets, write_no_code_assets
    from bankscore.deploy._release import build_release

    if generation == WireGeneration.D:
        written = write_no_code_assets(
            output, model_ref=model_ref, name=name, instance_type=instance_type, instance_count=instance_count
        )
        click.echo(f"wrote {output}: " + ", ".join(sorted(p.name for p in written)))
    else:
        folder = build_release(model_ref, generation=WireGeneration(generation), name=name, folder=output)
        written = write_azure_assets(folder, name=name, instance_type=instance_type, instance_count=instance_count)
        click.echo(f"wrote {folder.path}: " + ", ".join(sorted(p.name for p in written)))
    click.echo(f"next: az ml online-endpoint create -f {output / 'endpoint.yml'}")
    click.echo(f"      az ml online-deployment create -f {output / 'deployment.yml'} --all-traffic")
