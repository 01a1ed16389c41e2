"""`bankscore deploy local / status / stop` as a user runs them: real processes, real ports."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_status_then_stop_stops_server_and_gateway(deployments: dict[str, Any], trained: Any, system: Any) -> None:
    life = deployments["life"]
    proc = trained.cli("deploy", "status", "--name", "life", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert (status["running"], status["health"], status["auth"]) == (True, "Healthy", True)
    assert (status["generation"], status["model_version"]) == ("A", trained.model_version)
    assert status["scoring_uri"] == f"http://127.0.0.1:{life.port}/score"
    assert status["gateway_pid"] and status["backend_port"] != life.port
    assert "keys" not in status

    keys = json.loads(trained.cli("deploy", "status", "--name", "life", "--show-keys", "--json").stdout)["keys"]
    assert set(keys) == {"primary", "secondary"} and keys["primary"] != keys["secondary"]
    body = json.dumps({"data": trained.records}).encode()
    for key in keys.values():
        response = httpx.post(
            life.url + "/score",
            content=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.content == json.dumps(json.dumps({"result": trained.labels})).encode()
    text = trained.cli("deploy", "status", "--name", "life").stdout
    assert text.startswith("life: running, health Healthy") and "gateway pid" in text

    stopped = trained.cli("deploy", "stop", "--name", "life")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped life (bank-marketing:{trained.model_version})"
    server_pid, gateway_pid = status["server_pid"], status["gateway_pid"]
    assert system.process_gone(server_pid) and system.process_gone(gateway_pid)
    assert wait_for(
        lambda: system.group_gone(server_pid) and system.group_gone(gateway_pid)
    )  # gunicorn and nginx workers too
    assert wait_for(lambda: system.port_free(life.port) and system.port_free(status["backend_port"]))
    with pytest.raises(httpx.ConnectError):
        httpx.get(life.url + "/", timeout=5)

    for command in ("status", "stop"):
        again = trained.cli("deploy", command, "--name", "life")
        assert again.returncode == 1
        assert "no local deployment named 'life'" in again.stderr
        assert "Traceback" not in again.stderr


def test_a_port_in_use_is_refused_with_a_clear_message(trained: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        try:
            proc = trained.cli("deploy", "local", "--name", "busy", "--port", str(port), "--generation", "B")
        finally:
            trained.cli("deploy", "stop", "--name", "busy", timeout=60)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (trained.home / "deployments" / "busy" / "state.json").exists()
