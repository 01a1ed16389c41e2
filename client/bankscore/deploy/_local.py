"""The local endpoint: registered models served by the real Azure ML inference server on 127.0.0.1.

An endpoint (``--name``) is one public port, one pair of keys and one gateway; it holds named deployments
(``--deployment``, ``blue`` when not given), each its own release, server and workers on a backend port of
its own, as an Azure managed online endpoint does. Where each file lives is in ``_state``; how requests are
split between deployments, pinned to one or mirrored, in ``_gateway`` and ``_traffic``.

Zero-downtime redeploy. With nginx installed, every endpoint is served by nginx on the public port (the
key-checking gateway, or a pass-through when there are no keys) in front of each deployment's azmlinfsrv on a
private backend port. Replacing a running deployment, or adding one beside the others, then never frees the
public port:

1. start the new server on a new backend port and wait until it answers ``GET /`` with ``Healthy``;
2. rewrite ``nginx.conf`` for the new backend and send the nginx master SIGHUP (``nginx -s reload``): it
   starts a worker with the new configuration, which takes every new connection, and asks the old worker to
   finish the requests it holds and exit;
3. once the old worker has gone, nothing sends to the old server any more: stop it (gracefully).

A failure before step 2 completes (the new server never healthy, nginx refusing the configuration) stops only
the new server; the running deployments and their state stay as they were. Without nginx the server owns the
public port (one deployment only), so replacing it on the same port stops the old server first (a short
outage). Changing traffic, or removing one deployment, is step 2 alone (``_routing``).

Every server runs under a supervisor (``_supervise``) that restarts it when it dies, as Azure restarts a
container; each deployment's ``state.json`` records its supervisor, ``supervisor-<pid>.json`` the current
server and its restarts. nginx's master has a supervisor of its own, which replaces a killed master (and kills
its orphaned worker, which would otherwise keep the public port with the keys it had). A supervisor that is
gone is reported by ``deploy status``, which then exits 1; ``deploy stop`` and a redeploy stop every process
of a deployment's process groups, found by group id, even when a group's leader is gone, and a redeploy makes
sure it can take the public port before it stops anything.

Keys belong to the endpoint, as on Azure: ``keys.json`` (mode 0600) keeps them across redeploys and stops;
only ``_keys.regenerate_key`` changes one, and a running gateway switches to it with a graceful reload,
checked with real requests before the change is reported done. A deployment added beside others takes the
endpoint's keys. With keys, ``gateway.secret`` (mode 0600) holds the secret the gateway sends and every
server of the endpoint requires (see ``_gateway``).

An endpoint's name becomes a folder: it is checked (``check_name``) wherever a name becomes a path.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bankscore._progress import StepCallback
from bankscore.deploy._folder import DeploymentFolder
from bankscore.deploy._gateway import find_nginx, new_key, nginx_config
from bankscore.deploy._health import wait_healthy
from bankscore.deploy._ports import (
    DEFAULT_PORT,
    can_take,
    check_port,
    check_privileged_port,
    free_port,
    port_free,
)
from bankscore.deploy._processes import alive, stop_group
from bankscore.deploy._servers import (
    app_insights_environment,
    deployment_keys,
    deployment_problems,
    follow,
    gateway_secret,
    is_running,
    not_healthy,
    reload_gateway,
    secret_headers,
    server_pid,
    start_gateway,
    start_server,
    stop_gateway,
    stop_server,
)
from bankscore.deploy._state import (
    DEFAULT_DEPLOYMENT_NAME,
    DeployError,
    EndpointState,
    LocalDeployment,
    check_deployment_name,
    check_name,
    deployment_dir,
    deployment_home,
    endpoint_lock,
    load_endpoint,
    load_state,
    read_keys,
    save_endpoint,
    save_state,
    write_private,
    write_summary,
)
from bankscore.deploy._traffic import Routing, TrafficError, with_deployment

__all__ = [
    "DEFAULT_PORT",
    "DeployError",
    "LocalDeployment",
    "app_insights_environment",
    "check_name",
    "check_port",
    "check_privileged_port",
    "deployment_dir",
    "deployment_keys",
    "deployment_problems",
    "follow",
    "free_port",
    "gateway_secret",
    "is_running",
    "load_state",
    "new_key",
    "port_free",
    "read_keys",
    "reload_gateway",
    "routing_of",
    "start_local",
    "stop_local",
    "write_gateway_config",
    "write_private",
]


def routing_of(endpoint: EndpointState, **backends: int) -> Routing:
    """Where ``endpoint``'s gateway sends requests: its deployments' backends as saved, with ``backends``
    (a deployment being started or replaced) instead."""
    ports = dict(backends)
    for deployment in endpoint.traffic:
        if deployment not in ports:
            state = load_state(endpoint.name, deployment)
            if state is None:
                raise DeployError(f"the deployment {deployment!r} of {endpoint.name!r} has no state.json")
            ports[deployment] = state.backend_port
    return Routing(backends=ports, traffic=dict(endpoint.traffic), mirror=dict(endpoint.mirror))


def write_gateway_config(
    run_dir: Path,
    folder: DeploymentFolder,
    *,
    port: int,
    keys: list[str] | None,
    secret: str | None,
    routing: Routing | None = None,
) -> None:
    """Write ``nginx.conf`` for ``routing`` (without: the endpoint's, as saved)."""
    (run_dir / "nginx-temp").mkdir(exist_ok=True)
    if routing is None:
        endpoint = load_endpoint(run_dir.name)
        if endpoint is None:
            raise DeployError(f"no local endpoint named {run_dir.name!r}")
        routing = routing_of(endpoint)
    contract = json.loads((folder.model_dir / "contract.json").read_text())
    conf = nginx_config(
        run_dir=run_dir,
        port=port,
        keys=keys,
        max_body_bytes=int(contract["max_body_bytes"]),
        secret=secret,
        routing=routing,
    )
    write_private(run_dir / "nginx.conf", conf)


@dataclass(frozen=True, slots=True)
class _Launch:
    """What starting a deployment's server takes, whether it starts fresh, beside others or as a replacement."""

    folder: DeploymentFolder
    workers: int
    keys: list[str] | None
    extra_env: dict[str, str] | None
    timeout: float
    step: StepCallback


@dataclass(frozen=True, slots=True)
class _Started:
    """A deployment's server, just started: its home, its backend port, its supervisor's process."""

    home: Path
    backend_port: int
    server: subprocess.Popen[bytes]
    secret: str | None  # what the endpoint's gateway sends it (None without keys)


def _start(launch: _Launch, name: str, deployment: str, backend_port: int, log: str) -> _Started:
    """Start ``deployment``'s server (under its supervisor) on ``backend_port``, logging to ``log`` in its home."""
    home = deployment_home(name, deployment)
    home.mkdir(parents=True, exist_ok=True)
    secret = gateway_secret(deployment_dir(name)) if launch.keys else None
    server = start_server(
        launch.folder,
        name=name,
        home=home,
        backend_port=backend_port,
        workers=launch.workers,
        extra_env=launch.extra_env,
        log=home / log,
        secret=secret,
    )
    return _Started(home=home, backend_port=backend_port, server=server, secret=secret)


def _save(launch: _Launch, endpoint: EndpointState, deployment: str, started: _Started) -> LocalDeployment:
    folder, keys = launch.folder, launch.keys
    state = LocalDeployment(
        name=endpoint.name,
        folder=str(folder.path),
        port=endpoint.port,
        backend_port=started.backend_port,
        workers=launch.workers,
        generation=folder.generation.value,
        model_name=folder.model_name,
        model_version=folder.model_version,
        features=list(folder.features),
        server_pid=server_pid(started.home, started.server),
        gateway_pid=endpoint.gateway_pid,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        auth=bool(keys),
        supervisor_pid=started.server.pid,
        gateway_supervisor_pid=endpoint.gateway_supervisor_pid,
        deployment=deployment,
    )
    run_dir = deployment_dir(endpoint.name)
    if keys:
        write_private(run_dir / "keys.json", json.dumps({"primary": keys[0], "secondary": keys[-1]}, indent=2))
    else:
        (run_dir / "keys.json").unlink(missing_ok=True)
    endpoint.auth = bool(keys)
    save_state(state)
    save_endpoint(endpoint)
    write_summary(endpoint.name)
    return state


def start_local(
    folder: DeploymentFolder,
    *,
    name: str,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    keys: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 90.0,
    progress: StepCallback | None = None,
    deployment: str = DEFAULT_DEPLOYMENT_NAME,
) -> LocalDeployment:
    """Serve ``folder`` as ``deployment`` of endpoint ``name``, with azmlinfsrv behind nginx on 127.0.0.1:``port``.

    A running deployment of the same name is replaced: on the same port without downtime (see the module's
    docstring), on another port (when it is its endpoint's only one) by starting the new one and then stopping
    the old. A deployment added beside others gets no traffic until ``deploy traffic`` gives it some; the
    first one of an endpoint gets all of it. ``progress`` is called with the name of each step as it starts.
    """
    check_deployment_name(deployment)
    step = progress or _no_progress
    launch = _Launch(folder, workers, keys, extra_env, timeout, step)
    nginx = find_nginx()
    if keys and nginx is None:
        raise DeployError("keys need the nginx gateway, and nginx is not installed: apt-get install nginx-light")
    with endpoint_lock(name):
        endpoint = load_endpoint(name)
        if endpoint is not None and set(endpoint.traffic) - {deployment}:
            return _beside_others(endpoint, launch, deployment, port)
        previous = load_state(name, deployment)
        # Before anything is stopped: a port that another program holds would leave nothing serving.
        if not can_take(port, previous if previous is not None and previous.port == port else None):
            raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
        if endpoint is not None and (previous is None or not is_running(previous)):
            stop_local(name)  # leftovers of a crashed deployment: nothing serves there (or without its supervisors)
            endpoint, previous = None, None
        if endpoint is not None and previous is not None and previous.port == port:
            if previous.gateway_pid and nginx:
                return _switch(endpoint, previous, launch)
            step("stopping the running server (without nginx it holds the port itself)")
            stop_local(name)  # the server itself holds the public port: it has to go first
            endpoint, previous = None, None
        if not port_free(port):
            raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
        state = _start_fresh(launch, name, deployment, port, nginx)
        if previous is not None:
            step(f"stopping the previous deployment on port {previous.port}")
            stop_gateway(deployment_dir(name), previous)
            stop_server(previous)
        return state


def _no_progress(step: str) -> None:
    """No one asked to hear about the steps."""


def _beside_others(endpoint: EndpointState, launch: _Launch, deployment: str, port: int) -> LocalDeployment:
    """Start or replace ``deployment`` on an endpoint that holds other deployments too."""
    others = ", ".join(sorted(set(endpoint.traffic) - {deployment}))
    if port != endpoint.port:
        raise TrafficError(
            f"--port {port}: the endpoint {endpoint.name!r} listens on port {endpoint.port}, which its deployments "
            f"({others}) share; omit --port, or stop the endpoint first"
        )
    if not endpoint.gateway_pid or not alive(endpoint.gateway_pid):
        raise DeployError(
            f"the gateway of endpoint {endpoint.name!r} is not running, so it cannot take another deployment: "
            f"stop it (bankscore deploy stop --name {endpoint.name}) and deploy again"
        )
    if launch.keys is None and endpoint.auth:
        # The endpoint's keys, which its other deployments are behind.
        launch = replace(launch, keys=deployment_keys(endpoint.name))
    previous = load_state(endpoint.name, deployment)
    if previous is None:
        launch.step(f"adding the deployment {deployment!r} beside {others} (it gets no traffic until `deploy traffic`)")
        endpoint.traffic = with_deployment(endpoint.traffic, deployment)
    return _switch(endpoint, previous, launch, deployment=deployment)


def _start_fresh(launch: _Launch, name: str, deployment: str, port: int, nginx: str | None) -> LocalDeployment:
    run_dir = deployment_dir(name)
    backend_port = free_port() if nginx else port
    launch.step(f"starting azmlinfsrv ({launch.workers} worker(s)) and waiting for GET / to answer Healthy")
    started = _start(launch, name, deployment, backend_port, log="server.log")
    server, secret, timeout = started.server, started.secret, launch.timeout
    procs = [server]
    gateway: subprocess.Popen[bytes] | None = None
    routing = Routing(backends={deployment: backend_port}, traffic={deployment: 100})
    if nginx:
        write_gateway_config(run_dir, launch.folder, port=port, keys=launch.keys, secret=secret, routing=routing)
        gateway = start_gateway(nginx, run_dir, port)
        procs.append(gateway)
    healthy = wait_healthy(backend_port, [server], timeout, headers=secret_headers(secret)) and (
        gateway is None or wait_healthy(port, procs, timeout=15)
    )
    if not healthy:
        for proc in procs:
            stop_group(proc.pid)
        raise not_healthy(timeout, run_dir, log=started.home / "server.log", gateway=gateway is not None)
    endpoint = EndpointState(
        name=name,
        port=port,
        auth=bool(launch.keys),
        gateway_pid=server_pid(run_dir, gateway) if gateway else None,
        gateway_supervisor_pid=gateway.pid if gateway else None,
        traffic=dict(routing.traffic),
    )
    return _save(launch, endpoint, deployment, started)


def _switch(
    endpoint: EndpointState, previous: LocalDeployment | None, launch: _Launch, *, deployment: str | None = None
) -> LocalDeployment:
    """Start ``deployment`` (``previous``'s) behind the running nginx: new server, reload, then stop the old one."""
    deployment = deployment or (previous.deployment if previous else DEFAULT_DEPLOYMENT_NAME)
    name, run_dir, master = endpoint.name, deployment_dir(endpoint.name), endpoint.gateway_pid
    assert master is not None  # only called for an endpoint with a gateway
    home = deployment_home(name, deployment)
    # Its own log until the switch: the old server keeps logging every request it answers meanwhile, and a
    # start failure must show the new server's lines, not the old one's traffic.
    next_log = home / "server.next.log"
    next_log.unlink(missing_ok=True)
    launch.step(
        f"starting the new azmlinfsrv ({launch.workers} worker(s)) beside the running one, waiting for it to answer"
    )
    started = _start(launch, name, deployment, free_port(), log=next_log.name)
    server, secret, timeout = started.server, started.secret, launch.timeout
    if not wait_healthy(started.backend_port, [server], timeout, headers=secret_headers(secret)):
        stop_group(server.pid)
        error = not_healthy(timeout, run_dir, log=next_log, gateway=False)
        raise DeployError(f"{error} (the running deployment {name!r} keeps serving)")
    conf = run_dir / "nginx.conf"
    old_conf = conf.read_text()
    routing = routing_of(endpoint, **{deployment: started.backend_port})
    try:
        write_gateway_config(
            run_dir, launch.folder, port=endpoint.port, keys=launch.keys, secret=secret, routing=routing
        )
        launch.step("switching nginx to the new server (graceful reload)")
        reload_gateway(master, run_dir, timeout=30)
    except DeployError:
        write_private(conf, old_conf)  # the master still runs the old configuration; the file says so again
        stop_group(server.pid)
        raise
    state = _save(launch, endpoint, deployment, started)
    if previous is not None:
        launch.step("stopping the old server once its requests are answered")
        stop_server(previous)  # gunicorn's SIGTERM is graceful: anything still in flight is answered
        # The running server's log is server.log again (the process keeps its open file across the rename).
        with contextlib.suppress(FileNotFoundError):
            (home / "server.log").replace(home / "server.previous.log")
    next_log.replace(home / "server.log")
    return state


def stop_local(name: str) -> LocalDeployment | None:
    """Stop the endpoint: its gateway and every deployment's server (whole process groups).

    Returns what took the most traffic (None when nothing was recorded); ``_routing.remove_deployment``
    stops one deployment of several.
    """
    with endpoint_lock(name):
        endpoint = load_endpoint(name)
        if endpoint is None:
            return None
        states = [load_state(name, deployment) for deployment in endpoint.deployments]
        primary = load_state(name)
        stop_gateway(deployment_dir(name), endpoint)
        for state in states:
            if state is not None:
                stop_server(state)
        for deployment in endpoint.deployments:
            (deployment_home(name, deployment) / "state.json").unlink(missing_ok=True)
        (deployment_dir(name) / "state.json").unlink(missing_ok=True)  # blue's, or the copy for older readers
        (deployment_dir(name) / "endpoint.json").unlink(missing_ok=True)
        return primary
