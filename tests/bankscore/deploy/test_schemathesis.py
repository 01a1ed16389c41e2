"""Property-based calls generated from the served OpenAPI 3 document (schemathesis): no answer is ever a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed beside this Python")
@pytest.mark.parametrize("generation", ["A", "B", "C", "D"])
def test_no_generated_call_gets_a_server_error(generation: str, deployments: dict[str, Any], tmp_path: Path) -> None:
    server = deployments[f"gen-{generation.lower()}"]
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.url}/swagger.json?version=3",  # loopback only: the spec has no servers, so its own origin
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "50",
        "--seed",
        "0",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ]
    # cwd: schemathesis and Hypothesis write their reports and caches to the working folder.
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert f"Base URL:         {server.url}/" in proc.stdout
    assert "No issues found" in proc.stdout
