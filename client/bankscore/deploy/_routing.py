"""Changing where a running endpoint's requests go: its traffic and mirror, or one deployment fewer.

Each change is a graceful nginx reload of the endpoint's gateway (see ``_local``): the new worker takes every
new connection, the old one finishes what it holds, so no request is lost. The rules are ``_traffic``'s; a
change nginx refuses leaves the running configuration, its file and ``endpoint.json`` as they were.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bankscore._generations import WireGeneration
from bankscore.deploy._folder import DeploymentFolder
from bankscore.deploy._local import (
    gateway_secret,
    read_keys,
    reload_gateway,
    routing_of,
    stop_local,
    write_gateway_config,
)
from bankscore.deploy._processes import alive
from bankscore.deploy._servers import stop_server
from bankscore.deploy._state import (
    DEFAULT_DEPLOYMENT_NAME,
    DeployError,
    EndpointState,
    LocalDeployment,
    deployment_dir,
    deployment_home,
    endpoint_lock,
    load_endpoint,
    load_state,
    save_endpoint,
    write_private,
    write_summary,
)
from bankscore.deploy._traffic import Routing, check_mirror, check_removable, check_traffic

__all__ = ["remove_deployment", "set_traffic"]


def _running_endpoint(name: str) -> EndpointState:
    endpoint = load_endpoint(name)
    if endpoint is None:
        raise DeployError(f"no local endpoint named {name!r}: start one with `bankscore deploy local --name {name}`")
    return endpoint


def set_traffic(name: str, traffic: dict[str, int] | None, mirror: dict[str, int] | None) -> EndpointState:
    """Give endpoint ``name`` this ``traffic`` and ``mirror`` (None: keep what it has); the endpoint as it is now.

    Raises TrafficError, before anything changes, for a setting that breaks a rule.
    """
    with endpoint_lock(name):
        endpoint = _running_endpoint(name)
        new_traffic = dict(endpoint.traffic)
        if traffic is not None:
            new_traffic = check_traffic(traffic, endpoint.traffic, endpoint=name)
        new_mirror = check_mirror(endpoint.mirror if mirror is None else mirror, new_traffic, endpoint=name)
        if (new_traffic, new_mirror) == (endpoint.traffic, endpoint.mirror):
            return endpoint
        changed = replace(endpoint, traffic=new_traffic, mirror=new_mirror)
        _apply(changed, routing_of(changed))
        save_endpoint(changed)
        write_summary(name)  # the primary deployment may have changed
        return changed


def remove_deployment(name: str, deployment: str) -> LocalDeployment | None:
    """Stop ``deployment`` of endpoint ``name``; the last one takes the endpoint with it. What was stopped.

    A deployment that takes live traffic or the mirror stays (TrafficError): `deploy traffic` moves it first.
    """
    with endpoint_lock(name):
        endpoint = _running_endpoint(name)
        check_removable(endpoint.traffic, endpoint.mirror, deployment, endpoint=name)
        state = load_state(name, deployment)
        if set(endpoint.traffic) == {deployment}:
            return stop_local(name)
        remaining = {d: percent for d, percent in endpoint.traffic.items() if d != deployment}
        changed = replace(endpoint, traffic=remaining, mirror=dict(endpoint.mirror))
        _apply(changed, routing_of(changed))  # nothing is sent to it any more once this returns
        save_endpoint(changed)
        if state is not None:
            stop_server(state)
        if deployment != DEFAULT_DEPLOYMENT_NAME:
            (deployment_home(name, deployment) / "state.json").unlink(missing_ok=True)
        write_summary(name)  # blue's state.json becomes the copy of the deployment that now takes most traffic
        return state


def _apply(endpoint: EndpointState, routing: Routing) -> None:
    """Rewrite the gateway's configuration for ``routing`` and reload it, or leave both as they were."""
    master = endpoint.gateway_pid
    if not master or not alive(master):
        raise DeployError(
            f"the gateway of endpoint {endpoint.name!r} is not running, so its traffic cannot change: "
            f"redeploy it (bankscore deploy local --name {endpoint.name}) or stop it"
        )
    run_dir = deployment_dir(endpoint.name)
    keys = read_keys(endpoint.name) if endpoint.auth else {}
    conf = run_dir / "nginx.conf"
    old_conf = conf.read_text()
    try:
        write_gateway_config(
            run_dir,
            _any_folder(endpoint),
            port=endpoint.port,
            keys=[keys["primary"], keys["secondary"]] if keys else None,
            secret=gateway_secret(run_dir) if keys else None,
            routing=routing,
        )
        reload_gateway(master, run_dir, timeout=30)
    except DeployError:
        write_private(conf, old_conf)  # the master still runs the old configuration; the file says so again
        raise


def _any_folder(endpoint: EndpointState) -> DeploymentFolder:
    """A release of the endpoint, for the limits the gateway enforces (every release has the same ones)."""
    state = load_state(endpoint.name)
    if state is None:
        raise DeployError(f"the endpoint {endpoint.name!r} has no deployment with a state.json")
    return DeploymentFolder(
        Path(state.folder),
        state.model_name,
        state.model_version,
        WireGeneration(state.generation),
        tuple(state.features),
    )
