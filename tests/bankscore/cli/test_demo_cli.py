"""`bankscore demo` end to end, as a new user runs it: train, deploy, score, measure, and a deployment left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from bankscore_tests_loopback import free_port


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "BANKSCORE_HOME": str(tmp_path / "ws")}
    env.pop("MLFLOW_TRACKING_URI", None)
    port = free_port()

    def bankscore(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bankscore.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=timeout,
            check=False,
        )

    try:
        proc = bankscore("demo", "--port", str(port), "--time-budget", "8")
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = proc.stdout + proc.stderr
        for step in ("[1/5] Register", "[2/5] Train", "[3/5] Deploy", "[4/5] Score", "[5/5] Measure"):
            assert step in out
        assert "registered bank-marketing:1" in out
        assert f"http://127.0.0.1:{port}/score" in out
        after_header = proc.stdout.split("P(yes)  label\n", 1)[1].splitlines()
        table = after_header[:6]
        assert after_header[6].startswith("P(yes) is the model's probability")  # what the two columns mean
        assert after_header[7].split() == ["Complete", "requests:", "2000"]  # bankscore-bench's ab report
        assert after_header[8].split() == ["Failed", "requests:", "0"]
        assert (tmp_path / "ws" / "bench" / "demo.html").is_file()
        assert {line.split()[-3] for line in table} == {"yes", "no"}  # the actual column holds both outcomes
        assert "p50" in out and "bankscore deploy stop" in out

        status = json.loads(bankscore("deploy", "status", "--json", "--show-keys").stdout)
        assert status["running"] is True and status["health"] == "Healthy"
        assert status["port"] == port
        if status["auth"]:
            assert httpx.post(status["scoring_uri"], json={}).status_code == 401
            key = status["keys"]["primary"]
            assert key not in out  # the demo never prints a key

        again = bankscore("demo", "--port", str(port))  # a second run reuses the model and redeploys
        assert again.returncode == 0, again.stderr[-3000:]
        assert "using the registered bank-marketing:1" in again.stderr
    finally:
        bankscore("deploy", "stop")
    assert json.loads(bankscore("models", "list", "--json").stdout)[0]["ref"] == "bank-marketing:1"
