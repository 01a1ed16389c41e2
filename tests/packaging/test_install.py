"""What a user gets from `pip install bankscore`: a light client, working commands, honest hints."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["pandas", "numpy", "locust", "flaml", "mlflow", "sklearn", "lightgbm", "xgboost", "azureml"]
CHECK_LIGHT = (
    "import sys, bankscore, bankscore.features, bankscore.data; "
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
    "print('heavy:', heavy); sys.exit(1 if heavy else 0)"
)


def test_import_bankscore_loads_no_heavy_library() -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK_LIGHT], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_base_install_in_a_fresh_venv(tmp_path: Path) -> None:
    """`pip install .` without extras: import works, both commands answer --help, the bench names its extra."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", str(ROOT)], check=True, capture_output=True)
    installed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True)
    names = {line.split("==")[0].lower() for line in installed.stdout.splitlines()}
    assert {"httpx", "pydantic", "tenacity", "click", "bankscore"} <= names
    assert not names & {"pandas", "numpy", "locust", "flaml", "mlflow"}

    light = subprocess.run([py, "-c", CHECK_LIGHT], capture_output=True, text=True, check=False)
    assert light.returncode == 0, light.stdout + light.stderr
    data = subprocess.run(
        [py, "-c", "from bankscore.data import load_training_data; print(len(load_training_data()))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert data.stdout.strip() == "32950"  # the data ships inside the wheel

    for command in ("bankscore", "bankscore-bench"):
        helped = subprocess.run([env_dir / "bin" / command, "--help"], capture_output=True, text=True, check=False)
        assert helped.returncode == 0 and "Usage:" in helped.stdout, helped.stderr
    bench = subprocess.run(
        [env_dir / "bin" / "bankscore-bench", "http://127.0.0.1:5001/score"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bench.returncode == 1
    assert "pip install 'bankscore[bench]'" in bench.stderr
