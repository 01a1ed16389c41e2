"""--app-insights: the server's own Azure Monitor exporter sends request telemetry and our log line to the
ingestion endpoint named in the connection string (here a catcher on loopback standing in for Azure)."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._registry import log_training
from bankscore.automl._report import write_report
from bankscore.data import Dataset, load_training_data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Catcher(BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []  # shared across handler instances: one per request

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Catcher.received.append(body.decode(errors="replace"))
        payload = json.dumps({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def catcher() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_app_insights_receives_the_request_and_our_log_line(tmp_path: Path, catcher: str) -> None:
    home = tmp_path / "ws"
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    full = load_training_data()
    sample = Dataset({k: v[::10] for k, v in full.columns.items()}, "sample", "x")
    old_home = os.environ.get("BANKSCORE_HOME")
    os.environ["BANKSCORE_HOME"] = str(home)
    try:
        result = run_automl(sample, TrainOptions(time_budget=None, max_trials=3, cv=3, learners=("lgbm",)))
        write_report(result, tmp_path / "report", "sample:1")
        log_training(result, "sample:1", "x", tmp_path / "report")
    finally:
        if old_home is None:
            os.environ.pop("BANKSCORE_HOME", None)
        else:
            os.environ["BANKSCORE_HOME"] = old_home

    port = _free_port()
    ikey = str(uuid.uuid4())
    connection = f"InstrumentationKey={ikey};IngestionEndpoint={catcher}"
    cli = [sys.executable, "-m", "bankscore.cli"]
    started = subprocess.run(
        [*cli, "deploy", "local", "--port", str(port), "--app-insights", connection],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        request_id = f"bankscore-test-{uuid.uuid4()}"
        record = next(full.records())
        response = httpx.post(
            f"http://127.0.0.1:{port}/score",
            json={"Inputs": {"data": [record]}},
            headers={"x-request-id": request_id},
            timeout=30,
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = "\n".join(_Catcher.received)
            if request_id in seen and '\\"event\\": \\"score\\"' in seen:
                break
            time.sleep(1)
        seen = "\n".join(_Catcher.received)
        assert ikey in seen  # the telemetry is addressed to the connection string's resource
        assert request_id in seen  # the request itself
        assert '\\"event\\": \\"score\\"' in seen  # and our structured log line, as a trace
    finally:
        subprocess.run([*cli, "deploy", "stop"], env=env, capture_output=True, check=False)


def test_a_connection_string_without_a_valid_key_is_refused(tmp_path: Path) -> None:
    from bankscore.deploy._local import DeployError, app_insights_environment

    with pytest.raises(DeployError, match="no valid InstrumentationKey"):
        app_insights_environment("IngestionEndpoint=https://example.invalid/")
    env = app_insights_environment(f"InstrumentationKey={uuid.uuid4()};IngestionEndpoint=http://127.0.0.1:1/")
    assert env["AML_APP_INSIGHTS_ENABLED"] == "true"
    assert env["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] == "true"
