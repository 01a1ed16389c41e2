"""`bankscore data sample`: real shipped customers as a CSV that fits the contract, the same for the same seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bankscore.data import load_csv, load_training_data
from bankscore.features import FEATURE_NAMES


def _bankscore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(cwd / "ws")}
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def test_a_sample_is_shipped_rows_that_load_back(tmp_path: Path) -> None:
    made = _bankscore("data", "sample", "--rows", "60", "-o", "customers.csv", cwd=tmp_path)
    assert made.returncode == 0 and made.stderr.strip() == "wrote 60 customers to customers.csv"
    loaded = load_csv(tmp_path / "customers.csv")
    assert len(loaded) == 60 and not loaded.has_label and list(loaded.feature_names) == list(FEATURE_NAMES)
    shipped = [tuple(r.values()) for r in load_training_data().records()]
    assert all(tuple(r.values()) in shipped for r in loaded.records())

    again = _bankscore("data", "sample", "--rows", "60", cwd=tmp_path)
    assert again.stdout == (tmp_path / "customers.csv").read_text()  # the same seed, the same rows
    other = _bankscore("data", "sample", "--rows", "60", "--seed", "1", cwd=tmp_path)
    assert other.stdout != again.stdout

    uci = _bankscore("data", "sample", "--rows", "5", "--label", "--sep", ";", "-o", "uci.csv", cwd=tmp_path)
    assert uci.returncode == 0
    with_label = load_csv(tmp_path / "uci.csv")
    assert with_label.has_label and len(with_label) == 5
    assert (tmp_path / "uci.csv").read_text().splitlines()[0].endswith(";nr.employed;y")
