"""MLFLOW_TRACKING_URI pointing at a real MLflow tracking server: the same train / models behaviour there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from bankscore_tests_loopback import free_port

from bankscore.data import load_training_data


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    store = tmp_path / "server"
    store.mkdir()
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{store / 'server.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=store,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the MLflow tracking server did not answer /health within 90 s")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_train_and_models_against_a_tracking_server(tracking_server: str, tmp_path: Path) -> None:
    data = load_training_data()
    rows = [",".join(str(v) for v in r.values()) for r in list(data.records(with_label=True))[::8]]
    sample = tmp_path / "sample.csv"
    sample.write_text(",".join(data.columns) + "\n" + "\n".join(rows) + "\n")
    home = tmp_path / "ws"
    env = {**os.environ, "BANKSCORE_HOME": str(home), "MLFLOW_TRACKING_URI": tracking_server}

    def bankscore(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, check=False
        )

    assert bankscore("data", "register", str(sample), "--name", "sample").returncode == 0
    trained = bankscore("train", "--dataset", "sample", "--max-trials", "4", "--cv", "3", "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["model"] == "bank-marketing:1"
    listed = bankscore("models", "list", "--json")
    assert [v["ref"] for v in json.loads(listed.stdout)] == ["bank-marketing:1"]
    assert not (home / "mlflow.db").exists()  # nothing went to the embedded store
    assert any((tmp_path / "server" / "artifacts").rglob("python_model.pkl"))  # the model went to the server

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bankscore.automl._registry import load_model; from bankscore.data import load_training_data; "
            "m = load_model('bank-marketing:1'); print(m.predict(list(load_training_data().records())[:3]))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().startswith("[")
