"""The processes of a local endpoint's deployments: each server and the gateway, started, reloaded and stopped.

Each is started under its supervisor (``_supervise``) in a session of its own and stopped as a process group
(``_processes``); ``_local`` decides which to start and when.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, SECRET_FILE_ENV, new_key, new_secret
from bankscore.deploy._processes import alive, live_children, spawn, stop_group, wait_until
from bankscore.deploy._state import (
    DeployError,
    EndpointState,
    LocalDeployment,
    deployment_dir,
    deployment_home,
    read_keys,
    status_file,
    supervisor_status,
    write_private,
)

if TYPE_CHECKING:  # the folder's module imports the scoring package; `deploy status` need not
    from bankscore.deploy._folder import DeploymentFolder

__all__ = [
    "app_insights_environment",
    "deployment_keys",
    "deployment_problems",
    "follow",
    "gateway_secret",
    "is_running",
    "log_tail",
    "not_healthy",
    "reload_gateway",
    "secret_file",
    "secret_headers",
    "server_pid",
    "start_gateway",
    "start_server",
    "stop_gateway",
    "stop_server",
]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def deployment_keys(name: str, *, primary: str | None = None) -> list[str]:
    """The keys a keyed (re)deploy of ``name`` requires: the ones it has, new ones only where it has none.

    ``primary``: a key the caller chose (``--key``), which replaces the stored primary; the secondary stays.
    """
    stored = read_keys(name)
    return [primary or stored.get("primary") or new_key(), stored.get("secondary") or new_key()]


def secret_file(run_dir: Path) -> Path:
    return run_dir / "gateway.secret"


def gateway_secret(run_dir: Path) -> str:
    """The endpoint's secret between gateway and servers: kept (mode 0600) so a reload can rewrite the config."""
    path = secret_file(run_dir)
    if path.is_file():
        return path.read_text().strip()
    secret = new_secret()
    write_private(path, secret)
    return secret


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


def log_tail(path: Path, lines: int = 30) -> str:
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


def start_server(
    folder: DeploymentFolder,
    *,
    name: str,
    home: Path,
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
    if secret:
        # The file's path: the secret itself in no environment (/proc/<pid>/environ) and no command line.
        env[SECRET_FILE_ENV] = str(secret_file(deployment_dir(name)))
    supervisor = [sys.executable, "-m", "bankscore.deploy._supervise", "--port", str(backend_port)]
    args = [*supervisor, "--run-dir", str(home), "--", *_server_args(folder, backend_port, workers)]
    return spawn(args, cwd=folder.path, env=env, log=log)


def start_gateway(nginx: str, run_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the gateway's supervisor, which starts nginx's master (see ``_supervise``); the supervisor's process."""
    supervisor = [sys.executable, "-m", "bankscore.deploy._supervise", "--gateway", "--port", str(port)]
    command = [nginx, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir)]
    env = {k: v for k, v in os.environ.items() if k != SECRET_FILE_ENV}
    args = [*supervisor, "--run-dir", str(run_dir), "--", *command]
    return spawn(args, cwd=run_dir, env=env, log=run_dir / "gateway-error.log")


def secret_headers(secret: str | None) -> dict[str, str] | None:
    return {GATEWAY_SECRET_HEADER: secret} if secret else None


def server_pid(run_dir: Path, supervisor: subprocess.Popen[bytes]) -> int:
    """The server's (or nginx's) master, which the supervisor started (and said so before it could answer)."""
    status = supervisor_status(run_dir, supervisor.pid)
    if status is None:
        raise DeployError(f"the supervisor (pid {supervisor.pid}) did not say which process it runs")
    return status.server_pid


def stop_server(state: LocalDeployment) -> None:
    """The supervisor first (it stops its server gracefully and restarts nothing), then anything left."""
    stop_group(state.supervisor_pid)
    stop_group(state.server_pid)
    if state.supervisor_pid:
        status_file(deployment_home(state.name, state.deployment), state.supervisor_pid).unlink(missing_ok=True)


def stop_gateway(run_dir: Path, state: LocalDeployment | EndpointState) -> None:
    """The gateway's supervisor first (it stops nginx and replaces nothing), then anything left of nginx's
    group: a master nobody supervises, or the worker of a master that was killed."""
    stop_group(state.gateway_supervisor_pid)
    stop_group(state.gateway_pid)
    if state.gateway_supervisor_pid:
        status_file(run_dir, state.gateway_supervisor_pid).unlink(missing_ok=True)


def not_healthy(timeout: float, run_dir: Path, *, log: Path, gateway: bool) -> DeployError:
    logs = log_tail(log)
    if gateway:
        logs += "\n--- gateway ---\n" + log_tail(run_dir / "gateway-error.log", 10)
    return DeployError(f"the server did not answer GET / with 'Healthy' within {timeout:g} s. Its log:\n{logs}")


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
            + log_tail(run_dir / "gateway-error.log", 10)
        )
    # The old worker finishes the requests it holds (they go to the old server) before it exits. A request
    # that outlasts the deadline is still answered: the old server's own shutdown is graceful.
    remaining = max(0.0, deadline - time.monotonic())
    wait_until(lambda: not old_workers & live_children(master), timeout=remaining, interval=0.05)


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
