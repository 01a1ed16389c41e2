"""`bankscore deploy azure --output DIR`: a folder Azure ML accepts, which also runs locally as it is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bankscore_tests_loopback import free_port

from bankscore.automl import TrainOptions, run_automl
from bankscore.automl._registry import log_training
from bankscore.automl._report import write_report
from bankscore.data import Dataset, load_training_data


@pytest.mark.slow
def test_azure_folder_is_complete_and_serves_locally_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "ws"
    monkeypatch.setenv("BANKSCORE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    full = load_training_data()
    sample = Dataset({k: v[::10] for k, v in full.columns.items()}, "sample", "x")
    result = run_automl(sample, TrainOptions(time_budget=None, max_trials=3, cv=3, exclude=("duration",)))
    write_report(result, tmp_path / "report", "sample:1")
    log_training(result, "sample:1", "x", tmp_path / "report")

    out = tmp_path / "azure"
    cli = [sys.executable, "-m", "bankscore.cli"]
    env = dict(os.environ)
    made = subprocess.run(
        [*cli, "deploy", "azure", "--output", str(out), "--name", "bank-mkt"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    names = {p.name for p in out.iterdir()}
    assert names >= {"score.py", "swagger2.json", "swagger3.json", "swagger3.1.json", "environment.yml"}
    assert names >= {"endpoint.yml", "deployment.yml", "logging.json", "azureml-models"}
    deployment = (out / "deployment.yml").read_text()
    assert "endpoint_name: bank-mkt" in deployment and "scoring_script: score.py" in deployment
    assert "  path: azureml-models/bank-marketing/1\n" in deployment
    assert (out / "azureml-models" / "bank-marketing" / "1" / "scorer.pkl").is_file()
    assert "auth_mode: key" in (out / "endpoint.yml").read_text()
    assert "azureml-inference-server-http==" in (out / "environment.yml").read_text()
    assert "import bankscore" not in (out / "score.py").read_text()  # self-contained for Azure

    # The same folder, unchanged, on the real server as Azure runs it (through the server's own entry point,
    # bound to loopback by bankscore's launcher).
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bankscore.deploy._launch",
            "--entry_script",
            str(out / "score.py"),
            "--model_dir",
            str(out / "azureml-models" / "bank-marketing" / "1"),
            "--port",
            str(port),
        ],
        cwd=out,
        env={**env, "AML_APP_ROOT": str(out), "GUNICORN_CMD_ARGS": "--no-control-socket"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, "azmlinfsrv exited while starting"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == "Healthy":
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        record = {k: v for k, v in next(full.records()).items() if k != "duration"}
        answer = httpx.post(f"http://127.0.0.1:{port}/score", json={"Inputs": {"data": [record]}}, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["Results"][0] in ("no", "yes")
        spec = httpx.get(f"http://127.0.0.1:{port}/swagger.json?version=3.1", timeout=10).json()
        assert spec["openapi"] == "3.1.0" and spec["info"]["title"] == "bank-mkt"
        assert "duration" not in spec["x-bankscore"]["features"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


@pytest.mark.parametrize("count", [0, -3])
def test_an_instance_count_below_one_is_refused_before_anything_is_written(tmp_path: Path, count: int) -> None:
    from bankscore._generations import WireGeneration
    from bankscore.deploy._azure import write_azure_assets, write_no_code_assets
    from bankscore.deploy._folder import DeploymentFolder

    folder = DeploymentFolder(tmp_path / "c", "bank-marketing", "1", WireGeneration.C, ("age",))
    folder.path.mkdir()
    with pytest.raises(ValueError, match=f"instance_count={count} must be at least 1"):
        write_azure_assets(folder, name="bank-marketing", instance_count=count)
    assert not any(folder.path.iterdir())

    # Refused before the registry is asked for the model: no workspace is needed to see it.
    dest = tmp_path / "d"
    with pytest.raises(ValueError, match=f"instance_count={count} must be at least 1"):
        write_no_code_assets(dest, model_ref="bank-marketing:1", name="bank-marketing", instance_count=count)
    assert not dest.exists()
