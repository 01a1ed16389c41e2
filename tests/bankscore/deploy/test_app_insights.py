"""--app-insights: the server's own Azure Monitor exporter sends request telemetry and our log line to the
ingestion endpoint named in the connection string (here a catcher on loopback standing in for Azure)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bankscore_tests_loopback import Request, free_port, serve

from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._registry import log_training
from bankscore.automl._report import write_report
from bankscore.data import Dataset, load_training_data

_RECEIVED: list[str] = []  # what the catcher was sent, every request's body


@pytest.fixture
def catcher() -> Iterator[str]:
    def handle(request: Request) -> tuple[int, bytes]:
        body = request.body
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _RECEIVED.append(body.decode(errors="replace"))
        return 200, json.dumps({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}).encode()

    with serve(handle) as url:
        yield url + "/"


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

    port = free_port()
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
            seen = "\n".join(_RECEIVED)
            if request_id in seen and '\\"event\\": \\"score\\"' in seen:
                break
            time.sleep(1)
        seen = "\n".join(_RECEIVED)
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
