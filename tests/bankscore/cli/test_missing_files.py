"""A path that cannot be read is reported as such, by every command that takes a file, before anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _bankscore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(cwd / "ws")}
    env.pop("BANKSCORE_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


@pytest.mark.parametrize(
    "command",
    [
        ("data", "check", "{path}"),
        ("data", "profile", "{path}"),
        ("score", "{path}"),  # no deployment exists: the file is judged first
        ("score", "--input", "{path}", "--uri", "http://127.0.0.1:9/score"),
    ],
)
@pytest.mark.parametrize(
    ("name", "said"), [("customers.csv", "no such file: "), ("folder", "not a file but a folder: ")]
)
def test_an_unreadable_path_is_named_as_such(tmp_path: Path, command: tuple[str, ...], name: str, said: str) -> None:
    (tmp_path / "folder").mkdir()
    proc = _bankscore(*(part.format(path=name) for part in command), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == f"Error: {said}{name}"
    assert "feature contract" not in proc.stderr and "deployment" not in proc.stderr


def test_a_json_input_that_is_missing_is_named_too(tmp_path: Path) -> None:
    proc = _bankscore("score", "records.json", "--uri", "http://127.0.0.1:9/score", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip() == "Error: no such file: records.json"
