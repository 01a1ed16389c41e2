"""`deploy local` and `demo` judge the port before anything slow: no release is built for a port they refuse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bankscore(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_held_port_is_refused_before_the_model_is_even_looked_up(tmp_path: Path, held_port: int) -> None:
    # The workspace has no model: had the release been built first, the error would be "no model registered".
    proc = _bankscore("deploy", "local", "--port", str(held_port), home=tmp_path / "ws")
    assert proc.returncode == 1, proc.stderr
    assert f"port {held_port} on 127.0.0.1 is in use" in proc.stderr
    assert "no model" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ws" / "deployments").exists()


@pytest.mark.parametrize("command", [("deploy", "local"), ("demo",)])
def test_a_privileged_port_needs_its_own_flag(tmp_path: Path, command: tuple[str, ...]) -> None:
    proc = _bankscore(*command, "--port", "22", home=tmp_path / "ws")
    assert proc.returncode == 1, proc.stderr
    assert "port 22 is a privileged port" in proc.stderr and "--allow-privileged-port" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws" / "deployments").exists() and not (tmp_path / "ws" / "datasets").exists()


def test_an_allowed_privileged_port_goes_on_to_the_next_check(tmp_path: Path) -> None:
    proc = _bankscore("deploy", "local", "--port", "1023", "--allow-privileged-port", home=tmp_path / "ws")
    assert proc.returncode == 1
    assert "privileged" not in proc.stderr  # the port rule let it through; what stops it now is something else
    assert "no model 'bank-marketing' is registered" in proc.stderr or "in use" in proc.stderr
