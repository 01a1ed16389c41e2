"""examples/endpoint.py against real local deployments: it scores, and the data.json it writes is a body the
deployment accepts, for httpx and for the real `ab -p data.json` of the workflow's benchmark.sh."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveDeployment

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "endpoint.py"


def run_example(trained: Any, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=trained.env(),
        timeout=60,
        check=False,
    )


def post(deployment: LiveDeployment, body: bytes, key: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    return httpx.post(deployment.scoring_uri, content=body, headers=headers, timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["client-a", "client-b", "client-c", "client-d"])
def test_data_json_is_a_body_the_deployment_accepts(
    live: dict[str, LiveDeployment], trained: Any, tmp_path: Path, name: str
) -> None:
    deployment = live[name]
    proc = run_example(trained, tmp_path, "--uri", deployment.scoring_uri, "--generation", deployment.generation)
    assert proc.returncode == 0, proc.stderr

    data = tmp_path / "data.json"  # the default name, in the working directory, as the workflow's script did
    body = json.loads(data.read_bytes())
    if deployment.generation == "D":
        rows = [dict(zip(body["input_data"]["columns"], row, strict=True)) for row in body["input_data"]["data"]]
    else:
        rows = body["Inputs"]["data"] if deployment.generation == "C" else body["data"]
    assert len(rows) == 2 and set(rows[0]) >= {"age", "emp.var.rate", "nr.employed"}

    answer = post(deployment, data.read_bytes())
    assert answer.status_code == 200, answer.text
    assert answer.json() == json.loads(proc.stdout)  # the same body gets the answer the script printed

    # The wrong generation's body is refused: data.json really is shaped for this deployment.
    other = "A" if deployment.generation == "C" else "C"
    wrong = run_example(trained, tmp_path, "--uri", deployment.scoring_uri, "--generation", other, "--data-file", "x")
    assert wrong.returncode != 0 and (tmp_path / "x").is_file()


@pytest.mark.slow
def test_data_file_option_and_keys(live: dict[str, LiveDeployment], trained: Any, tmp_path: Path) -> None:
    deployment = live["client-auth"]
    key = json.loads((trained.home / "deployments" / deployment.name / "keys.json").read_text())["primary"]
    target = tmp_path / "bodies" / "proba.json"
    target.parent.mkdir()
    proc = run_example(
        trained, tmp_path, "--uri", deployment.scoring_uri, "--key", key, "--proba", "--data-file", str(target)
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "data.json").exists()  # written where --data-file says, nowhere else
    assert key not in target.read_text()  # the body holds records, never the key
    assert json.loads(target.read_bytes())["GlobalParameters"] == {"method": "predict_proba"}
    probabilities = json.loads(proc.stdout)["Results"]
    assert len(probabilities) == 2 and all(abs(sum(p) - 1) < 1e-9 for p in probabilities)
    assert post(deployment, target.read_bytes()).status_code == 401
    assert post(deployment, target.read_bytes(), key).json() == json.loads(proc.stdout)


@pytest.mark.slow
def test_ab_posts_data_json(live: dict[str, LiveDeployment], trained: Any, tmp_path: Path) -> None:
    """The workflow's benchmark.sh line, with the data.json the example wrote: ab -n 10 -p data.json."""
    ab = shutil.which("ab")
    assert ab is not None, "ab (apache2-utils) is missing: ./dev.sh installs it"
    deployment = live["client-c"]
    assert run_example(trained, tmp_path, "--uri", deployment.scoring_uri).returncode == 0
    body = tmp_path / "data.json"
    proc = subprocess.run(
        [ab, "-n", "10", "-s", "30", "-p", str(body), "-T", "application/json", deployment.scoring_uri],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^Complete requests:\s+10$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Failed requests:\s+0$", proc.stdout, re.M), proc.stdout
    assert "Non-2xx responses" not in proc.stdout
