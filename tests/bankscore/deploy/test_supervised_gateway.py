"""A local deployment heals or says it cannot: real nginx, real azmlinfsrv, faults injected with signals.

The gateway is supervised like the server (a killed nginx master is replaced, its orphaned worker killed);
stop and redeploy remove every process of a deployment even when a group's leader is gone; key changes are
proven on the running gateway; `deploy status` fails when a supervisor is gone or the server hangs; a hung
server costs its callers a bounded wait, not a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from bankscore_tests_loopback import wait_for

from bankscore.deploy._gateway import UPSTREAM_TIMEOUT_S, find_nginx

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)"),
]

KEY = "bk-SupervisedKey-4c2e8a6f1b3d5079Rt"


def score(port: int, body: bytes, key: str | None, timeout: float = 30) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(f"http://127.0.0.1:{port}/score", content=body, headers=headers, timeout=timeout)


def answers(port: int, body: bytes, key: str) -> bool:
    try:
        return score(port, body, key, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def status_of(trained: Any, name: str) -> tuple[int, dict[str, Any]]:
    proc = trained.cli("deploy", "status", "--name", name, "--json")
    return proc.returncode, dict(json.loads(proc.stdout)) if proc.stdout.strip() else {}


def keys_of(trained: Any, name: str) -> dict[str, str]:
    proc = trained.cli("deploy", "keys", "--name", name, "--show-keys", "--json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout)["keys"])


def listeners(port: int) -> list[int]:
    """Pids of the processes listening on 127.0.0.1:``port`` (from /proc: sockets, then their owners)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(str(fd.readlink()).removeprefix("socket:[").rstrip("]") in inodes for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
    return pids


@pytest.fixture
def keyed(trained: Any, system: Any) -> Iterator[tuple[str, int, bytes]]:
    """A keyed deployment of its own (the tests kill its processes), stopped and checked gone afterwards."""
    name, port = f"healing-{os.getpid()}-{time.monotonic_ns() % 10_000}", system.free_port()
    proc = trained.cli("deploy", "local", "--name", name, "--port", str(port), "--key", KEY, "--json", timeout=240)
    assert proc.returncode == 0, proc.stderr
    body = json.dumps({"Inputs": {"data": trained.records}}).encode()
    try:
        yield name, port, body
    finally:
        state = (
            json.loads((trained.home / "deployments" / name / "state.json").read_text())
            if (trained.home / "deployments" / name / "state.json").is_file()
            else {}
        )
        trained.cli("deploy", "stop", "--name", name, timeout=90)
        # Whatever the test did, nothing of the deployment may be left behind.
        for pid in listeners(port):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in (state.get("server_pid"), state.get("gateway_pid")):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGCONT)  # a stopped group cannot exit


def test_a_killed_gateway_master_is_replaced_and_keys_still_hold(
    keyed: tuple[str, int, bytes], trained: Any, system: Any
) -> None:
    name, port, body = keyed
    code, before = status_of(trained, name)
    assert code == 0 and before["gateway_supervisor_pid"], before
    secondary = keys_of(trained, name)["secondary"]
    master = before["gateway_pid"]
    workers = system_children(master)
    assert workers, "nginx's master has no worker"

    # The gateway's supervisor says which master runs, in its status file (read directly: a CLI call is slow).
    supervised = trained.home / "deployments" / name / f"supervisor-{before['gateway_supervisor_pid']}.json"

    def new_master() -> bool:
        with contextlib.suppress(OSError, ValueError):
            pid = json.loads(supervised.read_text())["server_pid"]
            return bool(pid != master and system_children(pid))
        return False

    killed = time.monotonic()
    os.kill(master, signal.SIGKILL)
    wait_for(new_master, 30, "a new master with a worker")
    wait_for(lambda: answers(port, body, KEY), 30, "the keyed port to answer again")
    back_after = time.monotonic() - killed
    print(f"the keyed port answered 200 again {back_after:.1f} s after kill -9 of nginx's master")
    assert back_after < 10  # within seconds: the supervisor waits 1 s before a restart so soon after a start
    assert all(system.process_gone(w) for w in workers)  # the orphaned worker, which held the port, is gone
    assert score(port, body, "not-a-key").status_code == 401  # keys are still checked
    assert score(port, body, secondary).status_code == 200

    code, after = status_of(trained, name)
    assert code == 0 and after["running"] and after["gateway_restarts"] == 1, after
    assert (
        "the gateway (nginx's master) (pid" in (trained.home / "deployments" / name / "gateway-error.log").read_text()
    )

    # A key regenerated afterwards is the only one accepted: the new master took it.
    regenerated = trained.cli("deploy", "keys", "--name", name, "--regenerate", "secondary")
    assert regenerated.returncode == 0, regenerated.stderr
    new = keys_of(trained, name)["secondary"]
    assert new != secondary
    assert score(port, body, secondary).status_code == 401
    assert score(port, body, new).status_code == 200
    assert score(port, body, KEY).status_code == 200

    pids = [after["gateway_pid"], after["gateway_supervisor_pid"], after["server_pid"], after["supervisor_pid"]]
    stopped = trained.cli("deploy", "stop", "--name", name, timeout=90)
    assert stopped.returncode == 0, stopped.stderr
    assert listeners(port) == [] and system.port_free(port)
    assert all(system.group_gone(pid) for pid in pids)


def system_children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            if int(fields[1]) == pid and fields[0] not in "ZX":
                children.append(int(stat.parent.name))
    return children


def kill_gateway_for_good(state: dict[str, Any]) -> list[int]:
    """kill -9 the gateway's supervisor, then nginx's master: its worker is left, orphaned, on the port."""
    workers = system_children(state["gateway_pid"])
    os.kill(state["gateway_supervisor_pid"], signal.SIGKILL)
    os.kill(state["gateway_pid"], signal.SIGKILL)
    return workers


def test_stop_after_the_gateway_was_killed_leaves_nothing_on_the_port(
    keyed: tuple[str, int, bytes], trained: Any, system: Any
) -> None:
    name, port, body = keyed
    _, state = status_of(trained, name)
    keys = keys_of(trained, name)
    orphans = kill_gateway_for_good(state)
    assert orphans and wait_for(lambda: listeners(port) == orphans, 10, "only the orphaned worker on the port")

    code, status = status_of(trained, name)
    assert code == 1 and not status["running"], status
    assert any("gateway's supervisor" in problem for problem in status["problems"]), status
    # A key change the gateway cannot take fails and changes nothing (it said "in force" before).
    refused = trained.cli("deploy", "keys", "--name", name, "--regenerate", "secondary")
    assert refused.returncode == 1, refused.stdout
    assert "cannot take a new key; the keys are unchanged" in refused.stderr
    assert keys_of(trained, name) == keys

    stopped = trained.cli("deploy", "stop", "--name", name, timeout=90)
    assert stopped.returncode == 0, stopped.stderr
    assert all(system.process_gone(pid) for pid in orphans)
    assert listeners(port) == [] and system.port_free(port)
    with pytest.raises(httpx.ConnectError):
        score(port, body, KEY)


def test_a_redeploy_takes_the_port_from_its_own_orphans_and_refuses_a_stranger_before_stopping_anything(
    keyed: tuple[str, int, bytes], trained: Any, system: Any
) -> None:
    name, port, body = keyed
    deploy = ("deploy", "local", "--name", name, "--port", str(port), "--key", KEY, "--json")
    _, state = status_of(trained, name)
    orphans = kill_gateway_for_good(state)
    redeployed = trained.cli(*deploy, timeout=240)  # before: stopped the server, then "port in use"
    assert redeployed.returncode == 0, redeployed.stderr
    assert all(system.process_gone(pid) for pid in orphans)
    assert answers(port, body, KEY)

    # Now a stranger holds the port once the gateway is gone: the redeploy refuses before it stops anything.
    _, state = status_of(trained, name)
    os.kill(state["gateway_supervisor_pid"], signal.SIGKILL)
    os.killpg(state["gateway_pid"], signal.SIGKILL)
    wait_for(lambda: system.group_gone(state["gateway_pid"]) and system.port_free(port), 10, "the port to be free")
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", port))
        stranger.listen()
        refused = trained.cli(*deploy, timeout=240)
        assert refused.returncode == 1
        assert f"port {port} on 127.0.0.1 is in use" in refused.stderr
        assert not system.process_gone(state["server_pid"]) and not system.process_gone(state["supervisor_pid"])
        assert (trained.home / "deployments" / name / "state.json").is_file()


def test_a_killed_supervisor_makes_status_fail_and_say_so(keyed: tuple[str, int, bytes], trained: Any) -> None:
    name, _port, _body = keyed
    _, state = status_of(trained, name)
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    code, status = wait_for(lambda: (s := status_of(trained, name))[0] != 0 and s, 10, "status to fail")
    assert code == 1 and not status["running"] and status["health"] == "Healthy", status
    assert any(f"supervisor (pid {state['supervisor_pid']}) is gone" in p for p in status["problems"]), status
    text = trained.cli("deploy", "status", "--name", name)
    assert text.returncode == 1 and "a server that dies is not restarted" in text.stdout, text.stdout


def test_every_caller_of_a_hung_server_gets_an_answer_within_30_s(
    keyed: tuple[str, int, bytes], trained: Any, system: Any
) -> None:
    name, port, body = keyed
    _, state = status_of(trained, name)
    os.killpg(state["server_pid"], signal.SIGSTOP)  # the master and its workers: hung, not dead

    # Status says so at once, from its own first probe (it said "running: true" for a minute before).
    code, status = status_of(trained, name)
    assert code == 1 and not status["running"] and status["health"] == "not answering", status

    def call(_: int) -> tuple[int, float]:
        started = time.monotonic()
        response = score(port, body, KEY, timeout=60)
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=6) as pool:
        answered = list(pool.map(call, range(6)))
    print(f"hung server: answers {answered}")
    assert all(status_code == 504 for status_code, _ in answered), answered
    assert all(UPSTREAM_TIMEOUT_S - 1 <= elapsed < 30 for _, elapsed in answered), answered
    response = score(port, body, KEY, timeout=60)
    assert response.json()["message"].startswith("upstream request timeout")

    # A hung server is stopped too (it gets SIGCONT with its SIGTERM), nothing of it left behind.
    stopped = trained.cli("deploy", "stop", "--name", name, timeout=90)
    assert stopped.returncode == 0, stopped.stderr
    assert system.group_gone(state["server_pid"]) and system.port_free(state["backend_port"])
