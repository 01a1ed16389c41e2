"""Keep-alive at the local gateway, as at Azure's front end: callers' connections are reused, and a key change
or a redeploy (each a graceful nginx reload that closes idle kept-alive connections) loses no request of
bankscore's client or bankscore-bench."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bankscore.deploy._gateway import find_nginx

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)"),
]

KEY = "bk-KeepAliveKey-8c41d0e2b97a53f6Qz"


def _gateway_requests(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith("{")) if log.is_file() else 0


def _wait_for_requests(log: Path, count: int, done: threading.Event | None = None) -> None:
    """Until the gateway has logged ``count`` requests (polling its log; bounded at 120 s)."""
    waiter = threading.Event()
    for _ in range(1200):
        if _gateway_requests(log) >= count or (done is not None and done.is_set()):
            return
        waiter.wait(0.1)
    pytest.fail(f"the gateway did not log {count} requests within 120 s")


def _deploy(trained: Any, name: str, port: int) -> dict[str, Any]:
    proc = trained.cli("deploy", "local", "--name", name, "--port", str(port), "--key", KEY, "--json", timeout=240)
    assert proc.returncode == 0, proc.stderr
    state: dict[str, Any] = json.loads(proc.stdout)
    return state


def _reload_twice(trained: Any, name: str, port: int, log: Path) -> None:
    """A key change, then a redeploy, each while requests flow (the primary key stays the same throughout)."""
    start = _gateway_requests(log)
    regenerated = trained.cli("deploy", "keys", "--name", name, "--regenerate", "secondary", timeout=120)
    assert regenerated.returncode == 0, regenerated.stderr
    _wait_for_requests(log, start + 50)
    _deploy(trained, name, port)
    _wait_for_requests(log, _gateway_requests(log) + 50)


def test_bench_keeps_connections_alive_and_loses_nothing_across_reloads(
    trained: Any, system: Any, load_report: Any, tmp_path: Path
) -> None:
    name, port = "keepalive-bench", system.free_port()
    _deploy(trained, name, port)
    log = trained.home / "deployments" / name / "gateway.log"
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"Inputs": {"data": [trained.yes_record]}}))
    bench = subprocess.Popen(
        [sys.executable, "-m", "bankscore_bench", "-k", "-c", "4", "-t", "150", "-n", "500000",
         "-H", f"Authorization: Bearer {KEY}", "-p", str(body), "-T", "application/json",
         f"http://127.0.0.1:{port}/score"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_requests(log, 50)
        _reload_twice(trained, name, port, log)
        assert bench.poll() is None, "the bench ended before both reloads were done under its load"
    finally:
        report, errors = load_report.stop(bench)
        trained.cli("deploy", "stop", "--name", name, timeout=60)
    complete = load_report.check_no_failed_request(report, errors, at_least=150)
    # Most answers let the connection live on: the gateway keeps callers' connections alive.
    assert int(load_report.field(report, "Keep-Alive requests") or 0) >= complete // 2, report


def test_the_client_reuses_its_connection_and_loses_nothing_across_reloads(
    trained: Any, system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import bankscore

    name, port = "keepalive-client", system.free_port()
    _deploy(trained, name, port)
    log = trained.home / "deployments" / name / "gateway.log"
    opened: list[object] = []  # one entry per TCP connection the client's pool opened (counted, not changed)

    create_connection = socket.create_connection

    def connect(*args: Any, **kwargs: Any) -> socket.socket:
        opened.append(args[0])
        return create_connection(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)  # httpcore's sync backend opens its sockets here
    answers: list[str] = []
    failures: list[BaseException] = []
    done, stop = threading.Event(), threading.Event()

    def score() -> None:
        try:
            with bankscore.Client(f"http://127.0.0.1:{port}/score", key=KEY, generation="C") as client:
                while not stop.is_set():
                    try:
                        answers.append(client.predict(trained.yes_record).label)
                    except bankscore.BankscoreError as exc:
                        failures.append(exc)
        finally:
            done.set()

    caller = threading.Thread(target=score, daemon=True)
    caller.start()
    try:
        _wait_for_requests(log, 50, done)
        _reload_twice(trained, name, port, log)
    finally:
        stop.set()
        caller.join(timeout=60)
        trained.cli("deploy", "stop", "--name", name, timeout=60)
    assert not failures, failures[:3]
    assert len(answers) >= 150 and set(answers) == {trained.labels[0]}
    # Connections were reused: far fewer opened than requests answered (each reload closes the idle ones).
    assert 1 <= len(opened) <= len(answers) // 10, (len(opened), len(answers))
