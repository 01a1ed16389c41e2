"""The local deployment: a registered model served by the real Azure ML inference server on 127.0.0.1.

State lives in ``<workspace>/deployments/<name>/``: ``state.json`` (URIs, ports, pids, model, generation),
``keys.json`` (mode 0600), ``server.log`` and, with keys, ``gateway.log``. Every release gets its own folder
under ``releases/`` so a running server never has its files changed underneath it.
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
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore._exceptions import BankscoreError
from bankscore.deploy._folder import DeploymentFolder
from bankscore.deploy._gateway import find_nginx, new_key, nginx_config

__all__ = [
    "DEFAULT_PORT",
    "DeployError",
    "LocalDeployment",
    "app_insights_environment",
    "deployment_dir",
    "free_port",
    "health",
    "load_state",
    "port_free",
    "read_keys",
    "start_local",
    "stop_local",
]

DEFAULT_PORT = 5001  # the server's own default
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

    @property
    def scoring_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def swagger_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/swagger.json"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri}


def deployment_dir(name: str) -> Path:
    return workspace.home() / "deployments" / name


def load_state(name: str) -> LocalDeployment | None:
    path = deployment_dir(name) / "state.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    fields = {k: data[k] for k in LocalDeployment.__dataclass_fields__}
    return LocalDeployment(**fields)


def read_keys(name: str) -> dict[str, str]:
    path = deployment_dir(name) / "keys.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _write_private(path: Path, text: str) -> None:
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


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0); /proc tells.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def health(port: int, timeout: float = 2.0) -> str | None:
    """The body of ``GET /`` (``Healthy``), or None if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return str(response.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError):
        return None


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


def _spawn(args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # A session of its own: the server outlives this command and is stopped as a group.
        return subprocess.Popen(  # noqa: S603 - fixed argv built by bankscore
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_healthy(port: int, procs: list[subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        if health(port, timeout=1.0) == "Healthy":
            return True
        time.sleep(0.25)
    return False


def _terminate(pid: int | None, timeout: float = 15.0) -> None:
    if not pid or not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def start_local(
    folder: DeploymentFolder,
    *,
    name: str,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    keys: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 90.0,
) -> LocalDeployment:
    """Serve ``folder`` with azmlinfsrv on 127.0.0.1:``port`` (behind nginx when ``keys`` are given)."""
    if not port_free(port):
        raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
    run_dir = deployment_dir(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    server_log = run_dir / "server.log"
    backend_port = free_port() if keys else port
    env = {
        **os.environ,
        "AML_APP_ROOT": str(folder.path),
        "AZUREML_MODEL_DIR": str(folder.model_dir),
        "SERVICE_NAME": name,
        "SERVICE_VERSION": folder.model_version,
        "GUNICORN_CMD_ARGS": "--no-control-socket",  # gunicorn 27 otherwise shares ~/.gunicorn between servers
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),  # one thread per worker (see score_script)
        **(extra_env or {}),
    }
    server_args = [
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
    server = _spawn(server_args, cwd=folder.path, env=env, log=server_log)
    procs = [server]
    gateway: subprocess.Popen[bytes] | None = None
    if keys:
        nginx = find_nginx()
        if nginx is None:
            _terminate(server.pid)
            raise DeployError("keys need the nginx gateway, and nginx is not installed: apt-get install nginx-light")
        (run_dir / "nginx-temp").mkdir(exist_ok=True)
        contract = json.loads((folder.model_dir / "contract.json").read_text())
        conf = nginx_config(
            run_dir=run_dir,
            port=port,
            backend_port=backend_port,
            keys=keys,
            max_body_bytes=int(contract["max_body_bytes"]),
        )
        _write_private(run_dir / "nginx.conf", conf)
        gateway = _spawn(
            [nginx, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir)],
            cwd=run_dir,
            env=dict(os.environ),
            log=run_dir / "gateway-error.log",
        )
        procs.append(gateway)
    healthy = _wait_healthy(backend_port, [server], timeout) and (
        gateway is None or _wait_healthy(port, procs, timeout=15)
    )
    if not healthy:
        for proc in procs:
            _terminate(proc.pid)
        logs = _log_tail(server_log)
        if gateway is not None:
            logs += "\n--- gateway ---\n" + _log_tail(run_dir / "gateway-error.log", 10)
        raise DeployError(f"the server did not answer GET / with 'Healthy' within {timeout:g} s. Its log:\n{logs}")
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
        server_pid=server.pid,
        gateway_pid=gateway.pid if gateway else None,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        auth=bool(keys),
    )
    (run_dir / "state.json").write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    if keys:
        _write_private(run_dir / "keys.json", json.dumps({"primary": keys[0], "secondary": keys[-1]}, indent=2))
    else:
        (run_dir / "keys.json").unlink(missing_ok=True)
    return state


def stop_local(name: str) -> LocalDeployment | None:
    """Stop the gateway and the server (their whole process groups); return what was running."""
    state = load_state(name)
    if state is None:
        return None
    _terminate(state.gateway_pid)
    _terminate(state.server_pid)
    (deployment_dir(name) / "state.json").unlink(missing_ok=True)
    return state


def is_running(state: LocalDeployment) -> bool:
    return _alive(state.server_pid) and (state.gateway_pid is None or _alive(state.gateway_pid))


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
