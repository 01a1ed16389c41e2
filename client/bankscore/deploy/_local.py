"""The local deployment: a registered model served by the real Azure ML inference server on 127.0.0.1.

State lives in ``<workspace>/deployments/<name>/``: ``state.json`` (URIs, ports, pids, model, generation),
``keys.json`` (mode 0600), ``server.log`` and, with nginx, ``gateway.log``. Every release gets its own folder
under ``releases/`` so a running server never has its files changed underneath it.

Zero-downtime redeploy. With nginx installed, every deployment is served by nginx on the public port (the
key-checking gateway, or a pass-through when there are no keys) in front of azmlinfsrv on a private backend
port. Replacing a running deployment of the same name and port then never frees the public port:

1. start the new server on a new backend port and wait until it answers ``GET /`` with ``Healthy``;
2. rewrite ``nginx.conf`` for the new backend and send the nginx master SIGHUP (``nginx -s reload``): it
   starts a worker with the new configuration, which takes every new connection, and asks the old worker to
   finish the requests it holds and exit;
3. once the old worker has gone, nothing sends to the old server any more: stop it (gracefully).

A failure before step 2 completes (the new server never healthy, nginx refusing the configuration) stops only
the new server; the running deployment and its ``state.json`` stay as they were. Without nginx the server
owns the public port, so replacing it on the same port stops the old server first (a short outage).

Every server runs under a supervisor (``_supervise``) that restarts it when it dies, as Azure restarts a
container; ``state.json`` records the supervisor, ``supervisor-<pid>.json`` the current server and its restarts.
nginx's master has a supervisor of its own, which replaces a killed master (and kills its orphaned worker,
which would otherwise keep the public port with the keys it had). A supervisor that is gone is reported by
``deploy status``, which then exits 1; ``deploy stop`` and a redeploy stop every process of a deployment's
process groups, found by group id, even when a group's leader is gone, and a redeploy makes sure it can take
the public port before it stops anything.

Keys belong to the deployment, as on Azure: ``keys.json`` (mode 0600) keeps them across redeploys and stops;
only ``_keys.regenerate_key`` changes one, and a running gateway switches to it with a graceful reload,
checked with real requests before the change is reported done. With keys,
``gateway.secret`` (mode 0600) holds the secret the gateway sends and the server requires (see ``_gateway``).

A deployment's name becomes a folder: it is checked (``check_name``) wherever a name becomes a path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bankscore import workspace
from bankscore._exceptions import BankscoreError
from bankscore._progress import StepCallback
from bankscore.deploy._folder import DeploymentFolder
from bankscore.deploy._gateway import (
    GATEWAY_SECRET_HEADER,
    SECRET_FILE_ENV,
    find_nginx,
    new_key,
    new_secret,
    nginx_config,
)
from bankscore.deploy._health import wait_healthy
from bankscore.deploy._processes import alive, live_children, spawn, stop_group, wait_until
from bankscore.deploy._supervise import SupervisorStatus, status_file

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
    "free_port",
    "gateway_secret",
    "load_state",
    "port_free",
    "read_keys",
    "reload_gateway",
    "start_local",
    "stop_local",
    "write_gateway_config",
    "write_private",
]

DEFAULT_PORT = 5001  # the server's own default
# Ports below this are privileged: system services (ssh on 22, http on 80) live there and only root may bind them.
FIRST_UNPRIVILEGED_PORT = 1024
# A name that is a plain folder name: no separator, not "." or "..", nothing a shell or a terminal reads.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class DeployError(BankscoreError):
    """A deployment could not be started, found or stopped."""


@dataclass
class LocalDeployment:
    name: str
    folder: str
    port: int
    backend_port: int
    workers: int
    generation: str
    model_name: str
    model_version: str
    features: list[str]
    server_pid: int
    gateway_pid: int | None
    started_at: str
    auth: bool
    supervisor_pid: int | None = None  # restarts the server when it dies (None: started before supervisors)
    restarts: int = 0
    gateway_supervisor_pid: int | None = None  # replaces nginx's master when it dies
    gateway_restarts: int = 0
    failed_probes: int = 0  # GET / probes of the server that failed in a row, as its supervisor counts them

    @property
    def scoring_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def swagger_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/swagger.json"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri}


def check_name(name: str) -> str:
    """``name``, if it can be a deployment's name (and so a folder); a DeployError saying why not."""
    if not _NAME.fullmatch(name):
        raise DeployError(
            f"deployment name {name!r}: use letters, digits, '-', '_' and '.' (up to 63; first a letter or a digit)"
        )
    return name


def deployment_dir(name: str) -> Path:
    return workspace.home() / "deployments" / check_name(name)


def load_state(name: str) -> LocalDeployment | None:
    path = deployment_dir(name) / "state.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    fields = {k: data[k] for k in LocalDeployment.__dataclass_fields__ if k in data}
    state = LocalDeployment(**fields)
    supervised = _supervisor_status(deployment_dir(name), state.supervisor_pid)
    if supervised is not None:  # the server it runs now, after any restart
        state.server_pid, state.restarts = supervised.server_pid, supervised.restarts
        state.failed_probes = supervised.failed_probes
    gateway = _supervisor_status(deployment_dir(name), state.gateway_supervisor_pid)
    if gateway is not None:  # nginx's master now, after any restart
        state.gateway_pid, state.gateway_restarts = gateway.server_pid, gateway.restarts
    return state


def _supervisor_status(run_dir: Path, supervisor_pid: int | None) -> SupervisorStatus | None:
    if not supervisor_pid:
        return None
    try:
        return SupervisorStatus(**json.loads(status_file(run_dir, supervisor_pid).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def read_keys(name: str) -> dict[str, str]:
    path = deployment_dir(name) / "keys.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def deployment_keys(name: str, *, primary: str | None = None) -> list[str]:
    """The keys a keyed (re)deploy of ``name`` requires: the ones it has, new ones only where it has none.

    ``primary``: a key the caller chose (``--key``), which replaces the stored primary; the secondary stays.
    """
    stored = read_keys(name)
    return [primary or stored.get("primary") or new_key(), stored.get("secondary") or new_key()]


def _secret_file(run_dir: Path) -> Path:
    return run_dir / "gateway.secret"


def gateway_secret(run_dir: Path) -> str:
    """The deployment's secret between gateway and server: kept (mode 0600) so a reload can rewrite the config."""
    path = _secret_file(run_dir)
    if path.is_file():
        return path.read_text().strip()
    secret = new_secret()
    write_private(path, secret)
    return secret


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_insights_environment(connection_string: str) -> dict[str, str]:
    """Hand an Application Insights connection string to the server's own Azure Monitor support.

    The server takes an instrumentation key (a UUID) and its exporter reads the ingestion endpoint from
    ``APPLICATIONINSIGHTS_CONNECTION_STRING``; statsbeat (the SDK's own telemetry to Microsoft) is switched off.
    """
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    key = parts.get("InstrumentationKey", "")
    if not _UUID.match(key):
        raise DeployError(
            "--app-insights: the connection string has no valid InstrumentationKey "
            "(expected InstrumentationKey=<uuid>;IngestionEndpoint=https://...)"
        )
    return {
        "AML_APP_INSIGHTS_ENABLED": "true",
        "AML_APP_INSIGHTS_KEY": key,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string,
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    }


def _log_tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _server_args(folder: DeploymentFolder, backend_port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bankscore.deploy._launch",
        "--entry_script",
        str(folder.entry_script),
        "--model_dir",
        str(folder.model_dir),
        "--port",
        str(backend_port),
        "--worker_count",
        str(workers),
    ]


def _start_server(
    folder: DeploymentFolder,
    *,
    name: str,
    backend_port: int,
    workers: int,
    extra_env: dict[str, str] | None,
    log: Path,
    secret: str | None,
) -> subprocess.Popen[bytes]:
    """Start the supervisor, which starts the server (see ``_supervise``); the supervisor's process."""
    env = {
        **os.environ,
        "AML_APP_ROOT": str(folder.path),
        "AZUREML_MODEL_DIR": str(folder.model_dir),
        "SERVICE_NAME": name,
        "SERVICE_VERSION": folder.model_version,
        "GUNICORN_CMD_ARGS": "--no-control-socket",  # gunicorn 27 otherwise shares ~/.gunicorn between servers
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),  # one thread per worker (see bankscore_scoring)
        **(extra_env or {}),
    }
    env.pop(SECRET_FILE_ENV, None)
    run_dir = deployment_dir(name)
    if secret:
        # The file's path: the secret itself in no environment (/proc/<pid>/environ) and no command line.
        env[SECRET_FILE_ENV] = str(_secret_file(run_dir))
    supervisor = [sys.executable, "-m", "bankscore.deploy._supervise", "--port", str(backend_port)]
    args = [*supervisor, "--run-dir", str(run_dir), "--", *_server_args(folder, backend_port, workers)]
    return spawn(args, cwd=folder.path, env=env, log=log)


def _start_gateway(nginx: str, run_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the gateway's supervisor, which starts nginx's master (see ``_supervise``); the supervisor's process."""
    supervisor = [sys.executable, "-m", "bankscore.deploy._supervise", "--gateway", "--port", str(port)]
    command = [nginx, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir)]
    env = {k: v for k, v in os.environ.items() if k != SECRET_FILE_ENV}
    args = [*supervisor, "--run-dir", str(run_dir), "--", *command]
    return spawn(args, cwd=run_dir, env=env, log=run_dir / "gateway-error.log")


def _secret_headers(secret: str | None) -> dict[str, str] | None:
    return {GATEWAY_SECRET_HEADER: secret} if secret else None


def _server_pid(run_dir: Path, supervisor: subprocess.Popen[bytes]) -> int:
    """The server's (or nginx's) master, which the supervisor started (and said so before it could answer)."""
    status = _supervisor_status(run_dir, supervisor.pid)
    if status is None:
        raise DeployError(f"the supervisor (pid {supervisor.pid}) did not say which process it runs")
    return status.server_pid


def _stop_server(run_dir: Path, state: LocalDeployment) -> None:
    """The supervisor first (it stops its server gracefully and restarts nothing), then anything left."""
    stop_group(state.supervisor_pid)
    stop_group(state.server_pid)
    if state.supervisor_pid:
        status_file(run_dir, state.supervisor_pid).unlink(missing_ok=True)


def _stop_gateway(run_dir: Path, state: LocalDeployment) -> None:
    """The gateway's supervisor first (it stops nginx and replaces nothing), then anything left of nginx's
    group: a master nobody supervises, or the worker of a master that was killed."""
    stop_group(state.gateway_supervisor_pid)
    stop_group(state.gateway_pid)
    if state.gateway_supervisor_pid:
        status_file(run_dir, state.gateway_supervisor_pid).unlink(missing_ok=True)


def _groups(state: LocalDeployment) -> set[int]:
    """The process groups of ``state`` (each recorded pid leads one, or led it)."""
    pids = (state.gateway_supervisor_pid, state.gateway_pid, state.supervisor_pid, state.server_pid)
    return {pid for pid in pids if pid}


def _can_take(port: int, previous: LocalDeployment | None) -> bool:
    """Whether ``port`` is free, or held only by processes of ``previous`` (which a redeploy stops or keeps)."""
    if port_free(port):
        return True
    if previous is None:
        return False
    try:
        listening = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return False  # who holds it cannot be told: better refused than a running deployment stopped for nothing
    groups = _groups(previous)
    for conn in listening:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        if conn.pid is None:
            return False
        try:
            if os.getpgid(conn.pid) not in groups:
                return False
        except ProcessLookupError:
            continue
    return True


def check_privileged_port(port: int, *, allow_privileged: bool = False) -> None:
    """Refuse a port below 1024 unless ``allow_privileged``: it is a system service's port, and a typo there
    (``--port 22`` for 2222) would move a running deployment onto it."""
    if port < FIRST_UNPRIVILEGED_PORT and not allow_privileged:
        raise DeployError(
            f"port {port} is a privileged port (below {FIRST_UNPRIVILEGED_PORT}, where system services listen): "
            f"pick one from {FIRST_UNPRIVILEGED_PORT} up, or pass --allow-privileged-port to use it anyway"
        )


def check_port(name: str, port: int, *, allow_privileged: bool = False) -> None:
    """Refuse ``port`` for deployment ``name`` as ``start_local`` would, before anything slow is done: building a
    release takes seconds (the model is loaded and checked), a port that cannot be taken is said at once."""
    check_privileged_port(port, allow_privileged=allow_privileged)
    previous = load_state(name)
    if not _can_take(port, previous if previous is not None and previous.port == port else None):
        raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")


def write_gateway_config(
    run_dir: Path,
    folder: DeploymentFolder,
    *,
    port: int,
    backend_port: int,
    keys: list[str] | None,
    secret: str | None,
) -> None:
    (run_dir / "nginx-temp").mkdir(exist_ok=True)
    contract = json.loads((folder.model_dir / "contract.json").read_text())
    conf = nginx_config(
        run_dir=run_dir,
        port=port,
        backend_port=backend_port,
        keys=keys,
        max_body_bytes=int(contract["max_body_bytes"]),
        secret=secret,
    )
    write_private(run_dir / "nginx.conf", conf)


def _not_healthy(timeout: float, run_dir: Path, *, log: Path, gateway: bool) -> DeployError:
    logs = _log_tail(log)
    if gateway:
        logs += "\n--- gateway ---\n" + _log_tail(run_dir / "gateway-error.log", 10)
    return DeployError(f"the server did not answer GET / with 'Healthy' within {timeout:g} s. Its log:\n{logs}")


def _save(
    folder: DeploymentFolder,
    *,
    name: str,
    port: int,
    backend_port: int,
    workers: int,
    server_pid: int,
    supervisor_pid: int,
    gateway_pid: int | None,
    gateway_supervisor_pid: int | None,
    keys: list[str] | None,
) -> LocalDeployment:
    state = LocalDeployment(
        name=name,
        folder=str(folder.path),
        port=port,
        backend_port=backend_port,
        workers=workers,
        generation=folder.generation.value,
        model_name=folder.model_name,
        model_version=folder.model_version,
        features=list(folder.features),
        server_pid=server_pid,
        gateway_pid=gateway_pid,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        auth=bool(keys),
        supervisor_pid=supervisor_pid,
        gateway_supervisor_pid=gateway_supervisor_pid,
    )
    run_dir = deployment_dir(name)
    if keys:
        write_private(run_dir / "keys.json", json.dumps({"primary": keys[0], "secondary": keys[-1]}, indent=2))
    else:
        (run_dir / "keys.json").unlink(missing_ok=True)
    # Written whole and renamed: `deploy status` may read it while a redeploy replaces it.
    partial = run_dir / "state.json.tmp"
    partial.write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    partial.replace(run_dir / "state.json")
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
) -> LocalDeployment:
    """Serve ``folder`` with azmlinfsrv on 127.0.0.1:``port``, behind nginx when it is installed.

    A running deployment of the same name is replaced: on the same port without downtime (see the module's
    docstring), on another port by starting the new one and then stopping the old. ``progress`` is called with
    the name of each step as it starts.
    """
    step = progress or _no_progress
    nginx = find_nginx()
    if keys and nginx is None:
        raise DeployError("keys need the nginx gateway, and nginx is not installed: apt-get install nginx-light")
    previous = load_state(name)
    # Before anything is stopped: a port that another program holds would leave nothing serving.
    if not _can_take(port, previous if previous is not None and previous.port == port else None):
        raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
    if previous is not None and not is_running(previous):
        stop_local(name)  # leftovers of a crashed deployment: nothing serves there (or without its supervisors)
        previous = None
    if previous is not None and previous.port == port:
        if previous.gateway_pid and nginx:
            return _switch(
                previous, folder, workers=workers, keys=keys, extra_env=extra_env, timeout=timeout, step=step
            )
        step("stopping the running server (without nginx it holds the port itself)")
        stop_local(name)  # the server itself holds the public port: it has to go first
        previous = None
    if not port_free(port):
        raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
    state = _start_fresh(
        folder,
        name=name,
        port=port,
        workers=workers,
        keys=keys,
        extra_env=extra_env,
        timeout=timeout,
        nginx=nginx,
        step=step,
    )
    if previous is not None:
        step(f"stopping the previous deployment on port {previous.port}")
        _stop_gateway(deployment_dir(name), previous)
        _stop_server(deployment_dir(name), previous)
    return state


def _no_progress(step: str) -> None:
    """No one asked to hear about the steps."""


def _start_fresh(
    folder: DeploymentFolder,
    *,
    name: str,
    port: int,
    workers: int,
    keys: list[str] | None,
    extra_env: dict[str, str] | None,
    timeout: float,
    nginx: str | None,
    step: StepCallback,
) -> LocalDeployment:
    run_dir = deployment_dir(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    backend_port = free_port() if nginx else port
    secret = gateway_secret(run_dir) if keys else None
    step(f"starting azmlinfsrv ({workers} worker(s)) and waiting for GET / to answer Healthy")
    server = _start_server(
        folder,
        name=name,
        backend_port=backend_port,
        workers=workers,
        extra_env=extra_env,
        log=run_dir / "server.log",
        secret=secret,
    )
    procs = [server]
    gateway: subprocess.Popen[bytes] | None = None
    if nginx:
        write_gateway_config(run_dir, folder, port=port, backend_port=backend_port, keys=keys, secret=secret)
        gateway = _start_gateway(nginx, run_dir, port)
        procs.append(gateway)
    healthy = wait_healthy(backend_port, [server], timeout, headers=_secret_headers(secret)) and (
        gateway is None or wait_healthy(port, procs, timeout=15)
    )
    if not healthy:
        for proc in procs:
            stop_group(proc.pid)
        raise _not_healthy(timeout, run_dir, log=run_dir / "server.log", gateway=gateway is not None)
    return _save(
        folder,
        name=name,
        port=port,
        backend_port=backend_port,
        workers=workers,
        server_pid=_server_pid(run_dir, server),
        supervisor_pid=server.pid,
        gateway_pid=_server_pid(run_dir, gateway) if gateway else None,
        gateway_supervisor_pid=gateway.pid if gateway else None,
        keys=keys,
    )


def _switch(
    previous: LocalDeployment,
    folder: DeploymentFolder,
    *,
    workers: int,
    keys: list[str] | None,
    extra_env: dict[str, str] | None,
    timeout: float,
    step: StepCallback,
) -> LocalDeployment:
    """Replace ``previous`` behind its running nginx: new server, reload, then stop the old server."""
    name, run_dir, master = previous.name, deployment_dir(previous.name), previous.gateway_pid
    assert master is not None  # only called for a deployment with a gateway
    backend_port = free_port()
    # Its own log until the switch: the old server keeps logging every request it answers meanwhile, and a
    # start failure must show the new server's lines, not the old one's traffic.
    next_log = run_dir / "server.next.log"
    next_log.unlink(missing_ok=True)
    secret = gateway_secret(run_dir) if keys else None
    step(f"starting the new azmlinfsrv ({workers} worker(s)) beside the running one, waiting for it to answer")
    server = _start_server(
        folder,
        name=name,
        backend_port=backend_port,
        workers=workers,
        extra_env=extra_env,
        log=next_log,
        secret=secret,
    )
    if not wait_healthy(backend_port, [server], timeout, headers=_secret_headers(secret)):
        stop_group(server.pid)
        error = _not_healthy(timeout, run_dir, log=next_log, gateway=False)
        raise DeployError(f"{error} (the running deployment {name!r} keeps serving)")
    conf = run_dir / "nginx.conf"
    old_conf = conf.read_text()
    write_gateway_config(run_dir, folder, port=previous.port, backend_port=backend_port, keys=keys, secret=secret)
    step("switching nginx to the new server (graceful reload)")
    try:
        reload_gateway(master, run_dir, timeout=30)
    except DeployError:
        write_private(conf, old_conf)  # the master still runs the old configuration; the file says so again
        stop_group(server.pid)
        raise
    state = _save(
        folder,
        name=name,
        port=previous.port,
        backend_port=backend_port,
        workers=workers,
        server_pid=_server_pid(run_dir, server),
        supervisor_pid=server.pid,
        gateway_pid=master,
        gateway_supervisor_pid=previous.gateway_supervisor_pid,
        keys=keys,
    )
    step("stopping the old server once its requests are answered")
    _stop_server(run_dir, previous)  # gunicorn's SIGTERM is graceful: anything still in flight is answered
    # The running server's log is server.log again (the process keeps its open file across the rename).
    with contextlib.suppress(FileNotFoundError):
        (run_dir / "server.log").replace(run_dir / "server.previous.log")
    next_log.replace(run_dir / "server.log")
    return state


def reload_gateway(master: int, run_dir: Path, *, timeout: float) -> None:
    """SIGHUP the nginx master; return once a new worker serves and the old workers have finished and gone."""
    old_workers = live_children(master)
    error_log = run_dir / "gateway-error.log"
    logged = error_log.stat().st_size if error_log.is_file() else 0

    def refused() -> bool:  # nginx keeps the old configuration when the new one is bad, and says why at [emerg]
        return error_log.is_file() and "[emerg]" in error_log.read_bytes()[logged:].decode(errors="replace")

    def new_workers() -> set[int]:
        return live_children(master) - old_workers

    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    wait_until(lambda: bool(new_workers()) or refused() or not alive(master), timeout=timeout, interval=0.05)
    if not new_workers():
        raise DeployError(
            "nginx did not take the new configuration; the running deployment keeps serving. Its log:\n"
            + _log_tail(run_dir / "gateway-error.log", 10)
        )
    # The old worker finishes the requests it holds (they go to the old server) before it exits. A request
    # that outlasts the deadline is still answered: the old server's own shutdown is graceful.
    remaining = max(0.0, deadline - time.monotonic())
    wait_until(lambda: not old_workers & live_children(master), timeout=remaining, interval=0.05)


def stop_local(name: str) -> LocalDeployment | None:
    """Stop the gateway and the server (their whole process groups); return what was running."""
    state = load_state(name)
    if state is None:
        return None
    _stop_gateway(deployment_dir(name), state)
    _stop_server(deployment_dir(name), state)
    (deployment_dir(name) / "state.json").unlink(missing_ok=True)
    return state


def deployment_problems(state: LocalDeployment) -> list[str]:
    """What keeps ``state`` from serving and healing itself: processes that are gone, in words for a person."""
    problems = []
    if not alive(state.server_pid):
        problems.append(f"the server (pid {state.server_pid}) is not running")
    if state.supervisor_pid and not alive(state.supervisor_pid):
        problems.append(
            f"the server's supervisor (pid {state.supervisor_pid}) is gone: a server that dies is not restarted"
        )
    if state.gateway_pid is not None and not alive(state.gateway_pid):
        problems.append(f"the gateway (nginx, pid {state.gateway_pid}) is not running")
    if state.gateway_supervisor_pid and not alive(state.gateway_supervisor_pid):
        problems.append(
            f"the gateway's supervisor (pid {state.gateway_supervisor_pid}) is gone: "
            "a gateway that dies is not replaced"
        )
    return problems


def is_running(state: LocalDeployment) -> bool:
    """Every process of ``state`` runs: the server, the gateway, and the supervisors that keep them running."""
    return not deployment_problems(state)


def follow(path: Path, *, poll: float = 0.5) -> Iterator[str]:
    """Yield lines appended to ``path`` until interrupted (``deploy logs --follow``)."""
    with path.open(errors="replace") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            line = fh.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(poll)


__all__ += ["follow", "is_running", "new_key"]
