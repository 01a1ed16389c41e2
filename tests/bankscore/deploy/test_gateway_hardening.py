"""The gateway's nginx config against a stub backend: auth header parsing, the secret it adds, idle sockets.

Real nginx, the config ``deploy local`` writes, and a small HTTP server standing in for azmlinfsrv, which
records what reaches it: fast, and it isolates the gateway from the inference server.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, IDLE_TIMEOUT_S, find_nginx, nginx_config

pytestmark = pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)")

KEYS = ["bk-HardenPrimary-3c8e1f05a7d942bX", "bk-HardenSecondary-9a2d4e6f8b1c3Yz"]
SECRET = "gw-Secret-5d7f9b1e3a6c8042e4Qw"
IDLE_SOCKETS = 1_100  # more than the 1,024 worker_connections nginx had before
# Half-open: a request begun and never finished (a connection that has sent nothing nginx can take back).
PARTIAL_REQUEST = b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


class Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Backend

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append(dict(self.headers.items()))
        body = b"Healthy" if self.path == "/" else b'{"Results": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - BaseHTTPRequestHandler's method names

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what reached the backend from ``seen``."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Backend, Path]]:
    backend = Backend()
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    run_dir = tmp_path_factory.mktemp("gateway")
    (run_dir / "nginx-temp").mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = nginx_config(
        run_dir=run_dir,
        port=port,
        backend_port=backend.server_address[1],
        keys=KEYS,
        max_body_bytes=1_000_000,
        secret=SECRET,
    )
    (run_dir / "nginx.conf").write_text(conf)
    nginx = find_nginx()
    assert nginx is not None
    with (run_dir / "nginx.out").open("wb") as out:
        proc = subprocess.Popen(
            [nginx, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, (run_dir / "nginx.out").read_text()
            time.sleep(0.05)
        yield url, backend, run_dir
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        backend.shutdown()
        backend.server_close()


def score(url: str, authorization: str | None, timeout: float = 10, request_id: str = "") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(url + "/score", content=b'{"Inputs": {"data": []}}', headers=headers, timeout=timeout)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive_and_the_key_is_not(scheme: str, gateway: Any) -> None:
    url, _, _ = gateway
    for key in KEYS:
        assert score(url, f"{scheme} {key}").status_code == 200
        assert score(url, f"{scheme}  {key}").status_code == 200  # RFC 6750: 1*SP
        assert score(url, f"{scheme} {key.swapcase()}").status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "bearer", "BEARER"])
def test_bearer_without_a_token_is_401(header: str, gateway: Any) -> None:
    url, _, run_dir = gateway
    request_id = f"bearer-without-token-{header}"
    response = score(url, header, request_id=request_id)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer <key>" in response.json()["message"]
    assert logged(run_dir / "gateway.log", request_id)["auth"] == "missing"


def logged(log: Path, request_id: str, timeout: float = 30) -> dict[str, Any]:
    """The gateway's log entry of one request. nginx writes it after the answer has gone out, so a caller who
    reads the log at once can be ahead of it: wait for the line, not for a guess of how long it takes."""
    deadline = time.monotonic() + timeout
    while True:
        for line in log.read_text().splitlines() if log.exists() else []:
            entry: dict[str, Any] = json.loads(line)
            if entry.get("request_id") == request_id:
                return entry
        assert time.monotonic() < deadline, f"no entry for {request_id} in {log} after {timeout} s"
        time.sleep(0.02)


@pytest.mark.parametrize("header", [KEYS[0], f"Basic {KEYS[0]}", f"Bearer{KEYS[0]}", f"Bearers {KEYS[0]}"])
def test_another_scheme_is_still_acis_400(header: str, gateway: Any) -> None:
    url, _, _ = gateway
    response = score(url, header)
    assert (response.status_code, response.headers["content-type"]) == (400, "text/plain")


def test_the_backend_gets_the_secret_and_never_the_key(gateway: Any) -> None:
    url, backend, run_dir = gateway
    backend.seen.clear()
    response = httpx.post(
        url + "/score",
        content=b"{}",
        headers={"Authorization": f"Bearer {KEYS[1]}", GATEWAY_SECRET_HEADER: "forged-by-the-caller"},
        timeout=10,
    )
    assert response.status_code == 200
    httpx.get(url + "/swagger.json", timeout=10)
    assert len(backend.seen) == 2
    for headers in backend.seen:
        assert headers[GATEWAY_SECRET_HEADER] == SECRET  # the gateway's, whatever the caller sent
        assert "Authorization" not in headers
    for log in ("gateway.log", "gateway-error.log"):
        text = (run_dir / log).read_text() if (run_dir / log).exists() else ""
        assert SECRET not in text and KEYS[1] not in text


@pytest.mark.slow
def test_idle_connections_do_not_block_a_real_caller(gateway: Any) -> None:
    url, _, _ = gateway
    port = int(url.rsplit(":", 1)[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_SOCKETS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE_SOCKETS + 1000), hard))
    idle: list[socket.socket] = []
    try:
        for index in range(IDLE_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(PARTIAL_REQUEST)
            idle.append(sock)
            if index % 50 == 0:
                time.sleep(0.02)  # let nginx read them: a connection it has read from is one it keeps
        time.sleep(0.5)
        started = time.monotonic()
        response = score(url, f"Bearer {KEYS[0]}", timeout=5)  # before the fix: no answer until they go
        assert response.status_code == 200
        print(f"a request behind {IDLE_SOCKETS} idle sockets took {time.monotonic() - started:.3f} s")
        # The gateway drops them itself, with a reset, once the header timeout has passed.
        sample = idle[:: len(idle) // 20]
        for sock in sample:
            sock.settimeout(IDLE_TIMEOUT_S + 15)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
    finally:
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
