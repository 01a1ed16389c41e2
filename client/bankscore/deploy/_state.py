"""What a local endpoint and its deployments are, as files: read by ``deploy status`` without heavy imports.

One local endpoint (``<workspace>/deployments/<endpoint>/``) is one public port, one pair of keys and one
gateway, holding one or more named deployments, as an Azure managed online endpoint does::

    endpoint.json     port, auth, the gateway's pids, traffic {deployment: percent} and mirror {deployment: percent}
    keys.json, gateway.secret, nginx.conf, gateway.log, gateway-error.log     the endpoint's (see ``_gateway``)
    releases/                                                                 every deployment's releases
    state.json, server.log, supervisor-<pid>.json                             the deployment "blue"
    deployments/<deployment>/state.json, server.log, supervisor-<pid>.json    every other deployment

The deployment named ``blue`` (every endpoint made before deployments had names, and every command without
``--deployment``) keeps its files where a single deployment always had them, so older readers of
``state.json`` (``bankscore.Client.from_local``) keep working; an endpoint without a blue deployment keeps a
copy of its primary deployment's state there for them (``write_summary``), which only they read.

Every deployment's ``state.json`` repeats the endpoint's port and gateway; ``endpoint.json`` says which
deployments the endpoint holds (the keys of its traffic) and wins where the two differ. An endpoint with a
``state.json`` and no ``endpoint.json`` was started before traffic existed: it holds ``blue`` only, with all
the traffic.

Files are written whole and renamed, so a reader never sees half of one; changes to one endpoint are made
under ``endpoint_lock`` so two commands never rewrite its gateway at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore._exceptions import BankscoreError

__all__ = [
    "DEFAULT_DEPLOYMENT_NAME",
    "DeployError",
    "EndpointState",
    "LocalDeployment",
    "SupervisorStatus",
    "check_deployment_name",
    "check_name",
    "deployment_dir",
    "deployment_home",
    "endpoint_lock",
    "load_endpoint",
    "load_state",
    "local_url",
    "read_keys",
    "save_endpoint",
    "save_state",
    "status_file",
    "supervisor_status",
    "write_private",
    "write_summary",
]

# The deployment a command without --deployment means: Azure's own examples name the first one blue.
DEFAULT_DEPLOYMENT_NAME = "blue"

# A name that is a plain folder name: no separator, not "." or "..", nothing a shell or a terminal reads.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
# Azure's rule for a deployment's name (a letter, then letters, digits and '-', 3 to 32 in all), lower case
# only: the gateway matches the azureml-model-deployment header without regard to case.
_DEPLOYMENT_NAME = re.compile(r"[a-z][a-z0-9-]{2,31}")


class DeployError(BankscoreError):
    """A deployment could not be started, found or stopped."""


def local_url(port: int) -> str:
    """Where a local endpoint, or one deployment's server, listens on ``port``."""
    return f"http://127.0.0.1:{port}"


@dataclass
class LocalDeployment:
    name: str  # the endpoint's
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
    deployment: str = DEFAULT_DEPLOYMENT_NAME

    @property
    def scoring_uri(self) -> str:
        return f"{local_url(self.port)}/score"

    @property
    def swagger_uri(self) -> str:
        return f"{local_url(self.port)}/swagger.json"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scoring_uri": self.scoring_uri, "swagger_uri": self.swagger_uri}


@dataclass
class EndpointState:
    """The endpoint: its port and gateway, and where requests go (traffic and mirror, in percent)."""

    name: str
    port: int
    auth: bool
    gateway_pid: int | None
    gateway_supervisor_pid: int | None
    traffic: dict[str, int] = field(default_factory=dict)  # every deployment it holds, 0 included
    mirror: dict[str, int] = field(default_factory=dict)  # at most one deployment, as on Azure

    @property
    def deployments(self) -> list[str]:
        return sorted(self.traffic)

    def primary(self) -> str:
        """The deployment that takes the most traffic (blue first, then by name, among equals)."""
        return min(self.traffic, key=lambda d: (-self.traffic[d], d != DEFAULT_DEPLOYMENT_NAME, d))


@dataclass
class SupervisorStatus:
    server_pid: int
    restarts: int = 0
    last_restart: str | None = None
    last_exit: str | None = None
    failed_probes: int = 0  # in a row, now: a hung server shows here from the first one


def check_name(name: str) -> str:
    """``name``, if it can be a deployment's name (and so a folder); a DeployError saying why not."""
    if not _NAME.fullmatch(name):
        raise DeployError(
            f"deployment name {name!r}: use letters, digits, '-', '_' and '.' (up to 63; first a letter or a digit)"
        )
    return name


def check_deployment_name(deployment: str) -> str:
    """``deployment``, if Azure would take it as a deployment's name (it also becomes a folder)."""
    if not _DEPLOYMENT_NAME.fullmatch(deployment):
        raise DeployError(
            f"--deployment {deployment!r}: use 3 to 32 lower-case letters, digits and '-', first a letter "
            "(Azure's rule for a deployment's name)"
        )
    return deployment


def deployment_dir(name: str) -> Path:
    """The endpoint's folder (and the deployment blue's)."""
    return workspace.home() / "deployments" / check_name(name)


def deployment_home(name: str, deployment: str) -> Path:
    """Where ``deployment`` of endpoint ``name`` keeps its state, log and releases (see the module's docstring)."""
    if deployment == DEFAULT_DEPLOYMENT_NAME:
        return deployment_dir(name)
    return deployment_dir(name) / "deployments" / check_deployment_name(deployment)


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _write_whole(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(path)


def status_file(run_dir: Path, supervisor_pid: int) -> Path:
    return run_dir / f"supervisor-{supervisor_pid}.json"


def supervisor_status(run_dir: Path, supervisor_pid: int | None) -> SupervisorStatus | None:
    if not supervisor_pid:
        return None
    try:
        return SupervisorStatus(**json.loads(status_file(run_dir, supervisor_pid).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def read_keys(name: str) -> dict[str, str]:
    path = deployment_dir(name) / "keys.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _read_deployment(path: Path) -> LocalDeployment | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return LocalDeployment(**{k: data[k] for k in LocalDeployment.__dataclass_fields__ if k in data})


def load_endpoint(name: str) -> EndpointState | None:
    """The endpoint ``name``, or None when none of its deployments is recorded."""
    path = deployment_dir(name) / "endpoint.json"
    if path.is_file():
        data = json.loads(path.read_text())
        endpoint = EndpointState(**{k: data[k] for k in EndpointState.__dataclass_fields__ if k in data})
    else:
        blue = _read_deployment(deployment_dir(name) / "state.json")
        if blue is None:
            return None
        endpoint = EndpointState(  # started before endpoints held several deployments
            name=name,
            port=blue.port,
            auth=blue.auth,
            gateway_pid=blue.gateway_pid,
            gateway_supervisor_pid=blue.gateway_supervisor_pid,
            traffic={DEFAULT_DEPLOYMENT_NAME: 100},
        )
    gateway = supervisor_status(deployment_dir(name), endpoint.gateway_supervisor_pid)
    if gateway is not None:  # nginx's master now, after any restart
        endpoint.gateway_pid = gateway.server_pid
    return endpoint


def save_endpoint(endpoint: EndpointState) -> None:
    _write_whole(deployment_dir(endpoint.name) / "endpoint.json", asdict(endpoint))


def load_state(name: str, deployment: str | None = None) -> LocalDeployment | None:
    """A deployment of endpoint ``name`` as it runs now; without ``deployment``, the one with most traffic."""
    endpoint = load_endpoint(name)
    if endpoint is None or not endpoint.traffic:
        return None
    chosen = deployment or endpoint.primary()
    if chosen not in endpoint.traffic:
        return None
    home = deployment_home(name, chosen)
    state = _read_deployment(home / "state.json")
    if state is None:
        return None
    state.deployment, state.port, state.auth = chosen, endpoint.port, endpoint.auth
    state.gateway_pid, state.gateway_supervisor_pid = endpoint.gateway_pid, endpoint.gateway_supervisor_pid
    supervised = supervisor_status(home, state.supervisor_pid)
    if supervised is not None:  # the server it runs now, after any restart
        state.server_pid, state.restarts = supervised.server_pid, supervised.restarts
        state.failed_probes = supervised.failed_probes
    gateway = supervisor_status(deployment_dir(name), state.gateway_supervisor_pid)
    if gateway is not None:  # nginx's master now, after any restart
        state.gateway_pid, state.gateway_restarts = gateway.server_pid, gateway.restarts
    return state


def save_state(state: LocalDeployment) -> None:
    """Write ``state`` to its deployment's ``state.json`` (whole: `deploy status` may read it meanwhile)."""
    home = deployment_home(state.name, state.deployment)
    home.mkdir(parents=True, exist_ok=True)
    _write_whole(home / "state.json", state.to_dict())


# Endpoints whose lock this process holds, and how many times over: a change that calls another (a deploy that
# stops a crashed endpoint first) must not wait for itself, and flock waits even for its own process.
_HELD: dict[str, int] = {}


def write_summary(name: str) -> None:
    """For an endpoint without a blue deployment: its primary deployment's state as the top ``state.json``,
    where readers that know one deployment per endpoint (``bankscore.Client.from_local``) find its URI and
    wire generation. Deployment ``blue`` is read only while ``endpoint.json`` lists it, so the copy is not
    taken for it."""
    endpoint = load_endpoint(name)
    if endpoint is None or not endpoint.traffic or DEFAULT_DEPLOYMENT_NAME in endpoint.traffic:
        return
    state = load_state(name)
    if state is not None:
        _write_whole(deployment_dir(name) / "state.json", state.to_dict())


@contextlib.contextmanager
def endpoint_lock(name: str) -> Iterator[None]:
    """Hold the endpoint's lock: one command at a time changes its deployments, traffic or gateway."""
    if _HELD.get(name):
        _HELD[name] += 1
        try:
            yield
        finally:
            _HELD[name] -= 1
        return
    folder = deployment_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "endpoint.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _HELD[name] = 1
        try:
            yield
        finally:
            _HELD.pop(name, None)
            fcntl.flock(fh, fcntl.LOCK_UN)
