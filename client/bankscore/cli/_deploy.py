"""``bankscore deploy``: serve a registered model locally on the Azure ML inference server, or package it."""

from __future__ import annotations

import json
from typing import Any

import click

from bankscore.cli._deploy_azure import azure_command
from bankscore.cli._deploy_options import GENERATION_OPTION, NAME_OPTION, deployment_option, rules
from bankscore.cli._extras import require_extra

__all__ = ["GENERATION_OPTION", "deploy"]


@click.group()
def deploy() -> None:
    """Deploy a registered model: locally on azmlinfsrv (127.0.0.1), or as a folder for Azure ML."""


@deploy.command("local")
@click.option("--model", "model_ref", default="bank-marketing", show_default=True, metavar="NAME[:VERSION]")
@NAME_OPTION
@deployment_option("Deployment of the endpoint to start or replace (one beside others gets 0% traffic).", "blue")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Public port [default: the endpoint's when it holds other deployments, else 5001].",
)
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
    deployment: str,
    port: int | None,
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

    Replaces a running deployment of the same name. An endpoint (--name) holds one or more deployments
    (--deployment, default blue) behind one port and one pair of keys: the first gets all the traffic, one
    added beside it none until `bankscore deploy traffic`. With --key or --auth, nginx checks keys in front
    of the servers as Azure's front end does (401 for a missing or wrong key, 400 without "Bearer "). Keys
    belong to the endpoint: a redeploy keeps them, a deployment added beside others takes them;
    `bankscore deploy keys --regenerate` changes one. A port below 1024 needs --allow-privileged-port.
    """
    require_extra("train")
    require_extra("serve")
    from bankscore._generations import WireGeneration
    from bankscore._progress import StderrSteps
    from bankscore.deploy._local import (
        DEFAULT_PORT,
        app_insights_environment,
        check_name,
        check_port,
        deployment_keys,
        load_state,
        start_local,
    )
    from bankscore.deploy._release import build_release
    from bankscore.deploy._state import load_endpoint

    check_name(name)
    endpoint = load_endpoint(name)
    shared = endpoint is not None and bool(set(endpoint.traffic) - {deployment})
    if port is None:
        port = endpoint.port if endpoint is not None and shared else DEFAULT_PORT
    if shared and endpoint is not None and port != endpoint.port:
        raise click.BadParameter(
            f"{port}: the endpoint {name!r} listens on port {endpoint.port}, which its deployments share; "
            "omit --port, or stop the endpoint first",
            param_hint="'--port'",
        )
    check_port(name, port, allow_privileged=allow_privileged_port)  # at once, not after building a release
    extra_env = app_insights_environment(app_insights) if app_insights else {}
    keys = deployment_keys(name, primary=key) if key or auth else None
    running = load_state(name, deployment)
    what = f"deployment {name!r}" if deployment == "blue" and not shared else f"deployment {deployment!r} of {name!r}"
    if running is not None and running.port != port:
        click.echo(f"moving the running {what} from port {running.port} to port {port}", err=True)
    elif running is not None:
        # start_local replaces it: new server first, then nginx switches to it, then the old one stops.
        click.echo(f"replacing the running {what} on port {port}", err=True)
    click.echo(f"deploying {model_ref} (generation {generation}) on 127.0.0.1:{port}", err=True)
    with StderrSteps() as steps, rules():
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
            deployment=deployment,
        )
    if as_json:
        click.echo(json.dumps(state.to_dict(), indent=2))
        return
    served = f"{name!r}" if deployment == "blue" and not shared else f"deployment {deployment!r} of {name!r}"
    click.echo(f"serving {state.model_name}:{state.model_version} as {served}, generation {state.generation}")
    click.echo(f"  scoring URI  {state.scoring_uri}")
    click.echo(f"  swagger URI  {state.swagger_uri}  (?version=3 for OpenAPI 3)")
    after = load_endpoint(name)
    if after is not None and len(after.traffic) > 1:
        weights = " ".join(f"{d}=N" for d in after.deployments)
        click.echo(
            f"  traffic      {after.traffic[deployment]}% (change it: bankscore deploy traffic --name {name} {weights})"
        )
    if state.auth:
        click.echo("  keys         required (bankscore deploy status --show-keys)")
    click.echo(f"  folder       {state.folder}")
    click.echo("  stop with    bankscore deploy stop" + ("" if name == "bank-marketing" else f" --name {name}"))


@deploy.command("status")
@NAME_OPTION
@deployment_option("Show this deployment first [default: the one with the most traffic].")
@click.option("--show-keys", is_flag=True, help="Print the scoring keys too.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_command(name: str, deployment: str | None, show_keys: bool, as_json: bool) -> None:
    """Scoring URI, traffic, mirror, and each deployment's model, generation, pids, restarts and health.

    Exits 1 when a deployment is not serving or cannot heal itself: a process gone (a server, the gateway,
    or a supervisor that restarts them), or GET / (sent to it through the gateway) not answering Healthy.
    """
    from bankscore.deploy._state import load_endpoint, load_state, read_keys
    from bankscore.deploy._traffic import describe

    endpoint = load_endpoint(name)
    if endpoint is None or load_state(name) is None:
        raise click.ClickException(f"no local deployment named {name!r}: start one with `bankscore deploy local`")
    if deployment is not None and deployment not in endpoint.traffic:
        known = ", ".join(endpoint.deployments)
        raise click.BadParameter(f"{deployment!r} is not a deployment of {name!r} (it has {known})")
    shown = deployment or endpoint.primary()
    order = [shown, *(d for d in endpoint.deployments if d != shown)]
    states = {d: state for d in order if (state := load_state(name, d)) is not None}
    if shown not in states:
        raise click.ClickException(f"the deployment {shown!r} of {name!r} has no state.json: deploy it again")
    each = {d: {**_deployment_info(state), "traffic": endpoint.traffic[d]} for d, state in states.items()}
    info = {**each[shown], "traffic": endpoint.traffic, "mirror": endpoint.mirror, "deployments": each}
    info["problems"] = [f"{d}: {p}" if d != shown else p for d, i in each.items() for p in i["problems"]]
    info["running"] = not info["problems"]
    if show_keys:
        info["keys"] = read_keys(name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        _exit_unless_serving(info, each)
        return
    state = states[shown]
    # DEGRADED: the processes run, but one does not answer or a supervisor is gone (it cannot heal).
    summary = "running" if info["running"] else "NOT running" if each[shown]["health"] == "unreachable" else "DEGRADED"
    click.echo(f"{name}: {summary}, health {info['health']}")
    for problem in info["problems"]:
        click.echo(f"  problem      {problem}")
    click.echo(f"  scoring URI  {state.scoring_uri}")
    click.echo(f"  swagger URI  {state.swagger_uri}")
    click.echo(f"  traffic      {describe(endpoint.traffic)}")
    click.echo(f"  mirror       {describe(endpoint.mirror) if endpoint.mirror else 'none'}")
    if state.gateway_pid:
        click.echo(f"  gateway pid  {state.gateway_pid} (nginx, {'keys required' if state.auth else 'no keys'})")
    if state.gateway_supervisor_pid:
        restarts = _restarts(state.gateway_restarts, "gateway")
        click.echo(f"  gateway      supervised by pid {state.gateway_supervisor_pid}, {restarts}")
    for d, one in states.items():
        click.echo(f"  deployment {d}: {endpoint.traffic[d]}% of traffic, health {each[d]['health']}")
        click.echo(f"    model        {one.model_name}:{one.model_version} ({len(one.features)} features)")
        click.echo(f"    generation   {one.generation}")
        click.echo(f"    server pid   {one.server_pid} ({one.workers} worker(s))")
        if one.supervisor_pid:
            click.echo(f"    supervisor   pid {one.supervisor_pid}, {_restarts(one.restarts)}")
    if show_keys:
        for which, value in read_keys(name).items():
            click.echo(f"  {which + ' key':<13}{value}")
    _exit_unless_serving(info, each)


def _deployment_info(state: Any) -> dict[str, Any]:
    """``state`` (a LocalDeployment) with its health, as GET / sent to it through the gateway answers."""
    from bankscore._facts import DEPLOYMENT_HEADER
    from bankscore.deploy._health import health
    from bankscore.deploy._processes import alive
    from bankscore.deploy._servers import deployment_problems

    problems = deployment_problems(state)
    # The server and the gateway run (a supervisor may be gone): what GET / answers through the gateway.
    processes_run = alive(state.server_pid) and (state.gateway_pid is None or alive(state.gateway_pid))
    answer = health(state.port, headers={DEPLOYMENT_HEADER: state.deployment}) if processes_run else None
    if processes_run and answer is None:
        # Its processes run, yet GET / fails: a hung server (its supervisor restarts it after a minute).
        problems.append(_not_answering(state.failed_probes))
    health_text = answer or ("not answering" if processes_run else "unreachable")
    return {**state.to_dict(), "running": not problems, "health": health_text, "problems": problems}


def _restarts(count: int, what: str = "server") -> str:
    return "no restarts" if count == 0 else f"restarted the {what} {count} time{'s' * (count != 1)}"


def _not_answering(failed_probes: int) -> str:
    probes = f"; its supervisor's last {failed_probes} probes failed" if failed_probes else ""
    return f"the server runs but does not answer GET /{probes} (a hung server is restarted after about a minute)"


def _exit_unless_serving(info: dict[str, Any], each: dict[str, dict[str, Any]]) -> None:
    """Like a failed liveness probe: a deployment that does not serve, or cannot heal, is an error for scripts."""
    if not info["running"] or info["problems"] or any(i["health"] != "Healthy" for i in each.values()):
        raise SystemExit(1)


@deploy.command("keys")
@NAME_OPTION
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
@NAME_OPTION
@deployment_option("Stop only this deployment (it must take no traffic); the endpoint keeps the others.")
def stop_command(name: str, deployment: str | None) -> None:
    """Stop a local endpoint (its gateway and every deployment), or one deployment of it."""
    from bankscore.deploy._local import stop_local
    from bankscore.deploy._routing import remove_deployment
    from bankscore.deploy._state import load_endpoint

    endpoint = load_endpoint(name)
    if endpoint is None:
        raise click.ClickException(f"no local deployment named {name!r}")
    if deployment is None:
        state = stop_local(name)
        if state is None:
            raise click.ClickException(f"no local deployment named {name!r}")
        others = [d for d in endpoint.deployments if d != state.deployment]
        also = f" and its deployment{'s' * (len(others) > 1)} {', '.join(others)}" if others else ""
        click.echo(f"stopped {name} ({state.model_name}:{state.model_version}){also}")
        return
    with rules():
        state = remove_deployment(name, deployment)
    if state is None:
        raise click.ClickException(f"the deployment {deployment!r} of {name!r} was not running")
    rest = [d for d in endpoint.deployments if d != deployment]
    left = f"; {', '.join(rest)} serve{'s' * (len(rest) == 1)}" if rest else "; the endpoint is stopped"
    click.echo(f"stopped {deployment} of {name} ({state.model_name}:{state.model_version}){left}")


@deploy.command("traffic")
@NAME_OPTION
@click.argument("weights", nargs=-1, metavar="[DEPLOYMENT=PERCENT]...")
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="DEPLOYMENT=PERCENT",
    help="Also copy this share (0-50) of live requests to a deployment without live traffic; =0 ends it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the endpoint's traffic and mirror as JSON.")
def traffic_command(name: str, weights: tuple[str, ...], mirrors: tuple[str, ...], as_json: bool) -> None:
    """Split an endpoint's requests between its deployments, as Azure's endpoint traffic: blue=90 green=10.

    The percents sum to 100 (or are all 0: then only requests that name a deployment in the
    azureml-model-deployment header are served); a deployment not named gets 0. The change is a graceful
    reload of the gateway: no request is lost. Without arguments, prints the traffic and mirror.
    """
    from bankscore.deploy._routing import set_traffic
    from bankscore.deploy._state import load_endpoint
    from bankscore.deploy._traffic import describe, parse_assignments

    with rules():
        traffic = parse_assignments(weights, what="traffic") if weights else None
        mirror = parse_assignments(mirrors, what="mirror") if mirrors else None
        if traffic is None and mirror is None:
            endpoint = load_endpoint(name)
            if endpoint is None:
                raise click.ClickException(f"no local deployment named {name!r}")
        else:
            endpoint = set_traffic(name, traffic, mirror)
    if as_json:
        click.echo(json.dumps({"name": name, "traffic": endpoint.traffic, "mirror": endpoint.mirror}, indent=2))
        return
    click.echo(f"{name}: traffic {describe(endpoint.traffic)}")
    click.echo(f"{name}: mirror {describe(endpoint.mirror) if endpoint.mirror else 'none'}")


@deploy.command("logs")
@NAME_OPTION
@deployment_option("This deployment's server log [default: the one with the most traffic].")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--gateway", is_flag=True, help="The gateway's log (auth decisions) instead of the server's.")
@click.option("--lines", "-n", type=int, default=50, show_default=True)
def logs_command(name: str, deployment: str | None, follow: bool, gateway: bool, lines: int) -> None:
    """A server's log: one JSON line per request, plus the server's own messages; or the gateway's."""
    from bankscore.deploy._state import deployment_dir, deployment_home, load_endpoint

    endpoint = load_endpoint(name)
    if deployment is None:
        deployment = endpoint.primary() if endpoint is not None and endpoint.traffic else "blue"
    path = deployment_dir(name) / "gateway.log" if gateway else deployment_home(name, deployment) / "server.log"
    if not path.is_file():
        raise click.ClickException(f"no log at {path}")
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        click.echo(line)
    if follow:
        from bankscore.deploy._servers import follow as follow_lines

        try:
            for line in follow_lines(path):
                click.echo(line)
        except KeyboardInterrupt:
            return


deploy.add_command(azure_command)
