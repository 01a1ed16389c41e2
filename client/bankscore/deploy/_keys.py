"""Changing a running deployment's keys: the gateway reloads with them, and requests prove it took them.

Keys belong to the deployment (``keys.json``, see ``_local``). A new key is saved only once the running
gateway answers a request with it (and 401 to the key it replaces); otherwise the configuration nginx ran
with is put back and the keys stay as they were. A deployment that is not running keeps the new key for its
next start.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx

from bankscore._generations import WireGeneration
from bankscore.deploy._folder import DeploymentFolder
from bankscore.deploy._gateway import UPSTREAM_TIMEOUT_S, new_key
from bankscore.deploy._local import (
    DeployError,
    LocalDeployment,
    deployment_dir,
    deployment_problems,
    gateway_secret,
    load_state,
    read_keys,
    reload_gateway,
    write_gateway_config,
    write_private,
)
from bankscore.deploy._processes import alive, live_children, wait_until

__all__ = ["regenerate_key"]


def regenerate_key(name: str, which: str) -> dict[str, str]:
    """Give ``name`` a new ``which`` key (primary or secondary); the running gateway takes it with a reload.

    The other key stays valid throughout; the old one stops working once nginx's new worker serves, which a
    request with each proves before the new key is saved. A deployment that is not running (stopped: no
    state) just keeps the new key for its next start. Returns the keys now in force; raises DeployError, with
    the keys unchanged, when the running gateway did not take the new one.
    """
    if which not in ("primary", "secondary"):
        raise DeployError(f"which key: primary or secondary, not {which!r}")
    run_dir, keys = deployment_dir(name), read_keys(name)
    if not keys:
        raise DeployError(f"the deployment {name!r} has no keys: deploy it with --auth or --key")
    updated = {**keys, which: new_key()}
    state = load_state(name)
    if state is not None and state.auth:
        _apply_keys(state, run_dir, updated, refused=keys[which])
    write_private(run_dir / "keys.json", json.dumps(updated, indent=2))
    return updated


def _running_gateway(name: str, timeout: float) -> LocalDeployment | None:
    """``name``'s state once its gateway runs (its supervisor may be replacing a killed master), else None."""
    found: list[LocalDeployment] = []

    def up() -> bool:
        state = load_state(name)
        if state is not None and alive(state.gateway_pid) and live_children(state.gateway_pid or 0):
            found[:] = [state]
            return True
        return False

    return found[0] if wait_until(up, timeout=timeout, interval=0.1) else None


def _apply_keys(state: LocalDeployment, run_dir: Path, keys: dict[str, str], *, refused: str) -> None:
    """Switch the running gateway to ``keys`` and prove it took them, or put the old ones back and raise."""
    running = _running_gateway(state.name, timeout=15)
    if running is None or running.gateway_pid is None:
        why = "; ".join(deployment_problems(state)) or "nginx's master has no worker"
        raise DeployError(
            f"the gateway of {state.name!r} is not running ({why}), so it cannot take a new key; the keys are "
            f"unchanged. Redeploy it (`bankscore deploy local --name {state.name} --auth`) or stop it first."
        )
    folder = DeploymentFolder(
        Path(running.folder),
        running.model_name,
        running.model_version,
        WireGeneration(running.generation),
        tuple(running.features),
    )
    conf = run_dir / "nginx.conf"
    old_conf = conf.read_text()
    write_gateway_config(
        run_dir,
        folder,
        port=running.port,
        keys=[keys["primary"], keys["secondary"]],
        secret=gateway_secret(run_dir),
    )
    try:
        reload_gateway(running.gateway_pid, run_dir, timeout=30)
        _check_keys(running.port, accepted=[keys["primary"], keys["secondary"]], refused=refused)
    except DeployError:
        write_private(conf, old_conf)  # the keys nginx runs with are the old ones again, as the files say
        again = _running_gateway(state.name, timeout=5)
        if again is not None and again.gateway_pid:
            with contextlib.suppress(DeployError, OSError):
                reload_gateway(again.gateway_pid, run_dir, timeout=30)
        raise


def _key_answer(port: int, key: str) -> int:
    """The gateway's status for ``OPTIONS /score`` with ``key``: 401 refused; else the server answered."""
    try:
        response = httpx.options(
            f"http://127.0.0.1:{port}/score",
            headers={"Authorization": f"Bearer {key}"},
            timeout=UPSTREAM_TIMEOUT_S + 10,
            trust_env=False,
        )
    except httpx.HTTPError as error:
        raise DeployError(
            f"the gateway on port {port} did not answer a check of the keys: {type(error).__name__}"
        ) from None
    return response.status_code


def _check_keys(port: int, *, accepted: list[str], refused: str) -> None:
    """A real request with each key: those in ``accepted`` get through, ``refused`` gets 401."""
    for which, key in zip(("primary", "secondary"), accepted, strict=True):
        status = _key_answer(port, key)
        if status in (400, 401):
            raise DeployError(f"the gateway answered {status} to the new {which} key: it did not take the change")
    if _key_answer(port, refused) != 401:
        raise DeployError("the gateway still accepts the replaced key: it did not take the change")
