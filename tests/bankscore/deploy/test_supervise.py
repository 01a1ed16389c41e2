"""The supervisor and the server's gateway check, against a stub server: fast, no inference server needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from bankscore_tests_loopback import free_port, wait_for

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, SECRET_FILE_ENV
from bankscore.deploy._launch import require_gateway
from bankscore.deploy._supervise import status_file

# A server in miniature: answers GET / with Healthy (only with the secret, when it is given), in its own
# process group with a child of its own, as gunicorn's master has workers.
STUB = """
import os, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, healthy = int(sys.argv[1]), sys.argv[2] == "healthy"
if not healthy:
    sys.exit(3)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[3], "a").write(f"{os.getpid()} {child.pid}\\n")
secret_file = os.environ.get("BANKSCORE_GATEWAY_SECRET_FILE")
secret = open(secret_file).read().strip() if secret_file else ""
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("X-Bankscore-Gateway", "") == secret
        body = b"Healthy" if ok else b"Forbidden"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer.allow_reuse_address = True
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by tests/conftest.py


def alive(pid: int) -> bool:
    return not _fixtures.process_gone(pid)


def supervise(tmp_path: Path, mode: str, secret: str = "") -> tuple[subprocess.Popen[bytes], int, Path]:
    port, stub, pids = free_port(), tmp_path / "stub.py", tmp_path / "pids.txt"
    stub.write_text(STUB)
    env = {k: v for k, v in os.environ.items() if k != SECRET_FILE_ENV}
    if secret:
        (tmp_path / "gateway.secret").write_text(secret)
        env[SECRET_FILE_ENV] = str(tmp_path / "gateway.secret")
    command = [sys.executable, "-m", "bankscore.deploy._supervise", "--port", str(port), "--run-dir", str(tmp_path)]
    command += ["--", sys.executable, str(stub), str(port), mode, str(pids)]
    with (tmp_path / "server.log").open("ab") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port, pids


def status(tmp_path: Path, supervisor: subprocess.Popen[bytes]) -> dict[str, Any]:
    try:
        return dict(json.loads(status_file(tmp_path, supervisor.pid).read_text()))
    except (OSError, ValueError):
        return {}


def healthy(port: int, secret: str) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", headers={GATEWAY_SECRET_HEADER: secret}, timeout=2)
    except httpx.HTTPError:
        return False
    return response.text == "Healthy"


def test_a_killed_server_is_restarted_logged_and_counted(tmp_path: Path) -> None:
    secret = "gw-stub-secret-0e9d8c7b6a5f4e3d"
    supervisor, port, pids = supervise(tmp_path, "healthy", secret)
    try:
        first = wait_for(lambda: status(tmp_path, supervisor), 15, "the status file")
        assert first["restarts"] == 0
        wait_for(lambda: healthy(port, secret), 15, "the server to answer")
        wait_for(lambda: pids.is_file() and pids.read_text().strip(), 15, "the stub's pids")
        master, worker = map(int, pids.read_text().split())
        assert master == first["server_pid"]
        time.sleep(1.5)  # one probe answered: from now on, a death is a crash, not a broken start

        os.kill(master, signal.SIGKILL)  # as in the issue: kill -9 of the server's master
        # The restart is counted at once, before the new server starts: wait for the new server's pid too.
        after = wait_for(
            lambda: (now := status(tmp_path, supervisor)).get("restarts") == 1 and now["server_pid"] != master and now,
            20,
            "a restart",
        )
        assert after["last_exit"] == "was killed by SIGKILL"
        wait_for(lambda: healthy(port, secret), 20, "the restarted server to answer")
        wait_for(lambda: not alive(worker), 10, "the old master's orphaned worker to be killed")
        log = (tmp_path / "server.log").read_text()
        assert f"the server (pid {master}) was killed by SIGKILL; restarting it (restart 1)" in log
        assert secret not in log
        for pid in (supervisor.pid, after["server_pid"]):  # nowhere a process shows: command line, environment
            for shown in ("cmdline", "environ"):
                assert secret not in Path(f"/proc/{pid}/{shown}").read_text(errors="replace"), (pid, shown)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=20) == 0
    # A stop is graceful and final: no restart, the server's group gone, the status file removed.
    last = [int(p) for p in pids.read_text().split()]
    wait_for(lambda: not any(alive(pid) for pid in last), 10, "the server's processes to end")
    assert not status_file(tmp_path, supervisor.pid).exists()


def test_a_server_that_never_answers_is_not_restarted(tmp_path: Path) -> None:
    supervisor, _port, pids = supervise(tmp_path, "broken")
    assert supervisor.wait(timeout=20) == 3  # the server's own exit code: the deploy shows its log
    assert not pids.exists()
    assert "restarting" not in (tmp_path / "server.log").read_text()


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"seen: " + str(sorted(k for k in environ if k.startswith("HTTP_"))).encode()]


@pytest.mark.parametrize(
    ("sent", "status"),
    [(None, "403 FORBIDDEN"), ("wrong", "403 FORBIDDEN"), ("", "403 FORBIDDEN"), ("s3cret-s3cret", "200 OK")],
)
def test_the_server_only_answers_its_gateway(sent: str | None, status: str) -> None:
    answered: list[str] = []
    environ: dict[str, Any] = {"HTTP_AUTHORIZATION_SEEN": "x"}
    if sent is not None:
        environ["HTTP_X_BANKSCORE_GATEWAY"] = sent
    body = b"".join(require_gateway(_app, "s3cret-s3cret")(environ, lambda s, h: answered.append(s)))
    assert answered == [status]
    assert b"s3cret" not in body  # neither the answer nor the app ever sees the secret
    if status == "403 FORBIDDEN":
        assert json.loads(body) == {"message": "Forbidden: this port only answers the deployment's gateway"}


def test_a_group_whose_leader_was_killed_is_still_stopped_whole(tmp_path: Path) -> None:
    from bankscore.deploy._processes import group_members, spawn, stop_group

    # A leader with a child in its group, as nginx's master and its worker; the child ignores SIGTERM.
    script = (
        "import signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        "time.sleep(600)\n"
    )
    leader = spawn([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ), log=tmp_path / "group.log")
    members = wait_for(lambda: len(group_members(leader.pid)) == 2 and group_members(leader.pid), 20, "the child")
    (orphan,) = set(members) - {leader.pid}
    os.kill(leader.pid, signal.SIGKILL)  # as `kill -9` of nginx's master: its worker runs on
    leader.wait(timeout=10)
    assert alive(orphan) and group_members(leader.pid) == [orphan]

    stop_group(leader.pid, timeout=1)  # returned at once before, the leader being dead

    assert not alive(orphan) and group_members(leader.pid) == []
