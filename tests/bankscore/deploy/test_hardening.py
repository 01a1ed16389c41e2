"""Issue 14, end to end on real deployments: the backend only answers the gateway, keys belong to the
deployment, a killed server comes back, and `deploy status` fails when nothing serves."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bankscore_tests_loopback import wait_for

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, find_nginx

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)"),
]

KEY = "bk-HardeningKey-2b4d6f8a0c1e3579Pq"


def score(url: str, body: bytes, key: str | None = None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return httpx.post(url + "/score", content=body, headers=sent, timeout=30)


def body_of(trained: Any) -> bytes:
    return json.dumps({"Inputs": {"data": trained.records}}).encode()


def test_the_backend_port_only_answers_the_gateway(deployments: dict[str, Any], trained: Any) -> None:
    keyed = deployments["keyed"]
    body = body_of(trained)
    assert score(keyed.url, body, keyed.key).status_code == 200  # through the gateway
    run_dir = keyed.run_dir(trained.home)
    secret = (run_dir / "gateway.secret").read_text().strip()
    # Straight to the server: no key, the right key, a forged secret: all refused.
    for key, headers in [(None, {}), (keyed.key, {}), (None, {GATEWAY_SECRET_HEADER: secret[:-1] + "x"})]:
        response = score(keyed.backend_url, body, key, **headers)
        assert response.status_code == 403, response.text
        assert response.json() == {"message": "Forbidden: this port only answers the deployment's gateway"}
    assert httpx.get(keyed.backend_url + "/swagger.json", timeout=10).status_code == 403

    # The secret is nowhere but in the two private files that must hold it.
    for private in ("gateway.secret", "nginx.conf"):
        assert (run_dir / private).stat().st_mode & 0o077 == 0
    for path in run_dir.rglob("*"):
        if path.is_file() and path.name not in ("gateway.secret", "nginx.conf"):
            assert secret not in path.read_text(errors="replace"), path
    for proc in Path("/proc").glob("[0-9]*"):
        for shown in ("cmdline", "environ"):  # environ: what /proc shows, whatever a process removed since
            try:
                assert secret not in (proc / shown).read_text(errors="replace"), (proc, shown)
            except OSError:
                continue
    status = trained.cli("deploy", "status", "--name", keyed.name, "--show-keys", "--json")
    assert status.returncode == 0 and secret not in status.stdout + status.stderr


@pytest.fixture(scope="module")
def hardened(trained: Any, system: Any) -> Iterator[tuple[str, int]]:
    name, port = "hardened", system.free_port()
    try:
        deploy(trained, name, port, "--key", KEY)
        yield name, port
    finally:
        trained.cli("deploy", "stop", "--name", name, timeout=60)


def deploy(trained: Any, name: str, port: int, *flags: str) -> dict[str, Any]:
    proc = trained.cli("deploy", "local", "--name", name, "--port", str(port), *flags, "--json", timeout=240)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def keys_of(trained: Any, name: str) -> dict[str, str]:
    proc = trained.cli("deploy", "keys", "--name", name, "--show-keys", "--json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout)["keys"])


def status_of(trained: Any, name: str) -> dict[str, Any]:
    return dict(json.loads(trained.cli("deploy", "status", "--name", name, "--json").stdout))


def test_keys_survive_redeploys_and_change_only_when_regenerated(hardened: tuple[str, int], trained: Any) -> None:
    name, port = hardened
    url, body = f"http://127.0.0.1:{port}", body_of(trained)
    first = keys_of(trained, name)
    assert first["primary"] == KEY

    hidden = trained.cli("deploy", "keys", "--name", name)
    assert hidden.returncode == 0 and KEY not in hidden.stdout and first["secondary"] not in hidden.stdout

    regenerated = trained.cli("deploy", "keys", "--name", name, "--regenerate", "secondary")
    assert regenerated.returncode == 0, regenerated.stderr
    assert first["secondary"] not in regenerated.stdout  # shown only with --show-keys
    now = keys_of(trained, name)
    assert now["primary"] == KEY and now["secondary"] != first["secondary"] and len(now["secondary"]) == 32
    # The running gateway took it without a restart: old secondary refused, new one and the primary score.
    assert score(url, body, first["secondary"]).status_code == 401
    assert score(url, body, now["secondary"]).status_code == 200
    assert score(url, body, KEY).status_code == 200
    deploy(trained, name, port, "--auth")  # a redeploy of the same name (a new secondary every time before)
    assert keys_of(trained, name) == now
    assert score(url, body, now["secondary"]).status_code == 200


def test_a_killed_server_is_restarted_and_status_fails_when_nothing_serves(
    hardened: tuple[str, int], trained: Any, system: Any
) -> None:
    name, port = hardened
    url, body = f"http://127.0.0.1:{port}", body_of(trained)
    run_dir = trained.home / "deployments" / name
    state = status_of(trained, name)
    assert (state["running"], state["health"], state["restarts"]) == (True, "Healthy", 0)
    time.sleep(2)  # the supervisor's first probe: the server has answered, so its death is a crash

    os.kill(state["server_pid"], signal.SIGKILL)  # the server's master, as in the issue

    def restarted() -> bool:
        now = status_of(trained, name)
        return (now["running"], now["health"], now["restarts"]) == (True, "Healthy", 1)

    wait_for(restarted, 45, "the restarted server")
    assert score(url, body, KEY).status_code == 200
    status = status_of(trained, name)
    assert status["server_pid"] != state["server_pid"] and status["supervisor_pid"] == state["supervisor_pid"]
    assert system.group_gone(state["server_pid"])  # its orphaned workers too
    text = trained.cli("deploy", "status", "--name", name)
    assert text.returncode == 0 and "restarted the server 1 time" in text.stdout
    log = (run_dir / "server.log").read_text()
    assert f"the server (pid {state['server_pid']}) was killed by SIGKILL; restarting it (restart 1)" in log

    # The gateway and its supervisor gone: nothing serves, and status says so in its exit code.
    os.kill(state["gateway_supervisor_pid"], signal.SIGKILL)
    os.killpg(state["gateway_pid"], signal.SIGKILL)  # master and worker: nothing is left on the public port
    wait_for(lambda: system.group_gone(state["gateway_pid"]), 10, "the gateway to die")
    for args in ((), ("--json",)):
        down = trained.cli("deploy", "status", "--name", name, *args)
        assert down.returncode == 1, down.stdout
        assert "NOT running" in down.stdout or '"running": false' in down.stdout
