"""A deployment's name becomes a folder: every command checks it before it touches a path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bankscore.deploy._local import DeployError, check_name

VICTIM_KEYS = {"primary": "victim-primary-key-0a1b2c3d4e5f", "secondary": "victim-secondary-key-6a7b8c9d"}


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "bankscore.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "--regenerate", "secondary"),
        ("keys", "--show-keys"),
        ("status", "--show-keys"),
        ("stop",),
        ("logs",),
        ("local",),
        ("local", "--auth"),
    ],
)
def test_a_name_that_leaves_the_workspace_is_refused_before_any_file_is_touched(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    home, victim = tmp_path / "home", tmp_path / "victim"
    (home / "deployments").mkdir(parents=True)
    victim.mkdir()
    (victim / "keys.json").write_text(json.dumps(VICTIM_KEYS))
    (victim / "server.log").write_text("the victim's log\n")
    before = sorted(p.name for p in victim.iterdir())

    proc = cli(home, "deploy", args[0], "--name", "../../victim", *args[1:])

    assert proc.returncode != 0
    assert "deployment name '../../victim': use letters, digits" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads((victim / "keys.json").read_text()) == VICTIM_KEYS  # read nor rewritten
    assert all(key not in proc.stdout + proc.stderr for key in VICTIM_KEYS.values())
    assert "the victim's log" not in proc.stdout
    assert sorted(p.name for p in victim.iterdir()) == before


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "a\\b", "", "x" * 64, "name\n", "-flag", "a b"])
def test_names_that_are_not_plain_folder_names_are_refused(name: str) -> None:
    with pytest.raises(DeployError, match="use letters, digits"):
        check_name(name)


@pytest.mark.parametrize("name", ["bank-marketing", "gen-a", "v1.2_canary", "A", "x" * 63])
def test_plain_names_are_taken(name: str) -> None:
    assert check_name(name) == name
